# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Waiting for Nodes with a watch: list once, then follow the API server's events.

The loop returns as soon as the nodes are Ready (or, for a progress step, as soon as anything a
progress line shows has changed), so its latency is the watch's, not a polling interval's. The
API access is behind a small source interface so the loop is unit tested without a server.

A watch that ends with 410 Gone is followed by a new list at once; one that breaks (a dropped
connection, a transient ERROR event) by a new list after the Kubernetes retry policy's delay
(kube/retries.py), at most its number of attempts in a row. Lists and reads are retried by the
client itself, with the same policy.
"""

import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

from ..kube.retries import DEFAULT_POLICY, KubeRetry
from .nodes import Readiness, Target, Tracker, evaluate, instance_id_of

# Re-read the group this often: instances are launched, replaced and scaled while we wait.
TARGET_REFRESH_SECONDS = 5.0
# Nothing in this loop should hold one connection open for longer than this.
MAX_WATCH_SECONDS = 60.0
# How long a progress step keeps watching after a change before it returns (see wait_for_nodes).
SETTLE_SECONDS = 1.5
# A watch that ends sooner than this without news is followed by a pause of as long.
QUICK_END_SECONDS = 0.5


class KubeReadError(Exception):
    """The nodes could not be read or followed (after the retries the Kubernetes policy allows)."""


class WatchExpired(Exception):
    """The resourceVersion is too old (410 Gone): list again."""


class WatchDropped(WatchExpired):
    """The watch broke (connection dropped, transient ERROR event): list again after a pause."""


class Unauthorized(Exception):
    """The API server rejected the credentials (401): a token has expired."""


class NodeSource:
    """What the loop needs from the API server. kube.py has the real one."""

    def list(self) -> Tuple[Dict[str, Dict[str, Any]], str]:
        """(Nodes by name, the list's resourceVersion)."""
        raise NotImplementedError

    def watch(self, resource_version: str, timeout: float) -> Iterator[Dict[str, Any]]:
        """Events {type, object} after resource_version, for at most timeout seconds.

        Raises WatchExpired or Unauthorized. The iterator is closed when the loop stops early.
        """
        raise NotImplementedError

    def reconnect(self) -> None:
        """Build fresh credentials after an Unauthorized."""
        raise NotImplementedError


@dataclass
class WaitOutcome:
    state: Readiness
    timed_out: bool
    target: Target
    reconnects: int = 0
    watches: int = 0
    dropped: int = 0


def wait_for_nodes(
    source: NodeSource,
    load_target: Callable[[], Target],
    timeout: float,
    since: Optional[str] = None,
    return_on_change: bool = False,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
    target_refresh: float = TARGET_REFRESH_SECONDS,
    settle: float = SETTLE_SECONDS,
    retry: KubeRetry = DEFAULT_POLICY,
) -> WaitOutcome:
    """Wait until the target's nodes are Ready, for at most timeout seconds.

    With return_on_change, also return when the state's signature differs from since (or, when
    since is None, from the state at the start): at once if it already differs, else settle
    seconds after the change is seen, so that changes that come together (nodes of a group join
    within moments of each other) make one return, and a last node turning Ready within that
    time ends the wait without another run.
    """
    deadline = clock() + timeout
    target = load_target()
    next_refresh = clock() + target_refresh
    outcome = WaitOutcome(state=evaluate(target, {}), timed_out=False, target=target)
    nodes, version = _list(source, outcome)
    outcome.state = evaluate(target, nodes)
    baseline = since if since is not None else outcome.state.signature()
    if return_on_change and outcome.state.signature() != baseline:
        return outcome
    changed_at: Optional[float] = None
    unauthorized_in_a_row = 0
    dropped_in_a_row = 0

    def stop_following(state: Any) -> bool:
        return state.done or (return_on_change and changed_at is None and state.signature() != baseline)

    while True:
        state = evaluate(target, nodes)
        outcome.state, outcome.target = state, target
        if state.done:
            return outcome
        now = clock()
        if return_on_change and changed_at is None and state.signature() != baseline:
            changed_at = now
        if changed_at is not None and now >= changed_at + settle:
            return outcome
        if now >= deadline:
            outcome.timed_out = True
            return outcome
        if now >= next_refresh:
            target = load_target()
            next_refresh = clock() + target_refresh
            continue
        end = min(deadline, next_refresh, now + MAX_WATCH_SECONDS)
        if changed_at is not None:
            end = min(end, changed_at + settle)
        window = end - now
        try:
            version, reload_target, stopped = _follow(source, target, nodes, version, window, stop_following)
            outcome.watches += 1
            unauthorized_in_a_row = dropped_in_a_row = 0
        except WatchDropped as error:
            dropped_in_a_row += 1
            outcome.dropped += 1
            if dropped_in_a_row >= retry.max_attempts:
                raise KubeReadError(f"the node watch broke {dropped_in_a_row} times in a row, the last time with: {error}") from error
            pause(min(retry.delay(dropped_in_a_row, error.__cause__), max(0.0, deadline - clock())))
            nodes, version = _list(source, outcome)
            continue
        except WatchExpired:
            nodes, version = _list(source, outcome)
            continue
        except Unauthorized:
            unauthorized_in_a_row += 1
            if unauthorized_in_a_row > 1:
                raise
            source.reconnect()
            outcome.reconnects += 1
            nodes, version = _list(source, outcome)
            continue
        if reload_target:
            target = load_target()
            next_refresh = clock() + target_refresh
        elif not stopped and clock() - now < min(window, QUICK_END_SECONDS):
            # The server ended the watch at once without news: do not spin on it.
            pause(min(window, QUICK_END_SECONDS))


def _list(source: NodeSource, outcome: WaitOutcome) -> Tuple[Dict[str, Dict[str, Any]], str]:
    """List the Nodes; an Unauthorized answer gets one more try with fresh credentials."""
    try:
        nodes, version = source.list()
    except Unauthorized:
        source.reconnect()
        outcome.reconnects += 1
        nodes, version = source.list()
    return dict(nodes), version


def _follow(source: NodeSource, target: Target, nodes: Dict[str, Dict[str, Any]], version: str, window: float,
            finished: Callable[[Any], bool]) -> Tuple[str, bool, bool]:
    """Apply watch events to nodes until finished(tracker) (a Tracker: done and signature(), as a Readiness has)
    or the window ends.

    Returns (the last resourceVersion seen, whether a Node of an unknown instance appeared so the
    group should be read again, whether it stopped before the window ended).
    """
    tracker = Tracker(target, nodes)
    events = source.watch(version, window)
    try:
        for event in events:
            kind = event.get("type")
            obj = event.get("object") or {}
            metadata = obj.get("metadata") or {}
            version = metadata.get("resourceVersion") or version
            if kind == "BOOKMARK":
                continue
            tracker.apply(kind, obj)
            instance_id = instance_id_of((obj.get("spec") or {}).get("providerID"))
            if target.by_instance and instance_id and not tracker.knows(instance_id):
                return version, True, True
            if finished(tracker):
                return version, False, True
    finally:
        close = getattr(events, "close", None)
        if close:
            close()
    return version, False, False
