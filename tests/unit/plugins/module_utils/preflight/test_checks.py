"""Every check: a passing case, and each failing case with its message and fix."""

import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.ipam.legacy import LEGACY_OBJECTS
from ansible_collections.eksnodes.windows.plugins.module_utils.preflight import checks

CLUSTER = {
    "name": "prod", "status": "ACTIVE", "version": "1.31", "platform_version": "eks.20", "ip_family": "ipv4",
    "role_arn": "arn:aws:iam::123456789012:role/prod-cluster", "authentication_mode": "CONFIG_MAP",
}


def cluster(**changes):
    return dict(CLUSTER, **changes)


def only(found, check, severity="error"):
    assert len(found) == 1, found
    assert found[0]["check"] == check
    assert found[0]["severity"] == severity
    return found[0]


def node(name, os="linux", ready=True, beta=False):
    label = "beta.kubernetes.io/os" if beta else "kubernetes.io/os"
    return {"metadata": {"name": name, "labels": {label: os}},
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True" if ready else "False"}]}}


# names ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["prod", "1prod", "prod_eu", "9_a-b", "p" * 100])
def test_cluster_names_eks_accepts_are_not_errors(name):
    assert [item for item in checks.check_cluster_name(name) if item["severity"] == "error"] == []


@pytest.mark.parametrize("name, words", [
    ("", "empty"), ("_prod", "must start with a letter or digit"), ("-prod", "must start with a letter or digit"),
    ("prod eu", "must start with a letter or digit"), ("prod.eu", "must start with a letter or digit"),
    ("p" * 101, "at most 100"),
])
def test_cluster_names_eks_refuses_are_errors(name, words):
    item = only(checks.check_cluster_name(name), "cluster_name")
    assert words in item["message"]
    assert "aws eks list-clusters" in item["fix"]


def test_an_eks_name_that_cannot_start_a_stack_name_warns_with_the_fix():
    assert checks.check_cluster_name("prod") == []
    for name in ("1prod", "prod_eu"):
        item = only(checks.check_cluster_name(name), "cluster_name", "warning")
        assert f"{name}-nodegroup-<nodegroup_name>" in item["message"]
        assert "nodegroup_stack_name" in item["fix"]


def test_nodegroup_name():
    assert checks.check_nodegroup_name(None) == []
    assert checks.check_nodegroup_name("win_ng-1") == []
    item = only(checks.check_nodegroup_name("-win"), "nodegroup_name")
    assert "start with a letter or digit" in item["message"]
    assert "at most 63 characters" in item["fix"]


# cluster --------------------------------------------------------------------------------------------


def test_cluster_status():
    assert checks.check_cluster_status(cluster()) == []
    item = only(checks.check_cluster_status(cluster(status="CREATING")), "cluster_status")
    assert "is CREATING, not ACTIVE" in item["message"] and "never register" in item["message"]
    assert "wait=true" in item["fix"] and "aws eks wait cluster-active --name prod" in item["fix"]
    item = only(checks.check_cluster_status(cluster(status="FAILED")), "cluster_status")
    assert "cluster.health" in item["fix"]


@pytest.mark.parametrize("version, platform", [("1.31", "eks.4"), ("1.30", "eks.2"), ("1.32", "eks.1"), ("1.35", "eks.1"), ("1.24", "eks.2")])
def test_platform_version_new_enough(version, platform):
    assert checks.check_platform_version(cluster(version=version, platform_version=platform)) == []


def test_platform_version_too_old():
    item = only(checks.check_platform_version(cluster(version="1.31", platform_version="eks.3")), "platform_version")
    assert "Kubernetes 1.31 on platform version eks.3" in item["message"] and "eks.4 or later" in item["message"]
    assert "aws eks update-cluster-version --name prod" in item["fix"]


def test_kubernetes_version_without_windows_amis():
    item = only(checks.check_platform_version(cluster(version="1.23", platform_version="eks.20")), "platform_version")
    assert "Kubernetes 1.23" in item["message"] and "1.24 and later" in item["message"]
    assert "update-cluster-version" in item["fix"]


def test_unknown_platform_scheme_is_a_warning():
    item = only(checks.check_platform_version(cluster(version="1.30", platform_version="eks-local-outposts.1")), "platform_version", "warning")
    assert "not of the eks.N form" in item["message"]


def test_ip_family():
    assert checks.check_ip_family(cluster()) == []
    item = only(checks.check_ip_family(cluster(ip_family="ipv6")), "ip_family")
    assert "uses IPv6" in item["message"]
    assert "IPv4 cluster" in item["fix"]


@pytest.mark.parametrize("release, version", [("2019", "1.31"), ("2022", "1.24"), ("2025", "1.35"), (None, "1.20")])
def test_windows_release_fits(release, version):
    assert checks.check_windows_release(release, version) == []


def test_windows_2025_needs_1_35():
    item = only(checks.check_windows_release("2025", "1.31"), "windows_release")
    assert "Windows Server 2025 EKS-optimized AMIs need Kubernetes 1.35 or later; the cluster runs 1.31" in item["message"]
    assert item["fix"].startswith("Use Windows Server 2022, or upgrade the cluster to Kubernetes 1.35")


def test_windows_2022_needs_1_24():
    item = only(checks.check_windows_release("2022", "1.23"), "windows_release")
    assert "need Kubernetes 1.24 or later" in item["message"]
    assert item["fix"] == "Upgrade the cluster to Kubernetes 1.24 or later."


def test_cluster_role_policy():
    attached = [{"PolicyName": "AmazonEKSClusterPolicy"}, {"PolicyName": "AmazonEKSVPCResourceController"}]
    assert checks.check_cluster_role_policies(cluster(), attached) == []
    item = only(checks.check_cluster_role_policies(cluster(), attached[:1]), "cluster_role_policy")
    assert "prod-cluster does not have the AmazonEKSVPCResourceController" in item["message"]
    assert item["fix"] == ("Attach it: aws iam attach-role-policy --role-name prod-cluster "
                           "--policy-arn arn:aws:iam::aws:policy/AmazonEKSVPCResourceController")


def test_cluster_role_policy_in_china_uses_that_partition():
    item = only(checks.check_cluster_role_policies(cluster(role_arn="arn:aws-cn:iam::1:role/r"), []), "cluster_role_policy")
    assert "arn:aws-cn:iam::aws:policy/AmazonEKSVPCResourceController" in item["fix"]


def test_unreadable_iam_is_a_warning_and_says_how_to_check():
    item = only(checks.check_cluster_role_policies(cluster(), None, unreadable="AccessDenied: no"), "cluster_role_policy", "warning")
    assert "could not be read (AccessDenied: no)" in item["message"]
    assert "aws iam list-attached-role-policies --role-name prod-cluster" in item["fix"]


# Kubernetes -----------------------------------------------------------------------------------------


def test_linux_nodes():
    assert checks.check_linux_nodes([node("a"), node("b", beta=True), node("w", os="windows")], "prod") == []
    item = only(checks.check_linux_nodes([node("a"), node("w", os="windows")], "prod"), "linux_nodes", "warning")
    assert "only one Linux node is Ready (a)" in item["message"]
    assert "at least two" in item["fix"]


def test_no_ready_linux_node():
    item = only(checks.check_linux_nodes([node("a", ready=False), node("w", os="windows")], "prod"), "linux_nodes")
    assert "no Ready Linux node (1 Linux node(s) registered, none Ready)" in item["message"]
    assert "eksctl create nodegroup --cluster prod --nodes 2" in item["fix"]
    item = only(checks.check_linux_nodes([], "prod"), "linux_nodes")
    assert "no Linux node is registered" in item["message"]


def test_coredns():
    assert checks.check_coredns({"status": {"readyReplicas": 2}}, "prod") == []
    item = only(checks.check_coredns(None, "prod"), "coredns")
    assert "no CoreDNS Deployment (kube-system/coredns)" in item["message"]
    assert "aws eks create-addon --cluster-name prod --addon-name coredns" in item["fix"]
    item = only(checks.check_coredns({"status": {}}, "prod"), "coredns", "warning")
    assert "no ready replica" in item["message"]


def test_legacy_controllers():
    assert checks.check_legacy_controllers([]) == []
    deployment = next(obj for obj in LEGACY_OBJECTS if obj.name == "vpc-resource-controller" and obj.kind == "Deployment")
    item = only(checks.check_legacy_controllers([deployment]), "legacy_controllers")
    assert "Deployment kube-system/vpc-resource-controller" in item["message"]
    assert "remove_legacy_controllers=true" in item["fix"]
    assert "kubectl delete deployment -n kube-system vpc-resource-controller" in item["fix"]
    leftover = next(obj for obj in LEGACY_OBJECTS if obj.kind == "ClusterRole")
    only(checks.check_legacy_controllers([leftover]), "legacy_controllers", "warning")


# inputs ---------------------------------------------------------------------------------------------


def test_key_pair():
    assert checks.check_key_pair(None, False, "us-east-1") == []
    assert checks.check_key_pair("k", True, "us-east-1") == []
    item = only(checks.check_key_pair("nope", False, "us-east-1"), "key_pair")
    assert item["message"] == "the key pair nope does not exist in us-east-1."
    assert "aws ec2 create-key-pair --key-name nope" in item["fix"]


@pytest.mark.parametrize("role, name", [
    ("arn:aws:iam::1:role/nodes/windows", "windows"), ("windows", "windows"), ("/nodes/windows", "windows"),
])
def test_role_name(role, name):
    assert checks.role_name(role) == name


def test_node_role():
    linux = [{"arn": "arn:aws:iam::1:role/linux-nodes", "source": "managed node group lab-linux"}]
    assert checks.check_node_role(None, linux) == []
    assert checks.check_node_role("windows-nodes", linux) == []
    item = only(checks.check_node_role("arn:aws:iam::1:role/path/linux-nodes", linux), "node_role")
    assert "linux-nodes is also a Linux node role (managed node group lab-linux)" in item["message"]
    assert "separate IAM role" in item["fix"]


def test_node_role_instance_profile():
    item = only(checks.check_node_role("arn:aws:iam::1:instance-profile/win", []), "node_role")
    assert "instance profile ARN" in item["message"]
    assert "aws iam get-instance-profile --instance-profile-name win" in item["fix"]


def test_node_role_with_unread_sources_warns():
    item = only(checks.check_node_role("win", [], unread=["aws-auth"]), "node_role", "warning")
    assert "could not be read from: aws-auth" in item["message"]


def instance(arch="x86_64", addresses=10, memory=8192):
    return {"ProcessorInfo": {"SupportedArchitectures": [arch]}, "NetworkInfo": {"Ipv4AddressesPerInterface": addresses},
            "MemoryInfo": {"SizeInMiB": memory}}


def test_instance_type_fits():
    assert checks.check_instance_type(None, None, False, "us-east-1") == []
    assert checks.check_instance_type("m5.large", instance(), True, "us-east-1") == []
    assert checks.check_instance_type("m4.16xlarge", instance(), True, "us-east-1") == []


def test_instance_type_missing_or_not_offered():
    item = only(checks.check_instance_type("m9.huge", None, False, "us-east-1"), "instance_type")
    assert item["message"] == "the instance type m9.huge does not exist."
    assert "describe-instance-type-offerings --region us-east-1" in item["fix"]
    item = only(checks.check_instance_type("m5.large", instance(), False, "us-east-1"), "instance_type")
    assert "not offered in us-east-1" in item["message"]


@pytest.mark.parametrize("arch", ["arm64", "x86_64_mac"])
def test_instance_type_architecture(arch):
    item = only(checks.check_instance_type("x.large", instance(arch=arch), True, "us-east-1"), "instance_type")
    assert f"is {arch}; EKS-optimized Windows AMIs run only on x86_64" in item["message"]
    assert "x86_64 instance type" in item["fix"]


def test_instance_type_without_pod_addresses():
    item = only(checks.check_instance_type("t9.tiny", instance(addresses=1), True, "us-east-1"), "instance_type")
    assert "could run no pod" in item["message"]


def test_small_and_historic_types_warn():
    item = only(checks.check_instance_type("t3.small", instance(memory=2048), True, "us-east-1"), "instance_type", "warning")
    assert "2048 MiB" in item["message"]
    item = only(checks.check_instance_type("c4.large", instance(memory=3840 * 2), True, "us-east-1"), "instance_type", "warning")
    assert "C4 family" in item["message"]


def test_linux_roles_from_aws_auth():
    entries = [
        {"rolearn": "arn:aws:iam::1:role/linux", "groups": ["system:bootstrappers", "system:nodes"]},
        {"rolearn": "arn:aws:iam::1:role/windows", "groups": ["system:bootstrappers", "system:nodes", "eks:kube-proxy-windows"]},
        {"rolearn": "arn:aws:iam::1:role/admin", "groups": ["system:masters"]},
        "not a mapping",
    ]
    assert checks.linux_roles_from_aws_auth(entries) == [{"arn": "arn:aws:iam::1:role/linux", "source": "aws-auth mapRoles"}]
