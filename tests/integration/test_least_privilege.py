"""The shipped permissions (docs/iam), on the lab's enforcing mode: each user holds only its policy, and a permission
taken away fails naming it. The launch, rerun and remove with only these permissions are test_launch_playbook.py's.

The lab's env gives the launch user's AWS key (it holds docs/iam/launch-policy.json only) and no kubeconfig.
"""

import json
import uuid

import pytest
from kubernetes import client

from integration_helpers import AnsibleRunner, user_env
from lab.least_privilege import policy_path
from lab.pytest_plugin import start_lab

ACTIVE_STACK_STATUSES = ["CREATE_COMPLETE", "UPDATE_COMPLETE", "CREATE_IN_PROGRESS", "ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"]


@pytest.fixture(scope="module")
def enforcing_lab(tmp_path_factory):
    handle = start_lab(tmp_path_factory.mktemp("enforcing-lab"), enforce_iam=True, join_delay=1)
    try:
        yield handle
    finally:
        handle.stop()


def active_stacks(lab):
    summaries = lab.aws_client("cloudformation").list_stacks(StackStatusFilter=ACTIVE_STACK_STATUSES)["StackSummaries"]
    return sorted((s["StackName"], s["StackStatus"]) for s in summaries)


def test_the_users_hold_only_the_shipped_policies(enforcing_lab):
    iam = enforcing_lab.aws_client("iam")
    for playbook, user in enforcing_lab.info["iam"]["users"].items():
        name = user["user_name"]
        assert iam.list_attached_user_policies(UserName=name)["AttachedPolicies"] == []
        assert iam.list_groups_for_user(UserName=name)["Groups"] == []
        policies = iam.list_user_policies(UserName=name)["PolicyNames"]
        assert len(policies) == 1
        document = iam.get_user_policy(UserName=name, PolicyName=policies[0])["PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        assert document == json.loads(policy_path(playbook).read_text(encoding="utf-8"))
    assert enforcing_lab.env["AWS_ACCESS_KEY_ID"] == enforcing_lab.info["iam"]["users"]["launch"]["access_key_id"]
    assert "K8S_AUTH_KUBECONFIG" not in enforcing_lab.env and "KUBECONFIG" not in enforcing_lab.env


def test_a_policy_without_one_action_fails_naming_it(enforcing_lab):
    """iam:CreateRole is what CloudFormation needs, with the caller's credentials, for the node role."""
    iam = enforcing_lab.aws_client("iam")
    policy = json.loads(policy_path("launch").read_text(encoding="utf-8"))
    for statement in policy["Statement"]:
        if isinstance(statement["Action"], list) and "iam:CreateRole" in statement["Action"]:
            statement["Action"].remove("iam:CreateRole")
    name = f"eksnodes-minus-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="launch-minus-create-role", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    ansible = AnsibleRunner({**enforcing_lab.env, "AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]})
    stacks, roles = active_stacks(enforcing_lab), sorted(r["RoleName"] for r in iam.list_roles()["Roles"])
    facts = enforcing_lab.facts
    nodegroup = f"minus{uuid.uuid4().hex[:6]}"
    image_id = facts["windows_amis"]["Windows_Server-2022-English-Core-EKS_Optimized-1.31"]["image_id"]
    result = ansible.task("eksnodes.windows.nodegroup_stack", {
        "stack_name": f"lab-nodegroup-{nodegroup}", "cluster_name": "lab", "nodegroup_name": nodegroup,
        "control_plane_security_group": facts["control_plane_sg_id"], "vpc_id": facts["vpc_id"],
        "security_groups": [facts["linux_node_sg_id"]], "subnets": facts["private_subnet_ids"], "image_id": image_id,
        "wait_timeout": 120})
    assert result.get("failed"), result
    message = " ".join(str(result.get("msg", "")).split())
    assert "is not authorized to perform: iam:CreateRole" in message, message
    assert f"user/{name}" in message
    assert active_stacks(enforcing_lab) == stacks
    assert sorted(r["RoleName"] for r in iam.list_roles()["Roles"]) == roles


def test_a_kubernetes_permission_taken_away_fails_naming_it(enforcing_lab):
    """Without the kube-system Role's binding, aws_auth is refused by RBAC with kube-apiserver's message, and aws-auth is unchanged."""
    rbac = client.RbacAuthorizationV1Api(enforcing_lab.kube_api_client())
    core = client.CoreV1Api(enforcing_lab.kube_api_client())
    binding = rbac.read_namespaced_role_binding("eksnodes:operator", "kube-system")
    before = core.read_namespaced_config_map("aws-auth", "kube-system")
    rbac.delete_namespaced_role_binding("eksnodes:operator", "kube-system")
    try:
        role_arn = f"arn:aws:iam::{enforcing_lab.info['account_id']}:role/lab-nodegroup-rbac-NodeInstanceRole-X"
        result = AnsibleRunner(enforcing_lab.env).task("eksnodes.windows.aws_auth", {
            "cluster_name": "lab", "node_roles": [{"arn": role_arn, "os": "windows"}]})
    finally:
        rbac.create_namespaced_role_binding("kube-system", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": binding.metadata.name, "namespace": "kube-system", "labels": binding.metadata.labels},
            "roleRef": {"apiGroup": binding.role_ref.api_group, "kind": binding.role_ref.kind, "name": binding.role_ref.name},
            "subjects": [{"apiGroup": s.api_group, "kind": s.kind, "name": s.name} for s in binding.subjects]})
    assert result.get("failed"), result
    message = " ".join(str(result.get("msg", "")).split())
    assert 'configmaps "aws-auth" is forbidden: User "eksnodes-launch" cannot get resource "configmaps" in API group "" in the namespace "kube-system"' \
        in message.replace('\\"', '"'), message
    after = core.read_namespaced_config_map("aws-auth", "kube-system")
    assert (after.data, after.metadata.resource_version) == (before.data, before.metadata.resource_version)


def test_the_deployments_are_listed_once_and_read_by_name_without_the_list_grant(enforcing_lab):
    """preflight lists kube-system's Deployments once (CoreDNS and the legacy controller's); with RBAC that predates the
    list rule, it reads each by name and finds the same."""
    rbac = client.RbacAuthorizationV1Api(enforcing_lab.kube_api_client())
    apps = client.AppsV1Api(enforcing_lab.kube_api_client())
    role = rbac.read_namespaced_role("eksnodes:operator", "kube-system")
    rules = enforcing_lab.kube_api_client().sanitize_for_serialization(role)["rules"]
    named_only = [rule for rule in rules if not (rule["resources"] == ["deployments"] and rule["verbs"] == ["list"])]
    assert len(named_only) == len(rules) - 1
    apps.create_namespaced_deployment("kube-system", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "vpc-resource-controller", "namespace": "kube-system"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "vpc-resource-controller"}},
                 "template": {"metadata": {"labels": {"app": "vpc-resource-controller"}},
                              "spec": {"containers": [{"name": "controller", "image": "vpc-resource-controller:legacy"}]}}}})

    def preflight() -> tuple[dict, dict]:
        control = enforcing_lab.control
        control.kube_fault_share(0.0, method="GET", path="/namespaces/kube-system/deployments$")
        control.kube_fault_share(0.0, method="GET", path="/namespaces/kube-system/deployments/")
        try:
            result = AnsibleRunner(enforcing_lab.env).task("eksnodes.windows.preflight", {
                "cluster_name": "lab"})
            seen = {("list" if rule["path"].endswith("$") else "read"): rule["seen"] for rule in control.kube_faults() if "seen" in rule}
        finally:
            control.clear_kube_faults()
        return result, seen

    try:
        listed, listed_calls = preflight()
        rbac.patch_namespaced_role("eksnodes:operator", "kube-system", {"rules": named_only})
        read, read_calls = preflight()
    finally:
        rbac.patch_namespaced_role("eksnodes:operator", "kube-system", {"rules": rules})
        apps.delete_namespaced_deployment("vpc-resource-controller", "kube-system")
    for result in (listed, read):
        assert result["checks"]["coredns"] == "passed" and result["checks"]["legacy_controllers"] == "failed", result
        assert "Deployment kube-system/vpc-resource-controller" in result["msg"]
    assert listed_calls == {"list": 1, "read": 0}
    # CoreDNS and the three legacy Deployments by name (the list, refused by RBAC, does not reach the lab's counters).
    assert read_calls == {"list": 0, "read": 4}


def test_a_stack_name_long_enough_to_cut_the_node_role_name_is_created_and_deleted(enforcing_lab):
    """CloudFormation keeps about 33 characters of the stack's name in the node role's (IAM's limit is 64): with a
    cluster name of 20 characters or more, the role's name lacks "-nodegroup-". The launch user creates such a stack
    and the remove user deletes it, with the shipped permissions only."""
    from test_stack_ownership import stack_args  # pylint: disable=import-outside-toplevel
    name = "lab-payments-prod-eu-west-1-nodegroup-win"
    args = stack_args(enforcing_lab, "win", stack_name=name)
    created = AnsibleRunner(enforcing_lab.env).task("eksnodes.windows.nodegroup_stack", args)
    assert created.get("changed") and not created.get("failed"), created.get("msg")
    role_name = created["outputs"]["node_instance_role_arn"].rsplit("/", 1)[1]
    assert role_name.startswith("lab-payments-prod-eu-west-1-nodegr-NodeInstanceRole-") and len(role_name) == 64, role_name
    deleted = AnsibleRunner({**enforcing_lab.env, **user_env(enforcing_lab, "remove")}).task("eksnodes.windows.nodegroup_stack", {**args, "state": "absent"})
    assert deleted.get("changed") and not deleted.get("failed"), deleted.get("msg")
    assert name not in [stack_name for stack_name, _status in active_stacks(enforcing_lab)]
    assert all(role["RoleName"] != role_name for role in enforcing_lab.aws_client("iam").list_roles()["Roles"])
