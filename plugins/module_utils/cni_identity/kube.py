# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Kubernetes side of the CNI identity: the aws-node ServiceAccount, DaemonSet and pods, and the nodes.

Requests go through the client's retry policy (module_utils/kube/retries.py); answers are plain dicts; a failure
is ipam.kube's KubeApiError (what failed, and the fix when the API server cannot be reached)."""

import json
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional

try:
    # First, so that kubernetes is then imported name by name (module_utils/kube/lazy.py).
    from ansible_collections.eksnodes.windows.plugins.module_utils.kube import lazy  # noqa: F401  pylint: disable=unused-import
    from kubernetes import client as kclient
    from urllib3.exceptions import HTTPError
except ImportError:
    kclient = None
    HTTPError = OSError

from ansible_collections.eksnodes.windows.plugins.module_utils.ipam.kube import REQUEST_TIMEOUT, KubeApiError
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import ApiException, is_status

from .policy import DAEMONSET_NAME, RESTARTED_AT_ANNOTATION, ROLE_ARN_ANNOTATION, SERVICE_ACCOUNT_NAME, SERVICE_ACCOUNT_NAMESPACE

MERGE_PATCH = "application/merge-patch+json"
NAMESPACE = SERVICE_ACCOUNT_NAMESPACE


def _call(action: str, request: Callable[[], Any], missing_ok: bool = False) -> Optional[Dict[str, Any]]:
    try:
        return json.loads(request().data or b"{}")
    except (ApiException, HTTPError, OSError) as error:
        if missing_ok and is_status(error, 404):
            return None
        raise KubeApiError(action, error) from error


def read_service_account(api_client) -> Optional[Dict[str, Any]]:
    core = kclient.CoreV1Api(api_client)
    return _call(f"read ServiceAccount {NAMESPACE}/{SERVICE_ACCOUNT_NAME}", lambda: core.read_namespaced_service_account(
        SERVICE_ACCOUNT_NAME, NAMESPACE, _preload_content=False, _request_timeout=REQUEST_TIMEOUT), missing_ok=True)


def service_account_role(account: Optional[Dict[str, Any]]) -> Optional[str]:
    return (((account or {}).get("metadata") or {}).get("annotations") or {}).get(ROLE_ARN_ANNOTATION)


def set_service_account_role(api_client, role_arn: Optional[str]) -> Dict[str, Any]:
    """Annotate the ServiceAccount (role_arn None removes the annotation); creates it when it is missing."""
    core = kclient.CoreV1Api(api_client)
    if read_service_account(api_client) is None:
        body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": SERVICE_ACCOUNT_NAME, "namespace": NAMESPACE}}
        _call(f"create ServiceAccount {NAMESPACE}/{SERVICE_ACCOUNT_NAME}",
              lambda: core.create_namespaced_service_account(NAMESPACE, body, _preload_content=False, _request_timeout=REQUEST_TIMEOUT))
    patch = {"metadata": {"annotations": {ROLE_ARN_ANNOTATION: role_arn}}}
    return _call(f"annotate ServiceAccount {NAMESPACE}/{SERVICE_ACCOUNT_NAME}", lambda: core.patch_namespaced_service_account(
        SERVICE_ACCOUNT_NAME, NAMESPACE, patch, _preload_content=False, _request_timeout=REQUEST_TIMEOUT, _content_type=MERGE_PATCH)) or {}


def read_daemonset(api_client) -> Optional[Dict[str, Any]]:
    apps = kclient.AppsV1Api(api_client)
    return _call(f"read DaemonSet {NAMESPACE}/{DAEMONSET_NAME}", lambda: apps.read_namespaced_daemon_set(
        DAEMONSET_NAME, NAMESPACE, _preload_content=False, _request_timeout=REQUEST_TIMEOUT), missing_ok=True)


def restart_daemonset(api_client) -> Dict[str, Any]:
    """What ``kubectl rollout restart`` does: a new pod template annotation, so every pod is replaced."""
    apps = kclient.AppsV1Api(api_client)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT_ANNOTATION: stamp}}}}}
    return _call(f"restart DaemonSet {NAMESPACE}/{DAEMONSET_NAME}", lambda: apps.patch_namespaced_daemon_set(
        DAEMONSET_NAME, NAMESPACE, patch, _preload_content=False, _request_timeout=REQUEST_TIMEOUT, _content_type=MERGE_PATCH)) or {}


def daemonset_pods(api_client, daemonset: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The DaemonSet's own pods (selected by its labels and owned by it)."""
    core = kclient.CoreV1Api(api_client)
    labels = ((daemonset.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
    uid = (daemonset.get("metadata") or {}).get("uid")
    listed = _call(f"list the pods of DaemonSet {NAMESPACE}/{DAEMONSET_NAME}", lambda: core.list_namespaced_pod(
        NAMESPACE, label_selector=selector, _preload_content=False, _request_timeout=REQUEST_TIMEOUT)) or {}
    return [p for p in listed.get("items", []) if any(ref.get("uid") == uid for ref in (p.get("metadata") or {}).get("ownerReferences") or [])]


def list_nodes(api_client) -> List[Dict[str, Any]]:
    core = kclient.CoreV1Api(api_client)
    return (_call("list nodes", lambda: core.list_node(_preload_content=False, _request_timeout=REQUEST_TIMEOUT)) or {}).get("items", [])
