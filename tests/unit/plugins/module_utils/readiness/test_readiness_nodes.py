import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.nodes import (
    Target,
    evaluate,
    format_duration,
    group_target,
    instance_id_of,
    match_nodes,
    node_facts,
    progress_line,
    zone_of,
)
from readiness_builders import dns, group, node


@pytest.mark.parametrize("provider_id, instance_id, zone", [
    ("aws:///us-east-1a/i-0123456789abcdef0", "i-0123456789abcdef0", "us-east-1a"),
    ("aws:///eu-west-1c/i-1", "i-1", "eu-west-1c"),
    ("aws://us-east-1a/i-1", "i-1", "us-east-1a"),
    ("gce://project/zone/vm", None, None),
    ("aws:///us-east-1a/", None, "us-east-1a"),
    ("", None, None),
    (None, None, None),
])
def test_provider_id_parts(provider_id, instance_id, zone):
    assert instance_id_of(provider_id) == instance_id
    if instance_id:
        assert zone_of(provider_id) == zone


def test_node_facts_has_the_documented_shape():
    facts = node_facts(node("ip-10-0-1-4.ec2.internal", "i-1", build="10.0.17763", instance_type="t3.large", zone="us-east-1b"))
    assert facts["name"] == "ip-10-0-1-4.ec2.internal"
    assert facts["instance_id"] == "i-1"
    assert facts["ready"] is True
    assert facts["windows_build"] == "10.0.17763"
    assert facts["instance_type"] == "t3.large"
    assert facts["zone"] == "us-east-1b"
    assert facts["os"] == "windows"
    assert facts["internal_ip"] == "10.0.1.4"
    ready = [c for c in facts["conditions"] if c["type"] == "Ready"][0]
    assert ready == {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
                     "last_transition_time": "2026-11-24T10:00:00Z"}


def test_a_node_without_a_ready_condition_is_not_ready():
    facts = node_facts(node("n", "i-1", ready=None))
    assert facts["ready"] is False and facts["ready_reason"] is None


def test_unknown_counts_as_not_ready():
    assert node_facts(node("n", "i-1", ready="Unknown"))["ready"] is False


def test_zone_falls_back_to_the_provider_id():
    raw = node("n", "i-1", zone="us-east-1c")
    del raw["metadata"]["labels"]["topology.kubernetes.io/zone"]
    assert node_facts(raw)["zone"] == "us-east-1c"


def test_group_target_expects_the_desired_capacity_and_skips_leaving_instances():
    target = group_target(group("i-3", "i-1", "i-2", desired=2, states={"i-3": "Terminating"}))
    assert target.expected == 2
    assert target.instance_ids == ["i-1", "i-2"]
    assert target.instances[0] == {"instance_id": "i-1", "lifecycle_state": "InService", "zone": "us-east-1a"}
    assert target.description == "Auto Scaling group ng-windows"


def test_group_target_takes_an_explicit_count():
    assert group_target(group("i-1", "i-2"), expected=1).expected == 1


def test_matching_is_by_provider_id_not_by_name():
    target = group_target(group("i-1", "i-2"))
    nodes = {
        "renamed-node": node("renamed-node", "i-1"),
        dns("i-2"): node(dns("i-2"), "i-99"),  # named like i-2 but another instance's node
        "no-provider-id": node("no-provider-id"),
        "other": node("other", "i-3"),
    }
    assert list(match_nodes(target, nodes)) == ["i-1"]


def test_evaluate_counts_ready_not_ready_and_unregistered():
    target = group_target(group("i-1", "i-2", "i-3"))
    state = evaluate(target, {"a": node("a", "i-1"), "b": node("b", "i-2", ready="False")})
    assert state.ready_count == 1
    assert [n["name"] for n in state.not_ready] == ["b"]
    assert [i["instance_id"] for i in state.unregistered] == ["i-3"]
    assert not state.done


def test_done_when_enough_nodes_are_ready_even_with_extra_instances():
    target = group_target(group("i-1", "i-2", "i-3", desired=2))
    state = evaluate(target, {"a": node("a", "i-1"), "b": node("b", "i-2")})
    assert state.done


def test_an_empty_group_is_done_at_once():
    assert evaluate(group_target(group(desired=0)), {}).done


def test_selector_mode_counts_every_node_it_is_given():
    target = Target(expected=2, by_instance=False)
    state = evaluate(target, {"b": node("b", "i-2"), "a": node("a")})
    assert state.done and [n["name"] for n in state.nodes] == ["a", "b"]


def test_signature_changes_with_registration_and_readiness_only():
    target = group_target(group("i-1", "i-2"))
    first = evaluate(target, {"a": node("a", "i-1", ready="False")}).signature()
    same = evaluate(target, {"a": node("a", "i-1", ready="False", message="still", version="7")}).signature()
    registered = evaluate(target, {"a": node("a", "i-1", ready="False"), "b": node("b", "i-2", ready="False")}).signature()
    ready = evaluate(target, {"a": node("a", "i-1"), "b": node("b", "i-2", ready="False")}).signature()
    assert first == same
    assert len({first, registered, ready}) == 3


def test_progress_line_names_ready_not_ready_and_unregistered():
    target = group_target(group("i-1", "i-2", "i-3"))
    state = evaluate(target, {"a": node("ip-10-0-1-4.ec2.internal", "i-1"), "b": node("ip-10-0-2-9.ec2.internal", "i-2", ready="False")})
    assert progress_line(state) == "1/3 Windows nodes Ready (ready: ip-10-0-1-4; NotReady: ip-10-0-2-9; not registered: i-3)"


def test_progress_line_shortens_long_lists():
    ids = [f"i-{n}" for n in range(7)]
    state = evaluate(group_target(group(*ids)), {})
    assert progress_line(state) == "0/7 Windows nodes Ready (not registered: i-0, i-1, i-2, i-3 and 3 more)"


def test_progress_line_says_nodes_when_not_all_are_windows():
    state = evaluate(Target(expected=1, by_instance=False), {"a": node("a", os="linux")})
    assert progress_line(state) == "1/1 nodes Ready (ready: a)"


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (59.4, "59s"), (60, "1m00s"), (905, "15m05s"), (-3, "0s")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text
