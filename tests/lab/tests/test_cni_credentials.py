"""The VPC CNI's credentials in the lab: aws-node pods, the pod identity webhook, STS's web identity check, the
managed add-on's serviceAccountRoleArn, and nodes that lose pod networking when aws-node has no CNI policy."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from lab.nodesim import MERGE_PATCH
import time

from lab.pod_credentials import (POD_IDENTITY_PROPAGATION_SECONDS, cni_permission_gap, pod_identity_refusal, uses_pod_identity,
                                 web_identity_refusal, webhook_env)

from .conftest import Kube, ready_of

CNI_POLICY = "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"
ISSUER = "https://oidc.eks.us-east-1.amazonaws.com/id/ABCDEF"
PROVIDER_ARN = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABCDEF"


def trust(provider_arn: str, issuer: str, sub: str = "system:serviceaccount:kube-system:aws-node", aud: str = "sts.amazonaws.com",
          operator: str = "StringEquals") -> dict:
    host = issuer.split("://", 1)[1]
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {operator: {f"{host}:sub": sub, f"{host}:aud": aud}}}]}


# --------------------------------------------------------------------------- pure rules


def test_web_identity_accepted_only_for_the_aws_node_token():
    provider = {"ClientIDList": ["sts.amazonaws.com"]}
    assert web_identity_refusal(trust(PROVIDER_ARN, ISSUER), provider, PROVIDER_ARN, ISSUER, "kube-system", "aws-node") is None
    assert web_identity_refusal(trust(PROVIDER_ARN, ISSUER, sub="system:serviceaccount:kube-system:*", operator="StringLike"),
                                provider, PROVIDER_ARN, ISSUER, "kube-system", "aws-node") is None
    assert "no IAM OIDC provider" in web_identity_refusal(trust(PROVIDER_ARN, ISSUER), None, PROVIDER_ARN, ISSUER, "kube-system", "aws-node")
    assert "client ids" in web_identity_refusal(trust(PROVIDER_ARN, ISSUER), {"ClientIDList": ["other"]}, PROVIDER_ARN, ISSUER,
                                                "kube-system", "aws-node")
    for bad in (trust(PROVIDER_ARN, ISSUER, aud="other"), trust(PROVIDER_ARN, ISSUER, sub="system:serviceaccount:default:aws-node"),
                trust(PROVIDER_ARN.replace("ABCDEF", "OTHER"), ISSUER),
                {"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}):
        assert "does not allow" in web_identity_refusal(bad, provider, PROVIDER_ARN, ISSUER, "kube-system", "aws-node")


def test_cni_permission_gap_by_ip_family():
    actions = ["ec2:AssignPrivateIpAddresses", "ec2:AttachNetworkInterface", "ec2:CreateNetworkInterface", "ec2:Describe*"]
    cni = {"Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
    assert cni_permission_gap([cni], "ipv4") == []
    assert cni_permission_gap([cni], "ipv6") == ["ec2:AssignIpv6Addresses"]
    assert cni_permission_gap([{"Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}], "ipv6") == []
    assert "ec2:AssignPrivateIpAddresses" in cni_permission_gap([], "ipv4")


def test_webhook_injects_only_with_the_annotation():
    assert webhook_env({"metadata": {"annotations": {}}}, "us-east-1") == []
    env = {e["name"]: e["value"] for e in webhook_env({"metadata": {"annotations": {"eks.amazonaws.com/role-arn": "arn:r"}}}, "us-east-1")}
    assert env["AWS_ROLE_ARN"] == "arn:r" and env["AWS_WEB_IDENTITY_TOKEN_FILE"].endswith("/token")


POD_TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
                                                    "Action": ["sts:AssumeRole", "sts:TagSession"]}]}


def test_pod_identity_needs_a_trust_in_the_eks_pods_principal_for_both_actions():
    assert pod_identity_refusal(POD_TRUST) is None
    without_tags = {"Statement": [dict(POD_TRUST["Statement"][0], Action="sts:AssumeRole")]}
    assert "sts:TagSession" in pod_identity_refusal(without_tags)
    assert "does not allow" in pod_identity_refusal(trust(PROVIDER_ARN, ISSUER))


def test_the_webhook_env_of_an_association_and_the_chain_order():
    env = webhook_env({"metadata": {}}, "us-east-1", associated=True)
    names = {e["name"] for e in env}
    assert {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"} <= names and "AWS_ROLE_ARN" not in names
    assert uses_pod_identity({"spec": {"containers": [{"env": env}]}})
    both = webhook_env({"metadata": {"annotations": {"eks.amazonaws.com/role-arn": "arn:r"}}}, "us-east-1", associated=True)
    assert not uses_pod_identity({"spec": {"containers": [{"env": both}]}}), "web identity comes first in the SDKs' chain"


# --------------------------------------------------------------------------- the running lab


def aws_node_pods(kube: Kube) -> list:
    return [p for p in kube.core.list_namespaced_pod("kube-system", label_selector="k8s-app=aws-node").items
            if not p.metadata.deletion_timestamp]


def role_env(pod: Any) -> Any:
    return next((e.value for e in pod.spec.containers[0].env or [] if e.name == "AWS_ROLE_ARN"), None)


def restart_aws_node(kube: Kube) -> None:
    stamp = datetime.now(timezone.utc).isoformat()
    kube.apps.patch_namespaced_daemon_set("aws-node", "kube-system",
                                          {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}})


def annotate(kube: Kube, role_arn: Any) -> None:
    kube.core.patch_namespaced_service_account("aws-node", "kube-system", {"metadata": {"annotations": {"eks.amazonaws.com/role-arn": role_arn}}},
                                               _content_type=MERGE_PATCH)


def test_aws_node_runs_one_pod_per_linux_node_with_the_instance_profile(fast_lab, kube):
    node_name = fast_lab.facts["linux_node_name"]
    pods = kube.wait("an aws-node pod", lambda: aws_node_pods(kube))
    assert [p.spec.node_name for p in pods] == [node_name]
    assert role_env(pods[0]) is None
    state = kube.wait("aws-node's identity", lambda: fast_lab.control.nodesim().get("aws_node", {}).get(node_name))
    assert (state["source"], state["role_arn"], state["problem"]) == ("instance profile", fast_lab.facts["linux_node_role_arn"], None)


def test_node_without_the_cni_policy_on_aws_node_identity_is_not_ready(fast_lab, kube):
    iam = fast_lab.aws_client("iam")
    role, node_name = fast_lab.facts["linux_node_role_name"], fast_lab.facts["linux_node_name"]
    kube.wait_node_ready(node_name)
    iam.detach_role_policy(RoleName=role, PolicyArn=CNI_POLICY)
    try:
        node = kube.wait_node_ready(node_name, "False", "aws-node: no identity with AmazonEKS_CNI_Policy")
        assert "ec2:AssignPrivateIpAddresses" in ready_of(node).message and "instance profile" in ready_of(node).message
    finally:
        iam.attach_role_policy(RoleName=role, PolicyArn=CNI_POLICY)
    kube.wait_node_ready(node_name)


@pytest.fixture
def irsa_role(fast_lab):
    """A role aws-node may assume through the cluster's OIDC provider (removed afterwards, the node role restored)."""
    iam, eks = fast_lab.aws_client("iam"), fast_lab.aws_client("eks")
    issuer = eks.describe_cluster(name="lab")["cluster"]["identity"]["oidc"]["issuer"]
    provider_arn = iam.create_open_id_connect_provider(Url=issuer, ClientIDList=["sts.amazonaws.com"])["OpenIDConnectProviderArn"]
    role_arn = iam.create_role(RoleName="lab-test-aws-node", AssumeRolePolicyDocument=json.dumps(trust(provider_arn, issuer)))["Role"]["Arn"]
    iam.attach_role_policy(RoleName="lab-test-aws-node", PolicyArn=CNI_POLICY)
    yield {"arn": role_arn, "provider_arn": provider_arn, "issuer": issuer}
    kube = Kube(fast_lab)
    annotate(kube, None)
    restart_aws_node(kube)
    iam.attach_role_policy(RoleName=fast_lab.facts["linux_node_role_name"], PolicyArn=CNI_POLICY)
    for attached in iam.list_attached_role_policies(RoleName="lab-test-aws-node")["AttachedPolicies"]:
        iam.detach_role_policy(RoleName="lab-test-aws-node", PolicyArn=attached["PolicyArn"])
    iam.delete_role(RoleName="lab-test-aws-node")
    # Settled before the next test: until the restarted aws-node pod is the node's newest, the node may still show
    # the refusal of the role just deleted.
    kube.wait_node_ready(fast_lab.facts["linux_node_name"])
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=provider_arn)
    kube.wait("aws-node back on the instance profile", lambda: all(role_env(p) is None for p in aws_node_pods(kube)) and aws_node_pods(kube))


def test_annotation_reaches_aws_node_only_after_a_restart_and_then_the_node_role_is_not_needed(fast_lab, kube, irsa_role):
    iam, node_name = fast_lab.aws_client("iam"), fast_lab.facts["linux_node_name"]
    before = {p.metadata.name for p in aws_node_pods(kube)}
    annotate(kube, irsa_role["arn"])
    fast_lab.control.reconcile()
    assert {p.metadata.name for p in aws_node_pods(kube)} == before and all(role_env(p) is None for p in aws_node_pods(kube))
    restart_aws_node(kube)
    pods = kube.wait("a new aws-node pod with the role", lambda: [p for p in aws_node_pods(kube) if role_env(p) == irsa_role["arn"]])
    assert pods[0].metadata.name not in before
    state = kube.wait("web identity", lambda: (fast_lab.control.nodesim()["aws_node"].get(node_name) or {}).get("source") == "web identity"
                      and fast_lab.control.nodesim()["aws_node"][node_name])
    assert (state["role_arn"], state["problem"]) == (irsa_role["arn"], None)
    iam.detach_role_policy(RoleName=fast_lab.facts["linux_node_role_name"], PolicyArn=CNI_POLICY)
    fast_lab.control.reconcile()
    kube.wait_node_ready(node_name)


def test_a_trust_without_the_audience_leaves_aws_node_without_credentials(fast_lab, kube, irsa_role):
    iam, node_name = fast_lab.aws_client("iam"), fast_lab.facts["linux_node_name"]
    iam.update_assume_role_policy(RoleName="lab-test-aws-node",
                                  PolicyDocument=json.dumps(trust(irsa_role["provider_arn"], irsa_role["issuer"], aud="sts.example.com")))
    annotate(kube, irsa_role["arn"])
    restart_aws_node(kube)
    # The message names the refusal: the role exists, its trust policy does not allow the token's audience.
    kube.wait_node_ready(node_name, "False", "does not allow sts:AssumeRoleWithWebIdentity")
    # the instance profile still has the CNI policy, but the SDK does not fall back to it
    assert CNI_POLICY in [a["PolicyArn"] for a in iam.list_attached_role_policies(RoleName=fast_lab.facts["linux_node_role_name"])["AttachedPolicies"]]


def test_managed_add_on_service_account_role_is_the_annotation(lab_factory):
    managed = lab_factory(managed_vpc_cni=True)
    kube, eks = Kube(managed), managed.aws_client("eks")
    annotate(kube, "arn:aws:iam::123456789012:role/by-hand")
    arn = managed.facts["linux_node_role_arn"]
    eks.update_addon(clusterName="lab", addonName="vpc-cni", serviceAccountRoleArn=arn)
    managed.control.reconcile()
    account = kube.wait("the add-on's role", lambda: (kube.core.read_namespaced_service_account("aws-node", "kube-system").metadata.annotations
                                                      or {}).get("eks.amazonaws.com/role-arn") == arn)
    assert account
    # an update that does not repeat the role drops it (the add-on goes back to the node role)
    eks.update_addon(clusterName="lab", addonName="vpc-cni", resolveConflicts="OVERWRITE")
    managed.control.reconcile()
    assert "serviceAccountRoleArn" not in eks.describe_addon(clusterName="lab", addonName="vpc-cni")["addon"]
    kube.wait("no annotation", lambda: "eks.amazonaws.com/role-arn" not in
              (kube.core.read_namespaced_service_account("aws-node", "kube-system").metadata.annotations or {}))


def test_a_cluster_can_lose_its_oidc_issuer(fast_lab):
    eks = fast_lab.aws_client("eks")
    issuer = eks.describe_cluster(name="lab")["cluster"]["identity"]["oidc"]["issuer"]
    fast_lab.control.aws.set_cluster_issuer("lab", None)
    try:
        assert not (eks.describe_cluster(name="lab")["cluster"].get("identity") or {}).get("oidc")
    finally:
        fast_lab.control.aws.set_cluster_issuer("lab", issuer)
    assert eks.describe_cluster(name="lab")["cluster"]["identity"]["oidc"]["issuer"] == issuer


def test_pod_identity_reaches_aws_node_after_a_restart_and_needs_the_agent(lab_factory):
    lab = lab_factory()
    kube, eks, iam = Kube(lab), lab.aws_client("eks"), lab.aws_client("iam")
    node_name = lab.facts["linux_node_name"]
    role_arn = iam.create_role(RoleName="lab-pod-identity-aws-node", AssumeRolePolicyDocument=json.dumps(POD_TRUST))["Role"]["Arn"]
    iam.attach_role_policy(RoleName="lab-pod-identity-aws-node", PolicyArn=CNI_POLICY)
    created = time.time()
    eks.create_pod_identity_association(clusterName="lab", namespace="kube-system", serviceAccount="aws-node", roleArn=role_arn)
    lab.control.reconcile()
    assert all(not uses_pod_identity(p.to_dict()) for p in aws_node_pods(kube)), "an association reaches only new pods"
    # Eventually consistent: a pod made right after the association is created does not get it yet.
    before = {p.metadata.name for p in aws_node_pods(kube)}
    restart_aws_node(kube)
    fresh = kube.wait("a new aws-node pod", lambda: [p for p in aws_node_pods(kube) if p.metadata.name not in before])
    if time.time() - created < POD_IDENTITY_PROPAGATION_SECONDS:
        assert not uses_pod_identity(fresh[0].to_dict())
    time.sleep(max(0.0, created + POD_IDENTITY_PROPAGATION_SECONDS - time.time()))
    restart_aws_node(kube)
    kube.wait("an aws-node pod asking the agent", lambda: [p for p in aws_node_pods(kube) if uses_pod_identity(p.to_dict())])
    # Without the agent add-on the SDK gets nothing, and does not fall back to the instance profile.
    kube.wait_node_ready(node_name, "False", "eks-pod-identity-agent add-on is not installed")
    eks.create_addon(clusterName="lab", addonName="eks-pod-identity-agent")
    lab.control.reconcile()
    kube.wait_node_ready(node_name)
    state = lab.control.nodesim()["aws_node"][node_name]
    assert (state["source"], state["role_arn"], state["problem"]) == ("pod identity", role_arn, None)
    # Deleting the association leaves the running pod its session's credentials ("might still be valid until the session
    # expiry", DeletePodIdentityAssociation); the role's permissions still count at once: a role without the CNI policy shows.
    association_id = eks.list_pod_identity_associations(clusterName="lab", serviceAccount="aws-node")["associations"][0]["associationId"]
    eks.delete_pod_identity_association(clusterName="lab", associationId=association_id)
    lab.control.reconcile()
    time.sleep(1.5)
    assert lab.control.nodesim()["aws_node"][node_name]["problem"] is None
    kube.wait_node_ready(node_name)
    iam.detach_role_policy(RoleName="lab-pod-identity-aws-node", PolicyArn=CNI_POLICY)
    lab.control.reconcile()
    kube.wait_node_ready(node_name, "False", "(pod identity) is not allowed")
