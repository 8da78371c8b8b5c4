"""Transient Kubernetes and AWS errors are survived; API servers that cannot be reached are named with the fix.

Kubernetes requests go through one retry policy (plugins/module_utils/kube/retries.py): 429, 500, 502, 503
and 504 and connection resets are retried for reads, watches and writes that carry a resourceVersion.
"""

import socket
import uuid

import pytest
import yaml
from kubernetes.client import CoreV1Api

from integration_helpers import AnsibleRunner
from test_launch_playbook import LAUNCH_VARS, is_ready, recap, windows_nodes, windows_role_arn
from test_nodes_ready import FAST_KNOBS, Fleet, Settings

NODES_READY = "eksnodes.windows.nodes_ready"
AWS_AUTH = "eksnodes.windows.aws_auth"
AWS_AUTH_PATH = "/api/v1/namespaces/kube-system/configmaps/aws-auth"
NODE_USER = "system:node:{{EC2PrivateDNSName}}"
WINDOWS_GROUPS = ["system:bootstrappers", "system:nodes", "eks:kube-proxy-windows"]
KUBE_ENV = ("K8S_AUTH_KUBECONFIG", "KUBECONFIG", "K8S_AUTH_HOST", "K8S_AUTH_API_KEY", "K8S_AUTH_CONTEXT")


@pytest.fixture
def fleet(lab):
    handle = Fleet(lab)
    try:
        yield handle
    finally:
        handle.cleanup()


@pytest.fixture
def settings(lab):
    handle = Settings(lab)
    try:
        yield handle
    finally:
        handle.restore()


@pytest.fixture
def aws_auth(lab):
    """kube-system/aws-auth as it was, put back after the test (the lab is shared); faults cleared."""
    core = CoreV1Api(lab.kube_api_client())
    saved = core.read_namespaced_config_map("aws-auth", "kube-system")
    yield core
    lab.control.clear_kube_faults()
    current = core.read_namespaced_config_map("aws-auth", "kube-system")
    current.data = saved.data
    core.replace_namespaced_config_map("aws-auth", "kube-system", current)


def map_roles(core):
    return yaml.safe_load(core.read_namespaced_config_map("aws-auth", "kube-system").data.get("mapRoles") or "[]") or []


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_one_503_while_nodes_ready_lists_nodes_the_wait_still_succeeds(lab, ansible, fleet, settings):
    settings.knobs(**FAST_KNOBS)
    settings.ipam("true")
    group = fleet.create(size=1)
    fleet.map(group["role_arn"])
    lab.control.wait_for_settled(group["instance_ids"][0])
    lab.control.kube_fault("GET", "^/api/v1/nodes$", 503, count=1)
    try:
        result = ansible.task(NODES_READY, {"cluster_name": lab.cluster_name, "autoscaling_group_name": group["name"], "wait_timeout": 60})
        left = lab.control.kube_faults()
    finally:
        lab.control.clear_kube_faults()
    assert left == [], "the 503 was not met: the test proves nothing"
    assert not result.get("failed"), result
    assert result["done"] is True and result["ready_count"] == 1 and result["instance_ids"] == group["instance_ids"]


def test_transient_errors_on_the_node_watch_are_followed_by_a_new_list(lab, ansible, fleet, settings):
    settings.knobs(join_delay=3.0, ready_delay=0.3, interval=0.2)
    settings.ipam("true")
    group = fleet.create(size=1)
    fleet.map(group["role_arn"])
    # The list and the first watches meet 500, 503 and 504 while the node is joining.
    for status in (500, 503, 504, 503):
        lab.control.kube_fault("GET", "^/api/v1/nodes$", status, count=1)
    try:
        result = ansible.task(NODES_READY, {"cluster_name": lab.cluster_name, "autoscaling_group_name": group["name"], "wait_timeout": 90})
        left = lab.control.kube_faults()
    finally:
        lab.control.clear_kube_faults()
    assert left == []
    assert not result.get("failed"), result
    assert result["done"] is True and result["ready_count"] == 1


def test_one_500_on_the_aws_auth_put_is_merged_once(lab, ansible, aws_auth):
    before = map_roles(aws_auth)
    windows = f"arn:aws:iam::{lab.facts['account_id']}:role/win-{uuid.uuid4().hex[:8]}"
    lab.control.kube_fault("PUT", f"^{AWS_AUTH_PATH}$", 500, count=1)
    result = ansible.task(AWS_AUTH, {"node_roles": [{"arn": windows, "os": "windows"}]})
    assert lab.control.kube_faults() == [], "the 500 was not met: the test proves nothing"
    assert not result.get("failed"), result
    assert result["changed"] is True
    after = map_roles(aws_auth)
    assert [entry for entry in after if entry["rolearn"] == windows] == [{"rolearn": windows, "username": NODE_USER, "groups": WINDOWS_GROUPS}]
    assert [entry for entry in after if entry["rolearn"] != windows] == before


def test_a_timeout_after_the_aws_auth_put_was_committed_is_reported_as_the_change_it_was(lab, ansible, aws_auth):
    before = map_roles(aws_auth)
    windows = f"arn:aws:iam::{lab.facts['account_id']}:role/win-{uuid.uuid4().hex[:8]}"
    lab.control.kube_fault("PUT", f"^{AWS_AUTH_PATH}$", 504, count=1, after=True)
    result = ansible.task(AWS_AUTH, {"node_roles": [{"arn": windows, "os": "windows"}]})
    assert lab.control.kube_faults() == [], "the 504 was not met: the test proves nothing"
    assert not result.get("failed"), result
    assert result["changed"] is True and result["attempts"] == 1
    after = map_roles(aws_auth)
    assert [entry["rolearn"] for entry in after].count(windows) == 1
    assert [entry for entry in after if entry["rolearn"] != windows] == before
    assert result["resource_version"] == aws_auth.read_namespaced_config_map("aws-auth", "kube-system").metadata.resource_version


def test_an_unreachable_api_server_is_named_with_the_fix_and_nothing_is_written(lab, ansible, aws_auth):
    version = aws_auth.read_namespaced_config_map("aws-auth", "kube-system").metadata.resource_version
    host = f"https://127.0.0.1:{closed_port()}"
    result = ansible.task(AWS_AUTH, {"node_roles": [{"arn": f"arn:aws:iam::{lab.facts['account_id']}:role/w", "os": "windows"}],
                                     "host": host, "api_key": lab.info["admin_token"]}, drop_env=KUBE_ENV)
    assert result["failed"]
    assert f"cannot reach the Kubernetes API server at {host} (from the host option)" in result["msg"], result["msg"]
    assert "Fix: set host to the cluster's endpoint" in result["msg"] and "access" not in result["msg"], result["msg"]
    assert aws_auth.read_namespaced_config_map("aws-auth", "kube-system").metadata.resource_version == version


def test_an_unreachable_eks_endpoint_in_preflight_gets_the_network_fix_not_the_access_one(lab, ansible):
    """Preflight connects with the cluster's endpoint and an EKS token when no kubeconfig is given."""
    aws = lab.control.aws
    endpoint = lab.info["kube"]["url"]
    ca_pem = open(lab.control.ca_file, encoding="utf-8").read()
    aws.set_kube(f"https://127.0.0.1:{closed_port()}", ca_pem)
    try:
        result = ansible.task("eksnodes.windows.preflight", {"cluster_name": lab.cluster_name, "fail_on_error": False}, drop_env=KUBE_ENV)
    finally:
        aws.set_kube(endpoint, ca_pem)
    finding = next(f for f in result["findings"] if f["check"] == "kubernetes_access")
    assert "cannot reach the Kubernetes API server at https://127.0.0.1:" in finding["message"], finding
    assert f"(the endpoint of EKS cluster {lab.cluster_name})" in finding["message"], finding
    assert "endpointPublicAccess=true" in finding["fix"] and "access entry" not in finding["fix"], finding


def test_a_missing_kubeconfig_is_named_and_nothing_is_written(lab, ansible, aws_auth, tmp_path):
    version = aws_auth.read_namespaced_config_map("aws-auth", "kube-system").metadata.resource_version
    missing = tmp_path / "gone" / "kubeconfig"
    result = ansible.task(AWS_AUTH, {"node_roles": [{"arn": f"arn:aws:iam::{lab.facts['account_id']}:role/w", "os": "windows"}]},
                          env={"K8S_AUTH_KUBECONFIG": str(missing)})
    assert result["failed"]
    assert result["msg"].startswith(f"K8S_AUTH_KUBECONFIG: the kubeconfig file {missing} does not exist. Fix: set K8S_AUTH_KUBECONFIG"), result
    assert aws_auth.read_namespaced_config_map("aws-auth", "kube-system").metadata.resource_version == version


@pytest.mark.long
def test_launch_converges_in_one_run_with_20_percent_kubernetes_5xx_and_30_percent_aws_throttling(lab_factory):
    lab = lab_factory(join_delay=1)
    ansible = AnsibleRunner(lab.env)
    lab.control.kube_fault_share(0.2, statuses=(500, 503, 504), seed=20)
    lab.control.aws_fault_share(0.3, seed=30)  # every service, with its own throttling code
    try:
        run = ansible.playbook("eksnodes.windows.launch", extra_vars=LAUNCH_VARS, callback="default", timeout=1200)
        (kube,) = lab.control.kube_faults()
        (aws,) = lab.control.aws.share_faults()
    finally:
        lab.control.clear_kube_faults()
        lab.control.aws.clear_faults()
    print(f"\nlaunch under faults: Kubernetes {kube['injected']} of {kube['seen']} requests failed, "
          f"AWS {aws['injected']} of {aws['seen']} calls throttled")
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    assert recap(run.stdout)[1] == 0
    assert kube["injected"] > 0 and aws["injected"] > 0, "no fault was met: the test proves nothing"

    nodes = windows_nodes(lab)
    assert len(nodes) == 2 and all(is_ready(node) for node in nodes.values())
    core = CoreV1Api(lab.kube_api_client())
    entries = yaml.safe_load(core.read_namespaced_config_map("aws-auth", "kube-system").data["mapRoles"])
    assert [entry["rolearn"] for entry in entries].count(windows_role_arn(lab)) == 1
    assert core.read_namespaced_config_map("amazon-vpc-cni", "kube-system").data["enable-windows-ipam"] == "true"
