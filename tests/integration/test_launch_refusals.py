"""The launch playbook refuses bad inputs, and what it can read and find wrong, before its first change.

Each refused run is compared with the lab's state before it: aws-auth and amazon-vpc-cni (data and
resourceVersion), the stacks, the instances, the IAM roles and the access entries, byte for byte.
Windows IPAM is off before each run, so a run that enabled it before refusing would show.
"""

import contextlib
import json
import uuid

import pytest
import yaml

from integration_helpers import AnsibleRunner, settled_snapshot, snapshot

BASE_VARS = {"cluster_name": "lab", "node_type": "m5.large", "nodes": 2, "node_ami_family": "WindowsServer2022CoreContainer"}
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


@contextlib.contextmanager
def windows_ipam_off(lab):
    """Windows IPAM off during the block (then as it was), so that a run that enabled it before refusing shows."""
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    core = client.CoreV1Api(lab.kube_api_client())
    before = core.read_namespaced_config_map("amazon-vpc-cni", "kube-system").data["enable-windows-ipam"]
    core.patch_namespaced_config_map("amazon-vpc-cni", "kube-system", {"data": {"enable-windows-ipam": "false"}})
    try:
        yield core
    finally:
        core.patch_namespaced_config_map("amazon-vpc-cni", "kube-system", {"data": {"enable-windows-ipam": before}})


@pytest.fixture
def ipam_off(lab):
    with windows_ipam_off(lab) as core:
        yield core


@pytest.fixture
def mixed_ipam_off(mixed_lab):  # pylint: disable=redefined-outer-name
    with windows_ipam_off(mixed_lab) as core:
        yield core


def refused(lab, extra_vars, *fragments):
    before = settled_snapshot(lab)
    result = AnsibleRunner(lab.env).playbook("eksnodes.windows.launch", extra_vars={**BASE_VARS, **extra_vars}, callback="default")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    for fragment in fragments:
        assert fragment in output, f"{fragment!r} not in:\n{output[-3000:]}"
    assert snapshot(lab) == before, "a refused launch changed the lab"
    return output


def linux_image(lab):
    return lab.facts["linux_ami_id"]


CASES = {
    "nodes_min above nodes_max": ({"nodes_min": 3, "nodes_max": 2}, ["nodes_min (3) is above nodes_max (2)"]),
    "nodes above nodes_max": ({"nodes": 4, "nodes_max": 3}, ["nodes (4) is above nodes_max (3)"]),
    "negative nodes": ({"nodes": -1, "nodes_min": 0}, ["nodes (-1) must be 0 or more"]),
    "nodes as a word": ({"nodes": "two"}, ["nodes", "two"]),
    "nodes as a fraction": ({"nodes": "2.5"}, ["nodes", "2.5"]),
    "small volume": ({"node_volume_size": 20}, ["node_volume_size (20) is below 50 GiB"]),
    "family typo": ({"node_ami_family": "WindowsServer2022CoreContainr"}, ["node_ami_family", "WindowsServer2022CoreContainr"]),
    "family EKS never published": ({"node_ami_family": "WindowsServer2016FullContainer"}, ["node_ami_family", "WindowsServer2016FullContainer"]),
    "node group name that makes no stack name": ({"nodegroup_name": "Win_NG"}, ["nodegroup_name Win_NG"]),
    "bootstrap arguments set the cluster": ({"bootstrap_arguments": "-EKSClusterName other"},
                                            ["bootstrap_arguments must not set -EKSClusterName"]),
    "disable_pod_imds that is no boolean": ({"disable_pod_imds": "sometimes"}, ["disable_pod_imds", "sometimes"]),
    "instance type that does not exist": ({"node_type": "m5.nope"}, [
        "instance_type: the instance type m5.nope does not exist", "(node_type)"]),
    "subnet that does not exist": ({"subnets": ["subnet-0000000000000dead"]}, [
        "subnets: subnet subnet-0000000000000dead does not exist in us-east-1", "subnets in the launch playbook"]),
    "AMI that does not exist": ({"nodegroup_ami_id": "ami-0000000000000dead"}, ["nodegroup_ami_id", "ami-0000000000000dead does not exist"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_before_any_change(lab, ipam_off, case):  # pylint: disable=unused-argument
    extra_vars, fragments = CASES[case]
    output = refused(lab, {"nodegroup_name": "refused", **extra_vars}, *fragments)
    assert "windows_release" not in output, "the message names a variable the user never set"


def test_a_linux_image_is_refused_before_any_change(lab, ipam_off):  # pylint: disable=unused-argument
    image = linux_image(lab)
    refused(lab, {"nodegroup_name": "refused", "nodegroup_ami_id": image}, "nodegroup_ami_id", f"{image}", "is not a Windows image")


def test_a_malformed_aws_auth_is_found_before_any_change(lab, ipam_off):
    core = ipam_off
    saved = core.read_namespaced_config_map("aws-auth", "kube-system").data
    core.patch_namespaced_config_map("aws-auth", "kube-system", {"data": {"mapRoles": "- rolearn: [unclosed\n"}})
    try:
        refused(lab, {"nodegroup_name": "refused"}, "aws-auth")
    finally:
        core.patch_namespaced_config_map("aws-auth", "kube-system", {"data": saved})


def test_access_entries_on_a_config_map_cluster_are_refused_before_any_change(lab, ipam_off):  # pylint: disable=unused-argument
    refused(lab, {"nodegroup_name": "refused", "node_auth_mechanism": "access_entry"},
            "Cluster lab is in authentication mode CONFIG_MAP, where access_entry does not authorize nodes",
            "Set node_auth_mechanism to auto")


# With access entries (API_AND_CONFIG_MAP), the node authorization step reads aws-auth and the node groups (the Linux
# node roles) and the access entries before the first change too.
def test_with_access_entries_a_malformed_aws_auth_is_found_before_any_change(mixed_lab, mixed_ipam_off):
    core = mixed_ipam_off
    saved = core.read_namespaced_config_map("aws-auth", "kube-system").data
    core.patch_namespaced_config_map("aws-auth", "kube-system", {"data": {"mapRoles": "- rolearn: [unclosed\n"}})
    try:
        output = refused(mixed_lab, {"nodegroup_name": "mal"}, "data.mapRoles of ConfigMap kube-system/aws-auth is not valid YAML",
                         "kubectl edit -n kube-system configmap/aws-auth")
        assert "changed=0" in output, output[-3000:]
    finally:
        core.patch_namespaced_config_map("aws-auth", "kube-system", {"data": saved})


@pytest.mark.usefixtures("mixed_ipam_off")
def test_with_access_entries_a_linux_role_arn_that_is_no_role_arn_is_refused_before_any_change(mixed_lab):
    output = refused(mixed_lab, {"nodegroup_name": "refused", "node_auth_linux_role_arns": ["linux-nodes"]},
                     "node_auth_linux_role_arns", "'linux-nodes' is not an IAM role ARN")
    assert "changed=0" in output, output[-3000:]


@pytest.mark.usefixtures("mixed_ipam_off")
def test_with_access_entries_a_linux_role_with_an_entry_of_another_type_is_refused_before_any_change(mixed_lab):
    iam, eks = mixed_lab.aws_client("iam"), mixed_lab.aws_client("eks")
    role = iam.create_role(RoleName=f"ops-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    eks.create_access_entry(clusterName="lab", principalArn=role, type="STANDARD")
    try:
        output = refused(mixed_lab, {"nodegroup_name": "refused", "node_auth_linux_role_arns": [role]},
                         "node_auth_linux_role_arns", f"The access entry for {role} has type STANDARD, not EC2_LINUX",
                         f"aws eks delete-access-entry --cluster-name lab --principal-arn {role}")
        assert "changed=0" in output, output[-3000:]
    finally:
        eks.delete_access_entry(clusterName="lab", principalArn=role)
        iam.delete_role(RoleName=role.rsplit("/", 1)[1])


def test_a_stack_that_is_not_ours_is_refused_before_any_change(lab, ipam_off):  # pylint: disable=unused-argument
    cloudformation = lab.aws_client("cloudformation")
    template = yaml.safe_dump({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}, "Outputs": {"TopicArn": {"Value": {"Ref": "Topic"}}}})
    cloudformation.create_stack(StackName="lab-nodegroup-foreign", TemplateBody=template, Tags=[{"Key": "team", "Value": "data"}])
    try:
        refused(lab, {"nodegroup_name": "foreign"}, "lab-nodegroup-foreign", "is not node group foreign")
        assert cloudformation.describe_stack_resources(StackName="lab-nodegroup-foreign")["StackResources"][0]["ResourceType"] == "AWS::SNS::Topic"
    finally:
        cloudformation.delete_stack(StackName="lab-nodegroup-foreign")


def aws_node_trust(lab):
    """The IRSA trust policy the collection writes for the lab's aws-node, as anyone may write it too."""
    issuer = lab.aws_client("eks").describe_cluster(name="lab")["cluster"]["identity"]["oidc"]["issuer"]
    host = issuer.split("://", 1)[1]
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": f"arn:aws:iam::{lab.facts['account_id']}:oidc-provider/{host}"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{host}:sub": "system:serviceaccount:kube-system:aws-node", f"{host}:aud": "sts.amazonaws.com"}}}]}


@pytest.mark.parametrize("trust, fragment", [
    (lambda lab: {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
     "IAM role lab-aws-node-cni exists with a trust policy that is not the one"),
    (aws_node_trust, "IAM role lab-aws-node-cni exists without the tag eksnodes.windows/cni-identity-cluster="),
], ids=["another trust policy", "the same trust policy, made by hand"])
def test_a_cni_identity_role_that_is_not_ours_is_refused_before_any_change(lab, ipam_off, trust, fragment):  # pylint: disable=unused-argument
    iam = lab.aws_client("iam")
    iam.create_role(RoleName="lab-aws-node-cni", AssumeRolePolicyDocument=json.dumps(trust(lab)))
    try:
        refused(lab, {"nodegroup_name": "refused", "cni_identity": "irsa"}, fragment, "role_name (cni_identity_role_name) to another name")
    finally:
        iam.delete_role(RoleName="lab-aws-node-cni")


def test_cni_identity_pod_identity_without_the_agent_is_refused_before_any_change(lab, ipam_off):  # pylint: disable=unused-argument
    assert "eks-pod-identity-agent" not in lab.aws_client("eks").list_addons(clusterName="lab")["addons"]
    refused(lab, {"nodegroup_name": "refused", "cni_identity": "pod_identity"}, "has no eks-pod-identity-agent add-on",
            "aws eks create-addon --cluster-name lab --addon-name eks-pod-identity-agent")


def test_check_diff_on_a_new_node_group_shows_the_whole_plan(lab, ipam_off):  # pylint: disable=unused-argument
    # Check mode creates and deletes a change set: a deleted stack's record may stay, as on AWS.
    before = settled_snapshot(lab, deleted_stacks=False)
    result = AnsibleRunner(lab.env).playbook("eksnodes.windows.launch", extra_vars={**BASE_VARS, "nodegroup_name": "planned"},
                                             check=True, diff=True, callback="default")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "+NodeGroupName: planned" in result.stdout, "the stack to create is not shown"
    assert "lab-nodegroup-planned-NodeInstanceRole-PLANNED" in result.stdout, "the aws-auth entry to add is not shown"
    assert "enable-windows-ipam" in result.stdout, "the IPAM change is not shown"
    assert snapshot(lab, deleted_stacks=False) == before, "check mode changed the lab"


REMOVE_CASES = [
    ({"wait_timeout": 0}, ["wait_timeout (0) must be 1 second or more"]),
    ({"wait_timeout": "soon"}, ["wait_timeout", "soon"]),
    ({"parallel": 0}, ["parallel (0) must be 1 or more"]),
    ({"drain": "maybe"}, ["drain", "maybe"]),
    ({"stack_name": "keep_it"}, ["The stack name keep_it"]),
]


def test_remove_refuses_bad_input_and_a_malformed_aws_auth_before_any_change(lab_factory):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    lab = lab_factory(join_delay=1)
    ansible = AnsibleRunner(lab.env)
    launched = ansible.playbook("eksnodes.windows.launch", extra_vars={**BASE_VARS, "nodegroup_name": "keep"}, callback="default")
    assert launched.returncode == 0, launched.stdout[-4000:]

    def refused_remove(extra_vars, *fragments):
        before = snapshot(lab)
        result = ansible.playbook("eksnodes.windows.remove", extra_vars={"cluster_name": "lab", "nodegroup_name": "keep", **extra_vars},
                                  callback="default")
        output = result.stdout + result.stderr
        assert result.returncode != 0, output[-3000:]
        for fragment in fragments:
            assert fragment in output, f"{fragment!r} not in:\n{output[-3000:]}"
        assert snapshot(lab) == before, f"a refused remove ({extra_vars}) changed the lab"

    for extra_vars, fragments in REMOVE_CASES:
        refused_remove(extra_vars, *fragments)

    core = client.CoreV1Api(lab.kube_api_client())
    core.patch_namespaced_config_map("aws-auth", "kube-system", {"data": {"mapUsers": "- userarn: [unclosed\n"}})
    refused_remove({}, "aws-auth")
