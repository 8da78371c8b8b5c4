"""The launch playbook end to end on labs of its own, as users run it: ansible-playbook and ansible-runner (AWX)."""

import re

import ansible_runner
import yaml

from integration_helpers import REPO, AnsibleRunner

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


def test_launch_from_nothing_to_ready_then_nothing_changes(lab_factory):
    # Long enough that the wait starts before the nodes join, even on a loaded machine.
    lab = lab_factory(join_delay=15)
    ansible = AnsibleRunner(lab.env)

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


def test_launch_with_access_entries_in_api_mode(lab_factory):
    lab = lab_factory(auth_mode="API", join_delay=1)
    result = AnsibleRunner(lab.env).playbook("eksnodes.windows.launch", extra_vars=LAUNCH_VARS, callback="default")
    assert result.returncode == 0, result.stdout[-4000:]
    entries = lab.aws_client("eks")
    entry = entries.describe_access_entry(clusterName="lab", principalArn=windows_role_arn(lab))["accessEntry"]
    assert entry["type"] == "EC2_WINDOWS"
    linux = entries.describe_access_entry(clusterName="lab", principalArn=lab.facts["linux_node_role_arn"])["accessEntry"]
    assert linux["type"] == "EC2_LINUX"
    assert len(windows_nodes(lab)) == 2


def test_launch_as_an_awx_job_with_aws_credentials_only(lab_factory, tmp_path, monkeypatch):
    """A project playbook importing the collection's, AWS credentials as environment variables, no kubeconfig."""
    for name in ("KUBECONFIG", "K8S_AUTH_KUBECONFIG", "K8S_AUTH_HOST", "K8S_AUTH_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    lab = lab_factory(join_delay=1)
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "launch.yml").write_text("- name: Launch\n  ansible.builtin.import_playbook: eksnodes.windows.launch\n")
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "hosts").write_text("localhost ansible_connection=local\n")
    env = AnsibleRunner(lab.env).environment(drop=("KUBECONFIG", "K8S_AUTH_KUBECONFIG", "ANSIBLE_STDOUT_CALLBACK"))
    aws_only = {name: value for name, value in env.items() if not name.startswith(("K8S_AUTH_", "KUBECONFIG"))}
    assert "AWS_ACCESS_KEY_ID" in aws_only and "KUBECONFIG" not in aws_only
    aws_only["PATH"] = f"{REPO / '.venv/bin'}:{aws_only.get('PATH', '')}"
    result = ansible_runner.run(private_data_dir=str(tmp_path), playbook="launch.yml", extravars=LAUNCH_VARS, envvars=aws_only, quiet=True)
    stdout = result.stdout.read()
    assert result.status == "successful", stdout[-4000:]
    assert PROGRESS.search(stdout)
    assert len(windows_nodes(lab)) == 2
    ok_events = [event for event in result.events if event.get("event") == "runner_on_ok"]
    assert any(event["event_data"].get("task", "").startswith("Wait until the nodes are Ready") for event in ok_events)


def test_remove_deletes_the_stack_and_only_the_windows_mapping(lab_factory):
    lab = lab_factory(join_delay=1)
    ansible = AnsibleRunner(lab.env)
    launched = ansible.playbook("eksnodes.windows.launch", extra_vars=LAUNCH_VARS, callback="default")
    assert launched.returncode == 0, launched.stdout[-4000:]
    windows_role = windows_role_arn(lab)

    preview = ansible.playbook("eksnodes.windows.remove", extra_vars={"cluster_name": "lab", "nodegroup_name": "win"}, check=True, callback="default")
    assert preview.returncode == 0, preview.stdout[-4000:]
    assert len(windows_nodes(lab)) == 2, "check mode removed something"

    removed = ansible.playbook("eksnodes.windows.remove", extra_vars={"cluster_name": "lab", "nodegroup_name": "win"}, callback="default")
    assert removed.returncode == 0, removed.stdout[-4000:]
    stacks = lab.aws_client("cloudformation").list_stacks(StackStatusFilter=["CREATE_COMPLETE", "UPDATE_COMPLETE"])["StackSummaries"]
    assert "lab-nodegroup-win" not in [stack["StackName"] for stack in stacks]
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    core = client.CoreV1Api(lab.kube_api_client())
    mapped = [entry["rolearn"] for entry in yaml.safe_load(core.read_namespaced_config_map("aws-auth", "kube-system").data["mapRoles"])]
    assert windows_role not in mapped and lab.facts["linux_node_role_arn"] in mapped

    again = ansible.playbook("eksnodes.windows.remove", extra_vars={"cluster_name": "lab", "nodegroup_name": "win"}, callback="default")
    assert again.returncode == 0 and recap(again.stdout) == (0, 0), again.stdout[-3000:]
