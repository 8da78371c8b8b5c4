# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one retry policy of every Kubernetes API request the collection sends (module_utils/retries.py is AWS's).

client.api_client() installs it on the client's REST layer (install()), so every call made through
CoreV1Api, AppsV1Api, VersionApi... is covered without a try/except at each call site:

1. the request is sent;
2. an answer of 429, 500, 502, 503 or 504, or a connection reset / HTTP protocol error, is transient
   (API servers answer those during control-plane updates and scaling, and under priority and fairness);
3. a transient failure is retried only if sending the request again cannot do harm (safe_to_repeat):
   reads, JSON merge and apply patches (idempotent by definition), deletes (a repeat finds 404 at worst),
   and writes that carry a resourceVersion (the server refuses a stale one with 409 Conflict); a 429 is
   retried whatever the request, since the server refused it before doing anything, except an eviction's
   (a PodDisruptionBudget's answer, which the drain waits out with its own message). A create (POST) is
   not retried on 5xx: a repeat of one that was applied would answer 409 AlreadyExists;
   a replace (PUT) that carries a resourceVersion reads the object again before it is repeated
   (after_failed_replace): unchanged, the PUT is sent again; changed into what was sent, the write was
   applied before the error and the object read is its answer; changed otherwise, the caller gets 409
   Conflict and reads, merges and writes again as for any concurrent writer (aws_auth's loop does);
4. it waits as long as the server's Retry-After asks, else a full-jitter exponential delay;
5. at most MAX_ATTEMPTS attempts and MAX_SECONDS in all, then the last error is raised as it came.

An API server that cannot be reached at all raises KubeConnectionError, which names the host, where it
came from and the fix. Watch streams are not retried here: the readiness waiter lists again when one
ends early and paces that with the same policy (KubeRetry.delay).

urllib3's own Retry (Configuration.retries) is not enough: it decides by HTTP method alone (it cannot
see a resourceVersion in a body), has no bound on total time, and replaces the server's last Status
with a MaxRetryError.
"""

import email.utils
import json
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, TypeVar
from urllib.parse import urlsplit

try:
    from kubernetes.client.rest import ApiException
    from urllib3.exceptions import HTTPError, MaxRetryError, ProtocolError, SSLError
except ImportError:
    ApiException = Exception

    class HTTPError(Exception):  # type: ignore[no-redef]
        pass

    MaxRetryError = ProtocolError = SSLError = HTTPError

# What API servers answer when they are overloaded or being updated; client-go retries the same.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# 8 attempts: with one request in five failing, a call still fails once in about 390,000.
MAX_ATTEMPTS = 8
# Past two minutes an API server is not having a hiccup; the caller should say it is unusable.
MAX_SECONDS = 120.0
BASE_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 10.0
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
IDEMPOTENT_PATCH_TYPES = ("application/merge-patch+json", "application/apply-patch+yaml")

T = TypeVar("T")


@dataclass(frozen=True)
class KubeRequest:
    """What the policy needs to know about a request to decide whether it may be sent again."""

    method: str
    url: str = ""
    body: Any = None
    content_type: str = "application/json"


class KubeConnectionError(ApiException):
    """The API server could not be reached (refused, unresolvable, timed out, reset); status 0 like the client's SSL errors."""

    def __init__(self, host: str, reason: str, source: str = "", fix: str = ""):
        super().__init__(status=0, reason=reason)
        self.body = b""  # ApiClient decodes the body of every ApiException it sees
        self.host = host
        self.source = source
        self.problem = f"cannot reach the Kubernetes API server at {host}{f' ({source})' if source else ''}: {reason}"
        self.fix = fix or f"check that {host} is the API server's address and that this machine can reach it."

    def __str__(self) -> str:
        return f"{self.problem}. Fix: {self.fix}"


def carries_resource_version(body: Any) -> bool:
    """A write conditioned on a resourceVersion: in the object's metadata, or in DeleteOptions preconditions."""
    if not isinstance(body, Mapping):
        return False
    for holder in ("metadata", "preconditions"):
        part = body.get(holder)
        if isinstance(part, Mapping) and part.get("resourceVersion"):
            return True
    return False


def safe_to_repeat(request: KubeRequest) -> bool:
    method = request.method.upper()
    if method in READ_METHODS or method == "DELETE":
        return True
    if method == "PATCH" and request.content_type.split(";")[0].strip() in IDEMPOTENT_PATCH_TYPES:
        return True
    return method in ("PUT", "PATCH") and carries_resource_version(request.body)


def _root_cause(error: BaseException) -> BaseException:
    """The connection error inside urllib3's MaxRetryError (after its own quick retries)."""
    reason = getattr(error, "reason", None)
    return reason if isinstance(error, MaxRetryError) and isinstance(reason, BaseException) else error


def is_transient(error: BaseException) -> bool:
    if isinstance(error, KubeConnectionError):
        error = error.__cause__ or error
    elif isinstance(error, ApiException):
        return getattr(error, "status", None) in RETRY_STATUSES
    cause = _root_cause(error)
    return isinstance(cause, (ProtocolError, ConnectionResetError, ConnectionAbortedError)) and not isinstance(cause, SSLError)


def is_eviction(request: KubeRequest) -> bool:
    return request.method == "POST" and urlsplit(request.url).path.rstrip("/").endswith("/eviction")


def should_retry(request: KubeRequest, error: BaseException) -> bool:
    if getattr(error, "status", None) == 429:
        # An eviction's 429 is a PodDisruptionBudget's answer, not load: the drain waits for the budget itself.
        return not is_eviction(request)
    return is_transient(error) and safe_to_repeat(request)


def retry_after(error: BaseException, now: Callable[[], float] = time.time) -> Optional[float]:
    """Seconds the server asked to wait (Retry-After: seconds or an HTTP date), or None."""
    headers = getattr(error, "headers", None)
    value = headers.get("Retry-After") if headers is not None and hasattr(headers, "get") else None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(str(value)).timestamp() - now())
    except (TypeError, ValueError):
        return None


class KubeRetry:
    """Bounded attempts and total time, full-jitter exponential backoff, Retry-After honoured."""

    def __init__(self, max_attempts: int = MAX_ATTEMPTS, max_seconds: float = MAX_SECONDS, base: float = BASE_DELAY_SECONDS,
                 cap: float = MAX_DELAY_SECONDS, sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 rand: Callable[[float, float], float] = random.uniform):
        self.max_attempts = max_attempts
        self.max_seconds = max_seconds
        self.base = base
        self.cap = cap
        self.sleep = sleep
        self.clock = clock
        self.rand = rand

    def delay(self, attempt: int, error: Optional[BaseException] = None) -> float:
        """Seconds to wait before retry number `attempt` (1-based): the server's Retry-After, else full jitter."""
        asked = retry_after(error) if error is not None else None
        if asked is not None:
            return asked
        return self.rand(0.0, min(self.cap, self.base * (2 ** (attempt - 1))))

    def call(self, request: KubeRequest, send: Callable[[], T]) -> T:
        """send() until it succeeds, fails for good, or the attempts or the time run out."""
        started = self.clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                return send()
            except Exception as error:  # pylint: disable=broad-exception-caught
                if attempt >= self.max_attempts or not should_retry(request, error):
                    raise
                wait = self.delay(attempt, error)
                if self.clock() - started + wait > self.max_seconds:
                    raise
                self.sleep(wait)


DEFAULT_POLICY = KubeRetry()

# after_failed_replace() outcomes
RESEND, APPLIED, CONFLICT = "resend", "applied", "conflict"
NOT_CONTENT = ("apiVersion", "kind", "metadata", "status")


def after_failed_replace(sent: Mapping[str, Any], current: Optional[Mapping[str, Any]]) -> str:
    """What to do after a replace carrying sent's resourceVersion failed transiently, given the object read back."""
    if current is None:
        return CONFLICT  # deleted meanwhile: the caller decides
    sent_meta, current_meta = sent.get("metadata") or {}, current.get("metadata") or {}
    if current_meta.get("resourceVersion") == sent_meta.get("resourceVersion"):
        return RESEND
    same_content = all(sent.get(key) == current.get(key) for key in set(sent) | set(current) if key not in NOT_CONTENT)
    same_meta = all((sent_meta.get(key) or {}) == (current_meta.get(key) or {}) for key in ("labels", "annotations"))
    return APPLIED if same_content and same_meta else CONFLICT


def conflict_after(error: BaseException, path: str) -> ApiException:
    """The 409 Conflict a caller handles by reading again, for a write that may or may not have been applied."""
    conflict = ApiException(status=409, reason="Conflict")
    message = (f"Operation cannot be fulfilled on {path}: the object was changed by another writer while this write failed "
               f"with {getattr(error, 'status', None) or error}; read it again")
    conflict.body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Conflict", "code": 409,
                                "message": message}).encode()
    conflict.headers = {}
    return conflict


def _guarded_replace(request: KubeRequest, send: Callable[[], T], read_back: Callable[[], Tuple[Optional[Dict[str, Any]], Any]]) -> Callable[[], T]:
    """send() for a PUT carrying a resourceVersion: after a transient failure, each retry first reads the object back."""
    failed: List[BaseException] = []

    def attempt() -> T:
        if failed:
            current, response = read_back()
            outcome = after_failed_replace(request.body, current)
            if outcome == APPLIED:
                return response
            if outcome == CONFLICT:
                raise conflict_after(failed[-1], urlsplit(request.url).path)
        try:
            return send()
        except Exception as error:  # pylint: disable=broad-exception-caught
            if should_retry(request, error):
                failed.append(error)
            raise
    return attempt


def install(api_client, policy: Optional[KubeRetry] = None, source: str = "", fix: str = ""):
    """Make every request of a kubernetes.client.ApiClient go through the policy; returns the client.

    source says where the host came from and fix what to do when it cannot be reached (see KubeConnectionError).
    The REST client's request() is replaced on the instance: GET(), PUT()... and ApiClient.request() call it.
    """
    rest = api_client.rest_client
    if getattr(rest, "eksnodes_retry", None) is not None:
        return api_client
    send = rest.request
    host = api_client.configuration.host
    chosen = policy or DEFAULT_POLICY

    def sent(method, url, **kwargs):
        try:
            return send(method, url, **kwargs)
        except (HTTPError, ConnectionError) as error:
            raise KubeConnectionError(host, str(_root_cause(error)), source, fix) from error

    def request(method, url, query_params=None, headers=None, body=None, post_params=None, _preload_content=True, _request_timeout=None):
        described = KubeRequest(method.upper(), url, body, (headers or {}).get("Content-Type") or "application/json")

        def once():
            # rest.request() edits the headers it is given (Content-Type), so each attempt gets a copy.
            return sent(method, url, query_params=query_params, headers=dict(headers or {}), body=body, post_params=post_params,
                        _preload_content=_preload_content, _request_timeout=_request_timeout)

        def read_back():
            """The object the PUT was for (None when gone), and the response to answer the PUT with."""
            read = KubeRequest("GET", url)
            try:
                response = chosen.call(read, lambda: sent("GET", url, headers=dict(headers or {}), _preload_content=True,
                                                          _request_timeout=_request_timeout))
            except ApiException as error:
                if getattr(error, "status", None) == 404:
                    return None, None
                raise
            return json.loads(response.data or b"{}"), response

        if described.method == "PUT" and carries_resource_version(body):
            return chosen.call(described, _guarded_replace(described, once, read_back))
        return chosen.call(described, once)

    rest.request = request
    rest.eksnodes_retry = chosen
    return api_client
