"""Rolling replacement decisions: which instances are old, the batch, the capacity floor."""

from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.rolling import (
    DONE, DRAIN, FLOOR, WAIT, LaunchTarget, batch_room, decide, default_min_in_service, floor_message, old_instances, why_old)

TARGET = LaunchTarget(template_id="lt-1", version="2", image_id="ami-new")


def inst(instance_id, version="2", image="ami-new", ready=True, cordoned=False, state="InService", template="lt-1"):
    return {"instance_id": instance_id, "lifecycle_state": state, "launch_template_id": template, "launch_template_version": version,
            "image_id": image, "node_name": f"node-{instance_id}", "node_ready": ready, "cordoned": cordoned}


def test_why_old():
    assert why_old(inst("i-1"), TARGET) is None
    assert why_old(inst("i-1", version="1"), TARGET) == "launch template version 1, the group's is 2"
    assert why_old(inst("i-1", image="ami-old"), TARGET) == "AMI ami-old, the group's is ami-new"
    assert why_old(inst("i-1", template="lt-9"), TARGET) == "launch template lt-9, the group's is lt-1"
    # Unknown facts make nothing old; an AMI given as an SSM reference cannot be compared.
    assert why_old(inst("i-1", version=None, image=None), TARGET) is None
    assert why_old(inst("i-1", image="ami-x"), LaunchTarget("lt-1", "2", "resolve:ssm:/aws/x")) is None


def test_old_instances_skip_leaving_ones():
    instances = [inst("i-1", version="1"), inst("i-2", version="1", state="Terminating"), inst("i-3")]
    assert [i["instance_id"] for i in old_instances(instances, TARGET)] == ["i-1"]


def test_batch_room_is_the_capacity_floor():
    assert batch_room(serving_count=4, min_in_service=3, batch_size=2) == 1
    assert batch_room(serving_count=4, min_in_service=0, batch_size=2) == 2
    assert batch_room(serving_count=2, min_in_service=2, batch_size=1) == 0
    assert batch_room(serving_count=1, min_in_service=3, batch_size=1) == 0
    assert default_min_in_service(desired=2, batch_size=1) == 1
    assert default_min_in_service(desired=1, batch_size=3) == 0


def test_first_batch_then_floor():
    instances = [inst("i-2", version="1"), inst("i-1", version="1"), inst("i-3", version="1")]
    decision = decide(instances, desired=3, target=TARGET, batch_size=2, min_in_service=2)
    assert decision.action == DRAIN and [i["instance_id"] for i in decision.instances] == ["i-1"]
    decision = decide(instances, desired=3, target=TARGET, batch_size=2, min_in_service=0)
    assert [i["instance_id"] for i in decision.instances] == ["i-1", "i-2"]
    floor = decide(instances, desired=3, target=TARGET, batch_size=1, min_in_service=3)
    assert floor.action == FLOOR
    message = floor_message(floor, 3, 3)
    assert "min_in_service=3" in message and "node-i-1" in message and "NodeAutoScalingGroupDesiredCapacity" in message


def test_a_started_batch_is_finished_first():
    instances = [inst("i-1", version="1"), inst("i-2", version="1", cordoned=True), inst("i-3")]
    decision = decide(instances, desired=3, target=TARGET, batch_size=1, min_in_service=2)
    assert decision.action == DRAIN and [i["instance_id"] for i in decision.instances] == ["i-2"]


def test_wait_for_replacements_before_the_next_batch():
    launching = [inst("i-1", version="1"), inst("i-3", ready=False)]
    decision = decide(launching, desired=2, target=TARGET, batch_size=1, min_in_service=1)
    assert decision.action == WAIT and decision.instances[0]["instance_id"] == "i-3" and "not Ready" in decision.reason
    short = [inst("i-1", version="1")]
    assert decide(short, desired=2, target=TARGET, batch_size=1, min_in_service=1).action == WAIT
    # A terminating old instance does not count: the group still owes its replacement.
    leaving = [inst("i-1", version="1", state="Terminating"), inst("i-2")]
    assert decide(leaving, desired=2, target=TARGET, batch_size=1, min_in_service=1).action == WAIT


def test_old_instances_without_a_ready_node_go_first_and_cost_no_capacity():
    instances = [inst("i-1", version="1"), inst("i-2", version="1", ready=False)]
    decision = decide(instances, desired=2, target=TARGET, batch_size=1, min_in_service=1)
    assert decision.action == DRAIN and [i["instance_id"] for i in decision.instances] == ["i-2"]


def test_done_when_everything_is_new():
    assert decide([inst("i-1"), inst("i-2")], desired=2, target=TARGET, batch_size=1, min_in_service=1).action == DONE


def test_nothing_to_replace_is_done_without_waiting_for_joining_nodes():
    # A new group (or a scale-out): its nodes join once authorized; waiting for them here would wait for ever.
    joining = [inst("i-1", ready=False), inst("i-2", ready=False)]
    assert decide(joining, desired=2, target=TARGET, batch_size=1, min_in_service=1).action == DONE
    # Once this run has replaced an instance, its replacement is waited for.
    assert decide(joining, desired=2, target=TARGET, batch_size=1, min_in_service=1, replacing=True).action == WAIT
