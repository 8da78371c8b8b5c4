"""Two runs on one node group stack: the one whose change set the other replaced says so, and the stack stays consistent.

The lab runs every CloudFormation operation at once, so the race is made deterministic: DescribeChangeSet is
throttled while our run waits for its change set, and the other run (plain boto3, as another process of the
collection would) updates the stack then; executing its change set deletes ours, as CloudFormation does.
"""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from test_stack_ownership import stack_args

MODULE = "eksnodes.windows.nodegroup_stack"


@pytest.fixture
def cleanup(lab):
    names = []
    yield names
    for name in names:
        lab.aws_client("cloudformation").delete_stack(StackName=name)


def parameters(stack):
    return {item["ParameterKey"]: item["ParameterValue"] for item in stack["Parameters"]}


def change_set_ids(cloudformation, stack_name):
    return {item["ChangeSetId"] for item in cloudformation.list_change_sets(StackName=stack_name)["Summaries"]}


def wait_for_new_change_set(cloudformation, stack_name, known, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = change_set_ids(cloudformation, stack_name) - known
        if new:
            return new.pop()
        time.sleep(0.2)
    raise AssertionError(f"no change set appeared on {stack_name}")


def other_run_updates(cloudformation, stack_name, max_size):
    """Another run of the collection: an update of its own, executed at once."""
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    values = [{"ParameterKey": key, "UsePreviousValue": True} for key in parameters(stack) if key != "NodeAutoScalingGroupMaxSize"]
    values.append({"ParameterKey": "NodeAutoScalingGroupMaxSize", "ParameterValue": str(max_size)})
    created = cloudformation.create_change_set(StackName=stack_name, ChangeSetName=f"other-{uuid.uuid4().hex[:8]}", ChangeSetType="UPDATE",
                                               UsePreviousTemplate=True, Parameters=values, Capabilities=["CAPABILITY_IAM"], Tags=stack["Tags"])
    cloudformation.execute_change_set(ChangeSetName=created["Id"])


def test_the_run_that_lost_the_race_says_another_run_is_changing_the_stack(lab, ansible, cleanup):
    nodegroup = f"race-{uuid.uuid4().hex[:8]}"
    args = stack_args(lab, nodegroup)
    cleanup.append(args["stack_name"])
    created = ansible.task(MODULE, args)
    assert created.get("changed") and not created.get("failed"), created
    cloudformation = lab.aws_client("cloudformation")
    tags_before = cloudformation.describe_stacks(StackName=args["stack_name"])["Stacks"][0]["Tags"]
    known = change_set_ids(cloudformation, args["stack_name"])

    lab.control.set_nodesim(paused=True)
    lab.control.aws.add_fault("cloudformation", "DescribeChangeSet", "Throttling", count=100000, message="Rate exceeded")
    try:
        with ThreadPoolExecutor(1) as pool:
            ours = pool.submit(ansible.task, MODULE, dict(args, max_size=2))
            ours_id = wait_for_new_change_set(cloudformation, args["stack_name"], known)
            other_run_updates(cloudformation, args["stack_name"], max_size=3)
            lab.control.aws.clear_faults()
            lost = ours.result(timeout=600)
    finally:
        lab.control.aws.clear_faults()
        lab.control.set_nodesim(paused=False)

    assert lost.get("failed") and lost.get("concurrent_run") is True, lost
    assert lost["msg"].startswith(f"Another run is changing stack {args['stack_name']} (status UPDATE_COMPLETE): our change set "), lost["msg"]
    assert "Wait for it to finish and run this task again" in lost["msg"]
    stack = cloudformation.describe_stacks(StackName=args["stack_name"])["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE" and stack["Tags"] == tags_before
    assert parameters(stack)["NodeAutoScalingGroupMaxSize"] == "3", "the other run's update is what the stack holds"
    assert ours_id not in change_set_ids(cloudformation, args["stack_name"])

    rerun = ansible.task(MODULE, dict(args, max_size=2))
    assert rerun.get("changed") and not rerun.get("failed"), rerun
    assert parameters(cloudformation.describe_stacks(StackName=args["stack_name"])["Stacks"][0])["NodeAutoScalingGroupMaxSize"] == "2"


def live_stacks(cloudformation, stack_name):
    return [item for item in cloudformation.list_stacks()["StackSummaries"] if item["StackName"] == stack_name and item["StackStatus"] != "DELETE_COMPLETE"]


def test_two_launches_of_one_new_node_group_make_one_stack_and_the_loser_says_why(lab, ansible, cleanup):
    nodegroup = f"race-{uuid.uuid4().hex[:8]}"
    args = stack_args(lab, nodegroup)
    cleanup.append(args["stack_name"])
    cloudformation = lab.aws_client("cloudformation")

    lab.control.set_nodesim(paused=True)
    # Both runs wait on their change set, so both have made one before either can execute it.
    lab.control.aws.add_fault("cloudformation", "DescribeChangeSet", "Throttling", count=100000, message="Rate exceeded")
    try:
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(ansible.task, MODULE, args)
            deadline = time.monotonic() + 180
            while len(live_stacks(cloudformation, args["stack_name"])) < 1 or len(change_set_ids(cloudformation, args["stack_name"])) < 1:
                assert time.monotonic() < deadline, "the first run made no change set"
                time.sleep(0.2)
            second = pool.submit(ansible.task, MODULE, args)
            while len(change_set_ids(cloudformation, args["stack_name"])) < 2:
                assert time.monotonic() < deadline, "the second run made no change set"
                time.sleep(0.2)
            lab.control.aws.clear_faults()
            results = [first.result(timeout=600), second.result(timeout=600)]
    finally:
        lab.control.aws.clear_faults()
        lab.control.set_nodesim(paused=False)

    winners = [result for result in results if not result.get("failed")]
    losers = [result for result in results if result.get("failed")]
    assert len(winners) == 1 and len(losers) == 1, results
    assert winners[0]["changed"] is True and winners[0]["operation"] == "create"
    assert losers[0].get("concurrent_run") is True, losers[0]
    assert losers[0]["msg"].startswith(f"Another run is changing stack {args['stack_name']} (status CREATE_COMPLETE)"), losers[0]["msg"]
    stacks = live_stacks(cloudformation, args["stack_name"])
    assert [item["StackStatus"] for item in stacks] == ["CREATE_COMPLETE"]
    tags = {item["Key"]: item["Value"] for item in cloudformation.describe_stacks(StackName=args["stack_name"])["Stacks"][0]["Tags"]}
    assert tags == {"eksnodes.windows/cluster-name": "lab", "eksnodes.windows/nodegroup-name": nodegroup}

    rerun = ansible.task(MODULE, args)
    assert rerun.get("changed") is False and not rerun.get("failed"), rerun
