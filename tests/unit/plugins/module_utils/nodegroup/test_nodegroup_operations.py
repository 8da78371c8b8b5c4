"""The change-set sequence against stubbed CloudFormation and Auto Scaling clients.

botocore's Stubber checks every request against the API model and fails on any call that was not
expected, so these tests pin down exactly which calls each path makes (a no-op costs describes only).
"""

import datetime

import pytest
from botocore.stub import ANY

from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup import operations as ops
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup.template import TEMPLATE, TEMPLATE_MARK, TEMPLATE_VERSION
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup.waiters import Deadline

NAME = "lab-nodegroup-windows"
STACK_ID = f"arn:aws:cloudformation:us-east-1:123456789012:stack/{NAME}/1"
CHANGE_SET_ID = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/eksnodes-1/2"
WHEN = datetime.datetime(2026, 11, 26, tzinfo=datetime.timezone.utc)
PARAMETERS = {"ClusterName": "lab", "NodeInstanceType": "m5.large", "Subnets": "subnet-a,subnet-b"}


pytestmark = pytest.mark.usefixtures("no_retry_sleep")


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def pause(self, seconds):
        self.now += seconds


def manager(clients, clock=None, **kwargs):
    clock = clock or Clock()
    return ops.NodegroupStack(clients.cloudformation, clients.autoscaling, NAME, Deadline(kwargs.pop("timeout", 600), clock), pause=clock.pause, **kwargs)


def stack(status, parameters=None, outputs=True, tags=()):
    found = {
        "StackId": STACK_ID,
        "StackName": NAME,
        "CreationTime": WHEN,
        "StackStatus": status,
        "Parameters": [{"ParameterKey": key, "ParameterValue": value} for key, value in (parameters or PARAMETERS).items()],
        "Tags": [{"Key": key, "Value": value} for key, value in tags],
    }
    if outputs:
        found["Outputs"] = [
            {"OutputKey": "NodeAutoScalingGroup", "OutputValue": "asg-1"},
            {"OutputKey": "NodeInstanceRole", "OutputValue": "arn:aws:iam::123456789012:role/r"},
        ]
    return {"Stacks": [found]}


def event(number, logical, kind, status, reason=None):
    found = {"StackId": STACK_ID, "EventId": f"e{number}", "StackName": NAME, "LogicalResourceId": logical,
             "ResourceType": kind, "Timestamp": WHEN, "ResourceStatus": status}
    if reason:
        found["ResourceStatusReason"] = reason
    return found


def missing(cfn):
    cfn.add_client_error("describe_stacks", "ValidationError", f"Stack with id {NAME} does not exist", 400, expected_params={"StackName": NAME})


def asg_instances(asg, *ids):
    asg.add_response("describe_auto_scaling_groups", {"AutoScalingGroups": [{
        "AutoScalingGroupName": "asg-1", "MinSize": 1, "MaxSize": 3, "DesiredCapacity": 2, "DefaultCooldown": 300,
        "AvailabilityZones": ["us-east-1a"], "HealthCheckType": "EC2", "CreatedTime": WHEN,
        "Instances": [{"InstanceId": i, "AvailabilityZone": "us-east-1a", "LifecycleState": "InService", "HealthStatus": "Healthy",
                       "ProtectedFromScaleIn": False} for i in ids],
    }]}, {"AutoScalingGroupNames": ["asg-1"]})


def change_set(status="CREATE_COMPLETE", reason=None, changes=None):
    found = {"ChangeSetId": CHANGE_SET_ID, "StackId": STACK_ID, "StackName": NAME, "Status": status, "ExecutionStatus": "AVAILABLE",
             "Changes": changes if changes is not None else [{"Type": "Resource", "ResourceChange": {
                 "Action": "Modify", "LogicalResourceId": "NodeLaunchTemplate", "ResourceType": "AWS::EC2::LaunchTemplate",
                 "Replacement": "False", "Scope": ["Properties"], "Details": []}}]}
    if reason:
        found["StatusReason"] = reason
    return found


def desired(**changes):
    return ops.DesiredStack(dict(PARAMETERS, **changes), template_body=TEMPLATE, list_parameters=("Subnets",))


def expect_change_set(cfn, kind, desired_stack, tags=None):
    request = {
        "StackName": NAME, "ChangeSetName": ANY, "ChangeSetType": kind, "Capabilities": ["CAPABILITY_IAM"],
        "Description": ANY, "TemplateBody": TEMPLATE,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(desired_stack.parameters.items())],
    }
    if tags is not None:
        request["Tags"] = tags
    cfn.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID}, request)


def test_no_op_costs_three_describes_and_writes_nothing(clients):
    cfn, asg = clients.cfn, clients.asg
    cfn.add_response("describe_stacks", stack("UPDATE_COMPLETE", dict(PARAMETERS, Subnets="subnet-b,subnet-a")), {"StackName": NAME})
    cfn.add_response("get_template", {"TemplateBody": TEMPLATE}, {"StackName": STACK_ID, "TemplateStage": "Original"})
    asg_instances(asg, "i-1", "i-2")
    result = manager(clients).present(desired())
    assert result["changed"] is False and result["operation"] == "none"
    assert result["instance_ids"] == ["i-1", "i-2"]
    assert result["outputs"]["node_instance_role_arn"] == "arn:aws:iam::123456789012:role/r"


def test_a_stack_described_as_running_the_template_is_not_read_again(clients):
    cfn, asg = clients.cfn, clients.asg

    def described(description):
        response = stack("UPDATE_COMPLETE")
        response["Stacks"][0]["Description"] = description
        return response

    cfn.add_response("describe_stacks", described(TEMPLATE_MARK + ": IAM role"), {"StackName": NAME})
    asg_instances(asg, "i-1")
    wanted = ops.DesiredStack(PARAMETERS, template_body=TEMPLATE, list_parameters=("Subnets",), builtin_template=True)
    result = manager(clients).present(wanted)
    assert result["changed"] is False and result["operation"] == "none"
    cfn.assert_no_pending_responses()  # and no get_template: the stubber fails on any call it was not given
    # Another version's description: the template is read, and found different.
    cfn.add_response("describe_stacks", described(TEMPLATE_MARK.replace(f"version {TEMPLATE_VERSION})", "version 1)") + ": IAM role"), {"StackName": NAME})
    cfn.add_response("get_template", {"TemplateBody": "older template"}, {"StackName": STACK_ID, "TemplateStage": "Original"})
    asg_instances(asg, "i-1")
    result = manager(clients, check_mode=True, preview_changes=False).present(wanted)
    assert result["changed"] is True and result["operation"] == "update"
    cfn.assert_no_pending_responses()


def test_an_unset_recorded_parameter_keeps_the_deployed_value_and_stays_a_no_op(clients):
    cfn, asg = clients.cfn, clients.asg
    deployed = dict(PARAMETERS, NodeImageIdSSMParam="/aws/service/ami-windows-latest/x/image_id")
    cfn.add_response("describe_stacks", stack("UPDATE_COMPLETE", deployed), {"StackName": NAME})
    cfn.add_response("get_template", {"TemplateBody": TEMPLATE}, {"StackName": STACK_ID, "TemplateStage": "Original"})
    asg_instances(asg, "i-1")
    wanted = ops.DesiredStack(dict(PARAMETERS, NodeImageIdSSMParam=""), template_body=TEMPLATE, list_parameters=("Subnets",),
                              keep_deployed=("NodeImageIdSSMParam",))
    result = manager(clients).present(wanted)
    assert result["changed"] is False and result["operation"] == "none"
    assert wanted.parameters["NodeImageIdSSMParam"] == "/aws/service/ami-windows-latest/x/image_id"


def test_keep_deployed_takes_only_empty_desired_values():
    wanted = ops.DesiredStack({"NodeImageIdSSMParam": "/new", "ClusterName": ""}, keep_deployed=("NodeImageIdSSMParam",))
    wanted.keep({"NodeImageIdSSMParam": "/old", "ClusterName": "lab"})
    assert wanted.parameters == {"NodeImageIdSSMParam": "/new", "ClusterName": ""}
    unset = ops.DesiredStack({"NodeImageIdSSMParam": ""}, keep_deployed=("NodeImageIdSSMParam",))
    unset.keep({})
    assert unset.parameters == {"NodeImageIdSSMParam": ""}


def test_create_runs_a_create_change_set_waits_and_reports_events(clients):
    cfn, asg = clients.cfn, clients.asg
    missing(cfn)
    wanted = desired()
    expect_change_set(cfn, "CREATE", wanted)
    cfn.add_response("describe_change_set", change_set("CREATE_PENDING"), {"ChangeSetName": CHANGE_SET_ID})
    cfn.add_response("describe_change_set", change_set(changes=[{"Type": "Resource", "ResourceChange": {
        "Action": "Add", "LogicalResourceId": "NodeGroup", "ResourceType": "AWS::AutoScaling::AutoScalingGroup"}}]),
        {"ChangeSetName": CHANGE_SET_ID})
    cfn.add_response("describe_stack_events", {"StackEvents": [event(1, NAME, "AWS::CloudFormation::Stack", "REVIEW_IN_PROGRESS")]}, {"StackName": STACK_ID})
    cfn.add_response("execute_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "ClientRequestToken": ANY})
    cfn.add_response("describe_stacks", stack("CREATE_IN_PROGRESS", outputs=False), {"StackName": STACK_ID})
    cfn.add_response("describe_stack_events", {"StackEvents": [
        event(2, NAME, "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS", "User Initiated"),
        event(1, NAME, "AWS::CloudFormation::Stack", "REVIEW_IN_PROGRESS")]}, {"StackName": STACK_ID})
    cfn.add_response("describe_stacks", stack("CREATE_COMPLETE"), {"StackName": STACK_ID})
    cfn.add_response("describe_stack_events", {"StackEvents": [
        event(4, NAME, "AWS::CloudFormation::Stack", "CREATE_COMPLETE"),
        event(3, "NodeGroup", "AWS::AutoScaling::AutoScalingGroup", "CREATE_COMPLETE"),
        event(2, NAME, "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS", "User Initiated")]}, {"StackName": STACK_ID})
    asg_instances(asg, "i-1")
    seen = []
    result = manager(clients, on_event=seen.append).present(wanted)
    assert result["changed"] is True and result["operation"] == "create"
    assert result["stack_status"] == "CREATE_COMPLETE"
    assert [e["event_id"] for e in result["events"]] == ["e2", "e3", "e4"]
    assert seen == result["events"]
    assert result["changes"][0]["action"] == "Add"
    assert result["parameter_changes"]["ClusterName"] == {"before": None, "after": "lab"}
    assert result["instance_ids"] == ["i-1"]


def test_update_with_changes_then_empty_change_set_reports_unchanged(clients):
    cfn, asg = clients.cfn, clients.asg
    cfn.add_response("describe_stacks", stack("CREATE_COMPLETE"), {"StackName": NAME})
    cfn.add_response("get_template", {"TemplateBody": "older template"}, {"StackName": STACK_ID, "TemplateStage": "Original"})
    wanted = desired()
    expect_change_set(cfn, "UPDATE", wanted)
    empty = "The submitted information didn't contain changes. Submit different information to create a change set."
    cfn.add_response("describe_change_set", change_set("FAILED", empty, []), {"ChangeSetName": CHANGE_SET_ID})
    cfn.add_response("delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID})
    asg_instances(asg, "i-1")
    result = manager(clients).present(wanted)
    assert result["changed"] is False and result["operation"] == "none"


def test_check_mode_update_creates_describes_and_deletes_the_change_set(clients):
    cfn, asg = clients.cfn, clients.asg
    cfn.add_response("describe_stacks", stack("UPDATE_COMPLETE"), {"StackName": NAME})
    cfn.add_response("get_template", {"TemplateBody": TEMPLATE}, {"StackName": STACK_ID, "TemplateStage": "Original"})
    wanted = desired(NodeInstanceType="m5.xlarge")
    expect_change_set(cfn, "UPDATE", wanted)
    cfn.add_response("describe_change_set", change_set(), {"ChangeSetName": CHANGE_SET_ID})
    cfn.add_response("delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID})
    asg_instances(asg, "i-1")
    result = manager(clients, check_mode=True).present(wanted)
    assert result["changed"] is True and result["operation"] == "update"
    assert result["parameter_changes"] == {"NodeInstanceType": {"before": "m5.large", "after": "m5.xlarge"}}
    assert result["changes"][0]["logical_resource_id"] == "NodeLaunchTemplate"
    assert "NodeInstanceType: m5.xlarge" in result["diff"][0]["after"]
    assert "NodeLaunchTemplate (AWS::EC2::LaunchTemplate) modified" in result["diff"][1]["after"]
    assert result["instance_ids"] == ["i-1"]  # the nodes as they are


def test_check_mode_create_also_deletes_the_stack_in_review(clients):
    cfn = clients.cfn
    missing(cfn)
    wanted = desired()
    expect_change_set(cfn, "CREATE", wanted)
    cfn.add_response("describe_change_set", change_set(), {"ChangeSetName": CHANGE_SET_ID})
    cfn.add_response("delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID})
    cfn.add_response("delete_stack", {}, {"StackName": STACK_ID, "ClientRequestToken": ANY})
    result = manager(clients, check_mode=True).present(wanted)
    assert result["changed"] is True and result["operation"] == "create" and result["stack_id"] is None


def test_a_plan_without_preview_writes_nothing_for_an_update_or_a_create(clients):
    """preview_changes=False: no change set (the stubber fails on any call not queued here)."""
    cfn, asg = clients.cfn, clients.asg
    cfn.add_response("describe_stacks", stack("UPDATE_COMPLETE"), {"StackName": NAME})
    cfn.add_response("get_template", {"TemplateBody": TEMPLATE}, {"StackName": STACK_ID, "TemplateStage": "Original"})
    asg_instances(asg, "i-1")
    update = manager(clients, check_mode=True, preview_changes=False).present(desired(NodeInstanceType="m5.xlarge"))
    assert update["changed"] is True and update["operation"] == "update" and update["changes"] == []
    assert update["parameter_changes"] == {"NodeInstanceType": {"before": "m5.large", "after": "m5.xlarge"}}
    assert "NodeInstanceType: m5.xlarge" in update["diff"][0]["after"]
    assert update["outputs"]["node_instance_role_arn"] == "arn:aws:iam::123456789012:role/r"

    missing(cfn)
    create = manager(clients, check_mode=True, preview_changes=False).present(desired())
    assert create["changed"] is True and create["operation"] == "create" and create["stack_id"] is None
    cfn.assert_no_pending_responses()


def test_refused_change_set_is_an_error_with_its_reason(clients):
    cfn = clients.cfn
    missing(cfn)
    wanted = desired()
    expect_change_set(cfn, "CREATE", wanted)
    refused = "Parameter validation failed: parameter value subnet-a for parameter name Subnets does not exist"
    cfn.add_response("describe_change_set", change_set("FAILED", refused, []), {"ChangeSetName": CHANGE_SET_ID})
    cfn.add_response("delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID})
    cfn.add_response("delete_stack", {}, {"StackName": STACK_ID, "ClientRequestToken": ANY})
    with pytest.raises(ops.StackOperationError) as raised:
        manager(clients).present(wanted)
    assert "refused the change set (FAILED): Parameter validation failed" in raised.value.message


def failing_update(cfn, wanted):
    cfn.add_response("describe_stacks", stack("CREATE_COMPLETE"), {"StackName": NAME})
    cfn.add_response("get_template", {"TemplateBody": TEMPLATE}, {"StackName": STACK_ID, "TemplateStage": "Original"})
    expect_change_set(cfn, "UPDATE", wanted)
    cfn.add_response("describe_change_set", change_set(), {"ChangeSetName": CHANGE_SET_ID})
    cfn.add_response("describe_stack_events", {"StackEvents": [event(1, NAME, "AWS::CloudFormation::Stack", "CREATE_COMPLETE")]}, {"StackName": STACK_ID})
    cfn.add_response("execute_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "ClientRequestToken": ANY})


def test_failed_update_names_the_root_cause_and_returns_structured_events(clients):
    cfn = clients.cfn
    wanted = desired(NodeInstanceType="m5.xlarge")
    failing_update(cfn, wanted)
    cfn.add_response("describe_stacks", stack("UPDATE_ROLLBACK_COMPLETE"), {"StackName": STACK_ID})
    cfn.add_response("describe_stack_events", {"StackEvents": [
        event(6, NAME, "AWS::CloudFormation::Stack", "UPDATE_ROLLBACK_COMPLETE"),
        event(5, NAME, "AWS::CloudFormation::Stack", "UPDATE_ROLLBACK_IN_PROGRESS", "The following resource(s) failed to update: [NodeGroup]."),
        event(4, "NodeLaunchTemplate", "AWS::EC2::LaunchTemplate", "UPDATE_FAILED", "Resource update cancelled"),
        event(3, "NodeGroup", "AWS::AutoScaling::AutoScalingGroup", "UPDATE_FAILED", "Instance type m5.xlarge is not supported in us-east-1e"),
        event(2, NAME, "AWS::CloudFormation::Stack", "UPDATE_IN_PROGRESS", "User Initiated"),
        event(1, NAME, "AWS::CloudFormation::Stack", "CREATE_COMPLETE")]}, {"StackName": STACK_ID})
    with pytest.raises(ops.StackOperationError) as raised:
        manager(clients).present(wanted)
    error = raised.value
    assert error.message == (
        f"Stack {NAME}: update failed (UPDATE_ROLLBACK_COMPLETE). Root cause: NodeGroup (AWS::AutoScaling::AutoScalingGroup) "
        "UPDATE_FAILED: Instance type m5.xlarge is not supported in us-east-1e"
    )
    assert [e["logical_resource_id"] for e in error.facts["failure_events"]] == ["NodeGroup", "NodeLaunchTemplate"]
    assert error.facts["root_cause"]["resource_status"] == "UPDATE_FAILED"
    assert [e["event_id"] for e in error.facts["events"]] == ["e2", "e3", "e4", "e5", "e6"]


def test_wait_is_bounded(clients):
    cfn = clients.cfn
    wanted = desired(NodeInstanceType="m5.xlarge")
    failing_update(cfn, wanted)
    for status in ["UPDATE_IN_PROGRESS"] * 3:
        cfn.add_response("describe_stacks", stack(status), {"StackName": STACK_ID})
        cfn.add_response("describe_stack_events", {"StackEvents": [event(1, NAME, "AWS::CloudFormation::Stack", "CREATE_COMPLETE")]}, {"StackName": STACK_ID})
    with pytest.raises(ops.StackOperationError) as raised:
        manager(clients, timeout=2).present(wanted)
    assert "did not finish within wait_timeout (2 s); it is UPDATE_IN_PROGRESS and CloudFormation carries on" in raised.value.message


def rollback_complete_history(cfn):
    cfn.add_response("describe_stacks", stack("ROLLBACK_COMPLETE", outputs=False), {"StackName": NAME})
    cfn.add_response("describe_stack_events", {"StackEvents": [
        event(4, NAME, "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE"),
        event(3, NAME, "AWS::CloudFormation::Stack", "ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: [NodeGroup]."),
        event(2, "NodeGroup", "AWS::AutoScaling::AutoScalingGroup", "CREATE_FAILED", "forced failure"),
        event(1, NAME, "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS", "User Initiated")]}, {"StackName": STACK_ID})


def test_rollback_complete_without_recover_failed_is_a_clear_error(clients):
    cfn = clients.cfn
    rollback_complete_history(cfn)
    with pytest.raises(ops.StackOperationError) as raised:
        manager(clients).present(desired())
    message = raised.value.message
    assert message.startswith(f"Stack {NAME} is ROLLBACK_COMPLETE after an earlier failed operation (root cause: NodeGroup")
    assert "forced failure" in message and "set recover_failed=true" in message
    assert raised.value.facts["root_cause"]["logical_resource_id"] == "NodeGroup"


def test_rollback_complete_with_recover_failed_deletes_then_creates(clients):
    cfn, asg = clients.cfn, clients.asg
    rollback_complete_history(cfn)
    cfn.add_response("describe_stack_events", {"StackEvents": [event(4, NAME, "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE")]}, {"StackName": STACK_ID})
    cfn.add_response("delete_stack", {}, {"StackName": STACK_ID, "ClientRequestToken": ANY})
    cfn.add_response("describe_stacks", stack("DELETE_COMPLETE", outputs=False), {"StackName": STACK_ID})
    cfn.add_response("describe_stack_events", {"StackEvents": [event(5, NAME, "AWS::CloudFormation::Stack", "DELETE_COMPLETE")]}, {"StackName": STACK_ID})
    wanted = desired()
    expect_change_set(cfn, "CREATE", wanted)
    cfn.add_response("describe_change_set", change_set(), {"ChangeSetName": CHANGE_SET_ID})
    cfn.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": STACK_ID})
    cfn.add_response("execute_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "ClientRequestToken": ANY})
    cfn.add_response("describe_stacks", stack("CREATE_COMPLETE"), {"StackName": STACK_ID})
    cfn.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": STACK_ID})
    asg_instances(asg, "i-9")
    operation = manager(clients, recover_failed=True)
    result = operation.present(wanted)
    assert result["changed"] is True and result["operation"] == "recreate" and result["instance_ids"] == ["i-9"]
    assert "was deleted and is created again" in operation.warnings[0]


def test_rollback_complete_in_check_mode_with_recover_failed_only_reports(clients):
    cfn = clients.cfn
    rollback_complete_history(cfn)
    result = manager(clients, recover_failed=True, check_mode=True).present(desired())
    assert result["changed"] is True and result["operation"] == "recreate"
    assert result["previous_failure"]["root_cause"]["resource_status_reason"] == "forced failure"


def test_busy_stack_without_wait_is_an_error(clients):
    cfn = clients.cfn
    cfn.add_response("describe_stacks", stack("UPDATE_IN_PROGRESS"), {"StackName": NAME})
    with pytest.raises(ops.StackOperationError) as raised:
        manager(clients, wait=False).present(desired())
    assert "is UPDATE_IN_PROGRESS: another operation is running on it" in raised.value.message


def test_throttling_is_retried(clients):
    cfn, asg = clients.cfn, clients.asg
    cfn.add_client_error("describe_stacks", "Throttling", "Rate exceeded", 400)
    cfn.add_response("describe_stacks", stack("CREATE_COMPLETE"), {"StackName": NAME})
    cfn.add_client_error("get_template", "Throttling", "Rate exceeded", 400)
    cfn.add_response("get_template", {"TemplateBody": TEMPLATE}, {"StackName": STACK_ID, "TemplateStage": "Original"})
    asg_instances(asg)
    assert manager(clients).present(desired())["changed"] is False


def test_tags_are_sent_and_compared(clients):
    cfn, asg = clients.cfn, clients.asg
    cfn.add_response("describe_stacks", stack("CREATE_COMPLETE", tags=[("team", "a")]), {"StackName": NAME})
    cfn.add_response("get_template", {"TemplateBody": TEMPLATE}, {"StackName": STACK_ID, "TemplateStage": "Original"})
    wanted = ops.DesiredStack(PARAMETERS, template_body=TEMPLATE, tags={"team": "b"}, list_parameters=("Subnets",))
    expect_change_set(cfn, "UPDATE", wanted, tags=[{"Key": "team", "Value": "b"}])
    cfn.add_response("describe_change_set", change_set(changes=[]), {"ChangeSetName": CHANGE_SET_ID})
    cfn.add_response("delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID})
    asg_instances(asg)
    result = manager(clients, check_mode=True).present(wanted)
    assert result["changed"] is True
    assert "tag:team: b" in result["diff"][0]["after"]


def test_absent_of_a_missing_stack_is_unchanged(clients):
    cfn = clients.cfn
    missing(cfn)
    assert manager(clients).absent()["changed"] is False


def test_absent_deletes_and_waits(clients):
    cfn = clients.cfn
    cfn.add_response("describe_stacks", stack("UPDATE_COMPLETE"), {"StackName": NAME})
    cfn.add_response("describe_stack_events", {"StackEvents": [event(1, NAME, "AWS::CloudFormation::Stack", "UPDATE_COMPLETE")]}, {"StackName": STACK_ID})
    cfn.add_response("delete_stack", {}, {"StackName": STACK_ID, "ClientRequestToken": ANY})
    cfn.add_response("describe_stacks", stack("DELETE_IN_PROGRESS"), {"StackName": STACK_ID})
    cfn.add_response("describe_stack_events", {"StackEvents": [event(2, NAME, "AWS::CloudFormation::Stack", "DELETE_IN_PROGRESS"),
                                                               event(1, NAME, "AWS::CloudFormation::Stack", "UPDATE_COMPLETE")]}, {"StackName": STACK_ID})
    cfn.add_client_error("describe_stacks", "ValidationError", f"Stack with id {STACK_ID} does not exist", 400, expected_params={"StackName": STACK_ID})
    cfn.add_client_error("describe_stack_events", "ValidationError", f"Stack with id {STACK_ID} does not exist", 400)
    result = manager(clients).absent()
    assert result["changed"] is True and result["operation"] == "delete" and result["stack_status"] == "DELETE_COMPLETE"
    assert [e["resource_status"] for e in result["events"]] == ["DELETE_IN_PROGRESS"]


def test_absent_in_check_mode_only_reports(clients):
    cfn, asg = clients.cfn, clients.asg
    cfn.add_response("describe_stacks", stack("UPDATE_COMPLETE"), {"StackName": NAME})
    asg_instances(asg, "i-1")
    result = manager(clients, check_mode=True).absent()
    assert result["changed"] is True and "ClusterName: lab" in result["diff"][0]["before"]
    assert result["instance_ids"] == ["i-1"]  # the nodes that would go


def test_update_rollback_failed_says_how_to_continue(clients):
    cfn = clients.cfn
    cfn.add_response("describe_stacks", stack("UPDATE_ROLLBACK_FAILED"), {"StackName": NAME})
    cfn.add_response("describe_stack_events", {"StackEvents": [
        event(3, NAME, "AWS::CloudFormation::Stack", "UPDATE_ROLLBACK_FAILED"),
        event(2, "NodeGroup", "AWS::AutoScaling::AutoScalingGroup", "UPDATE_FAILED", "instances did not stabilize"),
        event(1, NAME, "AWS::CloudFormation::Stack", "UPDATE_IN_PROGRESS", "User Initiated")]}, {"StackName": STACK_ID})
    with pytest.raises(ops.StackOperationError) as raised:
        manager(clients).present(desired())
    assert "UPDATE_ROLLBACK_FAILED (root cause: NodeGroup" in raised.value.message
    assert f"aws cloudformation continue-update-rollback --stack-name {NAME}" in raised.value.message


def test_create_without_wait_returns_where_its_events_start(clients):
    cfn = clients.cfn
    missing(cfn)
    wanted = desired()
    expect_change_set(cfn, "CREATE", wanted)
    cfn.add_response("describe_change_set", change_set(), {"ChangeSetName": CHANGE_SET_ID})
    cfn.add_response("describe_stack_events", {"StackEvents": [event(1, NAME, "AWS::CloudFormation::Stack", "REVIEW_IN_PROGRESS")]}, {"StackName": STACK_ID})
    cfn.add_response("execute_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "ClientRequestToken": ANY})
    cfn.add_response("describe_stacks", stack("CREATE_IN_PROGRESS", outputs=False), {"StackName": STACK_ID})
    result = manager(clients, wait=False).present(wanted)
    assert result["changed"] is True and result["stack_status"] == "CREATE_IN_PROGRESS"
    assert result["started"]["stack_id"] == STACK_ID and result["started"]["after_event_id"] == "e1"
    assert result["started"]["client_request_token"].startswith("eksnodes-")


def test_absent_without_wait_returns_where_its_events_start(clients):
    cfn = clients.cfn
    cfn.add_response("describe_stacks", stack("UPDATE_COMPLETE"), {"StackName": NAME})
    cfn.add_response("describe_stack_events", {"StackEvents": [event(7, NAME, "AWS::CloudFormation::Stack", "UPDATE_COMPLETE")]}, {"StackName": STACK_ID})
    cfn.add_response("delete_stack", {}, {"StackName": STACK_ID, "ClientRequestToken": ANY})
    cfn.add_response("describe_stacks", stack("DELETE_IN_PROGRESS"), {"StackName": STACK_ID})
    result = manager(clients, wait=False).absent()
    assert result["operation"] == "delete" and result["stack_status"] == "DELETE_IN_PROGRESS"
    assert result["started"]["after_event_id"] == "e7" and result["started"]["client_request_token"].startswith("eksnodes-")


def test_failure_and_timeout_errors_are_pure_and_name_the_root_cause():
    failed = [{"logical_resource_id": "NodeGroup", "resource_type": "AWS::AutoScaling::AutoScalingGroup", "resource_status": "CREATE_FAILED",
               "resource_status_reason": "limit"}]
    error = ops.failure_error(NAME, "create", {"StackStatus": "ROLLBACK_COMPLETE"}, failed, failed + [{}])
    assert error.message.endswith("Root cause: NodeGroup (AWS::AutoScaling::AutoScalingGroup) CREATE_FAILED: limit")
    assert error.facts["root_cause"] == failed[0] and error.facts["failure_events"] == failed and len(error.facts["events"]) == 2
    error = ops.timeout_error(NAME, "update", 60, {"StackStatus": "UPDATE_IN_PROGRESS"}, [])
    assert "the update did not finish within wait_timeout (60 s)" in error.message and error.facts["stack_status"] == "UPDATE_IN_PROGRESS"


def test_a_stack_being_deleted_is_waited_for_before_anything_is_judged_from_it(clients):
    cfn = clients.cfn
    cfn.add_response("describe_stack_events", {"StackEvents": [event(1, NAME, "AWS::CloudFormation::Stack", "DELETE_IN_PROGRESS")]}, {"StackName": STACK_ID})
    cfn.add_response("describe_stacks", stack("DELETE_COMPLETE", outputs=False), {"StackName": STACK_ID})
    cfn.add_response("describe_stack_events", {"StackEvents": [event(2, NAME, "AWS::CloudFormation::Stack", "DELETE_COMPLETE"),
                                                               event(1, NAME, "AWS::CloudFormation::Stack", "DELETE_IN_PROGRESS")]},
                     {"StackName": STACK_ID})
    assert manager(clients).settled(stack("DELETE_IN_PROGRESS", outputs=False)["Stacks"][0]) is None
    cfn.assert_no_pending_responses()


def test_a_failed_stack_without_recover_failed_is_refused_as_soon_as_it_is_read(clients):
    rollback_complete_history(clients.cfn)
    stack_manager = manager(clients)
    with pytest.raises(ops.StackOperationError) as raised:
        stack_manager.settled(stack_manager.read_owned())
    assert "set recover_failed=true" in raised.value.message
