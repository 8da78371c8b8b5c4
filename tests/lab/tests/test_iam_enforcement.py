"""The enforcing lab's IAM policy evaluation (lab/aws/authorization.py), on the shipped policies and on small ones."""
from __future__ import annotations

import json

import pytest

from lab.aws.authorization import (HANDLER_PERMISSIONS, Request, ResourceResolver, denial_message, evaluate, handler_operations, implied_actions,
                                   on_behalf_resource, request_context, roles_passed_to_eks)
from lab.aws.naming import generated_name
from lab.least_privilege import policy_path

ACCOUNT = "123456789012"
STACK = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/lab-nodegroup-win/0b1c"
NODE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/lab-nodegroup-win-NodeInstanceRole-ABC"
TO_EC2 = {"iam:PassedToService": "ec2.amazonaws.com"}


def policy(name):
    return json.loads(policy_path(name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("action,resource,context,verdict", [
    ("cloudformation:CreateChangeSet", STACK, {}, "Allow"),
    ("cloudformation:CreateChangeSet", f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/payments/0b1c", {}, "ImplicitDeny"),
    ("iam:PassRole", NODE_ROLE, TO_EC2, "Allow"),
    ("iam:PassRole", NODE_ROLE, {}, "Allow"),  # CreateAccessEntry (EC2_WINDOWS): AWS does not say which service it names
    ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin", TO_EC2, "ImplicitDeny"),
    ("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/admin", {}, "ImplicitDeny"),
    ("ssm:GetParameter", "arn:aws:ssm:us-east-1::parameter/aws/service/ami-windows-latest/Windows_Server-2022/image_id", {}, "Allow"),
    ("ssm:GetParameter", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/secrets/db", {}, "ImplicitDeny"),
    ("ec2:DescribeImages", "*", {}, "Allow"),
    ("ec2:TerminateInstances", "*", {}, "ImplicitDeny"),
    ("iam:CreateUser", "*", {}, "ImplicitDeny"),
])
def test_the_launch_policy_scopes_what_it_grants(action, resource, context, verdict):
    assert evaluate([policy("launch")], action, resource, context) == verdict


LINUX_ROLE = f"arn:aws:iam::{ACCOUNT}:role/prod-linux-workers"
MARKER = "eksnodes.windows/cni-policy-moved-to"
OWNER = "eksnodes.windows/cni-identity-cluster"


@pytest.mark.parametrize("action,resource,context,verdict", [
    # The CNI policy, and only it, moves on and off any node role.
    ("iam:DetachRolePolicy", LINUX_ROLE, {"iam:PolicyARN": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"}, "Allow"),
    ("iam:AttachRolePolicy", LINUX_ROLE, {"iam:PolicyARN": f"arn:aws:iam::{ACCOUNT}:policy/AmazonEKS_CNI_IPv6_Policy"}, "Allow"),
    ("iam:AttachRolePolicy", LINUX_ROLE, {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}, "ImplicitDeny"),
    ("iam:AttachRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/lab-aws-node-cni", {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"},
     "ImplicitDeny"),
    # Tags: only the marker, on any role.
    ("iam:TagRole", LINUX_ROLE, {"aws:TagKeys": [MARKER]}, "Allow"),
    ("iam:UntagRole", LINUX_ROLE, {"aws:TagKeys": [MARKER]}, "Allow"),
    ("iam:TagRole", LINUX_ROLE, {"aws:TagKeys": [MARKER, "team"]}, "ImplicitDeny"),
    # aws-node's role and the OIDC provider, by their names; the role created with its owner tag, and no other.
    ("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/lab-aws-node-cni", {}, "Allow"),
    ("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/lab-aws-node-cni", {"aws:TagKeys": [OWNER]}, "Allow"),
    ("iam:TagRole", f"arn:aws:iam::{ACCOUNT}:role/lab-aws-node-cni", {"aws:TagKeys": [OWNER]}, "Allow"),
    ("iam:TagRole", f"arn:aws:iam::{ACCOUNT}:role/lab-aws-node-cni", {"aws:TagKeys": [OWNER, "team"]}, "ImplicitDeny"),
    ("iam:TagRole", LINUX_ROLE, {"aws:TagKeys": [OWNER]}, "ImplicitDeny"),
    ("iam:CreateOpenIDConnectProvider", f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC", {}, "Allow"),
    ("iam:CreateOpenIDConnectProvider", f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com", {}, "ImplicitDeny"),
    ("iam:CreatePolicy", f"arn:aws:iam::{ACCOUNT}:policy/AmazonEKS_CNI_IPv6_Policy", {}, "Allow"),
    ("iam:CreatePolicy", f"arn:aws:iam::{ACCOUNT}:policy/Anything", {}, "ImplicitDeny"),
])
def test_the_launch_policy_lets_cni_identity_move_only_the_cni_policy(action, resource, context, verdict):
    assert evaluate([policy("launch")], action, resource, context) == verdict


def test_multivalued_keys_need_a_set_operator_and_calls_set_their_keys():
    tags = {"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}
    some = {"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}}
    plain = {"StringEquals": {"aws:TagKeys": "a"}}

    def allow(condition):
        return [{"Statement": [{"Effect": "Allow", "Action": "iam:TagRole", "Resource": "*", "Condition": condition}]}]

    assert evaluate(allow(tags), "iam:TagRole", LINUX_ROLE, {"aws:TagKeys": ["a", "b"]}) == "Allow"
    assert evaluate(allow(tags), "iam:TagRole", LINUX_ROLE, {"aws:TagKeys": ["a", "c"]}) == "ImplicitDeny"
    assert evaluate(allow(some), "iam:TagRole", LINUX_ROLE, {"aws:TagKeys": ["c", "a"]}) == "Allow"
    assert evaluate(allow(plain), "iam:TagRole", LINUX_ROLE, {"aws:TagKeys": ["a"]}) == "ImplicitDeny"
    tag = Request("iam", "TagRole", {"RoleName": "r", "Tags.member.1.Key": MARKER, "Tags.member.1.Value": "x", "Tags.member.2.Key": "team"}, "/", "us-east-1")
    assert request_context(tag) == {"aws:TagKeys": [MARKER, "team"], f"aws:RequestTag/{MARKER}": "x", "aws:RequestTag/team": ""}
    untag = Request("iam", "UntagRole", {"RoleName": "r", "TagKeys.member.1": MARKER}, "/", "us-east-1")
    assert request_context(untag) == {"aws:TagKeys": [MARKER]}
    detach = Request("iam", "DetachRolePolicy", {"RoleName": "r", "PolicyArn": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"}, "/", "us-east-1")
    assert request_context(detach) == {"iam:PolicyARN": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"}
    provider = Request("iam", "CreateOpenIDConnectProvider", {"Url": "https://oidc.eks.us-east-1.amazonaws.com/id/ABC"}, "/", "us-east-1")
    assert ResourceResolver(ACCOUNT).resources(provider) == [f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"]


def test_the_remove_policy_cannot_create():
    remove = [policy("remove")]
    assert evaluate(remove, "cloudformation:DeleteStack", STACK, {}) == "Allow"
    assert evaluate(remove, "cloudformation:CreateChangeSet", STACK, {}) == "ImplicitDeny"
    assert evaluate(remove, "iam:PassRole", NODE_ROLE, TO_EC2) == "ImplicitDeny"


def test_an_explicit_deny_wins_and_actions_ignore_case():
    policies = [{"Statement": [{"Effect": "Allow", "Action": "EC2:describe*", "Resource": "*"}]},
                {"Statement": {"Effect": "Deny", "Action": "ec2:DescribeImages", "Resource": "*"}}]
    assert evaluate(policies, "ec2:DescribeInstances", "*", {}) == "Allow"
    assert evaluate(policies, "ec2:DescribeImages", "*", {}) == "Deny"
    assert evaluate([{"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}], "iam:GetRole", "*", {}) == "ImplicitDeny"


def test_a_condition_on_a_key_the_request_lacks_does_not_hold():
    statement = {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*", "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}}
    assert evaluate([{"Statement": [statement]}], "iam:PassRole", NODE_ROLE, {}) == "ImplicitDeny"


def test_denial_messages_are_aws():
    assert denial_message(f"arn:aws:iam::{ACCOUNT}:user/u", "iam:CreateRole", NODE_ROLE, "ImplicitDeny") == (
        f"User: arn:aws:iam::{ACCOUNT}:user/u is not authorized to perform: iam:CreateRole on resource: {NODE_ROLE} "
        "because no identity-based policy allows the iam:CreateRole action")
    assert denial_message("arn:aws:iam::1:user/u", "ec2:DescribeImages", "*", "Deny") == (
        "User: arn:aws:iam::1:user/u is not authorized to perform: ec2:DescribeImages with an explicit deny in an identity-based policy")


def test_cloudformation_operations_follow_the_template_change():
    old = {"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {"Path": "/"}},
                         "Group": {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {"MinSize": "1"}}}}
    new = {"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {"Path": "/"}},
                         "Group": {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {"MinSize": "2"}},
                         "Profile": {"Type": "AWS::IAM::InstanceProfile", "Properties": {}}}}
    assert handler_operations(old, new) == [("Group", "AWS::AutoScaling::AutoScalingGroup", "update"),
                                            ("Profile", "AWS::IAM::InstanceProfile", "create")]
    assert sorted(handler_operations(old, None)) == [("Group", "AWS::AutoScaling::AutoScalingGroup", "delete"), ("Role", "AWS::IAM::Role", "delete")]


def test_every_handler_permission_of_the_template_is_in_the_launch_policy():
    launch = [policy("launch")]
    # The template's logical ids: the policies scope the IAM resources by the names CloudFormation makes of them.
    logical_ids = {"AWS::IAM::Role": "NodeInstanceRole", "AWS::IAM::InstanceProfile": "NodeInstanceProfile", "AWS::AutoScaling::AutoScalingGroup": "NodeGroup"}
    for kind, operations in HANDLER_PERMISSIONS.items():
        for actions in operations.values():
            for action in actions:
                logical = logical_ids.get(kind, "Logical")
                resource = NODE_ROLE if action == "iam:PassRole" else on_behalf_resource(action, "lab-nodegroup-win", logical, "us-east-1", ACCOUNT)
                assert evaluate(launch, action, resource, TO_EC2 if action == "iam:PassRole" else {}) == "Allow", (kind, action, resource)


def test_an_enforcing_lab_in_api_mode_maps_the_users_by_access_entry_and_refuses_the_rest(lab_factory):
    import boto3  # pylint: disable=import-outside-toplevel
    from botocore.exceptions import ClientError  # pylint: disable=import-outside-toplevel
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    from kubernetes.client.rest import ApiException  # pylint: disable=import-outside-toplevel

    from lab.kubeapi import mint_eks_token  # pylint: disable=import-outside-toplevel

    lab = lab_factory(enforce_iam=True, auth_mode="API")
    user = lab.info["iam"]["users"]["launch"]
    entry = lab.aws_client("eks").describe_access_entry(clusterName="lab", principalArn=user["arn"])["accessEntry"]
    assert entry["kubernetesGroups"] == ["eksnodes:operators"]

    session = boto3.Session(aws_access_key_id=user["access_key_id"], aws_secret_access_key=user["secret_access_key"], region_name=lab.region)
    ec2 = session.client("ec2", endpoint_url=lab.info["aws"]["url"])
    assert ec2.describe_images(ImageIds=[lab.facts["linux_ami_id"]])["Images"]
    instance = lab.facts["linux_instance_id"]
    with pytest.raises(ClientError) as refused:
        ec2.terminate_instances(InstanceIds=[instance])
    assert refused.value.response["Error"]["Code"] == "UnauthorizedOperation"
    assert refused.value.response["Error"]["Message"] == (
        f"You are not authorized to perform this operation. User: {user['arn']} is not authorized to perform: ec2:TerminateInstances "
        "because no identity-based policy allows the ec2:TerminateInstances action")
    state = lab.aws_client("ec2").describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state == "running"

    configuration = client.Configuration()
    configuration.host = lab.info["kube"]["url"]
    configuration.ssl_ca_cert = lab.info["kube"]["ca_file"]
    configuration.api_key = {"authorization": f"Bearer {mint_eks_token(session.client('sts', endpoint_url=lab.info['aws']['url']), 'lab')}"}
    core = client.CoreV1Api(client.ApiClient(configuration))
    node = lab.facts["linux_node_name"]
    assert node in [n.metadata.name for n in core.list_node().items]
    with pytest.raises(ApiException) as forbidden:
        core.delete_node(node)
    assert forbidden.value.status == 403
    assert json.loads(forbidden.value.body)["message"] == (
        f'nodes "{node}" is forbidden: User "eksnodes-launch" cannot delete resource "nodes" in API group "" at the cluster scope')
    assert client.CoreV1Api(lab.kube_api_client()).read_node(node).metadata.deletion_timestamp is None


def test_eks_calls_that_hand_a_role_to_pod_identity_need_pass_role():
    role = f"arn:aws:iam::{ACCOUNT}:role/lab-aws-node-cni"
    create = Request("eks", "CreatePodIdentityAssociation", {}, "/clusters/lab/pod-identity-associations", "us-east-1")
    assert roles_passed_to_eks(create, json.dumps({"namespace": "kube-system", "serviceAccount": "aws-node", "roleArn": role}).encode()) == [role]
    addon = Request("eks", "UpdateAddon", {}, "/clusters/lab/addons/vpc-cni/update", "us-east-1")
    assert roles_passed_to_eks(addon, json.dumps({"podIdentityAssociations": [{"serviceAccount": "aws-node", "roleArn": role}]}).encode()) == [role]
    assert roles_passed_to_eks(addon, json.dumps({"serviceAccountRoleArn": role}).encode()) == []
    assert evaluate([policy("launch")], "iam:PassRole", role, {}) == "Allow"
    assert evaluate([policy("launch")], "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin", {}) == "ImplicitDeny"


def test_an_ec2_access_entry_needs_pass_role_on_its_node_role():
    create = Request("eks", "CreateAccessEntry", {}, "/clusters/lab/access-entries", "us-east-1")
    for entry_type in ("EC2_WINDOWS", "EC2_LINUX"):
        assert roles_passed_to_eks(create, json.dumps({"principalArn": NODE_ROLE, "type": entry_type}).encode()) == [NODE_ROLE]
    assert roles_passed_to_eks(create, json.dumps({"principalArn": NODE_ROLE, "type": "STANDARD"}).encode()) == []
    assert roles_passed_to_eks(create, json.dumps({"principalArn": NODE_ROLE}).encode()) == []


def test_cloudformation_cuts_a_generated_role_name_to_iam_s_64_characters():
    assert generated_name("AWS::IAM::Role", "ChineseboostAnalyticsStack", "RainlyticsSummariesJobFunction", "UjecjFhpdr1d") == (
        "ChineseboostAnalyticsStac-RainlyticsSummariesJobFun-UjecjFhpdr1d")
    assert generated_name("AWS::IAM::Role", "lab-nodegroup-win", "NodeInstanceRole", "UjecjFhpdr1d") == "lab-nodegroup-win-NodeInstanceRole-UjecjFhpdr1d"
    # A cluster name of 26 characters: the node role keeps 34 characters of the stack's name, not "-nodegroup-".
    stack = "payments-prod-eu-west-1-k8s-nodegroup-windows"
    role = on_behalf_resource("iam:CreateRole", stack, "NodeInstanceRole", "us-east-1", ACCOUNT)
    assert role == f"arn:aws:iam::{ACCOUNT}:role/payments-prod-eu-west-1-k8s-nodegr-NodeInstanceRole-LABSUFFIX000"
    profile = on_behalf_resource("iam:CreateInstanceProfile", stack, "NodeInstanceProfile", "us-east-1", ACCOUNT)
    assert profile == f"arn:aws:iam::{ACCOUNT}:instance-profile/{stack}-NodeInstanceProfile-LABSUFFIX000"
    for playbook in ("launch", "upgrade", "remove"):
        for action in ("iam:CreateRole", "iam:DeleteRole", "iam:PassRole") if playbook != "remove" else ("iam:DeleteRole",):
            assert evaluate([policy(playbook)], action, role, {}) == "Allow", (playbook, action)


def test_creating_a_role_with_tags_needs_tag_role_with_the_same_keys():
    """AWS: to create a role with tags, you must have iam:TagRole as well as iam:CreateRole, which both see the tags
    (aws:TagKeys, aws:RequestTag/<key>); without tags, CreateRole alone."""
    owner = "eksnodes.windows/cni-identity-cluster"
    cluster = f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/lab"
    tagged = Request("iam", "CreateRole", {"RoleName": "lab-aws-node-cni", "Tags.member.1.Key": owner, "Tags.member.1.Value": cluster},
                     "/", "us-east-1")
    assert implied_actions(tagged) == ["iam:TagRole"]
    assert request_context(tagged) == {"aws:TagKeys": [owner], f"aws:RequestTag/{owner}": cluster}
    plain = Request("iam", "CreateRole", {"RoleName": "lab-aws-node-cni"}, "/", "us-east-1")
    assert implied_actions(plain) == [] and request_context(plain) == {}
    many = Request("iam", "CreateRole", {"RoleName": "r", **{f"Tags.member.{n}.Key": f"k{n}" for n in (1, 2, 10)}}, "/", "us-east-1")
    assert request_context(many)["aws:TagKeys"] == ["k1", "k2", "k10"]
    assert implied_actions(Request("iam", "TagRole", {"RoleName": "r", "Tags.member.1.Key": owner}, "/", "us-east-1")) == []


def test_an_enforcing_lab_refuses_a_tagged_create_role_without_tag_role(lab_factory):
    import boto3  # pylint: disable=import-outside-toplevel
    from botocore.exceptions import ClientError  # pylint: disable=import-outside-toplevel

    lab = lab_factory(enforce_iam=True)
    iam = lab.aws_client("iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
                                                                "Action": ["sts:AssumeRole", "sts:TagSession"]}]})
    iam.create_user(UserName="creator")
    iam.put_user_policy(UserName="creator", PolicyName="create", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:CreateRole", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="creator")["AccessKey"]
    session = boto3.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=lab.region)
    creator = session.client("iam", endpoint_url=lab.info["aws"]["url"])
    with pytest.raises(ClientError) as refused:
        creator.create_role(RoleName="tagged", AssumeRolePolicyDocument=trust, Tags=[{"Key": "team", "Value": "app"}])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert "is not authorized to perform: iam:TagRole on resource: arn:aws:iam::" in refused.value.response["Error"]["Message"]
    assert "tagged" not in [r["RoleName"] for r in iam.list_roles()["Roles"]]
    creator.create_role(RoleName="untagged", AssumeRolePolicyDocument=trust)

    iam.put_user_policy(UserName="creator", PolicyName="tag", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:TagRole", "Resource": "*",
                                                 "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}}]}))
    creator.create_role(RoleName="tagged", AssumeRolePolicyDocument=trust, Tags=[{"Key": "team", "Value": "app"}])
    assert iam.get_role(RoleName="tagged")["Role"]["Tags"] == [{"Key": "team", "Value": "app"}]
    with pytest.raises(ClientError):
        creator.create_role(RoleName="other", AssumeRolePolicyDocument=trust, Tags=[{"Key": "owner", "Value": "me"}])
