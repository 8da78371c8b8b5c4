"""The lab's lifecycle record: evictions, pod deletions, node deletions and EC2 instance launches and terminations, in order.

Every part of the lab runs in one process, so one process-wide log orders what the API server and the
AWS side did: a test can assert "each pod was evicted before its instance was terminated" or "no pod
was deleted without an eviction".  Entries carry a sequence number (``seq``, strictly increasing),
the wall-clock time and a ``kind``:

* ``eviction``: ``namespace``, ``pod``, ``node``, ``allowed`` (bool), ``pdb`` (the budget that allowed
  or refused it, or None), ``code`` (HTTP status answered), ``message``, ``dry_run``, ``actor``;
* ``pod_delete``: the first deletion request of a pod (not the kubelet's final removal of a pod that is
  already terminating): ``namespace``, ``pod``, ``node``, ``via`` (``eviction`` or ``delete``),
  ``grace_seconds``, ``actor``;
* ``node_delete``: ``node``, ``actor``;
* ``instance_launch`` / ``instance_terminate``: ``instance_id``, ``asg`` (the Auto Scaling group, or None).

``actor`` is ``lab`` for the lab's own simulator and controllers (pod garbage collection, the
deployment controller), ``client`` for everything else (the code under test, kubectl).
"""

from __future__ import annotations

import datetime
import threading
import time
from typing import Any, Iterable, Optional

MAX_ENTRIES = 20000


class LifecycleLog:
    """A bounded, thread-safe, ordered list of lifecycle entries."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict] = []
        self._seq = 0
        self._max = max_entries

    def record(self, kind: str, **fields: Any) -> dict:
        now = time.time()
        with self._lock:
            self._seq += 1
            entry = {"seq": self._seq, "kind": kind, "unix_time": now,
                     "time": datetime.datetime.fromtimestamp(now, datetime.timezone.utc).isoformat(timespec="milliseconds"), **fields}
            self._entries.append(entry)
            if len(self._entries) > self._max:
                del self._entries[:len(self._entries) - self._max]
            return dict(entry)

    def entries(self, since: int = 0, kinds: Optional[Iterable[str]] = None) -> list[dict]:
        """Entries with ``seq`` greater than ``since``, oldest first, optionally only of some kinds."""
        wanted = set(kinds) if kinds else None
        with self._lock:
            return [dict(e) for e in self._entries if e["seq"] > since and (wanted is None or e["kind"] in wanted)]

    @property
    def last_seq(self) -> int:
        with self._lock:
            return self._seq

    def clear(self) -> None:
        """Forget the entries; sequence numbers keep increasing."""
        with self._lock:
            self._entries.clear()


LIFECYCLE = LifecycleLog()
