# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Read-only Kubernetes API calls of the preflight checks."""

import json
from typing import Any, Dict, List, Mapping, Optional

try:
    # First, so that kubernetes is then imported name by name (module_utils/kube/lazy.py).
    from ..kube import lazy  # noqa: F401  pylint: disable=unused-import
    import yaml
    from kubernetes import client as kclient
except ImportError:
    yaml = None
    kclient = None

from ..ipam.kube import REQUEST_TIMEOUT, HTTPError, KubeApiError, read_config_map
from ..kube.client import ApiException, is_status


def _items(what: str, call) -> List[Dict[str, Any]]:
    try:
        response = call(_preload_content=False, _request_timeout=REQUEST_TIMEOUT)
    except (ApiException, HTTPError, OSError) as error:
        raise KubeApiError(what, error) from error
    return json.loads(response.data or b"{}").get("items") or []


def list_nodes(api_client) -> List[Dict[str, Any]]:
    return _items("list nodes", kclient.CoreV1Api(api_client).list_node)


def list_pods(api_client) -> List[Dict[str, Any]]:
    return _items("list pods", kclient.CoreV1Api(api_client).list_pod_for_all_namespaces)


def read_deployment(api_client, namespace: str, name: str, listed: Optional[Mapping[str, Any]] = None) -> Optional[Dict[str, Any]]:
    """The Deployment, or None when it does not exist; from listed (list_deployments of its namespace) when given."""
    if listed is not None:
        return listed.get(name)
    try:
        apps = kclient.AppsV1Api(api_client)
        response = apps.read_namespaced_deployment(name, namespace, _preload_content=False, _request_timeout=REQUEST_TIMEOUT)
    except (ApiException, HTTPError, OSError) as error:
        if is_status(error, 404):
            return None
        raise KubeApiError(f"read Deployment {namespace}/{name}", error) from error
    return json.loads(response.data or b"{}")


def aws_auth_map_roles(api_client) -> List[Any]:
    """The entries of kube-system/aws-auth mapRoles; empty when the ConfigMap or the key is missing or unreadable YAML."""
    config_map = read_config_map(api_client, "kube-system", "aws-auth")
    text = ((config_map or {}).get("data") or {}).get("mapRoles")
    if not text or yaml is None:  # the kubernetes library needs PyYAML, so it is there whenever a client is
        return []
    try:
        entries = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    return entries if isinstance(entries, list) else []
