# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Kubernetes side of the readiness wait: listing and watching Nodes, reading two ConfigMaps.

Requests are retried by the client's policy (kube/retries.py); a watch stream that breaks, or ends with
a transient ERROR event, raises WatchDropped so that the waiter lists again after the policy's delay.
"""

import json
import math
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

try:
    # First, so that kubernetes is then imported name by name (module_utils/kube/lazy.py).
    from ..kube import lazy  # noqa: F401  pylint: disable=unused-import
    from kubernetes.client import CoreV1Api
    from kubernetes.client.rest import ApiException
    from kubernetes.watch.watch import iter_resp_lines
    from urllib3.exceptions import HTTPError as TransportError
except ImportError:
    CoreV1Api = None
    ApiException = Exception
    iter_resp_lines = None
    TransportError = Exception

from ..kube.client import api_error_message
from ..kube.retries import RETRY_STATUSES
from .waiter import KubeReadError, NodeSource, Unauthorized, WatchDropped, WatchExpired

# Seconds the client waits for bytes beyond the server-side watch timeout before giving up.
READ_GRACE_SECONDS = 15
CONNECT_TIMEOUT_SECONDS = 10


def _read_error(error: Exception, what: str) -> Exception:
    """A failed list or read: Unauthorized (the waiter reconnects) or KubeReadError."""
    if getattr(error, "status", None) == 401:
        return Unauthorized(f"{what}: {api_error_message(error)}")
    return KubeReadError(f"cannot {what}: {api_error_message(error)}")


def _translate(error: Exception, what: str) -> Exception:
    """A failed watch: also WatchExpired (410) or WatchDropped (transient), after which the waiter lists again."""
    status = getattr(error, "status", None)
    if status == 401:
        return Unauthorized(f"{what}: {api_error_message(error)}")
    if status == 410:
        return WatchExpired(f"{what}: {api_error_message(error)}")
    if status in RETRY_STATUSES:
        return WatchDropped(f"{what}: {api_error_message(error)}")
    return KubeReadError(f"cannot {what}: {api_error_message(error)}")


class KubeNodeSource(NodeSource):
    """Nodes through CoreV1Api, as plain dicts; connect() builds a client with fresh credentials."""

    def __init__(self, connect: Callable[[], Any], label_selector: Optional[str] = None):
        self._connect = connect
        self._selector = label_selector or None
        self.core = CoreV1Api(connect())

    def reconnect(self) -> None:
        self.core = CoreV1Api(self._connect())

    def _selector_args(self) -> Dict[str, Any]:
        return {"label_selector": self._selector} if self._selector else {}

    def list(self) -> Tuple[Dict[str, Dict[str, Any]], str]:
        try:
            response = self.core.list_node(_preload_content=False, _request_timeout=(CONNECT_TIMEOUT_SECONDS, 60), **self._selector_args())
        except ApiException as error:
            # The policy already retried a transient failure: what is left is not one.
            raise _read_error(error, "list nodes") from error
        data = json.loads(response.data or b"{}")
        nodes = {n["metadata"]["name"]: n for n in data.get("items") or []}
        return nodes, (data.get("metadata") or {}).get("resourceVersion") or ""

    def watch(self, resource_version: str, timeout: float) -> Iterator[Dict[str, Any]]:
        seconds = max(1, int(math.ceil(timeout)))
        try:
            response = self.core.list_node(
                watch=True,
                resource_version=resource_version,
                allow_watch_bookmarks=True,
                timeout_seconds=seconds,
                _preload_content=False,
                _request_timeout=(CONNECT_TIMEOUT_SECONDS, seconds + READ_GRACE_SECONDS),
                **self._selector_args()
            )
        except ApiException as error:
            raise _translate(error, "watch nodes") from error
        return self._events(response)

    @staticmethod
    def _events(response) -> Iterator[Dict[str, Any]]:
        try:
            for line in iter_resp_lines(response):
                if not line or line.isspace():
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    error = ApiException(status=status.get("code"), reason=f"{status.get('reason')}: {status.get('message')}")
                    raise _translate(error, "watch nodes")
                yield event
        except TransportError as error:
            # A dropped or stalled stream: list again, which reports a real outage.
            raise WatchDropped(f"the node watch ended: {error}") from error
        finally:
            response.close()
            response.release_conn()


def read_config_map(core, namespace: str, name: str) -> Optional[Dict[str, Any]]:
    """A ConfigMap as a dict, or None when it does not exist."""
    try:
        response = core.read_namespaced_config_map(name, namespace, _preload_content=False, _request_timeout=(CONNECT_TIMEOUT_SECONDS, 30))
    except ApiException as error:
        if getattr(error, "status", None) == 404:
            return None
        raise _read_error(error, f"read ConfigMap {namespace}/{name}") from error
    return json.loads(response.data or b"{}")
