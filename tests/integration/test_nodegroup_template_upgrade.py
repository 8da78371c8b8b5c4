"""The node group template against what a real account does to stacks over time.

- A stack created by the template of collection 0.1.0 (fixtures/nodegroup-template-0.1.0.template, the template text
  of that release) is updated by today's template in place: no parameter changes, only the node security group's
  tags, the same launch template version and so the same instances (eksnodes.windows.nodes_replace replaces the
  instances whose launch template version is not the group's), and a second run changes nothing.
- CloudFormation resolves every SSM-typed parameter on each create and update; once AWS retires the SSM parameter
  of a Kubernetes version, a template that declares one can no longer be updated. Today's template declares none.
- Exactly one security group of a node may carry kubernetes.io/cluster/<cluster> (the service controller and the
  AWS Load Balancer Controller refuse the instance otherwise); the lab's simulator reports it per instance.
"""

import time
import uuid
from pathlib import Path

import pytest

MODULE = "eksnodes.windows.nodegroup_stack"
FAMILY = "Windows_Server-2022-English-Core-EKS_Optimized-1.31"
OLD_TEMPLATE = (Path(__file__).parent / "fixtures" / "nodegroup-template-0.1.0.template").read_text()
CLUSTER_TAG = "kubernetes.io/cluster/lab"


@pytest.fixture
def stack_name(lab):
    """A fresh stack name; the stack is deleted after the test, whatever happened."""
    name = f"lab-nodegroup-tpl-{uuid.uuid4().hex[:6]}"
    yield name
    lab.aws_client("cloudformation").delete_stack(StackName=name)


@pytest.fixture
def retire(lab):
    """retire(): AWS retires the Kubernetes 1.31 SSM parameter that template 0.1.0 named by default; it is published
    again after the test."""
    family = lab.facts["windows_amis"][FAMILY]
    retired = []

    def retire_parameter():
        assert lab.control.aws.delete_ssm_parameter(family["ssm_parameter"])
        retired.append(family["ssm_parameter"])
        return family["ssm_parameter"]

    yield retire_parameter
    if retired:
        lab.control.aws.put_ssm_parameter(family["ssm_parameter"], family["image_id"], data_type="aws:ec2:image")


def args_for(lab, stack_name, **extra):
    """The options the nodegroup role passes, with the cluster security group attached as the role attaches it."""
    facts = lab.facts
    family = facts["windows_amis"][FAMILY]
    cluster = lab.aws_client("eks").describe_cluster(name=lab.cluster_name)["cluster"]
    args = {
        "stack_name": stack_name,
        "cluster_name": lab.cluster_name,
        "nodegroup_name": stack_name.rsplit("-", 1)[1],
        "control_plane_security_group": facts["control_plane_sg_id"],
        "vpc_id": facts["vpc_id"],
        "security_groups": [cluster["resourcesVpcConfig"]["clusterSecurityGroupId"]],
        "subnets": facts["private_subnet_ids"],
        "api_server_endpoint": cluster["endpoint"],
        "certificate_authority_data": cluster["certificateAuthority"]["data"],
        "service_cidr": cluster["kubernetesNetworkConfig"]["serviceIpv4Cidr"],
        "image_id": family["image_id"],
        "image_ssm_parameter": family["ssm_parameter"],
        "wait_timeout": 300,
    }
    args.update(extra)
    return args


def security_group_tags(lab, group_id):
    group = lab.aws_client("ec2").describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    return {tag["Key"]: tag["Value"] for tag in group.get("Tags", [])}


def simulator_records(lab, instance_ids, timeout=15.0):
    """The simulator's records of the instances once it has looked at each in a whole tick begun after this call (a
    record read sooner can be from a tick before the change the test just made)."""
    deadline = time.monotonic() + timeout
    first_tick = lab.control.nodesim()["ticks"]
    while True:
        lab.control.reconcile()
        records = {instance_id: lab.control.instance(instance_id) for instance_id in instance_ids}
        if (all(records.values()) and lab.control.nodesim()["ticks"] >= first_tick + 2) or time.monotonic() > deadline:
            return records
        time.sleep(0.2)


def test_the_cluster_security_group_carries_the_eks_tag(lab):
    cluster = lab.aws_client("eks").describe_cluster(name=lab.cluster_name)["cluster"]
    tags = security_group_tags(lab, cluster["resourcesVpcConfig"]["clusterSecurityGroupId"])
    assert tags[CLUSTER_TAG] == "owned" and tags["aws:eks:cluster-name"] == lab.cluster_name


@pytest.mark.long
def test_a_stack_of_template_0_1_0_is_updated_in_place(lab, ansible, stack_name, retire):
    args = args_for(lab, stack_name)
    old = ansible.task(MODULE, dict(args, template=OLD_TEMPLATE))
    assert not old.get("failed") and old["operation"] == "create", old
    retired_parameter = retire()
    node_sg, instance_ids = old["outputs"]["node_security_group"], sorted(old["instance_ids"])
    assert security_group_tags(lab, node_sg)[CLUSTER_TAG] == "owned"  # what 0.1.0 did
    for instance_id, record in simulator_records(lab, instance_ids).items():
        assert record["load_balancer_error"].startswith(f"Multiple tagged security groups found for instance {instance_id}; "
                                                        "ensure only the k8s security group is tagged"), record
        assert sorted(record["tagged_security_groups"]) == sorted([node_sg, *args["security_groups"]])
    cloudformation = lab.aws_client("cloudformation")
    before = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]

    run = ansible.playbook([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "upgrade", MODULE: args}, {"name": "again", MODULE: args}]}])
    upgraded, again = run.result("upgrade"), run.result("again")
    assert not upgraded.get("failed"), upgraded
    assert upgraded["changed"] is True and upgraded["operation"] == "update" and upgraded["stack_status"] == "UPDATE_COMPLETE"
    assert upgraded["parameter_changes"] == {}
    assert [(change["logical_resource_id"], change["action"]) for change in upgraded["changes"]] == [("NodeSecurityGroup", "Modify")]
    outputs = upgraded["outputs"]
    assert outputs["node_security_group"] == node_sg  # tags are updated in place, the group stays
    assert (outputs["node_launch_template"], outputs["node_launch_template_version"]) == (
        old["outputs"]["node_launch_template"], old["outputs"]["node_launch_template_version"])
    assert sorted(upgraded["instance_ids"]) == instance_ids
    assert CLUSTER_TAG not in security_group_tags(lab, node_sg)
    assert upgraded["parameters"]["NodeImageIdSSMParam"] == retired_parameter and upgraded["resolved_parameters"] == {}
    after = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in after["Parameters"]} == {
        p["ParameterKey"]: p["ParameterValue"] for p in before["Parameters"]}
    assert again["changed"] is False and again["operation"] == "none" and sorted(again["instance_ids"]) == instance_ids

    records = simulator_records(lab, instance_ids)
    for record in records.values():
        assert record is not None and record["load_balancer_error"] is None, record
        assert record["tagged_security_groups"] == args["security_groups"]


def test_updates_do_not_depend_on_an_ssm_parameter(lab, ansible, stack_name, retire):
    args = args_for(lab, stack_name, desired_capacity=1)
    created = ansible.task(MODULE, args)
    assert not created.get("failed") and created["operation"] == "create", created
    assert created["outputs"]["node_image_id"] == args["image_id"] and created["resolved_parameters"] == {}
    retire()

    resized = ansible.task(MODULE, dict(args, desired_capacity=2))
    assert not resized.get("failed"), resized
    assert resized["changed"] is True and resized["parameter_changes"] == {
        "NodeAutoScalingGroupDesiredCapacity": {"before": "1", "after": "2"}}
    assert len(resized["instance_ids"]) == 2


def test_the_image_is_read_from_ssm_only_when_asked(lab, ansible, stack_name):
    family = lab.facts["windows_amis"][FAMILY]
    args = args_for(lab, stack_name)
    args.pop("image_id")
    created = ansible.task(MODULE, args, check=True, diff=True)
    assert not created.get("failed"), created
    assert f"NodeImageId: {family['image_id']}" in created["diff"][0]["after"]
    assert f"NodeImageIdSSMParam: {family['ssm_parameter']}" in created["diff"][0]["after"]

    args.pop("image_ssm_parameter")
    cloudformation = lab.aws_client("cloudformation")
    before = cloudformation.list_stacks()["StackSummaries"]
    refused = ansible.task(MODULE, args)
    assert refused.get("failed") and "image_id" in refused["msg"] and "image_ssm_parameter" in refused["msg"], refused
    assert cloudformation.list_stacks()["StackSummaries"] == before
