"""Injected failures of two kinds, for requests matching a method and a path pattern:

* count-based: the next N matching requests get an error Status (with ``after``, once the request has
  taken effect, as when an API server times out after the write was committed);
* share-based: each matching request fails with probability ``share``, with a status drawn from
  ``statuses`` (a random generator per rule, seeded with ``seed`` when given, for runs that repeat).

Count-based faults are consulted first. Neither is ever applied to the lab's own clients.
"""
from __future__ import annotations

import random
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
    after: bool = False  # the request takes effect first, then its answer is this error (a timeout after the commit)

    def describe(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "status": self.status, "count": self.remaining,
                "reason": self.reason, "message": self.message, "after": self.after}

    def error(self) -> ApiError:
        headers = {"Retry-After": "1"} if self.status == 429 else {}
        error = ApiError(self.status, self.reason, self.message, headers=headers)
        error.after = self.after
        return error


@dataclass
class ShareFault:
    """Each matching request fails with probability ``share``; the status is drawn from ``statuses``."""

    method: Optional[str]
    path: str
    share: float
    statuses: list[int]
    seed: Optional[int]
    rng: random.Random
    seen: int = 0
    injected: int = 0

    def describe(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "share": self.share, "statuses": list(self.statuses), "seed": self.seed,
                "seen": self.seen, "injected": self.injected}

    def draw(self) -> Optional[ApiError]:
        self.seen += 1
        if self.rng.random() >= self.share:
            return None
        self.injected += 1
        status = self.rng.choice(self.statuses)
        reason = reason_for(status)
        headers = {"Retry-After": "1"} if status == 429 else {}
        return ApiError(status, reason, f"injected fault ({self.share:.0%} of requests): {reason}", headers=headers)


def _share_fault(spec: dict, method: Optional[str], pattern: str) -> ShareFault:
    try:
        share = float(spec["share"])
        statuses = [int(code) for code in spec.get("statuses") or [500, 503, 504]]
        seed = None if spec.get("seed") is None else int(spec["seed"])
    except (TypeError, ValueError) as error:
        raise bad_request(f"invalid fault: {error}") from error
    if not 0.0 <= share <= 1.0:
        raise bad_request(f"invalid fault: share must be between 0 and 1, not {share}")
    if any(code < 400 or code > 599 for code in statuses):
        raise bad_request(f"invalid fault: statuses must be HTTP error codes, not {statuses}")
    return ShareFault(method, pattern, share, statuses, seed, random.Random(seed))


class FaultInjector:
    def __init__(self):
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._shares: list[ShareFault] = []

    def add(self, spec: dict) -> Fault | ShareFault:
        """Register a fault from a control request body.

        Count-based: method, path (regex), status, count, message, reason, after (apply the request, then fail). Share-based (``share`` given):
        method, path, share (0..1), statuses (default 500, 503, 504), seed.
        """
        if not isinstance(spec, dict):
            raise bad_request("a fault is a JSON object")
        if spec.get("share") is not None:
            try:
                pattern = re.compile(spec.get("path") or ".*").pattern
            except re.error as error:
                raise bad_request(f"invalid fault: {error}") from error
            method = spec.get("method")
            share = _share_fault(spec, method.upper() if method else None, pattern)
            with self._lock:
                self._shares.append(share)
            return share
        try:
            status = int(spec.get("status", 500))
            pattern = re.compile(spec.get("path") or ".*").pattern
            count = int(spec.get("count", 1))
        except (TypeError, ValueError, re.error) as error:
            raise bad_request(f"invalid fault: {error}") from error
        method = spec.get("method")
        reason = spec.get("reason") or reason_for(status)
        fault = Fault(method.upper() if method else None, pattern, status, count, reason, spec.get("message") or f"injected fault: {reason}",
                      bool(spec.get("after")))
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._shares.clear()

    def describe(self) -> list[dict]:
        with self._lock:
            return [fault.describe() for fault in self._faults]

    def describe_shares(self) -> list[dict]:
        with self._lock:
            return [share.describe() for share in self._shares]

    def take(self, method: str, path: str) -> Optional[ApiError]:
        """The error for this request if a fault matches it (using up one of its count), else None."""
        with self._lock:
            for fault in self._faults:
                if fault.method in (None, method) and re.search(fault.path, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault.error()
            for share in self._shares:
                if share.method in (None, method) and re.search(share.path, path):
                    return share.draw()
        return None
