"""Watch streams: replay from a resourceVersion, synthetic ADDED events, selector transitions."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterator, Optional

from .errors import ApiError, bad_request
from .resources import ResourceType
from .selectors import FieldSelector, LabelSelector, object_matches
from .store import ObjectStore, StoredEvent

DEFAULT_TIMEOUT_SECONDS = 1800.0  # kube-apiserver's --min-request-timeout


@dataclass(frozen=True)
class WatchRequest:
    resource: ResourceType
    namespace: Optional[str]
    labels: LabelSelector
    fields: FieldSelector
    resource_version: str = ""
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    def selects(self, obj: Optional[dict]) -> bool:
        if obj is None:
            return False
        if self.namespace is not None and obj["metadata"].get("namespace") != self.namespace:
            return False
        return object_matches(obj, self.labels, self.fields)


def open_watch(store: ObjectStore, request: WatchRequest) -> Iterator[dict]:
    """Start a watch: request errors raise here, before any response is sent; then iterate the events.

    The iterator yields ``{"type", "object"}`` events until the timeout passes or the store closes.
    With an empty or "0" resourceVersion the current state comes first as ADDED events. A too old
    resourceVersion yields one ERROR event (410 Expired), which is how kube-apiserver reports it too.
    """
    deadline = time.monotonic() + request.timeout_seconds
    with store.lock:
        if request.resource_version in ("", "0"):
            initial = [obj for obj in store.list(request.resource, request.namespace) if request.selects(obj)]
            last_seen = store.resource_version
        else:
            initial, last_seen = [], _parse_version(request.resource_version)
    return _stream(store, request, initial, last_seen, deadline)


def _stream(store: ObjectStore, request: WatchRequest, initial: list[dict], last_seen: int, deadline: float) -> Iterator[dict]:
    for obj in initial:
        yield {"type": "ADDED", "object": obj}
    while True:
        try:
            events = _next_events(store, last_seen, deadline)
        except ApiError as error:
            yield {"type": "ERROR", "object": error.status()}
            return
        if events is None:
            return
        for event in events:
            last_seen = event.resource_version
            translated = _as_seen_by(request, event)
            if translated:
                yield translated


def _parse_version(text: str) -> int:
    try:
        return int(text)
    except ValueError as error:
        raise bad_request(f"invalid resource version: {text!r}") from error


def _next_events(store: ObjectStore, last_seen: int, deadline: float) -> Optional[list[StoredEvent]]:
    """Events after ``last_seen``, waiting for some until the deadline; None when the watch should end."""
    with store.changed:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or store.closed:
                return None
            events = store.events_after(last_seen)
            if events:
                return events
            store.changed.wait(remaining)


def _as_seen_by(request: WatchRequest, event: StoredEvent) -> Optional[dict]:
    """An object entering or leaving the selector is ADDED or DELETED for this watch, as in the watch cache."""
    if event.resource != request.resource:
        return None
    matches_now = event.type != "DELETED" and request.selects(event.obj)
    matched_before = request.selects(event.previous)
    if event.type == "DELETED":
        event_type = "DELETED" if matched_before else None
    elif matches_now:
        event_type = "MODIFIED" if matched_before else "ADDED"
    else:
        event_type = "DELETED" if matched_before else None
    return {"type": event_type, "object": event.obj} if event_type else None
