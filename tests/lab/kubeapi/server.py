"""``KubeApiServer``: the lab's Kubernetes API server over HTTPS on a local port, run in background threads."""
from __future__ import annotations

import base64
import copy
import socket
import ssl
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional

from .api import KubeApi
from .auth import TokenAuthenticator
from .discovery import version_info
from .errors import bad_request
from .faults import FaultInjector
from .handler import KubeApiRequestHandler
from .rbac import RbacAuthorizer
from .registry import Registry
from .routing import parse_resource_path
from .store import ObjectStore
from .tls import TlsFiles, ensure_tls_files

HANDSHAKE_TIMEOUT_SECONDS = 30


class _HttpsServer(ThreadingHTTPServer):
    """One thread per connection; the TLS handshake runs in that thread, never in the accept loop."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], ssl_context: ssl.SSLContext):
        super().__init__(address, KubeApiRequestHandler)
        self.ssl_context = ssl_context
        self.api: Optional[KubeApi] = None
        self._connections: set[ssl.SSLSocket] = set()
        self._connections_lock = threading.Lock()

    def finish_request(self, request, client_address) -> None:
        request.settimeout(HANDSHAKE_TIMEOUT_SECONDS)
        try:
            connection = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with self._connections_lock:
            self._connections.add(connection)
        try:
            self.RequestHandlerClass(connection, client_address, self)
        finally:
            with self._connections_lock:
                self._connections.discard(connection)
            connection.close()

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class KubeApiServer:
    """A Kubernetes API server for the lab. ``start()`` serves it; ``url`` and ``ca_pem`` tell clients where and whom to trust."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, tls_dir: Path, authenticator: TokenAuthenticator,
                 kubernetes_version: str = "1.31", watch_history: int = 5000, rbac: bool = False):
        self.host = host
        self.rbac = rbac  # authorize requests with the RBAC objects in the store (lab/kubeapi/rbac.py)
        self.requested_port = port
        self.authenticator = authenticator
        self.version = version_info(kubernetes_version)  # fails early on a malformed version
        self.tls: TlsFiles = ensure_tls_files(Path(tls_dir))
        self.store = ObjectStore(history=watch_history)
        self.registry = Registry(self.store)
        self.faults = FaultInjector()
        self._httpd: Optional[_HttpsServer] = None
        self._thread: Optional[threading.Thread] = None

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> "KubeApiServer":
        self.store.reopen()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.tls.server_cert, self.tls.server_key)
        context.set_alpn_protocols(["http/1.1"])  # Go clients offer h2 first; this server speaks HTTP/1.1 only
        httpd = _HttpsServer((self.host, self.requested_port), context)
        httpd.api = KubeApi(self.store, self.registry, self.authenticator, self.faults, self.version,
                            f"{self.host}:{httpd.server_address[1]}", RbacAuthorizer(self.store) if self.rbac else None)
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="kubeapi", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self.store.close()
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> "KubeApiServer":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # ---------------------------------------------------------------- where and how to connect

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def api(self) -> KubeApi:
        """The handler every request goes to (lab/in_process.py calls it directly)."""
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return self._httpd.api

    @property
    def ca_pem(self) -> str:
        return self.tls.ca_pem

    @property
    def ca_file(self) -> Path:
        return self.tls.ca_cert

    def kubeconfig(self, token: str, name: str = "lab", user: str = "lab-admin") -> dict:
        """A kubeconfig (as a dict: dump it as JSON or YAML) for this server and a bearer token."""
        ca_data = base64.b64encode(self.ca_pem.encode()).decode()
        return {
            "apiVersion": "v1", "kind": "Config", "preferences": {}, "current-context": name,
            "clusters": [{"name": name, "cluster": {"server": self.url, "certificate-authority-data": ca_data}}],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": user}}],
        }

    # ---------------------------------------------------------------- in-process test hooks

    def seed(self, manifest: dict) -> dict:
        """Create the object as given (status included), or replace it when it exists."""
        return copy.deepcopy(self.registry.seed(manifest))

    def bump(self, path: str) -> dict:
        """Rewrite the object at an API path unchanged, so that its resourceVersion moves on."""
        target = parse_resource_path(path)
        if target is None or target.name is None:
            raise bad_request(f"bump needs the path of one object, not {path!r}")
        return copy.deepcopy(self.registry.touch(target.resource, target.namespace, target.name))

    def inject_fault(self, status: int, path: str = ".*", method: Optional[str] = None, count: int = 1, message: str = "") -> None:
        """The next ``count`` API requests matching ``method`` and the ``path`` regex get a ``status`` error."""
        self.faults.add({"status": status, "path": path, "method": method, "count": count, "message": message})

    def clear_faults(self) -> None:
        self.faults.clear()
