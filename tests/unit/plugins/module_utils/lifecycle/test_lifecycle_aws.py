"""The group's instances as the replacement decides on them, from DescribeAutoScalingGroups/DescribeInstances shapes."""

from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.aws import group_template_spec, instance_facts
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.rolling import LaunchTarget, old_instances

GROUP = {"AutoScalingGroupName": "g", "LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "$Latest"}, "Instances": [
    {"InstanceId": "i-b", "LifecycleState": "InService", "HealthStatus": "Healthy", "LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "1"}},
    {"InstanceId": "i-a", "LifecycleState": "InService", "HealthStatus": "Healthy", "LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "1"}},
]}


def reservations(version_of_a):
    def instance(instance_id, version, image):
        return {"InstanceId": instance_id, "ImageId": image, "Tags": [{"Key": "aws:ec2launchtemplate:id", "Value": "lt-1"},
                                                                      {"Key": "aws:ec2launchtemplate:version", "Value": version}]}
    return [{"Instances": [instance("i-a", version_of_a, "ami-new" if version_of_a == "2" else "ami-old"), instance("i-b", "1", "ami-old")]}]


def node(name, instance_id, ready=True, cordoned=False):
    return {"metadata": {"name": name}, "spec": {"providerID": f"aws:///us-east-1a/{instance_id}", "unschedulable": cordoned},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def test_the_instance_tag_wins_over_the_group_listing():
    # Auto Scaling may list the version the group had; the instance's own tag says what it launched from.
    nodes = {"n-a": node("n-a", "i-a"), "n-b": node("n-b", "i-b", cordoned=True)}
    facts = instance_facts(GROUP, reservations("2"), nodes)
    assert [(f["instance_id"], f["launch_template_version"], f["image_id"], f["node_name"], f["node_ready"], f["cordoned"]) for f in facts] == [
        ("i-a", "2", "ami-new", "n-a", True, False), ("i-b", "1", "ami-old", "n-b", True, True)]
    old = old_instances(facts, LaunchTarget("lt-1", "2", "ami-new"))
    assert [(o["instance_id"], o["old_because"]) for o in old] == [("i-b", "launch template version 1, the group's is 2")]


def test_an_instance_without_a_node_is_not_ready():
    facts = instance_facts(GROUP, reservations("1"), {})
    assert all(f["node_name"] is None and f["node_ready"] is False and f["cordoned"] is False for f in facts)


def test_template_of_a_mixed_instances_group():
    mixed = {"MixedInstancesPolicy": {"LaunchTemplate": {"LaunchTemplateSpecification": {"LaunchTemplateName": "lt", "Version": "3"}}}}
    assert group_template_spec(mixed) == {"LaunchTemplateName": "lt", "Version": "3"}
    assert group_template_spec({"LaunchConfigurationName": "old"}) == {}
