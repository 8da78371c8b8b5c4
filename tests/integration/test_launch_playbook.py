"""The launch playbook end to end on a lab of its own, as users run it, then the remove playbook on what it launched.

The launch as an AWX job is in test_awx_job_templates.py, the launch in the API authentication mode in
test_upgrade_playbook.py::test_blue_green_in_api_mode_moves_the_access_entry (each end-to-end run costs CI a minute)."""

import re

import pytest
import yaml

from integration_helpers import AnsibleRunner

pytestmark = pytest.mark.long

LAUNCH_VARS = {"cluster_name": "lab", "nodegroup_name": "win", "node_type": "m5.large", "nodes": 2,
               "node_ami_family": "WindowsServer2022CoreContainer"}
PROGRESS = re.compile(r"\d/2 Windows nodes Ready")
RECAP = re.compile(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=(\d+)")


def recap(stdout):
    match = RECAP.search(stdout)
    assert match, stdout[-3000:]
    return int(match.group(1)), int(match.group(2))


def windows_nodes(lab):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    nodes = client.CoreV1Api(lab.kube_api_client()).list_node(label_selector="kubernetes.io/os=windows").items
    return {node.metadata.name: node for node in nodes}


def is_ready(node):
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])


def windows_role_arn(lab):
    outputs = lab.aws_client("cloudformation").describe_stacks(StackName="lab-nodegroup-win")["Stacks"][0]["Outputs"]
    return next(o["OutputValue"] for o in outputs if o["OutputKey"] == "NodeInstanceRole")


def test_launch_from_nothing_to_ready_then_nothing_changes_then_remove(lab_factory, installed_collection):
    # The delay counts from the role's mapping in aws-auth, the step right before the wait: long enough that the wait
    # starts before the nodes join, even on a loaded machine.
    lab = lab_factory(join_delay=10)
    # From the built tarball installed in a directory of its own, as users install it, not from the checkout.
    ansible = AnsibleRunner(lab.env, collections_path=installed_collection)

    first = ansible.playbook("eksnodes.windows.launch", extra_vars=LAUNCH_VARS, callback="default")
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    assert recap(first.stdout)[0] > 0
    assert PROGRESS.search(first.stdout), "no progress line while the nodes joined"
    assert re.search(r"[01]/2 Windows nodes Ready", first.stdout), "the join delay should show nodes not yet Ready"

    nodes = windows_nodes(lab)
    assert len(nodes) == 2 and all(is_ready(node) for node in nodes.values())
    for node in nodes.values():
        labels = node.metadata.labels
        assert labels["node.kubernetes.io/windows-build"] == "10.0.20348"
        assert labels["node.kubernetes.io/instance-type"] == "m5.large"
        assert labels["kubernetes.io/arch"] == "amd64"
        assert node.spec.provider_id.startswith("aws:///us-east-1")

    from kubernetes import client  # pylint: disable=import-outside-toplevel
    core = client.CoreV1Api(lab.kube_api_client())
    mapped = {entry["rolearn"]: entry["groups"] for entry in yaml.safe_load(core.read_namespaced_config_map("aws-auth", "kube-system").data["mapRoles"])}
    assert "eks:kube-proxy-windows" in mapped[windows_role_arn(lab)]
    assert set(mapped[lab.facts["linux_node_role_arn"]]) == {"system:bootstrappers", "system:nodes"}
    assert core.read_namespaced_config_map("amazon-vpc-cni", "kube-system").data["enable-windows-ipam"] == "true"

    second = ansible.playbook("eksnodes.windows.launch", extra_vars=LAUNCH_VARS, callback="default")
    assert second.returncode == 0, second.stdout[-4000:]
    assert recap(second.stdout) == (0, 0)

    preview = ansible.playbook("eksnodes.windows.launch", extra_vars={**LAUNCH_VARS, "nodes": 3}, check=True, diff=True, callback="default")
    assert preview.returncode == 0, preview.stdout[-4000:]
    assert "+NodeAutoScalingGroupDesiredCapacity: 3" in preview.stdout
    assert len(windows_nodes(lab)) == 2, "check mode launched nodes"

    # Remove, on the same lab: the stack and only the Windows mapping go; a second remove has nothing to do.
    windows_role = windows_role_arn(lab)
    remove_vars = {"cluster_name": "lab", "nodegroup_name": "win"}
    preview = ansible.playbook("eksnodes.windows.remove", extra_vars=remove_vars, check=True, callback="default")
    assert preview.returncode == 0, preview.stdout[-4000:]
    assert len(windows_nodes(lab)) == 2, "check mode removed something"

    removed = ansible.playbook("eksnodes.windows.remove", extra_vars=remove_vars, callback="default")
    assert removed.returncode == 0, removed.stdout[-4000:]
    stacks = lab.aws_client("cloudformation").list_stacks(StackStatusFilter=["CREATE_COMPLETE", "UPDATE_COMPLETE"])["StackSummaries"]
    assert "lab-nodegroup-win" not in [stack["StackName"] for stack in stacks]
    mapped = [entry["rolearn"] for entry in yaml.safe_load(core.read_namespaced_config_map("aws-auth", "kube-system").data["mapRoles"])]
    assert windows_role not in mapped and lab.facts["linux_node_role_arn"] in mapped

    again = ansible.playbook("eksnodes.windows.remove", extra_vars=remove_vars, callback="default")
    assert again.returncode == 0 and recap(again.stdout) == (0, 0), again.stdout[-3000:]
