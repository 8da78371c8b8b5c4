"""NodegroupStack refuses stacks that are not the node group's before any write, and names another run at work.

Stubbed clients: any call not queued fails the test, so "before any write" is checked call by call.
"""

import pytest
from botocore.stub import ANY

from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup import operations as ops
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup.ownership import CLUSTER_TAG, NODEGROUP_TAG
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup.template import TEMPLATE

from test_nodegroup_operations import CHANGE_SET_ID, NAME, PARAMETERS, STACK_ID, Clock, change_set, stack

pytestmark = pytest.mark.usefixtures("no_retry_sleep")

OWNER = {"cluster_name": "lab", "nodegroup_name": "windows"}
MARKER = [{"Key": CLUSTER_TAG, "Value": "lab"}, {"Key": NODEGROUP_TAG, "Value": "windows"}]


def guarded(clients, **kwargs):
    clock = Clock()
    return ops.NodegroupStack(clients.cloudformation, clients.autoscaling, NAME, ops.Deadline(600, clock), pause=clock.pause,
                              owner=OWNER, **kwargs)


def desired(**changes):
    return ops.DesiredStack(dict(PARAMETERS, **changes), template_body=TEMPLATE, list_parameters=("Subnets",),
                            marker={CLUSTER_TAG: "lab", NODEGROUP_TAG: "windows"})


# A stack made before the marker tags: every node group parameter.
LEGACY = dict(PARAMETERS, NodeGroupName="windows", ClusterControlPlaneSecurityGroup="sg-1", NodeAutoScalingGroupMinSize="1",
              NodeAutoScalingGroupDesiredCapacity="2", NodeAutoScalingGroupMaxSize="3", NodeImageIdSSMParam="/aws/service/x",
              VpcId="vpc-1")


def expect_update_change_set(cfn, tags, parameters=None):
    parameters = PARAMETERS if parameters is None else parameters
    cfn.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID}, {
        "StackName": NAME, "ChangeSetName": ANY, "ChangeSetType": "UPDATE", "Capabilities": ["CAPABILITY_IAM"],
        "Description": ANY, "TemplateBody": TEMPLATE, "Tags": tags,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(dict(parameters, NodeInstanceType="m5.xlarge").items())],
    })


def test_an_unrelated_stack_is_refused_after_one_describe(clients):
    clients.cfn.add_response("describe_stacks", stack("CREATE_COMPLETE", {"TopicName": "orders"}, tags=[("team", "data")]), {"StackName": NAME})
    with pytest.raises(ops.StackOperationError) as raised:
        guarded(clients).present(desired())
    assert "is not this node group's stack" in raised.value.message and "Nothing was changed" in raised.value.message
    assert raised.value.facts["changed"] is False and raised.value.facts["ownership"]["owned"] is False


def test_an_unrelated_stack_is_not_deleted(clients):
    clients.cfn.add_response("describe_stacks", stack("CREATE_COMPLETE", {"TopicName": "orders"}), {"StackName": NAME})
    with pytest.raises(ops.StackOperationError) as raised:
        guarded(clients).absent()
    assert "Nothing was deleted" in raised.value.message


def test_a_stack_taken_over_while_we_waited_for_it_is_refused(clients):
    cfn = clients.cfn
    cfn.add_response("describe_stacks", stack("UPDATE_IN_PROGRESS", tags=[(CLUSTER_TAG, "lab"), (NODEGROUP_TAG, "windows")]), {"StackName": NAME})
    cfn.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": STACK_ID})
    cfn.add_response("describe_stacks", stack("UPDATE_COMPLETE", tags=[(CLUSTER_TAG, "lab"), (NODEGROUP_TAG, "linux")]), {"StackName": STACK_ID})
    cfn.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": STACK_ID})
    with pytest.raises(ops.StackOperationError) as raised:
        guarded(clients).present(desired())
    assert "node group 'linux', not 'windows'" in raised.value.message


def test_an_update_keeps_the_user_tags_and_adds_the_marker(clients):
    cfn = clients.cfn
    legacy = stack("UPDATE_COMPLETE", LEGACY, tags=[("team", "a")])
    # Made by version 1 of the template, before the marker tags existed.
    legacy["Stacks"][0]["Description"] = "eksnodes.windows self-managed Windows node group for Amazon EKS (template version 1): IAM role"
    cfn.add_response("describe_stacks", legacy, {"StackName": NAME})
    cfn.add_response("get_template", {"TemplateBody": TEMPLATE}, {"StackName": STACK_ID, "TemplateStage": "Original"})
    expect_update_change_set(cfn, [{"Key": CLUSTER_TAG, "Value": "lab"}, {"Key": NODEGROUP_TAG, "Value": "windows"}, {"Key": "team", "Value": "a"}],
                             LEGACY)
    cfn.add_response("describe_change_set", change_set(), {"ChangeSetName": CHANGE_SET_ID})
    cfn.add_response("delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID})
    clients.asg.add_response("describe_auto_scaling_groups", {"AutoScalingGroups": []}, {"AutoScalingGroupNames": ["asg-1"]})
    result = guarded(clients, check_mode=True).present(ops.DesiredStack(
        dict(LEGACY, NodeInstanceType="m5.xlarge"), template_body=TEMPLATE, list_parameters=("Subnets",),
        marker={CLUSTER_TAG: "lab", NODEGROUP_TAG: "windows"}))
    assert result["changed"] is True and result["operation"] == "update"
    assert result["diff"][0]["after"].count("tag:eksnodes.windows/") == 2 and "tag:eksnodes" not in result["diff"][0]["before"]


def test_a_change_set_deleted_by_another_run_is_reported_as_a_concurrent_run(clients):
    cfn = clients.cfn
    cfn.add_response("describe_stacks", stack("UPDATE_COMPLETE", tags=[(CLUSTER_TAG, "lab"), (NODEGROUP_TAG, "windows")]), {"StackName": NAME})
    cfn.add_response("get_template", {"TemplateBody": TEMPLATE}, {"StackName": STACK_ID, "TemplateStage": "Original"})
    expect_update_change_set(cfn, MARKER)
    cfn.add_client_error("describe_change_set", "ChangeSetNotFound", f"ChangeSet [{CHANGE_SET_ID}] does not exist", 404,
                         expected_params={"ChangeSetName": CHANGE_SET_ID})
    cfn.add_response("describe_stacks", stack("UPDATE_IN_PROGRESS"), {"StackName": STACK_ID})
    with pytest.raises(ops.ConcurrentRunError) as raised:
        guarded(clients).present(desired(NodeInstanceType="m5.xlarge"))
    assert raised.value.message.startswith(f"Another run is changing stack {NAME} (status UPDATE_IN_PROGRESS): our change set ")
    assert "Wait for it to finish and run this task again" in raised.value.message
    assert raised.value.facts["concurrent_run"] is True and raised.value.facts["changed"] is False


@pytest.mark.parametrize("code,message", [
    ("ChangeSetNotFound", f"ChangeSet [{CHANGE_SET_ID}] does not exist"),
    ("InvalidChangeSetStatus", f"ChangeSet [{CHANGE_SET_ID}] cannot be executed in its current status of [OBSOLETE]"),
])
def test_a_change_set_that_can_no_longer_run_is_a_concurrent_run(clients, code, message):
    cfn = clients.cfn
    cfn.add_response("describe_stacks", stack("UPDATE_COMPLETE", tags=[(CLUSTER_TAG, "lab"), (NODEGROUP_TAG, "windows")]), {"StackName": NAME})
    cfn.add_response("get_template", {"TemplateBody": TEMPLATE}, {"StackName": STACK_ID, "TemplateStage": "Original"})
    expect_update_change_set(cfn, MARKER)
    cfn.add_response("describe_change_set", change_set(), {"ChangeSetName": CHANGE_SET_ID})
    cfn.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": STACK_ID})
    cfn.add_client_error("execute_change_set", code, message, 400, expected_params={"ChangeSetName": CHANGE_SET_ID, "ClientRequestToken": ANY})
    cfn.add_response("delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID})
    cfn.add_response("describe_stacks", stack("UPDATE_IN_PROGRESS"), {"StackName": STACK_ID})
    with pytest.raises(ops.ConcurrentRunError) as raised:
        guarded(clients).present(desired(NodeInstanceType="m5.xlarge"))
    assert f"(status UPDATE_IN_PROGRESS): our change set could not run ({message})" in raised.value.message


def test_a_stack_deleted_by_another_run_after_our_describe_is_a_concurrent_run(clients):
    cfn = clients.cfn
    cfn.add_response("describe_stacks", stack("UPDATE_COMPLETE", tags=[(CLUSTER_TAG, "lab"), (NODEGROUP_TAG, "windows")]), {"StackName": NAME})
    cfn.add_response("get_template", {"TemplateBody": TEMPLATE}, {"StackName": STACK_ID, "TemplateStage": "Original"})
    cfn.add_client_error("create_change_set", "ValidationError", f"Stack [{NAME}] does not exist", 400)
    cfn.add_client_error("describe_stacks", "ValidationError", f"Stack with id {NAME} does not exist", 400, expected_params={"StackName": NAME})
    with pytest.raises(ops.ConcurrentRunError) as raised:
        guarded(clients).present(desired(NodeInstanceType="m5.xlarge"))
    assert raised.value.message.startswith(f"Another run is changing stack {NAME} (status gone): CloudFormation refused our UPDATE")


def test_a_stack_created_by_another_run_after_our_describe_is_a_concurrent_run(clients):
    cfn = clients.cfn
    cfn.add_client_error("describe_stacks", "ValidationError", f"Stack with id {NAME} does not exist", 400, expected_params={"StackName": NAME})
    cfn.add_client_error("create_change_set", "ValidationError",
                         f"Stack [{NAME}] already exists and cannot be created again with the changeSet [eksnodes-1].", 400)
    cfn.add_response("describe_stacks", stack("CREATE_IN_PROGRESS", outputs=False), {"StackName": NAME})
    with pytest.raises(ops.ConcurrentRunError) as raised:
        guarded(clients).present(desired())
    assert raised.value.message.startswith(f"Another run is changing stack {NAME} (status CREATE_IN_PROGRESS): CloudFormation refused our CREATE")


@pytest.mark.parametrize("code,message", [
    ("InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_IAM]"),
    ("ValidationError", "Parameter validation failed: parameter value sg-0 for parameter name NodeSecurityGroups does not exist"),
])
def test_other_create_change_set_errors_stay_what_they_are(clients, code, message):
    cfn = clients.cfn
    cfn.add_client_error("describe_stacks", "ValidationError", f"Stack with id {NAME} does not exist", 400, expected_params={"StackName": NAME})
    cfn.add_client_error("create_change_set", code, message, 400)
    with pytest.raises(ops.CloudFormationError):
        guarded(clients).present(desired())
