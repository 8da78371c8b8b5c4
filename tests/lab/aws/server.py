"""``AwsLab``: moto served in-process on a free port, with the lab's backends, seed and control endpoints."""

from __future__ import annotations

import functools
import io
import logging
import threading
import time
from typing import Any, Callable, ClassVar, Iterable, Optional

from moto.backends import list_of_moto_modules
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from lab.aws import backends, control_api, faults
from lab.aws.authorization import AccessDenied, IamEnforcer
from lab.aws.constants import ACCOUNT_ID, AUTHENTICATION_MODES, CLUSTER_NAME, DEFAULT_KUBERNETES_VERSION, DEFAULT_PLATFORM_VERSION, DEFAULT_REGION
from lab.aws.control import AwsLabControl
from lab.aws.seed import seed_world
from lab.aws.state import LAB_STATE

LOG = logging.getLogger("lab.aws")
StartResponse = Callable[..., Any]


class QuietRequestHandler(MotoRequestHandler):
    """moto's request handler, logging each request to ``lab.aws`` at DEBUG instead of stderr."""

    disable_nagle_algorithm = True

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        LOG.debug("%s %s -> %s", self.command, self.path, code)

    def log_error(self, format: str, *args: Any) -> None:  # pylint: disable=redefined-builtin
        LOG.warning(format, *args)


class LabDispatcher(DomainDispatcherApplication):
    """moto's service dispatcher, reading the list of moto's modules once instead of on every request (about 3 ms each)."""

    @staticmethod
    @functools.lru_cache(maxsize=1)
    def moto_modules() -> frozenset[str]:
        return frozenset(list_of_moto_modules())

    def get_backend_for_host(self, host: Optional[str]) -> Any:
        if host is None:
            return None
        if host == "moto_api" or host in self.moto_modules():
            return host
        return next((backend for backend, pattern in self.backend_url_patterns if pattern.match(f"http://{host}")), None)


class LabWsgiApp:
    """Control endpoints, injected faults, then moto; AWS calls run one at a time (moto is not thread-safe)."""

    READ_ACTIONS = ("Describe", "List", "Get")

    def __init__(self, enforcer: Optional[IamEnforcer] = None) -> None:
        self.moto = LabDispatcher(create_backend_app)
        self.lock = threading.RLock()
        self.enforcer = enforcer
        self.on_write: Optional[Callable[[], None]] = None  # called after each call that may change something

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        if environ.get("PATH_INFO", "").startswith("/_lab/"):
            with self.lock:
                return control_api.handle(environ, body, start_response)
        call = faults.identify_call(environ, body)
        from_lab = faults.LAB_USER_AGENT in environ.get("HTTP_USER_AGENT", "")
        rule = LAB_STATE.faults.take(call) if call is not None and not from_lab else None
        if call is not None and rule is not None and rule.code == faults.STALL:
            with LAB_STATE.faults.holding():
                LOG.info("holding %s.%s for %.1fs", call.service, call.action, rule.stall_seconds)
                time.sleep(rule.stall_seconds)
                return self._answer(environ, body, start_response, call, None)
        return self._answer(environ, body, start_response, call, rule)

    def _answer(self, environ: dict[str, Any], body: bytes, start_response: StartResponse, call: Optional[faults.AwsCall],
                rule: Optional[faults.FaultRule]) -> Iterable[bytes]:
        """The injected error of rule, or what the enforcer and moto answer (read whole, so that the answer is complete)."""
        if call is not None and rule is not None:
            LOG.info("injecting %s into %s.%s", rule.code, call.service, call.action)
            status, headers, payload = faults.render_error(call, rule)
            start_response(status, headers)
            return [payload]
        with self.lock:
            if call is not None and self.enforcer is not None:
                try:
                    self.enforcer.check(environ, body, call.service, call.action)
                except AccessDenied as denied:
                    LOG.info("refusing %s.%s: %s", call.service, call.action, denied.message)
                    rule = faults.FaultRule(call.service, call.action, denied.code, denied.status, message=denied.message)
                    status, headers, payload = faults.render_error(call, rule)
                    start_response(status.replace("Lab Fault", "Forbidden"), headers)
                    return [payload]
            result = self.moto(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
                if self.on_write is not None and call is not None and not call.action.startswith(self.READ_ACTIONS):
                    self.on_write()


class AwsLab:
    """The lab's AWS endpoint. One per process: moto's state is process-wide."""

    _running: ClassVar[Optional["AwsLab"]] = None

    def __init__(self, host: str = "127.0.0.1", port: int = 0, region: str = DEFAULT_REGION,  # pylint: disable=too-many-arguments
                 kubernetes_version: str = DEFAULT_KUBERNETES_VERSION, authentication_mode: str = "CONFIG_MAP",
                 kube_endpoint: str = "https://127.0.0.1:6443", kube_ca_pem: str = "", *, managed_vpc_cni: bool = False,
                 platform_version: str = DEFAULT_PLATFORM_VERSION, transition_seconds: float = 0.0, cluster_name: str = CLUSTER_NAME,
                 ip_family: str = "ipv4") -> None:
        if authentication_mode not in AUTHENTICATION_MODES:
            raise ValueError(f"authentication_mode must be one of {AUTHENTICATION_MODES}, not {authentication_mode!r}")
        self.host, self.port, self.region = host, port, region
        self.kubernetes_version, self.authentication_mode = kubernetes_version, authentication_mode
        self.kube_endpoint, self.kube_ca_pem = kube_endpoint, kube_ca_pem
        self.managed_vpc_cni, self.platform_version = managed_vpc_cni, platform_version
        self.transition_seconds, self.cluster_name = transition_seconds, cluster_name
        self.ip_family = ip_family
        self.account_id = ACCOUNT_ID
        # IAM users' requests are checked against their policies once enable_iam() is called (after the seed).
        self.enforcer = IamEnforcer(ACCOUNT_ID)
        self.app = LabWsgiApp(self.enforcer)
        self.facts: dict[str, Any] = {}
        self._server: Optional[BaseWSGIServer] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the AWS lab is not started")
        return f"http://{self.host}:{self._server.server_port}"

    @property
    def control(self) -> AwsLabControl:
        return AwsLabControl(self.url)

    def start(self) -> "AwsLab":
        if AwsLab._running is not None:
            raise RuntimeError(f"an AWS lab is already running in this process at {AwsLab._running.url}")
        started = time.monotonic()
        backends.install()
        self._reset_state()
        self._server = make_server(self.host, self.port, self.app, threaded=True, request_handler=QuietRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="lab-aws", daemon=True)
        self._thread.start()
        AwsLab._running = self
        LOG.info("AWS lab listening on %s after %.2fs", self.url, time.monotonic() - started)
        return self

    def _reset_state(self) -> None:
        backends.reset_moto()
        LAB_STATE.clear()
        settings = LAB_STATE.settings
        settings.region, settings.kubernetes_version, settings.authentication_mode = self.region, self.kubernetes_version, self.authentication_mode
        settings.platform_version, settings.transition_seconds = self.platform_version, self.transition_seconds
        settings.kube_endpoint, settings.kube_ca_pem = self.kube_endpoint, self.kube_ca_pem

    def seed(self) -> dict[str, Any]:
        """Create the seeded world (see README.md); returns its ids and ARNs, also kept in ``self.facts``."""
        started = time.monotonic()
        self.facts = seed_world(self.url, self.region, self.cluster_name, self.kubernetes_version, self.authentication_mode, self.managed_vpc_cni,
                                ip_family=self.ip_family)
        LOG.info("AWS lab seeded in %.2fs", time.monotonic() - started)
        return self.facts

    def enable_iam(self, enabled: bool = True) -> None:
        """Check the requests of the account's IAM users against their policies (lab/aws/authorization.py)."""
        self.enforcer.enable(enabled)

    def reset(self) -> None:
        """Forget everything (moto's resources, armed failures, faults); call ``seed()`` again for the seeded world."""
        self._reset_state()
        self.facts = {}

    def configure_kube(self, endpoint: str, ca_pem: str) -> None:
        """Point the EKS clusters (existing and future) at another API server."""
        self.kube_endpoint, self.kube_ca_pem = endpoint, ca_pem
        self.control.set_kube(endpoint, ca_pem)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None
        if AwsLab._running is self:
            AwsLab._running = None
            backends.reset_moto()
            LAB_STATE.clear()

    def __enter__(self) -> "AwsLab":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
