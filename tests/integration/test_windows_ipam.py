"""eksnodes.windows.windows_ipam against the lab: the ConfigMap path on the shared lab, the managed add-on path on a lab of its own."""

import json
import time

import pytest

from lab.nodesim import MERGE_PATCH

MODULE = "eksnodes.windows.windows_ipam"
NAMESPACE, NAME = "kube-system", "amazon-vpc-cni"


def play(*tasks):
    return [{"hosts": "localhost", "gather_facts": False, "tasks": list(tasks)}]


def task(name, args, **extra):
    return dict({"name": name, MODULE: dict({"cluster_name": "lab"}, **args), "ignore_errors": True}, **extra)


def core_api(lab):
    from kubernetes import client as kclient  # pylint: disable=import-outside-toplevel
    return kclient.CoreV1Api(lab.kube_api_client())


def read(core):
    return json.loads(core.read_namespaced_config_map(NAME, NAMESPACE, _preload_content=False).data)


@pytest.fixture
def vpc_cni(lab):
    """The shared lab's amazon-vpc-cni ConfigMap, put back as it was after the test."""
    core = core_api(lab)
    saved = read(core)
    # Other tests on this lab may have turned Windows IPAM on; every test here starts from the seeded "false".
    core.patch_namespaced_config_map(NAME, NAMESPACE, {"data": {"enable-windows-ipam": "false"}})
    yield core
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": saved["metadata"].get("labels", {})},
            "data": saved.get("data", {})}
    try:
        core.replace_namespaced_config_map(NAME, NAMESPACE, body)
    except Exception:  # pylint: disable=broad-exception-caught  # deleted by the test: create it again
        core.create_namespaced_config_map(NAMESPACE, body)


def test_config_map_enable_check_diff_and_idempotence(ansible, vpc_cni):
    core = vpc_cni
    core.patch_namespaced_config_map(NAME, NAMESPACE, {"data": {"custom-key": "kept"}}, _content_type=MERGE_PATCH)
    before = read(core)
    check = ansible.playbook(play(task("check", {}, check_mode=True, diff=True))).result("check")
    assert read(core)["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    run = ansible.playbook(play(
        task("enable", {}, diff=True),
        task("again", {}),
    ))
    assert check["changed"] is True and check["method"] == "config_map" and check["enabled"] is True
    assert check["diff"]["before"][NAME]["enable-windows-ipam"] == "false"
    assert check["diff"]["after"][NAME]["enable-windows-ipam"] == "true"
    enable = run.result("enable")
    assert enable["changed"] is True and enable["config_map_data"]["enable-windows-ipam"] == "true"
    again = run.result("again")
    assert not again.get("failed") and again["changed"] is False
    after = read(core)
    expected = dict(before["data"], **{"enable-windows-ipam": "true"})
    assert after["data"] == expected
    assert after["data"]["custom-key"] == "kept"
    assert after["metadata"]["labels"] == before["metadata"]["labels"]


def test_config_map_settings_disable_and_creation(ansible, vpc_cni):
    core = vpc_cni
    run = ansible.playbook(play(
        task("tuned", {"prefix_delegation": True, "warm_prefix_target": 1, "minimum_ip_target": 5}),
        task("disabled", {"enabled": False}),
        task("bad input", {"warm_ip_target": -2}),
        task("no add-on", {"method": "addon"}),
    ))
    tuned = run.result("tuned")
    assert tuned["changed"] is True
    assert {key: tuned["config_map_data"][key] for key in ("enable-windows-ipam", "enable-windows-prefix-delegation", "warm-prefix-target",
                                                           "minimum-ip-target", "warm-ip-target")} == {
        "enable-windows-ipam": "true", "enable-windows-prefix-delegation": "true", "warm-prefix-target": "1", "minimum-ip-target": "5",
        "warm-ip-target": "1"}
    disabled = run.result("disabled")
    assert disabled["changed"] is True and disabled["enabled"] is False
    assert read(core)["data"]["enable-windows-ipam"] == "false"
    assert read(core)["data"]["enable-windows-prefix-delegation"] == "true"
    bad = run.result("bad input")
    assert bad["failed"] and bad["msg"] == "Invalid options: warm_ip_target is -2; it must be 0 or more."
    no_addon = run.result("no add-on")
    assert no_addon["failed"]
    assert no_addon["msg"].startswith("method=addon, but cluster lab has no managed vpc-cni add-on. Fix: create it")

    core.delete_namespaced_config_map(NAME, NAMESPACE)
    run = ansible.playbook(play(task("created", {"prefix_delegation": False})))
    created = run.result("created")
    assert created["changed"] is True
    assert read(core)["data"] == {"enable-windows-ipam": "true", "enable-windows-prefix-delegation": "false"}


@pytest.fixture(scope="module")
def addon_lab(lab_factory_module):
    return lab_factory_module(managed_vpc_cni=True)


@pytest.fixture(scope="module")
def lab_factory_module(tmp_path_factory):
    from lab.pytest_plugin import start_lab  # pylint: disable=import-outside-toplevel
    started = []

    def factory(**options):
        handle = start_lab(tmp_path_factory.mktemp("lab"), **options)
        started.append(handle)
        return handle

    yield factory
    for handle in started:
        handle.stop()


def addon(lab):
    return lab.aws_client("eks").describe_addon(clusterName="lab", addonName="vpc-cni")["addon"]


def test_managed_addon_gets_configuration_values_and_the_config_map_is_never_touched(addon_lab):
    from integration_helpers import AnsibleRunner  # pylint: disable=import-outside-toplevel
    runner = AnsibleRunner(addon_lab.env)
    eks = addon_lab.aws_client("eks")
    eks.update_addon(clusterName="lab", addonName="vpc-cni", configurationValues=json.dumps({"enableNetworkPolicy": "true", "env": {"WARM_IP_TARGET": "2"}}))
    core = core_api(addon_lab)
    deadline = time.monotonic() + 15
    while read(core)["data"].get("enable-network-policy-controller") != "true":  # the add-on manager rendered the values
        assert time.monotonic() < deadline, read(core)
        time.sleep(0.2)
    addon_lab.control.set_nodesim(paused=True)
    untouched = read(core)["metadata"]["resourceVersion"]
    try:
        run = runner.playbook(play(
            task("check", {"prefix_delegation": True}, check_mode=True, diff=True),
            task("enable", {"prefix_delegation": True}),
            task("again", {"prefix_delegation": True}),
        ))
        assert read(core)["metadata"]["resourceVersion"] == untouched
    finally:
        addon_lab.control.set_nodesim(paused=False)
    check = run.result("check")
    assert check["changed"] is True and check["method"] == "addon"
    assert check["diff"]["before"]["vpc-cni"] == {"enableNetworkPolicy": "true", "env": {"WARM_IP_TARGET": "2"}}
    assert check["diff"]["after"]["vpc-cni"]["enableWindowsIpam"] == "true"
    assert check["diff"]["after"]["vpc-cni update"]["config_map_keys"] == [
        "kube-system/amazon-vpc-cni enable-windows-ipam", "kube-system/amazon-vpc-cni enable-windows-prefix-delegation"]
    assert check["addon_update"]["resolve_conflicts"] == "PRESERVE"
    enable = run.result("enable")
    assert enable["changed"] is True and enable["addon"]["status"] == "ACTIVE" and enable["addon"]["update_id"]
    # the add-on manager is paused: amazon-vpc-cni, which the VPC resource controller reads, still says false
    assert enable["enabled"] is False
    assert any("has enable-windows-ipam 'false'" in warning for warning in enable["warnings"]), enable.get("warnings")
    assert enable["configuration_values"] == {"enableNetworkPolicy": "true", "env": {"WARM_IP_TARGET": "2"}, "enableWindowsIpam": "true",
                                              "enableWindowsPrefixDelegation": "true"}
    again = run.result("again")
    assert not again.get("failed") and again["changed"] is False
    assert json.loads(addon(addon_lab)["configurationValues"]) == enable["configuration_values"]
    deadline = time.monotonic() + 15
    while read(core)["data"].get("enable-windows-ipam") != "true":  # rendered by the add-on manager, not by the module
        assert time.monotonic() < deadline, read(core)
        time.sleep(0.2)
    assert read(core)["data"]["enable-windows-prefix-delegation"] == "true"
    rendered = runner.playbook(play(task("after render", {"prefix_delegation": True}))).result("after render")
    assert rendered["changed"] is False and rendered["enabled"] is True and not rendered.get("warnings")
    forced = runner.playbook(play(task("config map forced", {"method": "config_map", "prefix_delegation": True})))
    result = forced.result("config map forced")
    assert result["method"] == "config_map" and result["changed"] is False
    assert any("the add-on's next update can undo it" in warning for warning in result["warnings"])


def wait_for_key(core, key, value):
    deadline = time.monotonic() + 15
    while read(core)["data"].get(key) != value:  # the add-on manager renders the add-on's values
        assert time.monotonic() < deadline, read(core)
        time.sleep(0.2)
    return read(core)


def wait_for_addon_active(lab):
    deadline = time.monotonic() + 15
    while addon(lab)["status"] != "ACTIVE":
        assert time.monotonic() < deadline, addon(lab)
        time.sleep(0.2)


def test_a_hand_changed_field_survives_enabling_windows_ipam_through_the_addon(addon_lab):
    from integration_helpers import AnsibleRunner  # pylint: disable=import-outside-toplevel
    runner = AnsibleRunner(addon_lab.env)
    core = core_api(addon_lab)
    reset = runner.playbook(play(task("reset", {"enabled": False, "resolve_conflicts": "OVERWRITE"}))).result("reset")
    assert not reset.get("failed"), reset
    # The add-on manager renders the reset at its next pass: the hand change below must come after it.
    addon_lab.control.controllers_settled()
    rendered = wait_for_key(core, "enable-windows-ipam", "false")["data"]["warm-ip-target"]
    # an operator tunes the warm IP target by hand
    core.patch_namespaced_config_map(NAME, NAMESPACE, {"data": {"warm-ip-target": "7"}}, _content_type=MERGE_PATCH)
    before = read(core)["data"]
    assert before["warm-ip-target"] == "7" != rendered

    enable = runner.playbook(play(task("enable", {}, diff=True))).result("enable")
    assert not enable.get("failed"), enable
    after = wait_for_key(core, "enable-windows-ipam", "true")["data"]
    assert after == dict(before, **{"enable-windows-ipam": "true"})  # the hand-set value is kept, nothing else moved
    assert enable["enabled"] is True and enable["changed"] is True
    assert enable["addon_update"] == {
        "configuration_values": ["enableWindowsIpam"], "config_map_keys": ["kube-system/amazon-vpc-cni enable-windows-ipam"],
        "resolve_conflicts": "PRESERVE", "fields_changed_by_hand": "fields changed by hand are kept; only fields nobody changed take the new values"}
    assert enable["diff"]["after"]["vpc-cni update"] == enable["addon_update"]
    updates = addon_lab.aws_client("eks").list_updates(name="lab", addonName="vpc-cni")["updateIds"]
    last = addon_lab.aws_client("eks").describe_update(name="lab", updateId=enable["addon"]["update_id"], addonName="vpc-cni")["update"]
    assert enable["addon"]["update_id"] in updates and {"type": "ResolveConflicts", "value": "PRESERVE"} in last["params"]

    # OVERWRITE, asked for explicitly, puts the add-on's value back (what the old default did)
    overwrite = runner.playbook(play(task("overwrite", {"enabled": False, "resolve_conflicts": "OVERWRITE"}))).result("overwrite")
    assert not overwrite.get("failed"), overwrite
    assert wait_for_key(core, "enable-windows-ipam", "false")["data"]["warm-ip-target"] == rendered


def test_enabling_windows_ipam_keeps_the_addons_service_account_role(addon_lab):
    """UpdateAddon without serviceAccountRoleArn puts aws-node back on the node role: the update must carry it."""
    from integration_helpers import AnsibleRunner  # pylint: disable=import-outside-toplevel
    runner = AnsibleRunner(addon_lab.env)
    reset = runner.playbook(play(task("reset", {"enabled": False}))).result("reset")
    assert not reset.get("failed"), reset
    role_arn = addon_lab.aws_client("iam").create_role(
        RoleName="lab-aws-node-cni", AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": []}')["Role"]["Arn"]
    eks = addon_lab.aws_client("eks")
    eks.update_addon(clusterName="lab", addonName="vpc-cni", serviceAccountRoleArn=role_arn)
    wait_for_addon_active(addon_lab)
    assert addon(addon_lab)["serviceAccountRoleArn"] == role_arn

    enable = runner.playbook(play(task("enable", {}))).result("enable")
    assert not enable.get("failed") and enable["changed"] is True, enable
    wait_for_addon_active(addon_lab)
    assert addon(addon_lab).get("serviceAccountRoleArn") == role_arn


def test_the_prerequisites_role_does_not_skip_the_addon_path_when_the_config_map_already_says_true(addon_lab):
    """The role skips windows_ipam only for a self-managed VPC CNI: with the add-on, amazon-vpc-cni saying "true" (here by
    hand) is not enough, since the add-on's own values would put it back."""
    from integration_helpers import AnsibleRunner  # pylint: disable=import-outside-toplevel
    runner = AnsibleRunner(addon_lab.env)
    reset = runner.playbook(play(task("reset", {"enabled": False}))).result("reset")
    assert not reset.get("failed"), reset
    wait_for_addon_active(addon_lab)
    core = core_api(addon_lab)
    wait_for_key(core, "enable-windows-ipam", "false")
    core.patch_namespaced_config_map("amazon-vpc-cni", "kube-system", {"data": {"enable-windows-ipam": "true"}})

    role = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "prerequisites", "ansible.builtin.include_role": {"name": "eksnodes.windows.prerequisites"},
         "vars": {"prerequisites_cluster_name": "lab"}}]}]
    run = runner.playbook(role)
    assert run.returncode == 0, run.stdout[-3000:]
    enable = run.result("eksnodes.windows.prerequisites : Enable Windows support on the data plane")
    assert not enable.get("skipped") and enable["changed"] is True and enable["method"] == "addon", enable
    assert json.loads(addon(addon_lab)["configurationValues"])["enableWindowsIpam"] == "true"
