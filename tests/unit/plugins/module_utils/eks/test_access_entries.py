import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.eks import access_entries as api
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.access_entries import AccessEntryRequestError

ROLE = "arn:aws:iam::111122223333:role/windows-nodes"
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def existing(entry_type="EC2_WINDOWS", groups=None, username=None, policies=None):
    entry = {"principalArn": ROLE, "type": entry_type, "kubernetesGroups": groups or [], "username": username}
    return api.current_entry(entry, policies or [])


def names(plan):
    return [name for name, _args in plan["actions"]]


def test_policy_names_become_arns():
    assert api.policy_arn("AmazonEKSViewPolicy") == VIEW
    assert api.policy_arn("AmazonEKSViewPolicy", "aws-cn") == "arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
    assert api.policy_arn(ADMIN) == ADMIN


@pytest.mark.parametrize("option, value", [("username", "x"), ("kubernetes_groups", ["a"]), ("access_policies", [{"policy_arn": "AmazonEKSViewPolicy"}])])
def test_node_types_take_no_identity(option, value):
    kwargs = {"username": None, "kubernetes_groups": None, "access_policies": None, option: value}
    with pytest.raises(AccessEntryRequestError, match=f"^{option}: an access entry of type EC2_WINDOWS takes none"):
        api.desired_entry("EC2_WINDOWS", **kwargs)


def test_standard_refuses_system_groups_with_the_reason():
    with pytest.raises(AccessEntryRequestError, match="kubernetes_groups: system:masters starts with system:"):
        api.desired_entry("STANDARD", None, ["system:masters"], None)
    with pytest.raises(AccessEntryRequestError, match="^username:"):
        api.desired_entry("STANDARD", "system:node:x", None, None)


@pytest.mark.parametrize("username", ["system:admin", "eks:ops", "aws:ops", "amazon:ops", "iam:ops"])
def test_standard_refuses_usernames_with_a_prefix_eks_reserves(username):
    with pytest.raises(AccessEntryRequestError) as error:
        api.desired_entry("STANDARD", username, None, None)
    prefix = username.split(":")[0] + ":"
    assert str(error.value).startswith(f"username: {username!r} starts with {prefix}, a prefix EKS reserves")
    assert "Choose another username" in str(error.value)


@pytest.mark.parametrize("username", ["ops", "ops:system:x", "Amazon-ops", "iam-user", "awsadmin"])
def test_standard_accepts_other_usernames(username):
    assert api.desired_entry("STANDARD", username, None, None)["username"] == username


def test_scopes_are_checked():
    with pytest.raises(AccessEntryRequestError, match=r"access_policies\[0\]\.access_scope\.namespaces"):
        api.desired_entry("STANDARD", None, None, [{"policy_arn": "AmazonEKSViewPolicy", "access_scope": {"type": "namespace"}}])
    with pytest.raises(AccessEntryRequestError, match=r"only for type namespace"):
        api.desired_entry("STANDARD", None, None, [{"policy_arn": "AmazonEKSViewPolicy", "access_scope": {"type": "cluster", "namespaces": ["a"]}}])
    with pytest.raises(AccessEntryRequestError, match="given twice"):
        api.desired_entry("STANDARD", None, None, [{"policy_arn": "AmazonEKSViewPolicy"},
                                                   {"policy_arn": VIEW, "access_scope": {"type": "namespace", "namespaces": ["a"]}}])


def test_creates_when_missing():
    plan = api.plan_access_entry(None, api.desired_entry("EC2_WINDOWS", None, None, None), "present")
    assert plan["actions"] == [("create", {"type": "EC2_WINDOWS", "username": None, "kubernetes_groups": []})]
    assert api.diff_view(plan["after"]) == {"type": "EC2_WINDOWS"}


def test_right_type_is_left_alone():
    plan = api.plan_access_entry(existing(), api.desired_entry("EC2_WINDOWS", None, None, None), "present")
    assert plan["actions"] == [] and plan["error"] is None


def test_wrong_type_is_an_error_explaining_replace():
    plan = api.plan_access_entry(existing("EC2_LINUX"), api.desired_entry("EC2_WINDOWS", None, None, None), "present", principal_arn=ROLE)
    assert plan["actions"] == []
    assert f"The access entry for {ROLE} has type EC2_LINUX, not EC2_WINDOWS" in plan["error"]
    assert "cannot be changed in place" in plan["error"] and "replace: true" in plan["error"]


def test_wrong_type_with_replace_deletes_then_creates():
    plan = api.plan_access_entry(existing("EC2_LINUX"), api.desired_entry("EC2_WINDOWS", None, None, None), "present", replace=True)
    assert names(plan) == ["delete", "create"]


def test_standard_groups_and_policies_converge():
    current = existing("STANDARD", groups=["b", "a"], policies=[
        {"policyArn": VIEW, "accessScope": {"type": "namespace", "namespaces": ["web"]}},
        {"policyArn": ADMIN, "accessScope": {"type": "cluster"}}])
    desired = api.desired_entry("STANDARD", None, ["a", "b"], [{"policy_arn": "AmazonEKSViewPolicy", "access_scope": {"type": "cluster"}}])
    plan = api.plan_access_entry(current, desired, "present")
    assert plan["actions"] == [("associate", {"policy_arn": VIEW, "access_scope": {"type": "cluster", "namespaces": []}}),
                               ("disassociate", {"policy_arn": ADMIN})]
    assert api.plan_access_entry(api.current_entry({"type": "STANDARD", "kubernetesGroups": ["a", "b"]},
                                                   [{"policyArn": VIEW, "accessScope": {"type": "cluster"}}]),
                                 desired, "present")["actions"] == []


def test_fields_not_given_are_left_alone():
    current = existing("STANDARD", groups=["a"], username="ops", policies=[{"policyArn": VIEW, "accessScope": {"type": "cluster"}}])
    assert api.plan_access_entry(current, api.desired_entry("STANDARD", None, None, None), "present")["actions"] == []
    plan = api.plan_access_entry(current, api.desired_entry("STANDARD", "ops2", ["c"], None), "present")
    assert plan["actions"] == [("update", {"username": "ops2", "kubernetes_groups": ["c"]})]


def test_absent():
    assert names(api.plan_access_entry(existing("EC2_LINUX"), None, "absent")) == ["delete"]
    assert api.plan_access_entry(None, None, "absent")["actions"] == []


def test_entry_result_is_snake_case():
    result = api.entry_result({"clusterName": "lab", "principalArn": ROLE, "type": "STANDARD", "username": "u", "kubernetesGroups": ["g"],
                               "accessEntryArn": "arn:x", "createdAt": "2025-01-01"},
                              [{"policyArn": VIEW, "accessScope": {"type": "namespace", "namespaces": ["a"]}}])
    assert result["principal_arn"] == ROLE and result["kubernetes_groups"] == ["g"]
    assert result["access_policies"] == [{"policy_arn": VIEW, "access_scope": {"type": "namespace", "namespaces": ["a"]}}]
    assert api.entry_result(None) is None
