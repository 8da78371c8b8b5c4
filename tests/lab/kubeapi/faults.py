"""Injected failures: the next N API requests matching a method and a path pattern get an error Status."""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any, Optional

from .errors import ApiError, bad_request, reason_for

# The lab's simulator and controllers send this in User-Agent; they never consume injected faults.
LAB_USER_AGENT = "eksnodes-lab"


@dataclass
class Fault:
    method: Optional[str]  # None matches any method
    path: str  # a regular expression searched in the request path
    status: int
    remaining: int
    reason: str
    message: str

    def describe(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "status": self.status, "count": self.remaining,
                "reason": self.reason, "message": self.message}

    def error(self) -> ApiError:
        headers = {"Retry-After": "1"} if self.status == 429 else {}
        return ApiError(self.status, self.reason, self.message, headers=headers)


class FaultInjector:
    def __init__(self):
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, spec: dict) -> Fault:
        """Register a fault from a control request body: method, path (regex), status, count, message, reason."""
        if not isinstance(spec, dict):
            raise bad_request("a fault is a JSON object")
        try:
            status = int(spec.get("status", 500))
            pattern = re.compile(spec.get("path") or ".*").pattern
            count = int(spec.get("count", 1))
        except (TypeError, ValueError, re.error) as error:
            raise bad_request(f"invalid fault: {error}") from error
        method = spec.get("method")
        reason = spec.get("reason") or reason_for(status)
        fault = Fault(method.upper() if method else None, pattern, status, count, reason, spec.get("message") or f"injected fault: {reason}")
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def describe(self) -> list[dict]:
        with self._lock:
            return [fault.describe() for fault in self._faults]

    def take(self, method: str, path: str) -> Optional[ApiError]:
        """The error for this request if a fault matches it (using up one of its count), else None."""
        with self._lock:
            for fault in self._faults:
                if fault.method in (None, method) and re.search(fault.path, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault.error()
        return None
