"""The eksnodes.windows.prerequisites role against the lab: wait, check, enable; facts for later roles; idempotence; stop on errors."""

import json

import pytest

PREFIX = "eksnodes.windows.prerequisites : "


def play(**role_vars):
    role_vars = dict({"prerequisites_cluster_name": "lab", "prerequisites_wait_sleep": 1, "prerequisites_wait_timeout": 60}, **role_vars)
    return [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "prerequisites", "ansible.builtin.include_role": {"name": "eksnodes.windows.prerequisites"}, "vars": role_vars},
        {"name": "facts", "ansible.builtin.debug": {"msg": {
            "cluster": "{{ prerequisites_cluster }}", "preflight": "{{ prerequisites_preflight }}", "subnets": "{{ prerequisites_subnets }}",
            "node_subnet_ids": "{{ prerequisites_node_subnet_ids }}", "windows_ipam": "{{ prerequisites_windows_ipam }}"}}},
    ]}]


def vpc_cni_data(core):
    return json.loads(core.read_namespaced_config_map("amazon-vpc-cni", "kube-system", _preload_content=False).data)["data"]


@pytest.fixture
def vpc_cni(lab):
    from kubernetes import client as kclient  # pylint: disable=import-outside-toplevel
    core = kclient.CoreV1Api(lab.kube_api_client())
    saved = vpc_cni_data(core)
    # Other tests on this lab may have turned Windows IPAM on; every test here starts from the seeded "false".
    core.patch_namespaced_config_map("amazon-vpc-cni", "kube-system", {"data": {"enable-windows-ipam": "false"}})
    yield core
    core.patch_namespaced_config_map("amazon-vpc-cni", "kube-system", {"data": saved}, _content_type="application/merge-patch+json")


def test_waits_checks_enables_and_then_changes_nothing(lab, ansible, vpc_cni):
    facts = lab.facts
    role_vars = {"prerequisites_key_name": facts["key_name"], "prerequisites_instance_type": "m5.large", "prerequisites_windows_release": 2022,
                 "prerequisites_nodegroup_name": "windows-ng"}
    lab.control.aws.set_cluster_status("lab", "CREATING", after_seconds=2, then="ACTIVE")
    try:
        checked = ansible.playbook(play(**role_vars), check=True, diff=True)
    finally:
        lab.control.aws.set_cluster_status("lab", "ACTIVE")
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert checked.result(PREFIX + "Enable Windows support on the data plane")["changed"] is True
    assert vpc_cni_data(vpc_cni)["enable-windows-ipam"] == "false"

    first = ansible.playbook(play(**role_vars))
    assert first.returncode == 0, first.stdout[-3000:]
    assert first.stats["changed"] == 1
    outcome = first.result("facts")["msg"]
    assert outcome["cluster"]["name"] == "lab" and outcome["cluster"]["status"] == "ACTIVE"
    assert outcome["cluster"]["dns_cluster_ip"] == "172.20.0.10" and outcome["cluster"]["vpc_id"] == facts["vpc_id"]
    assert outcome["preflight"]["error_count"] == 0 and outcome["preflight"]["checks"]["key_pair"] == "passed"
    assert [item["check"] for item in outcome["preflight"]["findings"]] == ["linux_nodes"]
    assert sorted(outcome["node_subnet_ids"]) == sorted(facts["private_subnet_ids"])
    assert len(outcome["subnets"]) == 4
    assert outcome["windows_ipam"]["method"] == "config_map" and outcome["windows_ipam"]["enabled"] is True
    assert vpc_cni_data(vpc_cni)["enable-windows-ipam"] == "true"

    # Nothing to do: preflight's reading (Windows IPAM on, no legacy controller) skips the Windows IPAM step.
    second = ansible.playbook(play(**role_vars))
    assert second.returncode == 0 and second.stats["changed"] == 0, second.stdout[-3000:]
    assert second.result(PREFIX + "Enable Windows support on the data plane").get("skipped")
    assert second.result("facts")["msg"]["windows_ipam"] == {"method": "config_map", "enabled": True, "changed": False, "settings": {"enabled": True},
                                                             "legacy_controllers": [], "legacy_controllers_removed": []}


def test_a_preflight_error_stops_before_any_change(ansible, vpc_cni):
    run = ansible.playbook(play(prerequisites_key_name="no-such-key"))
    assert run.returncode != 0
    result = run.result(PREFIX + "Wait until the cluster is ACTIVE, then check it and the planned node group")
    assert result["failed"] and result["checks"]["key_pair"] == "failed"
    assert "[key_pair] the key pair no-such-key does not exist in us-east-1." in result["msg"]
    assert PREFIX + "Enable Windows support on the data plane" not in [task["name"] for task in run.tasks]
    assert vpc_cni_data(vpc_cni)["enable-windows-ipam"] == "false"


def test_findings_can_be_recorded_without_stopping_and_ipam_can_be_left_off(ansible, vpc_cni):
    run = ansible.playbook(play(prerequisites_key_name="no-such-key", prerequisites_fail_on_error=False, prerequisites_enable_windows_ipam=False))
    assert run.returncode == 0, run.stdout[-3000:]
    outcome = run.result("facts")["msg"]
    assert outcome["preflight"]["error_count"] == 1 and outcome["preflight"]["checks"]["key_pair"] == "failed"
    assert outcome["windows_ipam"] == {}
    assert vpc_cni_data(vpc_cni)["enable-windows-ipam"] == "false"
