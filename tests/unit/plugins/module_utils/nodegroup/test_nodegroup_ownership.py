"""Which stacks are the node group's, and which mapped roles deleted stacks of its name left."""

import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup import ownership as own
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup.template import TEMPLATE

NAME = "prod-nodegroup-windows"
ACCOUNT = "123456789012"
NODEGROUP_PARAMETERS = {
    "ClusterName": "prod", "NodeGroupName": "windows", "ClusterControlPlaneSecurityGroup": "sg-1",
    "NodeAutoScalingGroupMinSize": "1", "NodeAutoScalingGroupDesiredCapacity": "2", "NodeAutoScalingGroupMaxSize": "3",
    "NodeInstanceType": "m5.large", "NodeImageIdSSMParam": "/aws/service/x", "NodeImageId": "", "VpcId": "vpc-1",
    "NodeSecurityGroups": "sg-2", "Subnets": "subnet-1,subnet-2",
}
NODEGROUP_OUTPUTS = ("NodeInstanceRole", "NodeAutoScalingGroup", "NodeSecurityGroup")
# Version 1 of the collection's template, as a stack made before the marker tags existed describes itself.
OURS = "eksnodes.windows self-managed Windows node group for Amazon EKS (template version 1): IAM role and instance profile"


def stack(status="CREATE_COMPLETE", parameters=None, outputs=NODEGROUP_OUTPUTS, tags=None, description=OURS):
    found = {
        "StackName": NAME,
        "StackId": f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{NAME}/1",
        "StackStatus": status,
        "Parameters": [{"ParameterKey": key, "ParameterValue": value} for key, value in (NODEGROUP_PARAMETERS if parameters is None else parameters).items()],
        "Outputs": [{"OutputKey": key, "OutputValue": "x"} for key in outputs],
        "Tags": [{"Key": key, "Value": value} for key, value in (tags or {}).items()],
    }
    if description:
        found["Description"] = description
    return found


MARKED = {own.CLUSTER_TAG: "prod", own.NODEGROUP_TAG: "windows"}


def test_no_stack_is_nothing_to_take_over():
    assert own.stack_ownership(None, "prod", "windows")["owned"] is True


def test_a_stack_with_our_marker_for_this_node_group_is_ours():
    found = own.stack_ownership(stack(tags=dict(MARKED, team="a")), "prod", "windows")
    assert found["owned"] is True and found["marked"] is True


@pytest.mark.parametrize("cluster,nodegroup,says", [
    ("prod", "linux", "node group 'windows', not 'linux'"),
    ("staging", "windows", "cluster 'prod', not 'staging'"),
    ("staging", "linux", "cluster 'prod', not 'staging' and node group 'windows', not 'linux'"),
])
def test_a_marker_of_another_node_group_is_not_ours_whatever_the_parameters(cluster, nodegroup, says):
    parameters = dict(NODEGROUP_PARAMETERS, ClusterName=cluster, NodeGroupName=nodegroup)
    found = own.stack_ownership(stack(parameters=parameters, tags=MARKED), cluster, nodegroup)
    assert found["owned"] is False and found["marked"] is True
    assert found["reason"] == f"its marker tags say it belongs to {says}"


def test_half_a_marker_is_not_ours():
    found = own.stack_ownership(stack(tags={own.NODEGROUP_TAG: "windows"}), "prod", "windows")
    assert found["owned"] is False and "cluster None, not 'prod'" in found["reason"]


def test_a_stack_made_without_a_name_is_ours_only_for_the_same_unknown_name():
    tags = own.marker_tags("prod", None)
    assert tags == {own.CLUSTER_TAG: "prod", own.NODEGROUP_TAG: "-"}
    assert own.stack_ownership(stack(tags=tags), "prod", own.UNKNOWN)["owned"] is True
    assert own.stack_ownership(stack(tags=tags), "prod", "windows")["owned"] is False


def test_names_not_given_are_not_compared_but_the_marker_still_is():
    assert own.stack_ownership(stack(tags=MARKED), None, None)["owned"] is True
    assert own.stack_ownership(stack(parameters={}, outputs=("TopicArn",)), None, None)["owned"] is False


def test_a_legacy_node_group_stack_with_the_expected_names_is_ours():
    found = own.stack_ownership(stack(), "prod", "windows")
    assert found["owned"] is True and found["marked"] is False
    assert "before the marker tags existed" in found["reason"]


def test_a_stack_of_aws_s_windows_node_group_template_is_not_ours_whatever_its_names():
    """amazon-eks-windows-nodegroup.yaml declares the same parameters and outputs; only its description differs."""
    found = own.stack_ownership(stack(description="Amazon EKS - Node Group"), "prod", "windows")
    assert found["owned"] is False and found["marked"] is False
    assert found["reason"] == "it has no marker tags and does not run the collection's template (its description is 'Amazon EKS - Node Group')"
    assert own.stack_ownership(stack(description=None), "prod", "windows")["owned"] is False


def test_a_legacy_stack_that_never_completed_its_creation_has_no_outputs_and_is_still_ours():
    assert own.stack_ownership(stack("ROLLBACK_COMPLETE", outputs=()), "prod", "windows")["owned"] is True


def test_a_legacy_stack_that_completed_without_our_outputs_is_not_ours():
    found = own.stack_ownership(stack("UPDATE_COMPLETE", outputs=("NodeSecurityGroup",)), "prod", "windows")
    assert found["owned"] is False
    assert found["reason"] == "it has no marker tags and lacks the node group outputs NodeInstanceRole, NodeAutoScalingGroup"


@pytest.mark.parametrize("cluster,nodegroup", [("prod", "linux"), ("staging", "windows")])
def test_a_legacy_node_group_stack_of_other_names_is_not_ours(cluster, nodegroup):
    found = own.stack_ownership(stack(), cluster, nodegroup)
    assert found["owned"] is False and "without marker tags whose parameters say" in found["reason"]


def test_an_unrelated_stack_is_not_ours_and_the_summary_says_what_it_is():
    unrelated = stack(parameters={"TopicName": "orders"}, outputs=("TopicArn",), tags={"team": "data"}, description="Orders")
    found = own.stack_ownership(unrelated, "prod", "windows")
    assert found["owned"] is False
    assert found["reason"].startswith("it has no marker tags and lacks the node group parameters ClusterName, ")
    assert found["found"] == {"stack_name": NAME, "stack_id": unrelated["StackId"], "stack_status": "CREATE_COMPLETE",
                              "description": "Orders", "tags": {"team": "data"}, "parameters": {},
                              "parameter_names": ["TopicName"], "output_names": ["TopicArn"]}
    message = own.refusal_message(NAME, found, "changed")
    assert message.startswith(f"Stack {NAME} exists and is not this node group's stack: it has no marker tags")
    assert "tags team=data" in message and "outputs TopicArn" in message and "Nothing was changed" in message
    assert message.endswith("Choose another nodegroup_name, or set stack_name to a name no other stack uses")


def test_a_stack_with_some_node_group_parameters_only_is_not_ours():
    parameters = {"ClusterName": "prod", "NodeGroupName": "windows"}
    assert own.stack_ownership(stack(parameters=parameters), "prod", "windows")["owned"] is False


def test_every_parameter_and_output_asked_of_legacy_stacks_is_in_our_template():
    for name in own.NODEGROUP_PARAMETERS:
        assert f"\n  {name}:\n" in TEMPLATE
    for name in own.NODEGROUP_OUTPUTS:
        assert f"\n  {name}:\n    Description" in TEMPLATE


def test_reserved_tags():
    assert own.reserved_tag_errors({"team": "a"}) == []
    assert own.reserved_tag_errors({own.NODEGROUP_TAG: "x", "team": "a"}) == [
        "tags: eksnodes.windows/nodegroup-name: keys starting with eksnodes.windows/ are written by the collection to mark its stacks; remove them"]


def role(name, account=ACCOUNT, path=""):
    return f"arn:aws:iam::{account}:role/{path}{name}"


def test_leftover_candidates_are_exactly_the_generated_node_role_names_of_this_stack():
    ours = role(f"{NAME}-NodeInstanceRole-1A2B3C4D5E6F")
    ours_13 = role(f"{NAME}-NodeInstanceRole-1A2b3C4d5E6fG")
    mapped = [
        ours, ours, ours_13,
        role(f"{NAME}-NodeInstanceRole-1A2B3C4D5E6F", account="999999999999"),   # another account
        role(f"{NAME}-NodeInstanceRole-1A2B3C4D5E6F", path="team/"),              # a path: not a generated role
        role(f"{NAME}-extra-NodeInstanceRole-1A2B3C4D5E6F"),                       # another stack's
        role(f"{NAME}-NodeInstanceRole-SHORT"),
        role(f"{NAME}-NodeInstanceRole-1A2B3C4D5E6F-x"),
        role(f"x{NAME}-NodeInstanceRole-1A2B3C4D5E6F"),
        role("lab-linux-node-role"),
        f"arn:aws:iam::{ACCOUNT}:user/{NAME}-NodeInstanceRole-1A2B3C4D5E6F",
        f"arn:aws:iam::{ACCOUNT}:instance-profile/{NAME}-NodeInstanceRole-1A2B3C4D5E6F",
    ]
    found = own.leftover_role_candidates(NAME, ACCOUNT, mapped)
    assert found == [{"arn": ours, "name": f"{NAME}-NodeInstanceRole-1A2B3C4D5E6F"},
                     {"arn": ours_13, "name": f"{NAME}-NodeInstanceRole-1A2b3C4d5E6fG"}]


def test_no_candidate_for_stack_names_whose_generated_role_name_would_be_shortened():
    long_name = "a" * 34
    assert own.generated_role_name_pattern("a" * 33) is not None
    assert own.generated_role_name_pattern(long_name) is None
    assert own.leftover_role_candidates(long_name, ACCOUNT, [role(f"{long_name}-NodeInstanceRole-1A2B3C4D5E6F")]) == []
