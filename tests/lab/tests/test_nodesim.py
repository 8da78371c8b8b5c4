"""The lab itself: start-up, seeded cluster, and the join contract the node simulator enforces."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from kubernetes import client as kclient

from lab.nodesim import Activity, parse_bootstrap, role_arn_without_path, windows_ipam_enabled
from lab.runtime import TESTS_DIR

from .conftest import FAST_KNOBS, NODE_GROUPS, WINDOWS_GROUPS, Kube, NodeGroups, ready_of, windows_user_data


# --------------------------------------------------------------------------- pure parsing (no lab)


@pytest.mark.parametrize("quote", ['"', "'", ""])
def test_windows_user_data_names_the_cluster(quote):
    bootstrap = parse_bootstrap(windows_user_data("my-cluster", quote=quote, extra="-KubeletExtraArgs '--node-labels=team=a,tier=web'"))
    assert (bootstrap.os_family, bootstrap.cluster_name, bootstrap.problem) == ("windows", "my-cluster", None)
    assert bootstrap.node_labels == {"team": "a", "tier": "web"}


def test_windows_user_data_with_a_variable_and_without_the_powershell_tag():
    script = '<powershell>\n$ClusterName = "lab"\n& "C:\\Program Files\\Amazon\\EKS\\Start-EKSBootstrap.ps1" -EKSClusterName $ClusterName\n</powershell>'
    assert parse_bootstrap(base64.b64encode(script.encode()).decode()).cluster_name == "lab"
    bare = base64.b64encode(b"& Start-EKSBootstrap.ps1 -EKSClusterName lab").decode()
    assert "<powershell>" in (parse_bootstrap(bare).problem or "")


def test_linux_user_data_flavours():
    shell = base64.b64encode(b"#!/bin/bash\n/etc/eks/bootstrap.sh 'lab' --kubelet-extra-args '--node-labels=a=b'\n").decode()
    assert (parse_bootstrap(shell).os_family, parse_bootstrap(shell).cluster_name) == ("linux", "lab")
    nodeadm = ("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"B\"\n\n--B\nContent-Type: application/node.eks.aws\n\n"
               "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: lab\n    apiServerEndpoint: https://x\n--B--\n")
    parsed = parse_bootstrap(base64.b64encode(nodeadm.encode()).decode())
    assert (parsed.os_family, parsed.cluster_name, parsed.api_server_endpoint) == ("linux", "lab", "https://x")
    assert parse_bootstrap(base64.b64encode(b"echo hello").decode()).problem


def test_role_arn_without_path():
    assert role_arn_without_path("arn:aws:iam::123456789012:role/eks/nodes/Win") == "arn:aws:iam::123456789012:role/Win"
    assert role_arn_without_path("arn:aws:iam::123456789012:role/Win") == "arn:aws:iam::123456789012:role/Win"
    assert windows_ipam_enabled({"data": {"enable-windows-ipam": "true"}}) and not windows_ipam_enabled({"data": {"enable-windows-ipam": "false"}})


# --------------------------------------------------------------------------- the running lab


def test_lab_writes_its_state_files(fast_lab):
    state = Path(fast_lab.state_dir)
    env = dict(line[len("export "):].split("=", 1) for line in (state / "env").read_text().splitlines())
    assert env["AWS_ENDPOINT_URL"] == fast_lab.info["aws"]["url"] and env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["AWS_DEFAULT_REGION"] == env["AWS_REGION"] == "us-east-1"
    assert env["KUBECONFIG"] == env["K8S_AUTH_KUBECONFIG"] == str(state / "kubeconfig") and env["LAB_STATE_DIR"] == str(state)
    kubeconfig = yaml.safe_load((state / "kubeconfig").read_text())
    cluster = kubeconfig["clusters"][0]
    assert cluster["name"] == "lab" and cluster["cluster"]["server"].startswith("https://127.0.0.1:")
    assert base64.b64decode(cluster["cluster"]["certificate-authority-data"]).decode() == (state / "ca.crt").read_text()
    assert kubeconfig["users"][0]["user"]["token"] == fast_lab.info["admin_token"]
    info = json.loads((state / "lab.json").read_text())
    assert info["pid"] == fast_lab.process.pid and info["knobs"]["join_delay"] == FAST_KNOBS["join_delay"]
    assert {"vpc_id", "private_subnet_ids", "linux_node_name", "windows_amis"} <= set(info["facts"])
    print(f"lab start-up: {info['startup_seconds']:.2f}s in-process, {fast_lab.startup_seconds:.2f}s including the interpreter")


def test_seeded_cluster_is_visible_through_the_client(fast_lab, kube: Kube):
    namespaces = {n.metadata.name for n in kube.core.list_namespace().items}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= namespaces
    map_roles = yaml.safe_load(kube.config_map("aws-auth").data["mapRoles"])
    linux_role = {"rolearn": fast_lab.facts["linux_node_role_arn"], "username": "system:node:{{EC2PrivateDNSName}}", "groups": NODE_GROUPS}
    assert map_roles[0] == linux_role  # other tests of the session may have appended their roles
    vpc_cni = kube.config_map("amazon-vpc-cni").data
    assert vpc_cni["enable-windows-ipam"] in ("false", "true") and vpc_cni["warm-ip-target"] == "1"
    linux = kube.node(fast_lab.facts["linux_node_name"])
    assert ready_of(linux).status == "True" and linux.metadata.labels["kubernetes.io/os"] == "linux"
    assert linux.spec.provider_id.endswith("/" + fast_lab.facts["linux_instance_id"]) and linux.spec.provider_id.startswith("aws:///us-east-1")
    coredns = kube.apps.read_namespaced_deployment("coredns", "kube-system")
    assert coredns.spec.replicas == 2 and coredns.spec.template.spec.node_selector == {"kubernetes.io/os": "linux"}
    assert kube.core.read_namespaced_service("kube-dns", "kube-system").spec.cluster_ip.endswith(".10")
    assert kube.apps.read_namespaced_daemon_set("aws-node", "kube-system") and kube.core.read_namespaced_service_account("aws-node", "kube-system")
    pods = kube.wait("coredns pods running", lambda: [p for p in kube.core.list_namespaced_pod("kube-system", label_selector="k8s-app=kube-dns").items
                                                      if p.status.phase == "Running"], timeout=5)
    assert {p.spec.node_name for p in pods} == {fast_lab.facts["linux_node_name"]}
    assert kube.wait("coredns ready", lambda: kube.apps.read_namespaced_deployment("coredns", "kube-system").status.ready_replicas == 2)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_sees_the_seeded_objects(fast_lab):
    result = subprocess.run(["kubectl", "--kubeconfig", str(fast_lab.kubeconfig), "get", "nodes,configmaps", "-A"],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    assert fast_lab.facts["linux_node_name"] in result.stdout and "aws-auth" in result.stdout and "amazon-vpc-cni" in result.stdout


def test_cli_status_prints_the_endpoints(fast_lab):
    result = subprocess.run([sys.executable, "-m", "lab", "status", "--state-dir", str(fast_lab.state_dir)],
                            capture_output=True, text=True, timeout=30, check=False, env={**os.environ, "PYTHONPATH": str(TESTS_DIR)})
    assert result.returncode == 0, result.stderr
    assert fast_lab.info["kube"]["url"] in result.stdout and fast_lab.info["aws"]["url"] in result.stdout


def test_knobs_are_validated(fast_lab):
    with pytest.raises(Exception, match="unknown knob"):
        fast_lab.control.set_nodesim(joindelay=1)
    assert fast_lab.control.set_nodesim(join_delay=FAST_KNOBS["join_delay"])["join_delay"] == FAST_KNOBS["join_delay"]


# --------------------------------------------------------------------------- the join contract


def test_windows_node_joins_only_once_its_role_is_mapped(fast_lab, kube: Kube, node_groups: NodeGroups):
    kube.set_ipam("true")
    group = node_groups.create()
    instance_id = group.instance_ids[0]
    record = fast_lab.control.wait_for_settled(instance_id)
    assert not record["joined"] and "is not mapped in kube-system/aws-auth" in record["verdict"]
    node_name = node_groups.node_name(instance_id)
    assert kube.node(node_name) is None
    kube.map_role(group.role_arn, WINDOWS_GROUPS)
    node = kube.wait_node_ready(node_name)
    labels = node.metadata.labels
    assert labels["kubernetes.io/os"] == labels["beta.kubernetes.io/os"] == "windows" and labels["kubernetes.io/arch"] == "amd64"
    assert labels["node.kubernetes.io/windows-build"] == "10.0.20348" and labels["node.kubernetes.io/instance-type"] == "m5.large"
    assert labels["topology.kubernetes.io/region"] == "us-east-1" and labels["topology.kubernetes.io/zone"].startswith("us-east-1")
    assert labels["kubernetes.io/hostname"] == node_name
    assert node.spec.provider_id == f"aws:///{labels['topology.kubernetes.io/zone']}/{instance_id}"
    info = node.status.node_info
    assert info.operating_system == "windows" and info.kubelet_version.startswith(f"v{fast_lab.info['kubernetes_version']}.")
    assert info.container_runtime_version.startswith("containerd://1.7.") and info.os_image == "Windows Server 2022 Datacenter"
    assert {a.type for a in node.status.addresses} >= {"InternalIP", "InternalDNS", "Hostname"}


def test_without_kube_proxy_windows_the_node_stays_not_ready(kube: Kube, node_groups: NodeGroups):
    kube.set_ipam("true")
    group = node_groups.create()
    kube.map_role(group.role_arn, NODE_GROUPS)
    node_name = node_groups.node_name(group.instance_ids[0])
    node = kube.wait_node_ready(node_name, "False", "eks:kube-proxy-windows")
    assert ready_of(node).reason == "KubeletNotReady"
    time.sleep(FAST_KNOBS["ready_delay"] + 2 * FAST_KNOBS["interval"])
    assert ready_of(kube.node(node_name)).status == "False"
    kube.map_role(group.role_arn, WINDOWS_GROUPS)
    kube.wait_node_ready(node_name)


def test_windows_ipam_gates_readiness_and_windows_pods(kube: Kube, node_groups: NodeGroups):
    kube.set_ipam("false")
    group = node_groups.create()
    kube.map_role(group.role_arn, WINDOWS_GROUPS)
    node_name = node_groups.node_name(group.instance_ids[0])
    kube.wait_node_ready(node_name, "False", "Windows IPAM is disabled")
    name = f"iis-{group.name}"
    kube.apps.create_namespaced_deployment("default", {
        "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": {"metadata": {"labels": {"app": name}}, "spec": {
            "nodeSelector": {"kubernetes.io/os": "windows", "kubernetes.io/hostname": node_name},
            "containers": [{"name": "iis", "image": "mcr.microsoft.com/windows/servercore:ltsc2022"}]}}}})
    try:
        pod = kube.wait("a pending pod", lambda: next(iter(kube.core.list_namespaced_pod("default", label_selector=f"app={name}").items), None))
        kube.wait("pending for IPAM", lambda: "IPAM" in _scheduling_message(kube, pod.metadata.name))
        kube.set_ipam("true")
        kube.wait_node_ready(node_name)
        running = kube.wait("pod running", lambda: _running(kube, pod.metadata.name))
        assert running.spec.node_name == node_name and running.status.pod_ip
        deployment = kube.wait("deployment available", lambda: _ready_deployment(kube, name))
        assert deployment.status.available_replicas == 1 and deployment.status.observed_generation == 1
    finally:
        kube.apps.delete_namespaced_deployment(name, "default")


def _scheduling_message(kube: Kube, pod_name: str) -> str:
    conditions = kube.core.read_namespaced_pod(pod_name, "default").status.conditions or []
    return next((c.message or "" for c in conditions if c.type == "PodScheduled" and c.status == "False"), "")


def _running(kube: Kube, pod_name: str):
    pod = kube.core.read_namespaced_pod(pod_name, "default")
    return pod if pod.status.phase == "Running" else None


def _ready_deployment(kube: Kube, name: str):
    deployment = kube.apps.read_namespaced_deployment(name, "default")
    return deployment if deployment.status.ready_replicas == 1 else None


def test_wrong_cluster_name_in_user_data_gives_no_node(fast_lab, kube: Kube, node_groups: NodeGroups):
    group = node_groups.create(user_data=windows_user_data("lab-typo"))
    kube.map_role(group.role_arn, WINDOWS_GROUPS)
    record = fast_lab.control.wait_for_settled(group.instance_ids[0])
    assert not record["joined"] and "'lab-typo'" in record["verdict"]
    assert kube.node(node_groups.node_name(group.instance_ids[0])) is None


def test_private_subnet_without_nat_route_gives_no_node(fast_lab, kube: Kube, node_groups: NodeGroups):
    ec2 = node_groups.ec2
    subnet_id = ec2.create_subnet(VpcId=fast_lab.facts["vpc_id"], CidrBlock="10.0.250.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    table_id = ec2.create_route_table(VpcId=fast_lab.facts["vpc_id"])["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet_id)
    group = node_groups.create(subnets=[subnet_id])
    kube.map_role(group.role_arn, WINDOWS_GROUPS)
    record = fast_lab.control.wait_for_settled(group.instance_ids[0])
    assert not record["joined"] and "no 0.0.0.0/0 route" in record["verdict"]
    assert kube.node(node_groups.node_name(group.instance_ids[0])) is None


def test_role_with_a_path_must_be_mapped_without_it(fast_lab, kube: Kube, node_groups: NodeGroups):
    kube.set_ipam("true")
    group = node_groups.create(role_path="/eks/nodes/")
    assert ":role/eks/nodes/" in group.role_arn
    kube.map_role(group.role_arn, WINDOWS_GROUPS)
    # The verdict of a tick before the mapping says "not mapped": wait for the one after it.
    record = fast_lab.control.wait_for_verdict(group.instance_ids[0], "with its path", timeout=30)
    assert not record["joined"]
    kube.map_role(role_arn_without_path(group.role_arn), WINDOWS_GROUPS)
    kube.wait_node_ready(node_groups.node_name(group.instance_ids[0]))


def test_instance_launched_before_the_cluster_is_active_never_joins(fast_lab, kube: Kube, node_groups: NodeGroups):
    kube.set_ipam("true")
    fast_lab.control.aws.set_cluster_status("lab", "CREATING")
    try:
        group = node_groups.create()
        kube.map_role(group.role_arn, WINDOWS_GROUPS)
        fast_lab.control.wait_for_verdict(group.instance_ids[0], "while cluster lab was CREATING")
    finally:
        fast_lab.control.aws.set_cluster_status("lab", "ACTIVE")
    record = fast_lab.control.wait_for_settled(group.instance_ids[0])
    assert not record["joined"] and "relaunch it" in record["verdict"]
    assert kube.node(node_groups.node_name(group.instance_ids[0])) is None


def test_terminated_instance_loses_its_node(kube: Kube, node_groups: NodeGroups):
    kube.set_ipam("true")
    group = node_groups.create()
    kube.map_role(group.role_arn, WINDOWS_GROUPS)
    node_name = node_groups.node_name(group.instance_ids[0])
    kube.wait_node_ready(node_name)
    node_groups.delete(group)
    kube.wait(f"node {node_name} deleted", lambda: kube.node(node_name) is None)


def test_managed_vpc_cni_addon_configuration_reaches_the_config_map(fast_lab, kube: Kube):
    eks = fast_lab.aws_client("eks")
    eks.create_addon(clusterName="lab", addonName="vpc-cni", configurationValues=json.dumps({"enableWindowsIpam": "true", "warmWindowsIPTarget": 3}))
    try:
        kube.wait("add-on config rendered", lambda: (kube.config_map("amazon-vpc-cni").data or {}).get("warm-ip-target") == "3")
        assert kube.config_map("amazon-vpc-cni").data["enable-windows-ipam"] == "true"
        eks.update_addon(clusterName="lab", addonName="vpc-cni", configurationValues=json.dumps({"enableWindowsIpam": "false"}))
        kube.wait("add-on update rendered", lambda: kube.config_map("amazon-vpc-cni").data["enable-windows-ipam"] == "false")
        assert kube.config_map("amazon-vpc-cni").data["warm-ip-target"] == "1"
    finally:
        eks.delete_addon(clusterName="lab", addonName="vpc-cni")


def test_managed_vpc_cni_addon_update_preserves_or_overwrites_hand_changes(fast_lab, kube: Kube):
    eks = fast_lab.aws_client("eks")
    # A value no earlier test leaves in the ConfigMap: seeing it proves the creation was rendered, so the hand change
    # below cannot be overwritten by a creation rendered after it.
    eks.create_addon(clusterName="lab", addonName="vpc-cni", configurationValues=json.dumps({"warmWindowsIPTarget": 5}))
    try:
        kube.wait("add-on rendered", lambda: (kube.config_map("amazon-vpc-cni").data or {}).get("warm-ip-target") == "5")
        kube.core.patch_namespaced_config_map("amazon-vpc-cni", "kube-system", {"data": {"warm-ip-target": "7"}})
        for resolve, enabled, kept in (("PRESERVE", "true", "7"), ("NONE", "false", "7"), ("OVERWRITE", "true", "1")):
            eks.update_addon(clusterName="lab", addonName="vpc-cni", resolveConflicts=resolve,
                             configurationValues=json.dumps({"enableWindowsIpam": enabled}))
            kube.wait(f"{resolve} rendered",
                      lambda: kube.config_map("amazon-vpc-cni").data["enable-windows-ipam"] == enabled)  # pylint: disable=cell-var-from-loop
            assert kube.config_map("amazon-vpc-cni").data["warm-ip-target"] == kept, resolve
    finally:
        eks.delete_addon(clusterName="lab", addonName="vpc-cni")


def test_api_mode_uses_access_entries(lab_factory):
    lab = lab_factory(auth_mode="API", join_delay=FAST_KNOBS["join_delay"], ready_delay=FAST_KNOBS["ready_delay"])
    lab.control.set_nodesim(interval=FAST_KNOBS["interval"])
    kube = Kube(lab)
    assert kube.config_map("aws-auth") is None
    kube.set_ipam("true")
    groups = NodeGroups(lab)
    windows_entry, linux_entry, aws_auth_only = groups.create(), groups.create(), groups.create()
    eks = lab.aws_client("eks")
    eks.create_access_entry(clusterName="lab", principalArn=windows_entry.role_arn, type="EC2_WINDOWS")
    eks.create_access_entry(clusterName="lab", principalArn=linux_entry.role_arn, type="EC2_LINUX")
    kube.map_role(aws_auth_only.role_arn, WINDOWS_GROUPS)
    kube.wait_node_ready(groups.node_name(windows_entry.instance_ids[0]))
    kube.wait_node_ready(groups.node_name(linux_entry.instance_ids[0]), "False", "EC2_LINUX access entry")
    record = lab.control.wait_for_settled(aws_auth_only.instance_ids[0])
    assert not record["joined"] and "authentication mode is API" in record["verdict"]


def test_an_idle_lab_polls_slowly_and_a_write_on_either_side_wakes_it(fresh_lab):
    """Quiet for Activity.QUIET_SECONDS, the loops tick every Activity.IDLE_INTERVAL instead of every knobs.interval;
    a read changes nothing, and a Kubernetes write or a changing AWS call brings the fast interval back at once."""
    control, core, ec2 = fresh_lab.control, kclient.CoreV1Api(fresh_lab.kube_api_client()), fresh_lab.aws_client("ec2")

    def wait_idle() -> int:
        deadline = time.monotonic() + Activity.QUIET_SECONDS + 10
        while not control.nodesim()["idle"]:
            assert time.monotonic() < deadline, "the lab never went idle"
            time.sleep(0.2)
        return control.nodesim()["ticks"]

    def ticks_within(seconds: float, since: int) -> int:
        time.sleep(seconds)
        return control.nodesim()["ticks"] - since

    idle_ticks = wait_idle()
    ec2.describe_vpcs()
    core.list_namespaced_config_map("default")
    assert control.nodesim()["idle"] and ticks_within(Activity.IDLE_INTERVAL * 1.5, idle_ticks) <= 2

    woken = wait_idle()
    core.create_namespaced_config_map("default", {"metadata": {"name": "wake-up"}, "data": {}})
    assert not control.nodesim()["idle"]
    assert ticks_within(0.6, woken) >= 1

    woken = wait_idle()
    ec2.create_tags(Resources=[fresh_lab.facts["vpc_id"]], Tags=[{"Key": "wake", "Value": "up"}])
    assert not control.nodesim()["idle"]
    assert ticks_within(0.6, woken) >= 1
