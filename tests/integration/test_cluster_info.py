"""eksnodes.windows.cluster_info against the lab: facts, waiting for ACTIVE, and the Kubernetes connection."""

import time

import pytest

MODULE = "eksnodes.windows.cluster_info"
# Without these, the only way in is the EKS token minted from the AWS credentials.
KUBECONFIG_ENV = ("K8S_AUTH_KUBECONFIG", "KUBECONFIG")


def play(*tasks):
    return [{"hosts": "localhost", "gather_facts": False, "tasks": [dict(task, ignore_errors=True) for task in tasks]}]


@pytest.fixture
def restore_status(lab):
    yield
    lab.control.aws.set_cluster_status(lab.cluster_name, "ACTIVE")


def test_returns_the_facts_later_steps_need(lab, ansible):
    facts = lab.facts
    result = ansible.task(MODULE, {"name": lab.cluster_name}, check=True)
    assert not result.get("failed"), result
    assert result["changed"] is False and result["exists"] is True
    cluster = result["cluster"]
    assert cluster["name"] == "lab" and cluster["status"] == "ACTIVE" and cluster["version"] == "1.31"
    assert cluster["platform_version"] == "eks.20"
    assert cluster["arn"] == facts["cluster_arn"]
    assert cluster["role_arn"] == facts["cluster_role_arn"]
    assert cluster["vpc_id"] == facts["vpc_id"]
    assert sorted(cluster["subnet_ids"]) == sorted(facts["private_subnet_ids"] + facts["public_subnet_ids"])
    assert cluster["security_group_ids"] == [facts["control_plane_sg_id"]]
    assert cluster["cluster_security_group_id"] == facts["cluster_sg_id"]
    assert cluster["service_ipv4_cidr"] == "172.20.0.0/16" and cluster["dns_cluster_ip"] == "172.20.0.10"
    assert cluster["authentication_mode"] == "CONFIG_MAP" and cluster["ip_family"] == "ipv4"
    assert cluster["endpoint"] == lab.info["kube"]["url"] and cluster["certificate_authority"]
    assert cluster["tags"] == {"lab": "true"}
    user = result["kubeconfig"]["users"][0]["user"]
    assert user["exec"]["args"][-4:] == ["--cluster-name", "lab", "--output", "json"]


def test_a_missing_cluster_is_reported_or_fails_when_waited_for_and_a_bad_name_is_refused(ansible):
    run = ansible.playbook(play(
        {"name": "missing", MODULE: {"name": "no-such-cluster"}},
        {"name": "missing, waited for", MODULE: {"name": "no-such-cluster", "wait": True, "wait_timeout": 5}},
        {"name": "bad name", MODULE: {"name": "bad name"}},
    ))
    result = run.result("missing")
    assert not result.get("failed") and result["exists"] is False and result["cluster"] == {}
    result = run.result("missing, waited for")
    assert result["failed"]
    assert "Cluster no-such-cluster in us-east-1: the cluster does not exist." in result["msg"]
    assert "aws eks list-clusters --region us-east-1" in result["msg"]
    result = run.result("bad name")
    assert result["failed"]
    assert result["msg"].startswith("name: the cluster name 'bad name' is not a valid EKS cluster name")
    assert "Fix:" in result["msg"]


def test_waits_while_the_cluster_is_creating(lab, ansible, restore_status):
    lab.control.aws.set_cluster_status(lab.cluster_name, "CREATING", after_seconds=2.5, then="ACTIVE")
    started = time.monotonic()
    result = ansible.task(MODULE, {"name": lab.cluster_name, "wait": True, "wait_timeout": 60, "wait_sleep": 1})
    assert not result.get("failed"), result
    assert result["cluster"]["status"] == "ACTIVE"
    assert time.monotonic() - started >= 2.5


def test_a_cluster_that_never_turns_active_fails_at_the_timeout(lab, ansible, restore_status):
    lab.control.aws.set_cluster_status(lab.cluster_name, "CREATING")
    started = time.monotonic()
    result = ansible.task(MODULE, {"name": lab.cluster_name, "wait": True, "wait_timeout": 2, "wait_sleep": 1})
    assert result["failed"]
    assert "Cluster lab in us-east-1: the cluster was still CREATING after 2 seconds." in result["msg"]
    assert "Fix: wait longer (wait_timeout)" in result["msg"]
    assert result["cluster"]["status"] == "CREATING"
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("status", ["FAILED", "DELETING"])
def test_a_failed_or_deleting_cluster_fails_at_once(lab, ansible, restore_status, status):
    lab.control.aws.set_cluster_status(lab.cluster_name, status)
    result = ansible.task(MODULE, {"name": lab.cluster_name, "wait": True, "wait_timeout": 600, "wait_sleep": 1})
    assert result["failed"]
    assert f"the cluster is {status} and will not become ACTIVE" in result["msg"]
    assert "cluster.health" in result["msg"]


def test_aws_credentials_alone_reach_the_api_server_and_a_kubeconfig_wins_when_given(ansible, lab):
    run = ansible.playbook(play(
        {"name": "token", MODULE: {"name": lab.cluster_name, "check_kubernetes": True}},
        {"name": "kubeconfig", MODULE: {"name": lab.cluster_name, "check_kubernetes": True, "kubeconfig": str(lab.kubeconfig)}},
    ), drop_env=KUBECONFIG_ENV)
    result = run.result("token")
    assert not result.get("failed"), result
    assert result["kubernetes"]["auth_method"] == "eks_token"
    assert result["kubernetes"]["host"] == lab.info["kube"]["url"]
    assert result["kubernetes"]["server_version"].startswith("v1.31")
    result = run.result("kubeconfig")
    assert not result.get("failed"), result
    assert result["kubernetes"]["auth_method"] == "kubeconfig"


def test_the_token_kubeconfig_works_with_kubernetes_core_and_is_never_shown(ansible, lab, tmp_path):
    token_file = tmp_path / "token"
    play = {"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "describe", MODULE: {"name": lab.cluster_name, "kubeconfig_auth": "token", "return_token": True},
         "register": "described", "no_log": True},
        {"name": "list nodes", "kubernetes.core.k8s_info": {"kind": "Node", "kubeconfig": "{{ described.kubeconfig }}"},
         "register": "nodes"},
        {"name": "node names", "ansible.builtin.debug": {"msg": "{{ nodes.resources | map(attribute='metadata.name') | list }}"}},
        # the test's own copy of the token, to look for it in the output
        {"name": "keep the token", "ansible.builtin.copy": {"content": "{{ described.kubeconfig.users[0].user.token }}",
                                                            "dest": str(token_file), "mode": "0600"}, "no_log": True},
    ]}
    run = ansible.playbook([play], drop_env=KUBECONFIG_ENV, callback="default", env={"ANSIBLE_VERBOSITY": "1"})
    assert run.returncode == 0, run.stdout[-3000:]
    token = token_file.read_text()
    assert token.startswith("k8s-aws-v1.") and len(token) > 100
    assert lab.facts["linux_node_name"] in run.stdout  # the registered kubeconfig worked
    assert token not in run.stdout and token not in run.stderr
    assert "k8s-aws-v1." not in run.stdout + run.stderr
    assert "the output has been hidden" in run.stdout


def test_a_token_is_not_minted_unless_asked_by_a_task_that_hides_it(ansible, lab):
    run = ansible.playbook(play(
        {"name": "token, not asked", MODULE: {"name": lab.cluster_name, "kubeconfig_auth": "token"}},
        {"name": "asked, shown", MODULE: {"name": lab.cluster_name, "kubeconfig_auth": "token", "return_token": True}},
        {"name": "asked without token auth", MODULE: {"name": lab.cluster_name, "return_token": True}, "no_log": False},
    ), drop_env=KUBECONFIG_ENV, env={"ANSIBLE_VERBOSITY": "1"})
    not_asked, shown, no_token = run.result("token, not asked"), run.result("asked, shown"), run.result("asked without token auth")
    assert not_asked["failed"] and not_asked["msg"].startswith("kubeconfig_auth=token returns a live bearer token")
    assert "set return_token: true on a task with no_log: true" in not_asked["msg"]
    assert shown["failed"] and shown["msg"].startswith("return_token=true: the task must set no_log: true")
    assert no_token["failed"] and no_token["msg"].startswith("return_token=true needs kubeconfig_auth: token")
    for result in (not_asked, shown, no_token):
        assert "kubeconfig" not in result and "cluster" not in result  # refused before any call
    assert "k8s-aws-v1." not in run.stdout


def test_an_unknown_region_is_named_with_the_fix(lab, ansible):
    eks = lab.aws_client("eks")
    clusters = eks.list_clusters()["clusters"]
    run = ansible.playbook(play(
        {"name": "unknown", MODULE: {"name": lab.cluster_name, "region": "eu-nowhere-9"}},
        {"name": "unknown, waited for", MODULE: {"name": lab.cluster_name, "region": "eu-nowhere-9", "wait": True, "wait_timeout": 600}},
        {"name": "typo", MODULE: {"name": lab.cluster_name, "region": "us-east1"}},
    ), env={"AWS_MAX_ATTEMPTS": "1"})
    for name in ("unknown", "unknown, waited for"):
        result = run.result(name)
        assert result["failed"] and result["exists"] is False, result
        assert result["msg"].startswith("region: eu-nowhere-9 is not a region botocore "), result["msg"]
        assert "knows for EKS. Did you mean eu-north-1? Fix: set region to the cluster's region" in result["msg"]
        assert "upgrade botocore and boto3" in result["msg"]
    typo = run.result("typo")
    assert typo["failed"]
    assert typo["msg"] == ("region: 'us-east1' is not an AWS region name (regions look like us-east-1, eu-west-2, cn-north-1 or "
                           "us-gov-west-1). Did you mean us-east-1? Fix: set region to the cluster's region, for example us-east-1.")
    assert eks.list_clusters()["clusters"] == clusters
    assert eks.describe_cluster(name=lab.cluster_name)["cluster"]["status"] == "ACTIVE"
