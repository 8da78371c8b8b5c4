"""nodegroup_stack_info: the stack, the events after a given one or of the last operation, and the root cause."""

import datetime

import pytest
import yaml

from ansible_collections.eksnodes.windows.plugins.modules import nodegroup_stack_info

NAME = "lab-nodegroup-win"
STACK_ID = f"arn:aws:cloudformation:us-east-1:123456789012:stack/{NAME}/1"
WHEN = datetime.datetime(2026, 11, 26, tzinfo=datetime.timezone.utc)
STACK = "AWS::CloudFormation::Stack"
ASG = "AWS::AutoScaling::AutoScalingGroup"


pytestmark = pytest.mark.usefixtures("no_retry_sleep")


def stack(status, outputs=()):
    return {"Stacks": [{"StackId": STACK_ID, "StackName": NAME, "CreationTime": WHEN, "StackStatus": status,
                        "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in outputs]}]}


def event(number, logical, kind, status, reason=None, token=None):
    found = {"StackId": STACK_ID, "EventId": f"e{number}", "StackName": NAME, "LogicalResourceId": logical,
             "ResourceType": kind, "Timestamp": WHEN, "ResourceStatus": status}
    if reason:
        found["ResourceStatusReason"] = reason
    if token:
        found["ClientRequestToken"] = token
    return found


def info(clients, *args):
    return nodegroup_stack_info.stack_info(clients.cloudformation, clients.autoscaling, *args)


def test_only_events_after_the_given_one_and_the_newest_id(clients):
    clients.cfn.add_response("describe_stacks", stack("CREATE_IN_PROGRESS"), {"StackName": STACK_ID})
    clients.cfn.add_response("describe_stack_events", {"StackEvents": [
        event(3, "NodeGroup", ASG, "CREATE_IN_PROGRESS", token="other"), event(2, "NodeGroup", ASG, "CREATE_IN_PROGRESS", token="tok"),
        event(1, NAME, STACK, "CREATE_IN_PROGRESS")]}, {"StackName": STACK_ID})
    result = info(clients, STACK_ID, "e1", "tok")
    assert result["exists"] and not result["settled"] and result["stack_status"] == "CREATE_IN_PROGRESS"
    assert [item["event_id"] for item in result["events"]] == ["e2"]
    assert result["last_event_id"] == "e3" and result["instance_ids"] == [] and "root_cause" not in result


def test_without_an_event_id_the_last_operation_and_its_root_cause(clients):
    clients.cfn.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"), {"StackName": NAME})
    clients.cfn.add_response("describe_stack_events", {"StackEvents": [
        event(5, NAME, STACK, "ROLLBACK_COMPLETE"),
        event(4, "NodeLaunchTemplate", "AWS::EC2::LaunchTemplate", "CREATE_FAILED", "Resource creation cancelled"),
        event(3, "NodeGroup", ASG, "CREATE_FAILED", "instance limit"),
        event(2, NAME, STACK, "CREATE_IN_PROGRESS", "User Initiated"),
        event(1, NAME, STACK, "REVIEW_IN_PROGRESS")]}, {"StackName": STACK_ID})
    result = info(clients, NAME)
    assert [item["event_id"] for item in result["events"]] == ["e2", "e3", "e4", "e5"]
    assert result["root_cause"]["event_id"] == "e3" and [item["event_id"] for item in result["failure_events"]] == ["e3", "e4"]
    assert result["settled"] and result["last_event_id"] == "e5"


def test_a_complete_stack_has_its_outputs_and_instances(clients):
    clients.cfn.add_response("describe_stacks", stack("CREATE_COMPLETE", [("NodeAutoScalingGroup", "asg-1")]), {"StackName": NAME})
    clients.cfn.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": STACK_ID})
    clients.asg.add_response("describe_auto_scaling_groups", {"AutoScalingGroups": [{
        "AutoScalingGroupName": "asg-1", "MinSize": 1, "MaxSize": 3, "DesiredCapacity": 1, "DefaultCooldown": 300,
        "AvailabilityZones": ["us-east-1a"], "HealthCheckType": "EC2", "CreatedTime": WHEN,
        "Instances": [{"InstanceId": "i-1", "AvailabilityZone": "us-east-1a", "LifecycleState": "InService", "HealthStatus": "Healthy",
                       "ProtectedFromScaleIn": False}]}]}, {"AutoScalingGroupNames": ["asg-1"]})
    result = info(clients, NAME, "e9")
    assert result["outputs"] == {"node_autoscaling_group": "asg-1"} and result["instance_ids"] == ["i-1"]
    assert result["events"] == [] and result["last_event_id"] == "e9"


def test_without_events_no_event_is_read_even_for_a_failed_stack(clients):
    # The stubber fails on any call it was not given: DescribeStackEvents is not made.
    clients.cfn.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"), {"StackName": NAME})
    result = info(clients, NAME, None, None, "lab", "win", False)
    assert result["events"] == [] and result["last_event_id"] is None and "root_cause" not in result
    assert result["exists"] and result["settled"] and result["stack_status"] == "ROLLBACK_COMPLETE"


def test_a_missing_stack(clients):
    clients.cfn.add_client_error("describe_stacks", "ValidationError", f"Stack with id {NAME} does not exist", 400)
    result = info(clients, NAME)
    assert result["exists"] is False and result["settled"] and result["events"] == [] and result["stack_id"] is None


def test_every_returned_key_is_documented(clients):
    documented = set(yaml.safe_load(nodegroup_stack_info.RETURN))
    clients.cfn.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"), {"StackName": NAME})
    clients.cfn.add_response("describe_stack_events", {"StackEvents": [event(1, NAME, STACK, "ROLLBACK_COMPLETE")]}, {"StackName": STACK_ID})
    assert set(info(clients, NAME)) == documented
