"""The incremental readiness of the watch loop answers what evaluate() answers, after any sequence of events."""

import random

import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.nodes import Target, Tracker, evaluate, group_target
from readiness_builders import group, node

INSTANCES = [f"i-0{index:015x}" for index in range(8)]


def random_event(rng, nodes):
    """ADDED/MODIFIED of a Node (of a target instance, another one, or none; Ready or not), or DELETED of a known one."""
    if nodes and rng.random() < 0.2:
        name = rng.choice(sorted(nodes))
        return "DELETED", nodes[name]
    name = f"ip-10-0-0-{rng.randrange(10)}.ec2.internal"
    instance = rng.choice(INSTANCES + ["i-0ffffffffffffffff", None])
    kind = "MODIFIED" if name in nodes else "ADDED"
    return kind, node(name, instance, ready=rng.choice(["True", "False", "Unknown", None]), version=str(rng.randrange(1000)))


def targets():
    yield group_target(group(*INSTANCES[:5]))
    yield group_target(group(*INSTANCES[:5], desired=3))
    yield Target(expected=4, instances=[{"instance_id": i} for i in INSTANCES[:3] + INSTANCES[:1]])  # an instance listed twice
    yield Target(expected=6, by_instance=False)  # a label selector: every Node counts


@pytest.mark.parametrize("target", list(targets()))
def test_done_and_signature_follow_evaluate_through_random_events(target):
    rng = random.Random(5)
    for _sequence in range(60):
        nodes = {}
        for _count in range(rng.randrange(4)):
            _kind, obj = random_event(rng, nodes)
            nodes[obj["metadata"]["name"]] = obj
        tracker = Tracker(target, nodes)
        for _count in range(40):
            kind, obj = random_event(rng, nodes)
            tracker.apply(kind, obj)
            expected = evaluate(target, nodes)
            assert tracker.done == expected.done
            assert tracker.signature() == expected.signature()
            assert tracker.state() == expected


def test_applies_events_to_the_nodes_it_follows():
    nodes = {}
    tracker = Tracker(group_target(group(INSTANCES[0])), nodes)
    tracker.apply("ADDED", node("a", INSTANCES[0], ready="False"))
    assert not tracker.done and list(nodes) == ["a"]
    tracker.apply("MODIFIED", node("a", INSTANCES[0], ready="True"))
    assert tracker.done
    tracker.apply("DELETED", node("a", INSTANCES[0]))
    assert not tracker.done and nodes == {}


def test_a_heartbeat_keeps_the_signature_without_building_it_again():
    nodes = {"a": node("a", INSTANCES[0], ready="False")}
    tracker = Tracker(group_target(group(INSTANCES[0], INSTANCES[1])), nodes)
    first = tracker.signature()
    tracker.apply("MODIFIED", node("a", INSTANCES[0], ready="False", version="2"))
    assert tracker.signature() is first  # the cached string: nothing a progress line shows has changed
    tracker.apply("MODIFIED", node("a", INSTANCES[0], ready="True", version="3"))
    assert tracker.signature() != first


def test_knows_the_instances_of_the_target_only():
    tracker = Tracker(group_target(group(INSTANCES[0])), {})
    assert tracker.knows(INSTANCES[0]) and not tracker.knows(INSTANCES[1]) and not tracker.knows(None)
