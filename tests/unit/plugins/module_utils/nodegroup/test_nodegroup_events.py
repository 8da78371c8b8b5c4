"""Stack events as structured data, and the first root cause of a failure."""

import datetime

from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup import events as e

STACK = "AWS::CloudFormation::Stack"


def event(logical, kind, status, reason=None, when=0):
    return {
        "timestamp": f"2026-11-26T00:00:{when:02d}+00:00",
        "logical_resource_id": logical,
        "physical_resource_id": None,
        "resource_type": kind,
        "resource_status": status,
        "resource_status_reason": reason,
        "event_id": f"{logical}-{status}-{when}",
    }


FAILED_CREATE = [
    event("s", STACK, "CREATE_IN_PROGRESS", "User Initiated", 0),
    event("NodeInstanceRole", "AWS::IAM::Role", "CREATE_IN_PROGRESS", None, 1),
    event("NodeSecurityGroup", "AWS::EC2::SecurityGroup", "CREATE_IN_PROGRESS", None, 1),
    event("NodeSecurityGroup", "AWS::EC2::SecurityGroup", "CREATE_FAILED", "The vpc ID 'vpc-1' does not exist", 2),
    event("NodeInstanceRole", "AWS::IAM::Role", "CREATE_FAILED", "Resource creation cancelled", 3),
    event("s", STACK, "ROLLBACK_IN_PROGRESS",
          "The following resource(s) failed to create: [NodeInstanceRole, NodeSecurityGroup]. Rollback requested by user.", 4),
    event("NodeInstanceRole", "AWS::IAM::Role", "DELETE_COMPLETE", None, 5),
    event("s", STACK, "ROLLBACK_COMPLETE", None, 6),
]


def test_event_facts_snake_case_with_iso_timestamps():
    raw = {
        "EventId": "1", "StackName": "s", "LogicalResourceId": "NodeGroup", "PhysicalResourceId": "asg",
        "ResourceType": "AWS::AutoScaling::AutoScalingGroup", "Timestamp": datetime.datetime(2026, 11, 26, tzinfo=datetime.timezone.utc),
        "ResourceStatus": "CREATE_FAILED", "ResourceStatusReason": "limit",
    }
    assert e.event_facts(raw) == {
        "timestamp": "2026-11-26T00:00:00+00:00", "logical_resource_id": "NodeGroup", "physical_resource_id": "asg",
        "resource_type": "AWS::AutoScaling::AutoScalingGroup", "resource_status": "CREATE_FAILED",
        "resource_status_reason": "limit", "event_id": "1",
    }


def test_root_cause_skips_cancellations_and_the_stack_summary():
    cause = e.root_cause(FAILED_CREATE)
    assert cause["logical_resource_id"] == "NodeSecurityGroup"
    assert e.describe_cause(cause) == "NodeSecurityGroup (AWS::EC2::SecurityGroup) CREATE_FAILED: The vpc ID 'vpc-1' does not exist"


def test_root_cause_when_every_failure_is_a_cancellation_takes_the_first():
    events = [event("A", "T", "CREATE_FAILED", "Resource creation cancelled", 1), event("B", "T", "CREATE_FAILED", "Resource creation cancelled", 2)]
    assert e.root_cause(events)["logical_resource_id"] == "A"


def test_root_cause_falls_back_to_the_stack_reason():
    events = [event("s", STACK, "CREATE_IN_PROGRESS", "User Initiated"), event("s", STACK, "ROLLBACK_IN_PROGRESS", "Template error: x", 1)]
    assert e.root_cause(events)["resource_status_reason"] == "Template error: x"
    assert e.root_cause([event("s", STACK, "CREATE_COMPLETE")]) is None
    assert e.describe_cause(None) == "no failure event was recorded"


def test_failed_events_lists_resources_first_then_the_stack():
    failed = e.failed_events(FAILED_CREATE)
    assert [item["logical_resource_id"] for item in failed] == ["NodeSecurityGroup", "NodeInstanceRole"]
    stack_failure = event("s", STACK, "UPDATE_FAILED", "x", 9)
    assert e.failed_events([stack_failure] + FAILED_CREATE)[-1] == stack_failure


def test_last_operation_starts_at_the_last_create_update_or_delete():
    update = [
        event("s", STACK, "UPDATE_IN_PROGRESS", "User Initiated", 10),
        event("NodeGroup", "AWS::AutoScaling::AutoScalingGroup", "UPDATE_FAILED", "boom", 11),
        event("s", STACK, "UPDATE_ROLLBACK_IN_PROGRESS", "The following resource(s) failed to update: [NodeGroup].", 12),
        event("s", STACK, "UPDATE_ROLLBACK_COMPLETE", None, 13),
    ]
    assert e.last_operation(FAILED_CREATE + update) == update
    assert e.last_operation(FAILED_CREATE) == FAILED_CREATE
    assert e.last_operation([]) == []


def test_progress_line_names_the_resource_and_the_reason_if_any():
    assert e.progress_line("s", event("NodeGroup", "AWS::AutoScaling::AutoScalingGroup", "CREATE_IN_PROGRESS")) == \
        "s: NodeGroup AWS::AutoScaling::AutoScalingGroup CREATE_IN_PROGRESS"
    assert e.progress_line("s", event("s", STACK, "CREATE_IN_PROGRESS", "User Initiated")) == \
        "s: s AWS::CloudFormation::Stack CREATE_IN_PROGRESS: User Initiated"


def test_of_request_keeps_the_events_of_the_token_and_those_without_one():
    raw = [{"EventId": "a", "ClientRequestToken": "t1"}, {"EventId": "b", "ClientRequestToken": "t2"}, {"EventId": "c"}]
    assert [item["EventId"] for item in e.of_request(raw, "t1")] == ["a", "c"]
    assert e.of_request(raw, None) == raw
