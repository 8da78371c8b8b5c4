"""Injected AWS errors: which call a request is, and the error body each AWS protocol uses.

A rule (``POST /_lab/faults``) says "the next N calls of service S, action A fail with code C and HTTP
status H"; a share rule (the same endpoint with ``share``) says "each call of service S (or of any
service), action A (or any), fails with probability P", with a random generator per rule that ``seed``
makes repeatable. Count rules are consulted first. The request is identified the way AWS front ends do it: the service from the SigV4 credential
scope, the action from ``Action=`` (query/EC2 protocols), ``X-Amz-Target`` (JSON protocol) or the HTTP
method and path matched against the botocore model (REST protocols).
"""

from __future__ import annotations

import functools
import json
import random
import re
import threading
from contextlib import contextmanager
import uuid
from dataclasses import asdict, dataclass, field
from typing import Optional
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from botocore.exceptions import UnknownServiceError
from moto.core.utils import get_service_model

# The lab's simulator and controllers send this in User-Agent; they never consume injected faults.
LAB_USER_AGENT = "eksnodes-lab"


CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
DEFAULT_MESSAGES = {
    "Throttling": "Rate exceeded",
    "ThrottlingException": "Rate exceeded",
    "RequestLimitExceeded": "Request limit exceeded.",
    "ServiceUnavailable": "Service is unavailable",
    "InternalFailure": "An internal error occurred",
}


# The code of a rule that fails nothing: the call is held ``stall_seconds``, then served (a slow or stuck call, for a
# client to be killed in the middle of it; AWS completes a call it received whatever happens to the client).
STALL = "Stall"


@dataclass
class FaultRule:
    """The next ``count`` calls of ``service``/``action`` fail with ``code`` (or, with STALL, are held, then served)."""

    service: str
    action: str
    code: str
    status: int = 400
    count: int = 1
    message: str = ""
    stall_seconds: float = 0.0

    def matches(self, call: "AwsCall") -> bool:
        return self.count > 0 and self.service == call.service and self.action in ("*", call.action)


# What each service answers when it throttles (the code its SDK's retry logic looks for).
THROTTLING_CODES = {"ec2": "RequestLimitExceeded", "eks": "ThrottlingException", "ssm": "ThrottlingException"}
DEFAULT_THROTTLING_CODE = "Throttling"


def throttling_code(service: str) -> str:
    return THROTTLING_CODES.get(service, DEFAULT_THROTTLING_CODE)


@dataclass
class ShareRule:
    """Each call of ``service`` (None: any) / ``action`` (None or ``*``: any) fails with probability ``share``.

    ``code`` None means each service's own throttling code (``throttling_code``).
    """

    share: float
    service: Optional[str] = None
    action: Optional[str] = None
    code: Optional[str] = None
    status: int = 400
    message: str = ""
    seed: Optional[int] = None
    seen: int = 0
    injected: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.share <= 1.0:
            raise ValueError(f"share must be between 0 and 1, not {self.share}")
        self.rng = random.Random(self.seed)

    def matches(self, call: "AwsCall") -> bool:
        return self.service in (None, call.service) and self.action in (None, "*", call.action)

    def draw(self, call: "AwsCall") -> Optional[FaultRule]:
        self.seen += 1
        if self.rng.random() >= self.share:
            return None
        self.injected += 1
        return FaultRule(call.service, call.action, self.code or throttling_code(call.service), self.status, 1, self.message)

    def describe(self) -> dict:
        return {"share": self.share, "service": self.service, "action": self.action, "code": self.code, "status": self.status,
                "seed": self.seed, "seen": self.seen, "injected": self.injected}


@dataclass(frozen=True)
class AwsCall:
    """Which AWS API a request calls."""

    service: str
    action: str
    protocol: str


class FaultRegistry:
    """Thread-safe list of fault rules; a matching call consumes one count of the first matching rule."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._shares: list[ShareRule] = []
        self._lock = threading.Lock()
        self._held = 0  # STALL calls held or being served: a client killed meanwhile can wait for them to be done

    def add(self, rule: FaultRule | ShareRule) -> None:
        with self._lock:
            if isinstance(rule, ShareRule):
                self._shares.append(rule)
            else:
                self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._shares.clear()

    def rules(self) -> list[dict]:
        with self._lock:
            return [asdict(rule) for rule in self._rules]

    def held(self) -> int:
        with self._lock:
            return self._held

    @contextmanager
    def holding(self):
        """Counts a STALL call from its hold to the end of its answer."""
        with self._lock:
            self._held += 1
        try:
            yield
        finally:
            with self._lock:
                self._held -= 1

    def shares(self) -> list[dict]:
        with self._lock:
            return [share.describe() for share in self._shares]

    def take(self, call: AwsCall) -> Optional[FaultRule]:
        with self._lock:
            for rule in self._rules:
                if rule.matches(call):
                    rule.count -= 1
                    if rule.count <= 0:
                        self._rules.remove(rule)
                    return rule
            for share in self._shares:
                if share.matches(call):
                    return share.draw(call)
        return None


@functools.lru_cache(maxsize=None)
def _rest_routes(service: str) -> tuple[tuple[str, "re.Pattern[str]", str], ...]:
    """(method, path regex, operation) of a REST service, the most specific paths first."""
    model = get_service_model(service)
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        template = http["requestUri"].split("?", 1)[0]
        pattern = re.sub(r"\\\{[^}]+\\\+\\\}", ".+", re.escape(template))
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern)
        literal = len(re.sub(r"\{[^}]+\}", "", template))
        routes.append((literal, http["method"], re.compile(f"^{pattern}/?$"), name))
    routes.sort(key=lambda route: -route[0])
    return tuple((method, regex, name) for _literal, method, regex, name in routes)


def identify_call(environ: dict, body: bytes) -> Optional[AwsCall]:
    """The AWS call a WSGI request makes, or None when it is not a signed AWS request."""
    scope = CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not scope:
        return None
    service = scope.group(2)
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return AwsCall(service, target.rsplit(".", 1)[-1], "json")
    form = parse_qs(body.decode("utf-8", "replace")) if body else {}
    form.update(parse_qs(environ.get("QUERY_STRING", "")))
    if "Action" in form:
        return AwsCall(service, form["Action"][0], "ec2" if service == "ec2" else "query")
    try:
        model = get_service_model(service)
    except UnknownServiceError:
        return None
    raw_path = (environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")).split("?", 1)[0]
    for method, regex, name in _rest_routes(service):
        if method == environ.get("REQUEST_METHOD") and regex.match(raw_path):
            return AwsCall(service, name, model.protocol)
    return None


def render_error(call: AwsCall, rule: FaultRule) -> tuple[str, list[tuple[str, str]], bytes]:
    """(status line, headers, body) of the error ``rule`` in the shape ``call``'s protocol uses."""
    message = rule.message or DEFAULT_MESSAGES.get(rule.code, f"{rule.code} (injected by the lab)")
    request_id = str(uuid.uuid4())
    headers = [("x-amzn-RequestId", request_id)]
    if call.protocol in ("json", "rest-json"):
        headers += [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", rule.code)]
        payload = {"__type": rule.code, "message": message} if call.protocol == "json" else {"message": message}
        body = json.dumps(payload).encode()
    elif call.protocol == "ec2":
        headers.append(("Content-Type", "text/xml"))
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{escape(rule.code)}</Code>'
                f"<Message>{escape(message)}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>").encode()
    else:
        fault_type = "Receiver" if rule.status >= 500 else "Sender"
        headers.append(("Content-Type", "text/xml"))
        body = (f"<ErrorResponse><Error><Type>{fault_type}</Type><Code>{escape(rule.code)}</Code><Message>{escape(message)}</Message>"
                f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>").encode()
    headers.append(("Content-Length", str(len(body))))
    return f"{rule.status} Lab Fault", headers, body
