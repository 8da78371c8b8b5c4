"""The CNI identity's pure rules: ARNs, the trust policy and its ownership, the rollout's end."""

import json
from urllib.parse import quote

import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.cni_identity import policy

ISSUER = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
PROVIDER = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
ROLE = "arn:aws:iam::123456789012:role/lab-aws-node-cni"


def test_arns_from_the_cluster():
    assert policy.oidc_provider_arn("aws", "123456789012", ISSUER + "/") == PROVIDER
    assert policy.cni_policy_arn("aws", "123456789012", "ipv4") == "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"
    assert policy.cni_policy_arn("aws-cn", "123456789012", "ipv6") == "arn:aws-cn:iam::123456789012:policy/AmazonEKS_CNI_IPv6_Policy"
    cluster = {"oidc_issuer": ISSUER, "ip_family": "IPV6"}
    assert (policy.cluster_issuer(cluster), policy.cluster_ip_family(cluster)) == (ISSUER, "ipv6")
    assert (policy.cluster_issuer({}), policy.cluster_ip_family({})) == (None, "ipv4")


def test_trust_policy_names_the_service_account_and_the_audience():
    statement = policy.irsa_trust_policy(PROVIDER, ISSUER)["Statement"][0]
    assert statement["Principal"] == {"Federated": PROVIDER}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    host = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
    assert statement["Condition"] == {"StringEquals": {f"{host}:sub": "system:serviceaccount:kube-system:aws-node",
                                                       f"{host}:aud": "sts.amazonaws.com"}}


def test_ours_is_the_exact_trust_policy_in_any_encoding():
    ours = policy.irsa_trust_policy(PROVIDER, ISSUER)
    assert policy.trust_is_ours(ours, PROVIDER, ISSUER)
    assert policy.trust_is_ours(quote(json.dumps(ours)), PROVIDER, ISSUER)
    listed = json.loads(json.dumps(ours))
    listed["Statement"][0]["Action"] = ["sts:AssumeRoleWithWebIdentity"]
    listed["Statement"][0]["Sid"] = "x"
    assert policy.trust_is_ours(listed, PROVIDER, ISSUER)


@pytest.mark.parametrize("change", [
    lambda s: s["Condition"]["StringEquals"].pop(next(k for k in s["Condition"]["StringEquals"] if k.endswith(":aud"))),
    lambda s: s["Condition"].update(StringLike=s["Condition"].pop("StringEquals")),
    lambda s: s.update(Principal={"Service": "ec2.amazonaws.com"}),
    lambda s: s.update(Action=["sts:AssumeRoleWithWebIdentity", "sts:TagSession"]),
])
def test_any_other_trust_policy_is_foreign(change):
    document = json.loads(json.dumps(policy.irsa_trust_policy(PROVIDER, ISSUER)))
    change(document["Statement"][0])
    assert not policy.trust_is_ours(document, PROVIDER, ISSUER)


def pod(name, role=None, ready=True, deleting=False):
    env = [{"name": "AWS_ROLE_ARN", "value": role}] if role else []
    meta = {"name": name, **({"deletionTimestamp": "2026-12-04T00:00:00Z"} if deleting else {})}
    return {"metadata": meta, "spec": {"containers": [{"name": "aws-node", "env": env}]},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def daemonset(wanted, generation=2, observed=2):
    return {"metadata": {"generation": generation}, "status": {"observedGeneration": observed, "desiredNumberScheduled": wanted}}


def test_rollout_is_over_when_every_wanted_pod_is_ready_with_the_role():
    assert policy.rollout_problem(daemonset(2), [pod("a", ROLE), pod("b", ROLE), pod("old", None, deleting=True)], ROLE) is None
    assert "not seen the restart" in policy.rollout_problem(daemonset(2, 3, 2), [pod("a", ROLE), pod("b", ROLE)], ROLE)
    assert "1 aws-node pod(s) running, 2 wanted" == policy.rollout_problem(daemonset(2), [pod("a", ROLE)], ROLE)
    assert "b still run" in policy.rollout_problem(daemonset(2), [pod("a", ROLE), pod("b")], ROLE)
    assert "a not Ready" in policy.rollout_problem(daemonset(1), [pod("a", ROLE, ready=False)], ROLE)
    assert policy.rollout_problem(daemonset(1), [pod("a")], None) is None
    assert "an identity of their own" in policy.rollout_problem(daemonset(1), [pod("a", ROLE)], None)


def agent_pod(name, role=None):
    """A pod the webhook gave the EKS Pod Identity agent's address (and a web identity too when role is given)."""
    made = pod(name, role)
    made["spec"]["containers"][0]["env"] = made["spec"]["containers"][0].get("env", []) + [
        {"name": "AWS_CONTAINER_CREDENTIALS_FULL_URI", "value": "http://169.254.170.23/v1/credentials"}]
    return made


def test_a_pod_of_the_pod_identity_agent_and_the_chain_order():
    assert policy.pod_identity(agent_pod("a")) == policy.FROM_POD_IDENTITY_AGENT
    assert policy.pod_identity(agent_pod("a", ROLE)) == ROLE, "the SDK tries web identity before the agent"
    assert policy.pod_identity(pod("a")) is None
    wanted = policy.FROM_POD_IDENTITY_AGENT
    assert policy.rollout_problem(daemonset(2), [agent_pod("a"), agent_pod("b")], wanted) is None
    assert "b still run with another identity" in policy.rollout_problem(daemonset(2), [agent_pod("a"), pod("b")], wanted)


def test_the_pod_identity_trust_policy_is_ours_only_as_written():
    ours = policy.pod_identity_trust_policy()
    assert ours["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert policy.trust_is_ours(ours, None, None, policy.POD_IDENTITY)
    assert not policy.trust_is_ours(ours, PROVIDER, ISSUER)
    only_assume = {"Statement": [dict(ours["Statement"][0], Action="sts:AssumeRole")]}
    assert not policy.trust_is_ours(only_assume, None, None, policy.POD_IDENTITY)


def test_instance_id_from_the_provider_id():
    assert policy.instance_id_of({"spec": {"providerID": "aws:///us-east-1a/i-0123456789abcdef0"}}) == "i-0123456789abcdef0"
    assert policy.instance_id_of({"spec": {"providerID": "kind://docker/x"}}) is None
    assert policy.instance_id_of({}) is None


def test_which_nodes_run_aws_node():
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]}]}}}
    linux = {"metadata": {"labels": {"kubernetes.io/os": "linux"}}}
    windows = {"metadata": {"labels": {"kubernetes.io/os": "windows"}}}
    assert policy.runs_daemon_pod({"spec": {"affinity": affinity}}, linux)
    assert not policy.runs_daemon_pod({"spec": {"affinity": affinity}}, windows)
    assert policy.runs_daemon_pod({"spec": {"nodeSelector": {"kubernetes.io/os": "windows"}}}, windows)
    assert policy.runs_daemon_pod({}, linux) and not policy.runs_daemon_pod({}, windows)


def test_the_owner_tag_names_the_cluster_and_nothing_else_makes_a_role_ours():
    cluster = "arn:aws:eks:us-east-1:123456789012:cluster/lab"
    assert policy.owner_tags(cluster) == [{"Key": "eksnodes.windows/cni-identity-cluster", "Value": cluster}]
    assert policy.role_owner({"Tags": policy.owner_tags(cluster) + [{"Key": "team", "Value": "app"}]}) == cluster
    assert policy.role_owner({"Tags": [{"Key": "team", "Value": "app"}]}) is None
    assert policy.role_owner({"RoleName": "made-by-hand"}) is None
