import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.nodes import group_target
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.waiter import (
    NodeSource,
    Unauthorized,
    WatchExpired,
    wait_for_nodes,
)
from readiness_builders import group, node


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class ScriptedSource(NodeSource):
    """Each watch() plays the next script: a list of (seconds later, event) or an exception to raise.

    Events later than the watch's timeout are not sent. With no script left, a watch waits out its
    whole window and ends without events.
    """

    def __init__(self, clock, nodes=None, scripts=None):
        self.clock = clock
        self.nodes = dict(nodes or {})
        self.scripts = list(scripts or [])
        self.lists = 0
        self.watches = []
        self.reconnects = 0
        self.closed = 0
        self.list_failures = []

    def list(self):
        self.lists += 1
        if self.list_failures:
            raise self.list_failures.pop(0)
        return dict(self.nodes), str(self.lists * 100)

    def reconnect(self):
        self.reconnects += 1

    def watch(self, resource_version, timeout):
        self.watches.append((resource_version, timeout))
        script = self.scripts.pop(0) if self.scripts else []
        if not isinstance(script, list):
            script = [(0, script)]  # an exception: the watch fails before any event
        return self._play(script, timeout)

    def _play(self, script, timeout):
        end = self.clock.now + timeout
        try:
            for delay, event in script:
                if isinstance(event, Exception):
                    raise event
                if self.clock.now + delay > end:
                    break  # the server ends the watch at its timeout; later events are not sent on this one
                self.clock.now += delay
                obj = event.get("object") or {}
                name = (obj.get("metadata") or {}).get("name")
                if event["type"] == "DELETED":
                    self.nodes.pop(name, None)
                elif event["type"] != "BOOKMARK":
                    self.nodes[name] = obj
                yield event
            self.clock.now = max(self.clock.now, end)
        finally:
            self.closed += 1


def event(kind, obj):
    return {"type": kind, "object": obj}


def loader(*groups):
    """load_target returning the groups in turn (the last one forever), counting calls."""
    remaining = list(groups)

    def load():
        load.calls += 1
        current = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        return group_target(current)
    load.calls = 0
    return load


def test_returns_at_once_when_all_nodes_are_already_ready():
    clock = Clock()
    source = ScriptedSource(clock, {"a": node("a", "i-1")})
    outcome = wait_for_nodes(source, loader(group("i-1")), timeout=600, clock=clock, pause=clock.sleep)
    assert outcome.state.done and not outcome.timed_out
    assert source.watches == [] and clock.now == 0


def test_returns_on_the_event_that_makes_the_last_node_ready():
    clock = Clock()
    source = ScriptedSource(clock, {"a": node("a", "i-1", ready="False")}, scripts=[[
        (5, event("MODIFIED", node("a", "i-1", ready="False", version="101"))),
        (7, event("ADDED", node("b", "i-2", ready="False", version="102"))),
        (30, event("MODIFIED", node("a", "i-1", version="103"))),
        (1, event("MODIFIED", node("b", "i-2", version="104"))),
        (100, event("MODIFIED", node("b", "i-2", version="105"))),
    ]])
    outcome = wait_for_nodes(source, loader(group("i-1", "i-2")), timeout=600, clock=clock, pause=clock.sleep, target_refresh=1000)
    assert outcome.state.done
    assert clock.now == 43  # the event at 43s ends the wait; the one at 143s is never read
    assert source.lists == 1 and len(source.watches) == 1
    assert source.closed == 1


def test_the_watch_starts_from_the_list_resource_version_and_resumes_from_the_last_event():
    clock = Clock()
    source = ScriptedSource(clock, {}, scripts=[
        [(1, event("ADDED", node("a", "i-1", ready="False", version="150")))],
        [(1, event("MODIFIED", node("a", "i-1", version="151")))],
    ])
    wait_for_nodes(source, loader(group("i-1")), timeout=600, clock=clock, pause=clock.sleep, target_refresh=1000)
    assert [watch[0] for watch in source.watches] == ["100", "150"]


def test_bookmarks_move_the_resource_version_without_changing_nodes():
    clock = Clock()
    bookmark = {"type": "BOOKMARK", "object": {"kind": "Node", "metadata": {"resourceVersion": "170"}}}
    source = ScriptedSource(clock, {}, scripts=[[(1, bookmark)], [(1, event("ADDED", node("a", "i-1", version="171")))]])
    outcome = wait_for_nodes(source, loader(group("i-1")), timeout=100, clock=clock, pause=clock.sleep, target_refresh=1000)
    assert outcome.state.done
    assert source.watches[1][0] == "170"


def test_times_out_with_the_last_state():
    clock = Clock()
    source = ScriptedSource(clock, {"a": node("a", "i-1", ready="False")})
    outcome = wait_for_nodes(source, loader(group("i-1", "i-2")), timeout=90, clock=clock, pause=clock.sleep, target_refresh=1000)
    assert outcome.timed_out and not outcome.state.done
    assert clock.now == 90
    assert all(watch[1] <= 60 for watch in source.watches)  # no single connection is held longer


def test_zero_timeout_reports_the_state_without_watching():
    clock = Clock()
    source = ScriptedSource(clock, {})
    outcome = wait_for_nodes(source, loader(group("i-1")), timeout=0, clock=clock, pause=clock.sleep)
    assert outcome.timed_out and source.watches == []


def test_return_on_change_returns_a_moment_after_the_first_change():
    clock = Clock()
    source = ScriptedSource(clock, {}, scripts=[[
        (3, event("ADDED", node("a", "i-1", ready="False", version="101"))),
    ], [
        (3, event("ADDED", node("b", "i-2", ready="False", version="102"))),
    ]])
    outcome = wait_for_nodes(source, loader(group("i-1", "i-2")), timeout=30, return_on_change=True, clock=clock, pause=clock.sleep,
                             settle=1.5)
    assert not outcome.timed_out and clock.now == 4.5
    assert [n["name"] for n in outcome.state.nodes] == ["a"]
    assert source.watches[1] == ("101", 1.5)


def test_changes_that_come_together_make_one_return():
    clock = Clock()
    source = ScriptedSource(clock, {}, scripts=[[(3, event("ADDED", node("a", "i-1", ready="False", version="101")))],
                                                [(0.5, event("ADDED", node("b", "i-2", ready="False", version="102"))), (10, event("BOOKMARK", {}))]])
    outcome = wait_for_nodes(source, loader(group("i-1", "i-2")), timeout=30, return_on_change=True, clock=clock, pause=clock.sleep,
                             settle=1.5)
    assert [n["name"] for n in outcome.state.nodes] == ["a", "b"]


def test_the_last_node_ready_while_settling_ends_the_wait_at_once():
    clock = Clock()
    source = ScriptedSource(clock, {"a": node("a", "i-1")}, scripts=[[(3, event("ADDED", node("b", "i-2", ready="False", version="101")))],
                                                                     [(1, event("MODIFIED", node("b", "i-2", version="102")))]])
    outcome = wait_for_nodes(source, loader(group("i-1", "i-2")), timeout=30, return_on_change=True, clock=clock, pause=clock.sleep,
                             settle=1.5)
    assert outcome.state.done and clock.now == 4


def test_return_on_change_compares_with_the_given_signature():
    clock = Clock()
    source = ScriptedSource(clock, {"a": node("a", "i-1", ready="False")})
    outcome = wait_for_nodes(source, loader(group("i-1", "i-2")), timeout=30, since="stale", return_on_change=True,
                             clock=clock, pause=clock.sleep)
    assert clock.now == 0 and not outcome.timed_out and source.watches == []


def test_return_on_change_times_out_when_nothing_changes():
    clock = Clock()
    source = ScriptedSource(clock, {}, scripts=[[(2, event("MODIFIED", node("other", "i-9", version="101")))]])
    outcome = wait_for_nodes(source, loader(group("i-1")), timeout=30, return_on_change=True, clock=clock, pause=clock.sleep,
                             target_refresh=1000)
    assert outcome.timed_out


def test_an_expired_resource_version_lists_again():
    clock = Clock()
    source = ScriptedSource(clock, {}, scripts=[WatchExpired("too old"), [(1, event("ADDED", node("a", "i-1", version="201")))]])
    outcome = wait_for_nodes(source, loader(group("i-1")), timeout=60, clock=clock, pause=clock.sleep)
    assert outcome.state.done
    assert source.lists == 2 and source.watches[1][0] == "200"


def test_an_expired_token_reconnects_with_fresh_credentials_and_lists_again():
    clock = Clock()
    source = ScriptedSource(clock, {"a": node("a", "i-1", ready="False")}, scripts=[
        [(5, event("MODIFIED", node("a", "i-1", ready="False", version="101"))), (0, Unauthorized("token expired"))],
        [(1, event("MODIFIED", node("a", "i-1", version="202")))],
    ])
    outcome = wait_for_nodes(source, loader(group("i-1")), timeout=60, clock=clock, pause=clock.sleep, target_refresh=1000)
    assert outcome.state.done and outcome.reconnects == 1
    assert source.reconnects == 1 and source.lists == 2


def test_unauthorized_twice_in_a_row_is_an_error():
    clock = Clock()
    source = ScriptedSource(clock, {}, scripts=[Unauthorized("no"), Unauthorized("still no")])
    with pytest.raises(Unauthorized):
        wait_for_nodes(source, loader(group("i-1")), timeout=60, clock=clock, pause=clock.sleep)


def test_unauthorized_again_after_a_good_watch_reconnects_again():
    clock = Clock()
    source = ScriptedSource(clock, {}, scripts=[Unauthorized("expired"), [], Unauthorized("expired again"),
                                                [(1, event("ADDED", node("a", "i-1", version="5")))]])
    outcome = wait_for_nodes(source, loader(group("i-1")), timeout=600, clock=clock, pause=clock.sleep, target_refresh=1000)
    assert outcome.state.done and outcome.reconnects == 2


def test_a_node_of_an_unknown_instance_reads_the_group_again():
    clock = Clock()
    load = loader(group("i-1", desired=2), group("i-1", "i-2"))
    source = ScriptedSource(clock, {"a": node("a", "i-1")}, scripts=[[(4, event("ADDED", node("b", "i-2", version="101")))]])
    outcome = wait_for_nodes(source, load, timeout=600, clock=clock, pause=clock.sleep, target_refresh=1000)
    assert outcome.state.done and load.calls == 2 and clock.now == 4


def test_the_group_is_read_again_periodically():
    clock = Clock()
    load = loader(group("i-1", "i-2"), group("i-1", "i-3"))  # i-2 replaced by i-3
    source = ScriptedSource(clock, {"a": node("a", "i-1"), "c": node("c", "i-3")})
    outcome = wait_for_nodes(source, load, timeout=600, clock=clock, pause=clock.sleep, target_refresh=15)
    assert outcome.state.done and clock.now == 15 and load.calls == 2


def test_a_server_that_ends_watches_at_once_is_not_hammered():
    clock = Clock()

    class Impatient(ScriptedSource):
        def _play(self, script, timeout):
            return iter(())

    source = Impatient(clock, {})
    wait_for_nodes(source, loader(group("i-1")), timeout=10, clock=clock, pause=clock.sleep, target_refresh=1000)
    assert len(source.watches) <= 21


def test_deleted_nodes_are_forgotten():
    clock = Clock()
    source = ScriptedSource(clock, {"a": node("a", "i-1", ready="False")}, scripts=[[(2, event("DELETED", node("a", "i-1")))]])
    outcome = wait_for_nodes(source, loader(group("i-1")), timeout=10, return_on_change=True, clock=clock, pause=clock.sleep)
    assert outcome.state.nodes == [] and [i["instance_id"] for i in outcome.state.unregistered] == ["i-1"]


def test_an_expired_token_on_the_first_list_reconnects():
    clock = Clock()
    source = ScriptedSource(clock, {"a": node("a", "i-1")})
    source.list_failures = [Unauthorized("expired before the first request")]
    outcome = wait_for_nodes(source, loader(group("i-1")), timeout=60, clock=clock, pause=clock.sleep)
    assert outcome.state.done and outcome.reconnects == 1 and source.lists == 2


def test_a_list_refused_even_with_fresh_credentials_is_an_error():
    clock = Clock()
    source = ScriptedSource(clock, {})
    source.list_failures = [Unauthorized("no"), Unauthorized("still no")]
    with pytest.raises(Unauthorized):
        wait_for_nodes(source, loader(group("i-1")), timeout=60, clock=clock, pause=clock.sleep)
