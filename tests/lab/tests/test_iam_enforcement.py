"""The enforcing lab's IAM policy evaluation (lab/aws/authorization.py), on the shipped policies and on small ones."""
from __future__ import annotations

import json

import pytest

from lab.aws.authorization import HANDLER_PERMISSIONS, denial_message, evaluate, handler_operations, on_behalf_resource
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
    ("iam:PassRole", NODE_ROLE, {"iam:PassedToService": "lambda.amazonaws.com"}, "ImplicitDeny"),
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
    for kind, operations in HANDLER_PERMISSIONS.items():
        for actions in operations.values():
            for action in actions:
                resource = NODE_ROLE if action == "iam:PassRole" else on_behalf_resource(action, "lab-nodegroup-win", "Logical", "us-east-1", ACCOUNT)
                assert evaluate(launch, action, resource, TO_EC2 if action == "iam:PassRole" else {}) == "Allow", (kind, action, resource)
