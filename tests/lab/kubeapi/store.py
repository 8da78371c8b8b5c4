"""Versioned object storage: one global resourceVersion counter and a bounded event log for watches.

Stored objects are never modified in place: every write stores a new dict. That lets readers
serialize what they got without holding the lock, and lets the event log share the same dicts.
"""
from __future__ import annotations

import collections
import threading
from dataclasses import dataclass
from typing import Callable, Optional

from .errors import ApiError
from .resources import ResourceType

ObjectKey = tuple[Optional[str], str]  # (namespace, name)


@dataclass(frozen=True)
class StoredEvent:
    resource_version: int
    type: str  # ADDED | MODIFIED | DELETED
    resource: ResourceType
    obj: dict
    previous: Optional[dict]


class ObjectStore:
    """Objects by resource type and (namespace, name), with the change history watches replay."""

    def __init__(self, history: int = 5000):
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.resource_version = 1
        self.closed = False
        self._objects: dict[ResourceType, dict[ObjectKey, dict]] = collections.defaultdict(dict)
        self._events: collections.deque[StoredEvent] = collections.deque(maxlen=history)
        self._compacted_through = 0  # resourceVersion of the newest event dropped from the log
        self.on_change: Optional[Callable[[], None]] = None  # called (under the lock) after every write or delete

    def get(self, resource: ResourceType, namespace: Optional[str], name: str) -> Optional[dict]:
        return self._objects[resource].get((namespace, name))

    def list(self, resource: ResourceType, namespace: Optional[str] = None) -> list[dict]:
        """Objects of a type, sorted by (namespace, name); ``namespace=None`` means all namespaces."""
        with self.lock:
            stored = self._objects[resource]
            return [stored[key] for key in sorted(stored, key=lambda k: (k[0] or "", k[1])) if namespace is None or key[0] == namespace]

    def objects_in_namespace(self, namespace: str) -> list[tuple[ResourceType, dict]]:
        with self.lock:
            return [(resource, obj) for resource, stored in self._objects.items() for (ns, _name), obj in stored.items() if ns == namespace]

    def write(self, resource: ResourceType, obj: dict, previous: Optional[dict]) -> dict:
        """Store ``obj`` (a dict nobody else holds) under a new resourceVersion; return it."""
        with self.lock:
            obj["metadata"]["resourceVersion"] = self._next_version()
            self._objects[resource][_key(obj)] = obj
            self._record("ADDED" if previous is None else "MODIFIED", resource, obj, previous)
            return obj

    def remove(self, resource: ResourceType, final_state: dict, previous: dict) -> dict:
        """Delete the object; ``final_state`` is what the DELETED event carries."""
        with self.lock:
            self._objects[resource].pop(_key(previous), None)
            final_state["metadata"]["resourceVersion"] = self._next_version()
            self._record("DELETED", resource, final_state, previous)
            return final_state

    def events_after(self, resource_version: int) -> list[StoredEvent]:
        """Events newer than ``resource_version``; 410 Expired when some of them were compacted away."""
        with self.lock:
            if resource_version < self._compacted_through:
                oldest = self._events[0].resource_version if self._events else self.resource_version
                raise ApiError(410, "Expired", f"too old resource version: {resource_version} ({oldest - 1})")
            return [event for event in self._events if event.resource_version > resource_version]

    def wait_for_change(self, timeout: float) -> None:
        with self.changed:
            if not self.closed:
                self.changed.wait(timeout)

    def close(self) -> None:
        """End every watch: the waiting ones wake up, new ones end at once (until ``reopen``)."""
        with self.changed:
            self.closed = True
            self.changed.notify_all()

    def reopen(self) -> None:
        with self.changed:
            self.closed = False

    def _next_version(self) -> str:
        self.resource_version += 1
        return str(self.resource_version)

    def _record(self, event_type: str, resource: ResourceType, obj: dict, previous: Optional[dict]) -> None:
        if len(self._events) == self._events.maxlen:
            self._compacted_through = self._events[0].resource_version
        self._events.append(StoredEvent(int(obj["metadata"]["resourceVersion"]), event_type, resource, obj, previous))
        self.changed.notify_all()
        if self.on_change is not None:
            self.on_change()


def _key(obj: dict) -> ObjectKey:
    metadata = obj["metadata"]
    return metadata.get("namespace"), metadata["name"]
