"""eksnodes.windows.access_entry against the lab's EKS API, in each authentication mode."""

import json
import uuid

import pytest

from integration_helpers import AnsibleRunner

MODULE = "eksnodes.windows.access_entry"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
EDIT = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"


@pytest.fixture(scope="module")
def mixed_ansible(mixed_lab):  # pylint: disable=redefined-outer-name
    return AnsibleRunner(mixed_lab.env)


def make_role(lab, prefix, path="/"):
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    return lab.aws_client("iam").create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]


def entry_type(lab, arn):
    try:
        return lab.aws_client("eks").describe_access_entry(clusterName=lab.cluster_name, principalArn=arn)["accessEntry"]["type"]
    except lab.aws_client("eks").exceptions.ResourceNotFoundException:
        return None


def run(ansible, *steps, **kwargs):
    """Several tasks of the module in one playbook run: {name: result}. A step is (name, args[, task keywords])."""
    tasks = [dict({"name": step[0], MODULE: step[1], "ignore_errors": True}, **(step[2] if len(step) > 2 else {})) for step in steps]
    result = ansible.playbook([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}], **kwargs)
    return {step[0]: result.result(step[0]) for step in steps}


def test_config_map_mode_has_no_access_entries(lab, ansible):
    role = f"arn:aws:iam::{lab.facts['account_id']}:role/windows-nodes"
    results = run(ansible, ("present", {"cluster_name": lab.cluster_name, "principal_arn": role, "type": "EC2_WINDOWS"}),
                  ("absent", {"cluster_name": lab.cluster_name, "principal_arn": role, "state": "absent"}))
    assert results["present"]["failed"] and results["present"]["authentication_mode"] == "CONFIG_MAP"
    assert "authentication mode CONFIG_MAP, which has no access entries" in results["present"]["msg"]
    assert "authenticationMode=API_AND_CONFIG_MAP" in results["present"]["msg"] and "eksnodes.windows.aws_auth" in results["present"]["msg"]
    assert not results["absent"].get("failed") and results["absent"]["changed"] is False


def test_windows_entry_lifecycle_with_check_mode_and_diff(mixed_lab, mixed_ansible):
    role = make_role(mixed_lab, "win", path="/eks/")  # access entries take role ARNs with a path
    args = {"cluster_name": mixed_lab.cluster_name, "principal_arn": role, "type": "EC2_WINDOWS"}
    checked = run(mixed_ansible, ("check", args), check=True, diff=True)["check"]
    assert checked["changed"] and checked["actions"] == ["create"] and checked["access_entry"] is None
    assert checked["diff"]["before"] == {} and checked["diff"]["after"] == {"type": "EC2_WINDOWS"}
    assert entry_type(mixed_lab, role) is None

    results = run(mixed_ansible, ("create", args), ("again", args),
                  ("remove", {"cluster_name": mixed_lab.cluster_name, "principal_arn": role, "state": "absent"}),
                  ("removed", {"cluster_name": mixed_lab.cluster_name, "principal_arn": role, "state": "absent"}))
    created = results["create"]
    assert created["changed"] and created["actions"] == ["create"], created
    assert created["access_entry"]["type"] == "EC2_WINDOWS" and created["access_entry"]["principal_arn"] == role
    assert created["access_entry"]["username"] == "system:node:{{EC2PrivateDNSName}}"
    assert results["again"]["changed"] is False and results["again"]["actions"] == []
    assert results["remove"]["changed"] and results["remove"]["actions"] == ["delete"]
    assert results["removed"]["changed"] is False
    assert entry_type(mixed_lab, role) is None


def test_wrong_type_is_explained_and_replace_recreates(mixed_lab, mixed_ansible):
    role = make_role(mixed_lab, "win")
    mixed_lab.aws_client("eks").create_access_entry(clusterName=mixed_lab.cluster_name, principalArn=role, type="EC2_LINUX")
    args = {"cluster_name": mixed_lab.cluster_name, "principal_arn": role, "type": "EC2_WINDOWS"}
    results = run(mixed_ansible, ("wrong", args), ("check replace", dict(args, replace=True), {"check_mode": True}))
    wrong = results["wrong"]
    assert wrong["failed"]
    assert wrong["msg"].startswith(f"The access entry for {role} has type EC2_LINUX, not EC2_WINDOWS.")
    assert "cannot be changed in place" in wrong["msg"] and "replace: true" in wrong["msg"]
    assert f"aws eks delete-access-entry --cluster-name {mixed_lab.cluster_name} --principal-arn {role}" in wrong["msg"]
    assert wrong["access_entry"]["type"] == "EC2_LINUX"
    assert results["check replace"]["changed"] and results["check replace"]["actions"] == ["delete", "create"]
    assert entry_type(mixed_lab, role) == "EC2_LINUX"

    replaced = run(mixed_ansible, ("replace", dict(args, replace=True)), diff=True)["replace"]
    assert replaced["changed"] and replaced["actions"] == ["delete", "create"]
    assert replaced["diff"]["before"]["type"] == "EC2_LINUX" and replaced["diff"]["after"]["type"] == "EC2_WINDOWS"
    assert entry_type(mixed_lab, role) == "EC2_WINDOWS"


def test_a_linux_node_group_role_cannot_become_windows(mixed_lab, mixed_ansible):
    linux = mixed_lab.facts["linux_node_role_arn"]
    args = {"cluster_name": mixed_lab.cluster_name, "principal_arn": linux, "type": "EC2_WINDOWS"}
    # EKS gave the managed node group's role an EC2_LINUX entry: the wrong type is reported.
    assert "has type EC2_LINUX, not EC2_WINDOWS" in run(mixed_ansible, ("entry", args))["entry"]["msg"]
    # Without that entry (a node group created while the cluster was CONFIG_MAP only), the node group is found.
    eks = mixed_lab.aws_client("eks")
    eks.delete_access_entry(clusterName=mixed_lab.cluster_name, principalArn=linux)
    try:
        result = run(mixed_ansible, ("node group", args))["node group"]
        assert result["failed"]
        assert f"is the role of Linux node group {mixed_lab.facts['linux_nodegroup_name']}, so it cannot be EC2_WINDOWS" in result["msg"]
        assert entry_type(mixed_lab, linux) is None
    finally:
        eks.create_access_entry(clusterName=mixed_lab.cluster_name, principalArn=linux, type="EC2_LINUX")


def test_standard_entry_groups_and_policies(mixed_lab, mixed_ansible):
    role = make_role(mixed_lab, "ops")
    base = {"cluster_name": mixed_lab.cluster_name, "principal_arn": role, "type": "STANDARD"}
    first = dict(base, kubernetes_groups=["ops"], access_policies=[
        {"policy_arn": "AmazonEKSViewPolicy", "access_scope": {"type": "namespace", "namespaces": ["web", "batch"]}}])
    second = dict(base, kubernetes_groups=["ops", "readers"], access_policies=[{"policy_arn": EDIT}])
    results = run(mixed_ansible, ("create", first), ("again", first), ("change", second), ("leave", base))
    assert results["create"]["actions"] == ["create", "associate"]
    assert results["create"]["access_entry"]["access_policies"] == [
        {"policy_arn": VIEW, "access_scope": {"type": "namespace", "namespaces": ["batch", "web"]}}]
    assert results["again"]["changed"] is False
    assert results["change"]["actions"] == ["update", "associate", "disassociate"]
    entry = results["change"]["access_entry"]
    assert sorted(entry["kubernetes_groups"]) == ["ops", "readers"]
    assert entry["access_policies"] == [{"policy_arn": EDIT, "access_scope": {"type": "cluster", "namespaces": []}}]
    assert results["leave"]["changed"] is False  # groups and policies not given: left as they are


def test_invalid_options_are_refused_before_any_call(mixed_lab, mixed_ansible):
    role = make_role(mixed_lab, "win")
    cluster = mixed_lab.cluster_name
    results = run(mixed_ansible,
                  ("groups", {"cluster_name": cluster, "principal_arn": role, "type": "EC2_WINDOWS", "kubernetes_groups": ["x"]}),
                  ("system group", {"cluster_name": cluster, "principal_arn": role, "type": "STANDARD", "kubernetes_groups": ["system:masters"]}),
                  ("profile", {"cluster_name": cluster, "principal_arn": mixed_lab.facts["linux_node_instance_profile_arn"], "type": "EC2_LINUX"}),
                  ("user as node", {"cluster_name": cluster, "principal_arn": "arn:aws:iam::123456789012:user/alice", "type": "EC2_WINDOWS"}),
                  ("no type", {"cluster_name": cluster, "principal_arn": role}))
    assert results["groups"]["msg"].startswith("kubernetes_groups: an access entry of type EC2_WINDOWS takes none")
    assert results["system group"]["msg"].startswith("kubernetes_groups: system:masters starts with system:")
    assert results["profile"]["msg"].startswith("principal_arn: ") and "instance profile ARN" in results["profile"]["msg"]
    assert results["user as node"]["msg"].startswith("principal_arn: ") and "is not an IAM role ARN" in results["user as node"]["msg"]
    assert "missing: type" in results["no type"]["msg"]
    assert all(result["failed"] for result in results.values())
    assert entry_type(mixed_lab, role) is None


def test_api_mode(lab_factory):
    api_lab = lab_factory(auth_mode="API")
    ansible = AnsibleRunner(api_lab.env)
    role = make_role(api_lab, "win")
    args = {"cluster_name": api_lab.cluster_name, "principal_arn": role, "type": "EC2_WINDOWS"}
    linux = {"cluster_name": api_lab.cluster_name, "principal_arn": api_lab.facts["linux_node_role_arn"], "type": "EC2_LINUX"}
    results = run(ansible, ("windows", args), ("again", args), ("linux node group", linux))
    assert results["windows"]["changed"] and results["windows"]["authentication_mode"] == "API"
    assert results["again"]["changed"] is False
    assert results["linux node group"]["changed"] is False  # EKS's own EC2_LINUX entry is left alone
    assert entry_type(api_lab, role) == "EC2_WINDOWS"


RESERVED_USERNAMES = ("system:ops", "eks:ops", "aws:ops", "amazon:ops", "iam:ops")


def access_entries_state(lab):
    """Every access entry of the cluster with its associations, as EKS describes them."""
    eks = lab.aws_client("eks")
    arns = sorted(eks.list_access_entries(clusterName=lab.cluster_name)["accessEntries"])
    return [(eks.describe_access_entry(clusterName=lab.cluster_name, principalArn=arn)["accessEntry"],
             eks.list_associated_access_policies(clusterName=lab.cluster_name, principalArn=arn)["associatedAccessPolicies"])
            for arn in arns]


def test_the_lab_refuses_usernames_with_reserved_prefixes(mixed_lab):
    eks = mixed_lab.aws_client("eks")
    role = make_role(mixed_lab, "reserved")
    for username in RESERVED_USERNAMES:
        with pytest.raises(eks.exceptions.InvalidParameterException, match=f"must not begin with {username.split(':', maxsplit=1)[0]}:"):
            eks.create_access_entry(clusterName=mixed_lab.cluster_name, principalArn=role, username=username)
    assert entry_type(mixed_lab, role) is None


def test_reserved_username_prefixes_are_refused_before_any_call(mixed_lab, mixed_ansible):
    existing = make_role(mixed_lab, "ops")
    created = run(mixed_ansible, ("create", {"cluster_name": mixed_lab.cluster_name, "principal_arn": existing, "type": "STANDARD",
                                             "username": "ops"}))
    assert created["create"]["changed"] is True, created
    new = make_role(mixed_lab, "ops")
    before = access_entries_state(mixed_lab)
    steps = [(f"{principal} {username}", {"cluster_name": mixed_lab.cluster_name, "principal_arn": arn, "type": "STANDARD",
                                          "username": username})
             for principal, arn in (("new", new), ("existing", existing)) for username in RESERVED_USERNAMES]
    results = run(mixed_ansible, *steps)
    for name, result in results.items():
        username = name.split(" ", 1)[1]
        assert result["failed"], (name, result)
        assert result["msg"].startswith(f"username: {username!r} starts with {username.split(':')[0]}:, a prefix EKS reserves"), result["msg"]
        assert result["changed"] is False and result["actions"] == []
    assert access_entries_state(mixed_lab) == before
    assert entry_type(mixed_lab, new) is None
