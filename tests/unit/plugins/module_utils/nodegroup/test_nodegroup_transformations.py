"""Stack outputs in snake_case and the Auto Scaling group's instances."""

import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup import transformations as t

STACK = {
    "StackId": "id",
    "StackStatus": "CREATE_COMPLETE",
    "Outputs": [
        {"OutputKey": "NodeInstanceRole", "OutputValue": "arn:aws:iam::123456789012:role/r"},
        {"OutputKey": "NodeAutoScalingGroup", "OutputValue": "asg-1"},
        {"OutputKey": "NodeSecurityGroups", "OutputValue": "sg-1,sg-2"},
        {"OutputKey": "NodeInstanceProfileArn", "OutputValue": "arn:aws:iam::123456789012:instance-profile/p"},
        {"OutputKey": "AMIImageId", "OutputValue": "ami-1"},
    ],
}


@pytest.mark.parametrize("name, expected", [
    ("NodeInstanceProfileArn", "node_instance_profile_arn"),
    ("AMIImageId", "ami_image_id"),
    ("NodeSecurityGroup", "node_security_group"),
    ("VPC", "vpc"),
    ("Node-Group", "node_group"),
])
def test_snake_case(name, expected):
    assert t.snake_case(name) == expected


def test_outputs_use_the_documented_names_and_split_lists():
    assert t.outputs(STACK) == {
        "node_instance_role_arn": "arn:aws:iam::123456789012:role/r",
        "node_autoscaling_group": "asg-1",
        "node_security_groups": ["sg-1", "sg-2"],
        "node_instance_profile_arn": "arn:aws:iam::123456789012:instance-profile/p",
        "ami_image_id": "ami-1",
    }
    assert t.outputs(None) == {}


def test_autoscaling_group_from_output_or_the_only_group_resource():
    assert t.autoscaling_group_name(STACK) == "asg-1"
    resources = [{"ResourceType": "AWS::AutoScaling::AutoScalingGroup", "PhysicalResourceId": "asg-2"},
                 {"ResourceType": "AWS::IAM::Role", "PhysicalResourceId": "r"}]
    assert t.autoscaling_group_name({"Outputs": []}, resources) == "asg-2"
    two = resources + [{"ResourceType": "AWS::AutoScaling::AutoScalingGroup", "PhysicalResourceId": "asg-3"}]
    assert t.autoscaling_group_name({"Outputs": []}, two) is None


def test_instances_sorted_and_leaving_ones_left_out_of_the_ids():
    group = {"Instances": [
        {"InstanceId": "i-2", "LifecycleState": "InService", "HealthStatus": "Healthy", "AvailabilityZone": "us-east-1a",
         "InstanceType": "m5.large", "LaunchTemplate": {"Version": "2"}},
        {"InstanceId": "i-1", "LifecycleState": "Terminating", "HealthStatus": "Healthy"},
        {"InstanceId": "i-3", "LifecycleState": "Pending", "HealthStatus": "Healthy"},
    ]}
    assert [item["instance_id"] for item in t.instances(group)] == ["i-1", "i-2", "i-3"]
    assert t.instances(group)[1]["launch_template_version"] == "2"
    assert t.instance_ids(group) == ["i-2", "i-3"]
    assert t.instances(None) == []


def test_stack_facts():
    assert t.stack_facts(STACK) == {"stack_id": "id", "stack_status": "CREATE_COMPLETE", "stack_status_reason": None}
    assert t.stack_facts(None)["stack_status"] is None


def member(instance_id, version="3", template="lt-1", state="InService"):
    return {"instance_id": instance_id, "lifecycle_state": state, "launch_template_id": template, "launch_template_version": version}


LAUNCHES = {"node_launch_template": "lt-1", "node_launch_template_version": "3"}


def test_outdated_instances_are_those_of_another_template_or_version_leaving_ones_aside():
    instances = [member("i-current"), member("i-older", version="2"), member("i-other", template="lt-0"),
                 member("i-going", version="2", state="Terminating:Wait")]
    assert t.outdated_instance_ids(instances, LAUNCHES) == ["i-older", "i-other"]
    assert t.outdated_instance_ids([member("i-current")], LAUNCHES) == []
    assert t.outdated_instance_ids([], LAUNCHES) == []


@pytest.mark.parametrize("instances, outputs", [
    ([member("i-1")], {"node_launch_template": "lt-1"}),  # a stack without the version output
    ([member("i-1")], {}),
    ([member("i-1", version="$Latest")], LAUNCHES),  # the group names no number: only the instances' tags tell
    ([member("i-1", template=None)], LAUNCHES),
])
def test_outdated_instances_are_unknown_when_the_group_does_not_tell(instances, outputs):
    assert t.outdated_instance_ids(instances, outputs) is None


def test_instances_carry_their_launch_template():
    group = {"Instances": [{"InstanceId": "i-1", "LifecycleState": "InService",
                            "LaunchTemplate": {"LaunchTemplateId": "lt-1", "LaunchTemplateName": "n", "Version": "3"}}]}
    assert t.instances(group)[0]["launch_template_id"] == "lt-1"
    assert t.outdated_instance_ids(t.instances(group), LAUNCHES) == []


def test_the_instances_a_smaller_group_has_no_room_for_older_first_then_highest_id():
    instances = [member("i-a"), member("i-b"), member("i-c"), dict(member("i-d"), lifecycle_state="Terminating")]
    assert t.leaving_instance_ids(instances, None, 1) == ["i-c", "i-b"]
    assert t.leaving_instance_ids(instances, ["i-a"], 2) == ["i-a"]
    assert t.leaving_instance_ids(instances, [], 3) == [] and t.leaving_instance_ids(instances, [], 5) == []
    assert t.leaving_instance_ids(instances, None, 0) == ["i-c", "i-b", "i-a"]
