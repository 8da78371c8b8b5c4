"""eksnodes.windows.nodegroup_stack against the lab's CloudFormation.

Each test works on stacks of its own (unique names) and deletes them, so the tests of one xdist worker
can share the lab.
"""

import base64
import uuid

import pytest

from integration_helpers import NODE_INPUT_READS

MODULE = "eksnodes.windows.nodegroup_stack"
FAMILY = "Windows_Server-2022-English-Core-EKS_Optimized-1.31"
NODE_POLICIES = ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonSSMManagedInstanceCore"]


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def stack_args(lab, name, **extra):
    facts = lab.facts
    args = {
        "stack_name": f"lab-nodegroup-{name}",
        "cluster_name": lab.cluster_name,
        "nodegroup_name": name,
        "control_plane_security_group": facts["control_plane_sg_id"],
        "vpc_id": facts["vpc_id"],
        "security_groups": [facts["linux_node_sg_id"]],
        "subnets": facts["private_subnet_ids"],
        "image_id": facts["windows_amis"][FAMILY]["image_id"],
        "wait_timeout": 300,
    }
    args.update(extra)
    return args


def play(*tasks):
    return [{"hosts": "localhost", "gather_facts": False, "tasks": list(tasks)}]


def task(name, args, **options):
    return {"name": name, MODULE: args, **options}


@pytest.fixture
def cleanup(lab):
    """Stacks to delete after the test, whatever happened."""
    names = []
    yield names
    client = lab.aws_client("cloudformation")
    for name in names:
        client.delete_stack(StackName=name)


def launch_template_data(lab, template_id, version):
    versions = lab.aws_client("ec2").describe_launch_template_versions(LaunchTemplateId=template_id, Versions=[str(version)])
    return versions["LaunchTemplateVersions"][0]["LaunchTemplateData"]


def test_create_noop_update_and_delete(lab, ansible, cleanup):
    name = unique("life")
    amis = lab.facts["windows_amis"][FAMILY]
    args = stack_args(lab, name, image_ssm_parameter=amis["ssm_parameter"])
    del args["image_id"]  # read from the SSM parameter by the module
    cleanup.append(args["stack_name"])
    older_ami = amis["images"][0]["image_id"]
    lab.control.set_nodesim(paused=True)  # the throttling faults below are for the module alone
    try:
        run = ansible.playbook(play(
            task("create", args),
            {"name": "arm throttling", "ansible.builtin.set_fact": {"armed": True}},
            task("rerun", args),
        ), timeout=600)
    finally:
        lab.control.set_nodesim(paused=False)
    created = run.result("create")
    assert not created.get("failed"), created
    assert created["changed"] is True and created["operation"] == "create" and created["stack_status"] == "CREATE_COMPLETE"
    outputs = created["outputs"]
    assert set(outputs) == {"node_instance_role_arn", "node_instance_role_name", "node_instance_profile_arn", "node_security_group",
                            "node_security_groups", "node_autoscaling_group", "node_launch_template", "node_launch_template_version",
                            "node_image_id"}
    assert outputs["node_instance_role_arn"].startswith("arn:aws:iam::123456789012:role/") and "/" not in outputs["node_instance_role_arn"].split(":role/")[1]
    assert outputs["node_security_groups"] == [outputs["node_security_group"], lab.facts["linux_node_sg_id"]]
    assert outputs["node_image_id"] == amis["image_id"]  # read from image_ssm_parameter by the module, not by CloudFormation
    assert (created["parameters"]["NodeImageId"], created["parameters"]["NodeImageIdSSMParam"]) == (amis["image_id"], amis["ssm_parameter"])
    assert len(created["instance_ids"]) == 2 and created["resolved_parameters"] == {}
    # the node group's own security group is not tagged for the cluster: the Linux nodes' group given here is
    node_sg = lab.aws_client("ec2").describe_security_groups(GroupIds=[outputs["node_security_group"]])["SecurityGroups"][0]
    assert "kubernetes.io/cluster/lab" not in {tag["Key"] for tag in node_sg.get("Tags", [])}
    assert created["parameters"]["DnsClusterIp"] == "172.20.0.10"  # endpoint, CA and service CIDR read from the cluster
    resources = {event["logical_resource_id"] for event in created["events"] if event["resource_status"] == "CREATE_COMPLETE"}
    assert {"NodeInstanceRole", "NodeInstanceProfile", "NodeSecurityGroup", "NodeLaunchTemplate", "NodeGroup"} <= resources

    # secure defaults, as launched
    data = launch_template_data(lab, outputs["node_launch_template"], outputs["node_launch_template_version"])
    assert data["MetadataOptions"]["HttpTokens"] == "required" and data["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
    assert data["BlockDeviceMappings"] == [{"DeviceName": "/dev/sda1", "Ebs": {"DeleteOnTermination": True, "Encrypted": True,
                                                                               "VolumeSize": 50, "VolumeType": "gp3"}}]
    assert "KeyName" not in data
    script = base64.b64decode(data["UserData"]).decode()
    assert f'-EKSClusterName "lab" -APIServerEndpoint "{lab.info["kube"]["url"]}" -Base64ClusterCA "' in script
    assert '-ServiceCIDR "172.20.0.0/16" -DNSClusterIP "172.20.0.10"' in script
    iam = lab.aws_client("iam")
    attached = iam.list_attached_role_policies(RoleName=outputs["node_instance_role_name"])["AttachedPolicies"]
    assert sorted(policy["PolicyName"] for policy in attached) == sorted(NODE_POLICIES)
    instance = lab.aws_client("ec2").describe_instances(InstanceIds=created["instance_ids"][:1])["Reservations"][0]["Instances"][0]
    assert instance["IamInstanceProfile"]["Arn"] == outputs["node_instance_profile_arn"]
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    assert instance["SubnetId"] in lab.facts["private_subnet_ids"]

    rerun = run.result("rerun")
    assert not rerun.get("failed"), rerun
    assert rerun["changed"] is False and rerun["operation"] == "none" and rerun["events"] == []
    assert sorted(rerun["instance_ids"]) == sorted(created["instance_ids"])

    # a no-op survives throttling: the describe calls are retried
    lab.control.set_nodesim(paused=True)
    lab.control.aws.add_fault("cloudformation", "DescribeStacks", "Throttling", count=1)
    lab.control.aws.add_fault("autoscaling", "DescribeAutoScalingGroups", "Throttling", count=1)
    try:
        throttled = ansible.task(MODULE, args)
    finally:
        lab.control.aws.clear_faults()
        lab.control.set_nodesim(paused=False)
    assert not throttled.get("failed") and throttled["changed"] is False, throttled

    # a real update: instance type and AMI; the same group, and the same instances: the template has no rolling
    # update policy, eksnodes.windows.nodes_replace replaces them after draining them
    run = ansible.playbook(play(
        task("instance type", dict(args, instance_type="m5.xlarge")),
        task("older ami", dict(args, instance_type="m5.xlarge", image_id=older_ami)),
    ))
    bigger = run.result("instance type")
    assert not bigger.get("failed"), bigger
    assert bigger["changed"] is True and bigger["operation"] == "update" and bigger["stack_status"] == "UPDATE_COMPLETE"
    assert bigger["parameter_changes"] == {"NodeInstanceType": {"before": "m5.large", "after": "m5.xlarge"}}
    assert {change["logical_resource_id"] for change in bigger["changes"]} >= {"NodeLaunchTemplate"}
    assert bigger["outputs"]["node_autoscaling_group"] == outputs["node_autoscaling_group"]
    assert {item["instance_type"] for item in bigger["instances"]} == {"m5.large"}
    assert sorted(bigger["instance_ids"]) == sorted(created["instance_ids"])
    older = run.result("older ami")
    assert older["changed"] is True and older["outputs"]["node_image_id"] == older_ami
    image_ids = {i["ImageId"] for r in lab.aws_client("ec2").describe_instances(InstanceIds=older["instance_ids"])["Reservations"] for i in r["Instances"]}
    assert image_ids == {amis["image_id"]} and sorted(older["instance_ids"]) == sorted(created["instance_ids"])

    # delete, then delete again
    run = ansible.playbook(play(
        task("delete", {"stack_name": args["stack_name"], "state": "absent"}),
        task("delete again", {"stack_name": args["stack_name"], "state": "absent"}),
    ))
    deleted = run.result("delete")
    assert deleted["changed"] is True and deleted["operation"] == "delete" and deleted["stack_status"] == "DELETE_COMPLETE"
    assert run.result("delete again")["changed"] is False
    groups = lab.aws_client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[outputs["node_autoscaling_group"]])
    assert groups["AutoScalingGroups"] == []


def test_check_mode_and_diff(lab, ansible, cleanup):
    name = unique("check")
    args = stack_args(lab, name)
    cleanup.append(args["stack_name"])
    client = lab.aws_client("cloudformation")

    new = ansible.task(MODULE, args, check=True, diff=True)
    assert not new.get("failed"), new
    assert new["changed"] is True and new["operation"] == "create"
    assert {change["action"] for change in new["changes"]} == {"Add"} and len(new["changes"]) >= 5
    assert "NodeGroupName: " + name in new["diff"][0]["after"] and new["diff"][0]["before"] == ""
    # nothing is left behind: the stack in review is deleted with its change set
    live = [s["StackName"] for s in client.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"]
    assert args["stack_name"] not in live

    created = ansible.task(MODULE, args)
    assert created["changed"] is True, created
    update = dict(args, desired_capacity=1, min_size=0, tags={"team": "windows"})
    checked = ansible.task(MODULE, update, check=True, diff=True)
    assert not checked.get("failed"), checked
    assert checked["changed"] is True and checked["operation"] == "update" and checked["change_set_id"] is None
    assert checked["parameter_changes"] == {
        "NodeAutoScalingGroupDesiredCapacity": {"before": "2", "after": "1"},
        "NodeAutoScalingGroupMinSize": {"before": "1", "after": "0"},
    }
    parameters, resources = checked["diff"]
    assert "-NodeAutoScalingGroupDesiredCapacity: 2\n+NodeAutoScalingGroupDesiredCapacity: 1" not in parameters["after"]  # a diff, not a patch
    assert "NodeAutoScalingGroupDesiredCapacity: 2\n" in parameters["before"] and "NodeAutoScalingGroupDesiredCapacity: 1\n" in parameters["after"]
    assert "tag:team: windows\n" in parameters["after"] and "tag:team" not in parameters["before"]
    assert "CertificateAuthorityData: LS0t" in parameters["after"] and "characters, sha256" in parameters["after"]
    assert "NodeGroup (AWS::AutoScaling::AutoScalingGroup) modified" in resources["after"]
    # nothing changed, and no change set is left
    stack = client.describe_stacks(StackName=args["stack_name"])["Stacks"][0]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["NodeAutoScalingGroupDesiredCapacity"] == "2"
    pending = [item for item in client.list_change_sets(StackName=args["stack_name"])["Summaries"] if item["ExecutionStatus"] == "AVAILABLE"]
    assert pending == []

    without_diff = ansible.task(MODULE, update, check=True)
    assert without_diff["changed"] is True and "diff" not in without_diff


def test_failed_create_reports_the_root_cause_and_recovers_only_when_asked(lab, ansible, cleanup):
    name = unique("fail")
    args = stack_args(lab, name)
    cleanup.append(args["stack_name"])
    reason = "You have requested more vCPU capacity than your current vCPU limit of 0 allows for the instance bucket"
    lab.control.aws.fail_next_stack_create(args["stack_name"], logical_id="NodeGroup", reason=reason)
    run = ansible.playbook(play(
        task("create", args, ignore_errors=True),
        task("again", args, ignore_errors=True),
        task("recover in check mode", dict(args, recover_failed=True), check_mode=True),
        task("recover", dict(args, recover_failed=True)),
    ))
    failed = run.result("create")
    assert failed["failed"] and failed["changed"] is True and failed["stack_status"] == "ROLLBACK_COMPLETE"
    assert failed["msg"] == (f"Stack {args['stack_name']}: create failed (ROLLBACK_COMPLETE). Root cause: NodeGroup "
                             f"(AWS::AutoScaling::AutoScalingGroup) CREATE_FAILED: {reason}")
    assert failed["root_cause"]["logical_resource_id"] == "NodeGroup" and failed["root_cause"]["resource_status_reason"] == reason
    assert failed["failure_events"][0] == failed["root_cause"]
    assert {"logical_resource_id", "resource_type", "resource_status", "resource_status_reason", "timestamp"} <= set(failed["failure_events"][0])
    assert any(event["resource_status"] == "ROLLBACK_COMPLETE" for event in failed["events"])

    again = run.result("again")
    assert again["failed"] and again["changed"] is False
    assert again["msg"].startswith(f"Stack {args['stack_name']} is ROLLBACK_COMPLETE after an earlier failed operation (root cause: "
                                   f"NodeGroup (AWS::AutoScaling::AutoScalingGroup) CREATE_FAILED: {reason})")
    assert "set recover_failed=true to delete it and create it again" in again["msg"]

    planned = run.result("recover in check mode")
    assert planned["changed"] is True and planned["operation"] == "recreate" and planned["stack_status"] == "ROLLBACK_COMPLETE"

    recovered = run.result("recover")
    assert not recovered.get("failed"), recovered
    assert recovered["changed"] is True and recovered["operation"] == "recreate" and recovered["stack_status"] == "CREATE_COMPLETE"
    assert len(recovered["instance_ids"]) == 2
    assert any("was deleted and is created again" in warning for warning in recovered.get("warnings", []))


def stack_parameter(lab, stack_name, key):
    stack = lab.aws_client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    return next(p["ParameterValue"] for p in stack["Parameters"] if p["ParameterKey"] == key)


def test_subnets_are_chosen_for_a_new_stack_then_kept_and_inputs_are_read_only_when_written(lab, ansible, cleanup):
    name = unique("subn")
    facts = lab.facts
    args = stack_args(lab, name, subnet_candidates=facts["private_subnet_ids"] + facts["public_subnet_ids"])
    del args["subnets"]
    cleanup.append(args["stack_name"])
    ec2 = lab.aws_client("ec2")
    moved = facts["private_subnet_ids"][0]
    association = next(a["RouteTableAssociationId"] for table in ec2.describe_route_tables(RouteTableIds=[facts["private_route_table_id"]])[
        "RouteTables"] for a in table["Associations"] if a.get("SubnetId") == moved)
    created = ansible.task(MODULE, args)
    assert not created.get("failed"), created
    assert sorted(created["subnets"]) == sorted(facts["private_subnet_ids"])
    assert created["input_checks"] == {"subnets": "checked", "instance_type": "checked"}

    # A private subnet becomes public: the nodes stay where they are, and neither input is read again.
    association = ec2.replace_route_table_association(AssociationId=association, RouteTableId=facts["public_route_table_id"])["NewAssociationId"]
    try:
        for action in NODE_INPUT_READS:
            lab.control.aws_fault_share(0.0, service="ec2", action=action)
        rerun = ansible.task(MODULE, args)
        seen = {rule["action"]: rule["seen"] for rule in lab.control.aws.share_faults()}
        # Given again (in another order), the same subnets are not read either; another instance type is checked.
        given = ansible.task(MODULE, dict(args, subnets=list(reversed(facts["private_subnet_ids"]))), check=True)
        other_type = ansible.task(MODULE, dict(args, instance_type="m5.xlarge"), check=True)
        # A subnet that does not exist is refused before any change.
        before = lab.aws_client("cloudformation").describe_stacks(StackName=args["stack_name"])["Stacks"][0]
        refused = ansible.task(MODULE, dict(args, subnets=facts["private_subnet_ids"][:1] + ["subnet-0000000000000dead"]))
        after = lab.aws_client("cloudformation").describe_stacks(StackName=args["stack_name"])["Stacks"][0]
    finally:
        lab.control.aws.clear_faults()
        ec2.replace_route_table_association(AssociationId=association, RouteTableId=facts["private_route_table_id"])
    assert not rerun.get("failed"), rerun
    assert (rerun["changed"], rerun["operation"], rerun["input_checks"]) == (False, "none", {"subnets": "kept", "instance_type": "unchanged"})
    assert sorted(rerun["subnets"]) == sorted(facts["private_subnet_ids"]) == sorted(stack_parameter(lab, args["stack_name"], "Subnets").split(","))
    assert seen == {action: 0 for action in NODE_INPUT_READS}, seen
    assert (given["operation"], given["input_checks"]) == ("none", {"subnets": "unchanged", "instance_type": "unchanged"})
    assert (other_type["operation"], other_type["input_checks"]) == ("update", {"subnets": "kept", "instance_type": "checked"})
    assert refused["failed"] and "subnets: subnet subnet-0000000000000dead does not exist" in refused["msg"], refused
    assert refused["msg"].endswith("Nothing was changed.")
    assert after == before


def test_invalid_options_fail_before_any_aws_call(lab, ansible):
    bad = stack_args(lab, "bad", subnets=["private-a"], security_groups=[], desired_capacity=4, max_size=3, volume_size=30,
                     bootstrap_arguments="-EKSClusterName other", api_server_endpoint="https://x")
    lab.control.set_nodesim(paused=True)
    lab.control.aws.add_fault("cloudformation", "*", "AccessDenied", count=1)
    lab.control.aws.add_fault("eks", "*", "AccessDeniedException", count=1)
    try:
        result = ansible.task(MODULE, bad)
        faults = lab.control.aws.faults()
    finally:
        lab.control.aws.clear_faults()
        lab.control.set_nodesim(paused=False)
    assert result["failed"]
    assert result["msg"].startswith("Invalid options: ")
    for expected in (
        "security_groups is required with the collection's template",
        "desired_capacity (4) must be at most max_size (3)",
        "volume_size (30) is below 50 GiB",
        "subnets[0] 'private-a' is not a subnet ID (subnet-...): give the ID, not a name",
        "api_server_endpoint and certificate_authority_data go together",
        "bootstrap_arguments must not set -EKSClusterName",
    ):
        assert expected in result["msg"], expected
    assert len(result["errors"]) == 6
    assert [rule["count"] for rule in faults] == [1, 1]  # no AWS call was made


def test_another_template_with_its_own_parameters(lab, ansible, cleanup):
    name = unique("own")
    stack_name = f"lab-template-{name}"
    cleanup.append(stack_name)
    template = "\n".join([
        'AWSTemplateFormatVersion: "2010-09-09"',
        "Parameters:",
        "  ClusterName: {Type: String}",
        "  VpcId: {Type: 'AWS::EC2::VPC::Id'}",
        "  Subnets: {Type: 'List<AWS::EC2::Subnet::Id>'}",
        "  Purpose: {Type: String, Default: nodes}",
        "Resources:",
        "  NodeSecurityGroup:",
        "    Type: AWS::EC2::SecurityGroup",
        "    Properties:",
        "      GroupDescription: !Sub '${ClusterName} ${Purpose}'",
        "      VpcId: !Ref VpcId",
        "Outputs:",
        "  NodeSecurityGroup: {Value: !Ref NodeSecurityGroup}",
        "  SubnetCount: {Value: !Join [',', !Ref Subnets]}",
        "",
    ])
    args = {"stack_name": stack_name, "template": template, "cluster_name": lab.cluster_name, "vpc_id": lab.facts["vpc_id"],
            "subnets": list(reversed(lab.facts["private_subnet_ids"])), "metadata_hop_limit": 1,
            "template_parameters": {"Purpose": "windows"}, "wait_timeout": 120}
    run = ansible.playbook(play(
        task("create", args),
        task("rerun", args),
        task("same template, a comment more", dict(args, template=template + "# reviewed\n")),
        task("unknown parameter", dict(args, template_parameters={"Nope": 1}), ignore_errors=True),
    ))
    created = run.result("create")
    assert not created.get("failed"), created
    assert created["outputs"]["node_security_group"].startswith("sg-") and created["outputs"]["subnet_count"]
    assert created["parameters"]["Purpose"] == "windows"
    assert any("metadata_hop_limit" in warning for warning in created["warnings"])
    assert run.result("rerun")["changed"] is False and run.result("rerun")["operation"] == "none"
    # the text differs, so CloudFormation is asked; its change set is empty, and that is no change
    commented = run.result("same template, a comment more")
    assert not commented.get("failed"), commented
    assert commented["changed"] is False and commented["operation"] == "none"
    unknown = run.result("unknown parameter")
    assert unknown["failed"] and unknown["msg"] == "template_parameters Nope: the template declares no such parameter"
