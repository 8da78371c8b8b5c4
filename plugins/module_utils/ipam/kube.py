# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Kubernetes API calls for Windows IPAM: the amazon-vpc-cni ConfigMap and the legacy controllers."""

import json
from typing import Any, Dict, List, Mapping, Optional

try:
    # First, so that kubernetes is then imported name by name (module_utils/kube/lazy.py).
    from ansible_collections.eksnodes.windows.plugins.module_utils.kube import lazy  # noqa: F401  pylint: disable=unused-import
    from kubernetes import client as kclient
    from urllib3.exceptions import HTTPError
except ImportError:
    kclient = None
    HTTPError = OSError

from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import ApiException, api_error_message, is_status
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.retries import KubeConnectionError

from .legacy import LEGACY_OBJECTS, LegacyObject

MERGE_PATCH = "application/merge-patch+json"
# (connect, read) seconds: an API server that cannot be reached (a private endpoint from outside the VPC) fails fast.
REQUEST_TIMEOUT = (10, 60)


class KubeApiError(Exception):
    """A failed call, after the client's retry policy; fix is set when the API server could not be reached."""

    def __init__(self, action: str, error: Exception):
        self.status = getattr(error, "status", None)
        self.fix = getattr(error, "fix", "") if isinstance(error, KubeConnectionError) else ""
        self.problem = f"Failed to {action}: {getattr(error, 'problem', None) or api_error_message(error)}"
        super().__init__(f"{self.problem}. Fix: {self.fix}" if self.fix else self.problem)


def _decoded(response) -> Dict[str, Any]:
    return json.loads(response.data or b"{}")


def read_config_map(api_client, namespace: str, name: str) -> Optional[Dict[str, Any]]:
    """The ConfigMap as a dictionary, or None when it does not exist."""
    try:
        response = kclient.CoreV1Api(api_client).read_namespaced_config_map(name, namespace, _preload_content=False, _request_timeout=REQUEST_TIMEOUT)
        return _decoded(response)
    except (ApiException, HTTPError, OSError) as error:
        if is_status(error, 404):
            return None
        raise KubeApiError(f"read ConfigMap {namespace}/{name}", error) from error


def create_config_map(api_client, namespace: str, name: str, data: Mapping[str, str], labels: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": dict(data)}
    if labels:
        body["metadata"]["labels"] = dict(labels)
    try:
        response = kclient.CoreV1Api(api_client).create_namespaced_config_map(namespace, body, _preload_content=False, _request_timeout=REQUEST_TIMEOUT)
        return _decoded(response)
    except (ApiException, HTTPError, OSError) as error:
        raise KubeApiError(f"create ConfigMap {namespace}/{name}", error) from error


def merge_patch_config_map_data(api_client, namespace: str, name: str, data: Mapping[str, str]) -> Dict[str, Any]:
    """Set only the given keys of the ConfigMap's data (a JSON merge patch); every other key stays."""
    try:
        response = kclient.CoreV1Api(api_client).patch_namespaced_config_map(
            name, namespace, {"data": dict(data)}, _preload_content=False, _request_timeout=REQUEST_TIMEOUT, _content_type=MERGE_PATCH
        )
        return _decoded(response)
    except (ApiException, HTTPError, OSError) as error:
        raise KubeApiError(f"patch ConfigMap {namespace}/{name}", error) from error


def _calls(api_client, obj: LegacyObject):
    """(read, delete) for one legacy object's kind."""
    core = kclient.CoreV1Api(api_client)
    apps = kclient.AppsV1Api(api_client)
    rbac = kclient.RbacAuthorizationV1Api(api_client)
    admission = kclient.AdmissionregistrationV1Api(api_client)
    table = {
        "Deployment": (apps.read_namespaced_deployment, apps.delete_namespaced_deployment),
        "Service": (core.read_namespaced_service, core.delete_namespaced_service),
        "Secret": (core.read_namespaced_secret, core.delete_namespaced_secret),
        "ServiceAccount": (core.read_namespaced_service_account, core.delete_namespaced_service_account),
        "ClusterRole": (rbac.read_cluster_role, rbac.delete_cluster_role),
        "ClusterRoleBinding": (rbac.read_cluster_role_binding, rbac.delete_cluster_role_binding),
        "MutatingWebhookConfiguration": (admission.read_mutating_webhook_configuration, admission.delete_mutating_webhook_configuration),
    }
    read, delete = table[obj.kind]
    args = (obj.name, obj.namespace) if obj.namespace else (obj.name,)
    options = {"_preload_content": False, "_request_timeout": REQUEST_TIMEOUT}
    return (lambda: read(*args, **options)), (lambda: delete(*args, **options))


def list_deployments(api_client, namespace: str) -> Optional[Dict[str, Dict[str, Any]]]:
    """The namespace's Deployments by name, in one call; None when RBAC grants only gets by name (then read each)."""
    try:
        response = kclient.AppsV1Api(api_client).list_namespaced_deployment(namespace, _preload_content=False, _request_timeout=REQUEST_TIMEOUT)
    except (ApiException, HTTPError, OSError) as error:
        if is_status(error, 403):
            return None
        raise KubeApiError(f"list the Deployments of {namespace}", error) from error
    return {item["metadata"]["name"]: item for item in _decoded(response).get("items") or []}


def _exists(api_client, obj: LegacyObject) -> bool:
    read, _delete = _calls(api_client, obj)
    try:
        read()
    except (ApiException, HTTPError, OSError) as error:
        if is_status(error, 404):
            return False
        raise KubeApiError(f"look for the legacy {obj.kind} {obj.name}", error) from error
    return True


def find_legacy_objects(api_client, thorough: bool = True, deployments: Optional[Mapping[str, Any]] = None) -> List[LegacyObject]:
    """The legacy controller objects present in the cluster, in LEGACY_OBJECTS' order.

    What runs or intercepts pods (the Deployments, the webhook configuration) is always looked for. What they leave
    behind only when thorough, or when one of the former is there (so that a report and its fix list everything):
    callers pass thorough=False once Windows IPAM is on, when only a running legacy controller still matters, which
    makes 4 reads of the 10. deployments (list_deployments of kube-system) answers for the Deployments instead of a
    read each: 2 calls then.
    """
    def present(obj: LegacyObject) -> bool:
        return obj.name in deployments if obj.kind == "Deployment" and deployments is not None else _exists(api_client, obj)

    found = {obj for obj in LEGACY_OBJECTS if obj.active and present(obj)}
    if thorough or found:
        found |= {obj for obj in LEGACY_OBJECTS if not obj.active and present(obj)}
    return [obj for obj in LEGACY_OBJECTS if obj in found]


def delete_legacy_objects(api_client, objects: List[LegacyObject]) -> List[LegacyObject]:
    """Delete the given objects; those already gone are not counted."""
    deleted = []
    for obj in objects:
        _read, delete = _calls(api_client, obj)
        try:
            delete()
        except (ApiException, HTTPError, OSError) as error:
            if is_status(error, 404):
                continue
            raise KubeApiError(f"delete the legacy {obj.kind} {obj.name}", error) from error
        deleted.append(obj)
    return deleted
