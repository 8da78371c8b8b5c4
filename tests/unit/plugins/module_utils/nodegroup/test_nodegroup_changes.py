"""No-op detection from describe answers, change set summaries and the --diff output."""

import json

from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup import changes as c

STACK = {
    "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
    "StackStatus": "CREATE_COMPLETE",
    "Parameters": [
        {"ParameterKey": "ClusterName", "ParameterValue": "lab"},
        {"ParameterKey": "Subnets", "ParameterValue": "subnet-b,subnet-a"},
        {"ParameterKey": "NodeImageIdSSMParam", "ParameterValue": "/aws/service/x/image_id", "ResolvedValue": "ami-0123"},
    ],
    "Tags": [{"Key": "team", "Value": "a"}],
}
DESIRED = {"ClusterName": "lab", "Subnets": "subnet-a,subnet-b", "NodeImageIdSSMParam": "/aws/service/x/image_id"}


def test_stack_parameters_keep_ssm_names_and_resolved_values_apart():
    assert c.stack_parameters(STACK)["NodeImageIdSSMParam"] == "/aws/service/x/image_id"
    assert c.resolved_parameters(STACK) == {"NodeImageIdSSMParam": "ami-0123"}
    assert c.stack_parameters(None) == {} and c.resolved_parameters(None) == {}


def test_list_parameters_compare_as_sets():
    assert c.parameter_changes(c.stack_parameters(STACK), DESIRED, ["Subnets"]) == {}
    assert c.parameter_changes(c.stack_parameters(STACK), DESIRED, []) == {"Subnets": {"before": "subnet-b,subnet-a", "after": "subnet-a,subnet-b"}}


def test_parameter_changes_report_before_and_after_and_new_parameters():
    desired = dict(DESIRED, ClusterName="other", NodeVolumeSize="60")
    assert c.parameter_changes(c.stack_parameters(STACK), desired, ["Subnets"]) == {
        "ClusterName": {"before": "lab", "after": "other"},
        "NodeVolumeSize": {"before": None, "after": "60"},
    }


def test_same_template_text_json_and_dict():
    assert c.same_template("a: 1\n", "a: 1")
    assert not c.same_template("a: 1", "a: 2")
    assert c.same_template({"a": 1}, json.dumps({"a": 1}))
    assert c.same_template('{"a": 1}', '{ "a" : 1 }')
    assert not c.same_template(None, "a")
    assert not c.same_template({"a": 1}, "a: 1")


def test_desired_tags_purge_or_merge_or_leave():
    current = {"team": "a", "cost": "x"}
    assert c.desired_tags(current, None, True) is None
    assert c.desired_tags(current, {"team": "b"}, True) == {"team": "b"}
    assert c.desired_tags(current, {"team": "b", "n": 1}, False) == {"team": "b", "cost": "x", "n": "1"}
    assert c.tag_list({"b": "2", "a": "1"}) == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]


def test_is_no_op_needs_same_template_parameters_and_tags():
    assert c.is_no_op(STACK, "T", "T", DESIRED, None, ["Subnets"])
    assert c.is_no_op(STACK, "T", "T", DESIRED, {"team": "a"}, ["Subnets"])
    assert not c.is_no_op(STACK, "T", "T2", DESIRED, None, ["Subnets"])
    assert not c.is_no_op(STACK, "T", "T", dict(DESIRED, ClusterName="x"), None, ["Subnets"])
    assert not c.is_no_op(STACK, "T", "T", DESIRED, {"team": "b"}, ["Subnets"])
    assert not c.is_no_op(STACK, "T", "T", DESIRED, {}, ["Subnets"])


def test_change_set_is_empty_only_for_the_no_changes_reasons():
    reason = "The submitted information didn't contain changes. Submit different information to create a change set."
    assert c.change_set_is_empty({"Status": "FAILED", "StatusReason": reason})
    assert c.change_set_is_empty({"Status": "FAILED", "StatusReason": "No updates are to be performed."})
    assert not c.change_set_is_empty({"Status": "FAILED", "StatusReason": "Parameter validation failed"})
    assert not c.change_set_is_empty({"Status": "CREATE_COMPLETE"})


CHANGE_SET = {
    "Status": "CREATE_COMPLETE",
    "Changes": [
        {"Type": "Resource", "ResourceChange": {
            "Action": "Modify", "LogicalResourceId": "NodeLaunchTemplate", "PhysicalResourceId": "lt-1",
            "ResourceType": "AWS::EC2::LaunchTemplate", "Replacement": "False", "Scope": ["Properties"],
            "Details": [{"Target": {"Attribute": "Properties", "Name": "LaunchTemplateData", "RequiresRecreation": "Never"},
                         "ChangeSource": "ParameterReference", "CausingEntity": "NodeInstanceType"}]}},
        {"Type": "Resource", "ResourceChange": {
            "Action": "Modify", "LogicalResourceId": "NodeGroup", "PhysicalResourceId": "asg",
            "ResourceType": "AWS::AutoScaling::AutoScalingGroup", "Replacement": "Conditional", "Scope": ["Properties"],
            "Details": []}},
        {"Type": "Resource", "ResourceChange": {
            "Action": "Add", "LogicalResourceId": "Extra", "ResourceType": "AWS::EC2::SecurityGroupIngress", "Scope": []}},
        {"Type": "Resource", "ResourceChange": {
            "Action": "Remove", "LogicalResourceId": "Old", "PhysicalResourceId": "x", "ResourceType": "AWS::EC2::SecurityGroupIngress", "Scope": []}},
        {"Type": "HookInvocation"},
    ],
}


def test_resource_changes_in_snake_case():
    found = c.resource_changes(CHANGE_SET)
    assert [item["logical_resource_id"] for item in found] == ["NodeLaunchTemplate", "NodeGroup", "Extra", "Old"]
    assert found[0] == {
        "action": "Modify", "logical_resource_id": "NodeLaunchTemplate", "physical_resource_id": "lt-1",
        "resource_type": "AWS::EC2::LaunchTemplate", "replacement": "False", "scope": ["Properties"],
        "details": [{"attribute": "Properties", "name": "LaunchTemplateData", "requires_recreation": "Never",
                     "change_source": "ParameterReference", "causing_entity": "NodeInstanceType"}],
    }


def test_diff_shows_parameters_tags_and_resources():
    diffs = c.build_diff({"NodeInstanceType": "m5.large"}, {"NodeInstanceType": "m5.xlarge"}, c.resource_changes(CHANGE_SET), "s",
                         {"team": "a"}, {"team": "b"})
    parameters, resources = diffs
    assert parameters["before"] == "NodeInstanceType: m5.large\ntag:team: a\n"
    assert parameters["after"] == "NodeInstanceType: m5.xlarge\ntag:team: b\n"
    assert parameters["before_header"] == "stack s parameters (deployed)"
    assert "NodeLaunchTemplate (AWS::EC2::LaunchTemplate) modified: LaunchTemplateData\n" in resources["after"]
    assert "NodeGroup (AWS::AutoScaling::AutoScalingGroup) modified: Properties; replacement: Conditional\n" in resources["after"]
    assert "Extra (AWS::EC2::SecurityGroupIngress)\n" in resources["after"]
    assert "Old (AWS::EC2::SecurityGroupIngress)\n" in resources["before"]
    assert "Old" not in resources["after"] and "Extra" not in resources["before"]


def test_diff_of_a_new_stack_has_empty_before_and_no_resource_part_without_changes():
    (parameters,) = c.build_diff({}, {"ClusterName": "lab"}, [], "s")
    assert parameters["before"] == "" and parameters["after"] == "ClusterName: lab\n"


def test_long_values_show_their_start_length_and_digest():
    ca = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t" * 40
    shown = c.shown_value(ca)
    assert shown.startswith("LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0t... (1440 characters, sha256 ")
    assert c.shown_value(ca[:-1] + "x") != shown
    assert c.shown_value("short") == "short" and c.shown_value(None) == ""
    subnets = ",".join(f"subnet-{index:017x}" for index in range(6))
    assert c.shown_value(subnets) == subnets


def test_a_modification_without_details_says_modified():
    diffs = c.build_diff({}, {}, [{"action": "Modify", "logical_resource_id": "NodeGroup", "resource_type": "T", "details": [], "scope": []}], "s")
    assert diffs[1]["after"] == "NodeGroup (T) modified\n"


def test_the_capacity_an_update_lowers_the_group_to():
    sizes = {"NodeAutoScalingGroupDesiredCapacity": "3", "NodeAutoScalingGroupMaxSize": "4"}
    assert c.lowered_capacity(sizes, dict(sizes, NodeAutoScalingGroupDesiredCapacity="2")) == 2
    assert c.lowered_capacity(sizes, {"NodeAutoScalingGroupDesiredCapacity": "3", "NodeAutoScalingGroupMaxSize": "3"}) == 3
    assert c.lowered_capacity(sizes, dict(sizes, NodeAutoScalingGroupMaxSize="5")) is None
    assert c.lowered_capacity(sizes, sizes) is None and c.lowered_capacity(sizes, {"Other": "1"}) is None
