# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Kubernetes side of a drain: Nodes, the pods on them, evictions and PodDisruptionBudgets, as plain dicts."""

import json
from typing import Any, Callable, Dict, List, Optional

try:
    # First, so that kubernetes is then imported name by name (module_utils/kube/lazy.py).
    from ..kube import lazy  # noqa: F401  pylint: disable=unused-import
    from kubernetes.client import CoreV1Api, PolicyV1Api
    from kubernetes.client.rest import ApiException
except ImportError:
    CoreV1Api = PolicyV1Api = None
    ApiException = Exception

from ..kube.client import api_error_message
from .drain import DrainApi, EvictionRefused

CONNECT_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 60


class KubeLifecycleError(Exception):
    pass


def _call(what: str, call: Callable[[], Any]) -> Any:
    """Run a request; transient answers were already retried by the client (kube/retries.py)."""
    try:
        return call()
    except ApiException as error:
        raise KubeLifecycleError(f"cannot {what}: {api_error_message(error)}") from error


def _data(response) -> Dict[str, Any]:
    return json.loads(response.data or b"{}")


class KubeDrainApi(DrainApi):
    def __init__(self, api_client):
        self.core = CoreV1Api(api_client)
        self.policy = PolicyV1Api(api_client)
        self._timeout = (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)

    def node(self, name: str) -> Optional[Dict[str, Any]]:
        def read():
            try:
                return _data(self.core.read_node(name, _preload_content=False, _request_timeout=self._timeout))
            except ApiException as error:
                if getattr(error, "status", None) == 404:
                    return None
                raise
        return _call(f"read node {name}", read)

    def nodes(self) -> Dict[str, Dict[str, Any]]:
        data = _call("list nodes", lambda: _data(self.core.list_node(_preload_content=False, _request_timeout=self._timeout)))
        return {n["metadata"]["name"]: n for n in data.get("items") or []}

    def pods_on(self, name: str) -> List[Dict[str, Any]]:
        data = _call(f"list the pods of node {name}", lambda: _data(self.core.list_pod_for_all_namespaces(
            field_selector=f"spec.nodeName={name}", _preload_content=False, _request_timeout=self._timeout)))
        return data.get("items") or []

    def cordon(self, node: Dict[str, Any], taint: Optional[Dict[str, str]]) -> None:
        name = node["metadata"]["name"]
        spec: Dict[str, Any] = {"unschedulable": True}
        if taint:
            # The list is replaced as a whole: the resourceVersion makes a concurrent change fail (409) instead of being lost.
            spec["taints"] = list((node.get("spec") or {}).get("taints") or []) + [dict(taint)]
        body = {"metadata": {"resourceVersion": node["metadata"].get("resourceVersion")}, "spec": spec}
        _call(f"cordon node {name}", lambda: self.core.patch_node(name, body, _request_timeout=self._timeout))

    def evict(self, pod: Dict[str, Any], grace: Optional[int]) -> None:
        metadata = pod["metadata"]
        body: Dict[str, Any] = {"apiVersion": "policy/v1", "kind": "Eviction",
                                "metadata": {"name": metadata["name"], "namespace": metadata["namespace"]}}
        # The pod's uid as a precondition: a pod of the same name created since is not evicted by mistake.
        options: Dict[str, Any] = {"preconditions": {"uid": metadata.get("uid")}} if metadata.get("uid") else {}
        if grace is not None:
            options["gracePeriodSeconds"] = grace
        if options:
            body["deleteOptions"] = options
        try:
            self.core.create_namespaced_pod_eviction(metadata["name"], metadata["namespace"], body, _request_timeout=self._timeout)
        except ApiException as error:
            status = getattr(error, "status", None) or 0
            if status == 409 and "uid" in str(error.body or ""):
                return  # another pod of that name: ours is gone
            raise EvictionRefused(status, error.body) from error

    def budgets(self, namespace: str) -> List[Dict[str, Any]]:
        """The namespace's budgets; [] when they cannot be read (the 429 answer already names the budget)."""
        try:
            data = _call(f"list the PodDisruptionBudgets of namespace {namespace}", lambda: _data(
                self.policy.list_namespaced_pod_disruption_budget(namespace, _preload_content=False, _request_timeout=self._timeout)))
        except KubeLifecycleError:
            return []
        return data.get("items") or []
