"""The playbooks on the ansible-core releases users run besides the pinned one (2.19, test-requirements.txt).

meta/runtime.yml admits ansible-core 2.17 and later; AWX and Automation Controller run whatever their execution
environment carries. Each release below gets a virtual environment of its own under .build/compat (its ansible-core,
with the libraries the modules use at the versions test-requirements.txt pins; amazon.aws and kubernetes.core as
.venv has them), which runs ansible-playbook and the modules, on a lab of its own:

launch with every optional step in check mode with --diff (it would change, and the lab is as it was), launch (the
node is Ready, its role mapped, the sample application's replicas Ready), launch again (nothing changes), upgrade to a
newer AMI in check mode (likewise), then for real (the node that replaced it runs it and is Ready), upgrade again
(nothing to do), remove (the stack and the mapping are gone). On the oldest and the newest release, the same on a
cluster in API mode (access entries), with EKS Pod Identity for the VPC CNI and a rolling upgrade.

On 2.19 and 2.20 the modules run in forks of the task's worker (plugins/plugin_utils/in_process.py); on the others,
as module processes: each run says which, so a release on which that changes is seen here.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from kubernetes import client as kclient

from integration_helpers import REPO, AnsibleRunner, publish_newer_ami, recap, settled_snapshot, snapshot

# ansible-core release -> the Python it runs on as a controller here: the oldest release meta/runtime.yml admits, and
# the newest of each later line (2.19 is the one everything else runs on).
RELEASES = {"2.17.14": "3.11", "2.18.19": "3.11", "2.20.10": "3.12", "2.21.5": "3.13"}
OLDEST, NEWEST = (sorted(RELEASES, key=lambda release: tuple(int(part) for part in release.split(".")))[index] for index in (0, -1))
IN_PROCESS_LINES = ("2.19", "2.20")
# What the modules import, at the versions the rest of the tests use.
LIBRARIES = ("boto3", "botocore", "kubernetes", "PyYAML")
COMPAT = REPO / ".build" / "compat"
# Every optional step of the launch too: the VPC CNI's own IAM role, pods kept from IMDS, the sample application.
LAUNCH = {"cluster_name": "lab", "nodegroup_name": "compat", "nodes": 1, "nodes_min": 1, "nodes_max": 2, "cni_identity": "irsa",
          "disable_pod_imds": True, "deploy_sample_app": True}
IN_PROCESS_SIGN = "in a fork of the task's worker process"


def pinned_libraries() -> list[str]:
    pins = {}
    for line in (REPO / "test-requirements.txt").read_text().splitlines():
        name = line.partition("==")[0]
        if name in LIBRARIES:
            pins[name] = line.strip()
    assert sorted(pins) == sorted(LIBRARIES), pins
    return [pins[name] for name in LIBRARIES]


def python_for(version: str) -> str:
    """A working python<version>: on PATH (not a pyenv shim of a version that is not selected), or pyenv's."""
    pyenv = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates = [shutil.which(f"python{version}"), *sorted(glob.glob(f"{pyenv}/versions/{version}.*/bin/python{version}"), reverse=True),
                  f"/usr/local/bin/python{version}", f"/usr/bin/python{version}"]
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", ""], capture_output=True, check=False).returncode == 0:
            return candidate
    pytest.fail(f"no Python {version} found for ansible-core on it (looked for {candidates})")
    raise AssertionError  # not reached


def environment_for(release: str) -> Path:
    """.build/compat/ansible-core-<release>/bin, built on first use (uv when .venv has it, else pip)."""
    venv = COMPAT / f"ansible-core-{release}"
    requirements = [f"ansible-core=={release}", *pinned_libraries()]
    marker = venv / "requirements.txt"
    if marker.is_file() and marker.read_text() == "\n".join(requirements):
        return venv / "bin"
    shutil.rmtree(venv, ignore_errors=True)
    # Caches under .build, as make's: nothing written outside the checkout.
    env = {**os.environ, "UV_CACHE_DIR": str(REPO / ".build/uv-cache"), "PIP_CACHE_DIR": str(REPO / ".build/pip-cache")}
    uv = REPO / ".venv/bin/uv"
    python = python_for(RELEASES[release])
    if uv.is_file():
        subprocess.run([str(uv), "venv", "--quiet", "--python", python, str(venv)], env=env, check=True)
        subprocess.run([str(uv), "pip", "install", "--quiet", "--python", str(venv / "bin/python"), *requirements], env=env, check=True)
    else:
        subprocess.run([python, "-m", "venv", str(venv)], env=env, check=True)
        subprocess.run([str(venv / "bin/pip"), "install", "--quiet", *requirements], env=env, check=True)
    marker.write_text("\n".join(requirements))
    return venv / "bin"


def succeeded(result) -> int:
    """The run's changed count, once it is known to have failed nothing."""
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    changed, failed = recap(result.stdout)
    assert failed == 0, result.stdout[-6000:]
    return changed


def fast_lab(lab_factory, bin_dir: Path, **options):
    """A lab whose nodes join within a second, the runner of bin_dir's ansible-playbook, and the environment each run
    takes: amazon.aws and kubernetes.core as the pinned ansible package has them in .venv."""
    lab = lab_factory(join_delay=0.5, ready_delay=0.3, **options)
    lab.control.set_nodesim(interval=0.2)
    site_packages = next((REPO / ".venv/lib").glob("python3*/site-packages"))
    env = {"ANSIBLE_COLLECTIONS_PATH": f"{REPO / '.collections'}:{site_packages}", "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "False"}
    return lab, AnsibleRunner(lab.env, bin_dir=bin_dir), env


def windows_node_roles(lab) -> list[str]:
    core = kclient.CoreV1Api(lab.kube_api_client())
    entries = yaml.safe_load(core.read_namespaced_config_map("aws-auth", "kube-system").data.get("mapRoles") or "[]") or []
    return [entry["rolearn"] for entry in entries if "eks:kube-proxy-windows" in (entry.get("groups") or [])]


def ready_windows_images(lab) -> list[str]:
    """The AMI of each Ready Windows Node's instance."""
    nodes = kclient.CoreV1Api(lab.kube_api_client()).list_node(label_selector="kubernetes.io/os=windows").items
    ready = [node.spec.provider_id.rsplit("/", 1)[-1] for node in nodes
             if any(condition.type == "Ready" and condition.status == "True" for condition in node.status.conditions or [])]
    reservations = lab.aws_client("ec2").describe_instances(InstanceIds=ready)["Reservations"] if ready else []
    return [instance["ImageId"] for reservation in reservations for instance in reservation["Instances"]]


def live_stacks(lab) -> list[str]:
    return sorted(stack["StackName"] for stack in lab.aws_client("cloudformation").list_stacks()["StackSummaries"]
                  if stack["StackStatus"] != "DELETE_COMPLETE" and stack["StackName"].startswith("lab-nodegroup-compat"))


def windows_access_entries(lab) -> list[str]:
    eks = lab.aws_client("eks")
    return [arn for arn in eks.list_access_entries(clusterName="lab")["accessEntries"]
            if eks.describe_access_entry(clusterName="lab", principalArn=arn)["accessEntry"]["type"] == "EC2_WINDOWS"]


def test_the_oldest_release_tested_is_the_one_the_collection_admits():
    runtime = yaml.safe_load((REPO / "meta/runtime.yml").read_text())
    assert runtime["requires_ansible"] == f">={'.'.join(OLDEST.split('.')[:2])}.0"


@pytest.mark.parametrize("release", list(RELEASES))
def test_launch_rerun_upgrade_and_remove(release, lab_factory):
    bin_dir = environment_for(release)
    version = subprocess.run([str(bin_dir / "ansible-playbook"), "--version"], capture_output=True, text=True, check=True).stdout
    assert f"core {release}]" in version, version
    lab, ansible, env = fast_lab(lab_factory, bin_dir)

    # The plan's CREATE change set makes a stack in review, deleted once read: listed as DELETE_COMPLETE, as on AWS.
    before = settled_snapshot(lab, deleted_stacks=False)
    planned = ansible.playbook("eksnodes.windows.launch", LAUNCH, check=True, diff=True, env=env, callback="default")
    assert succeeded(planned) > 0 and "+NodeInstanceRole (AWS::IAM::Role)" in planned.stdout
    assert snapshot(lab, deleted_stacks=False) == before, "check mode changed the lab"

    assert succeeded(ansible.playbook("eksnodes.windows.launch", LAUNCH, env=env, callback="default")) > 0
    assert len(windows_node_roles(lab)) == 1 and len(ready_windows_images(lab)) == 1
    sample = kclient.AppsV1Api(lab.kube_api_client()).read_namespaced_deployment("eks-sample-windows-deployment", "eks-sample-app")
    assert sample.spec.replicas == sample.status.ready_replicas == 3

    rerun = ansible.playbook("eksnodes.windows.launch", LAUNCH, env={**env, "ANSIBLE_VERBOSITY": "3"}, callback="default")
    assert succeeded(rerun) == 0
    assert (IN_PROCESS_SIGN in rerun.stdout) == release.startswith(IN_PROCESS_LINES), rerun.stdout[-3000:]

    image_id = publish_newer_ami(lab)
    upgrade = {"cluster_name": "lab", "nodegroup_name": "compat", "max_grace_period": 1}
    before = settled_snapshot(lab, deleted_stacks=False)
    previewed = ansible.playbook("eksnodes.windows.upgrade", upgrade, check=True, diff=True, env=env, callback="default")
    assert succeeded(previewed) > 0 and image_id in previewed.stdout
    assert snapshot(lab, deleted_stacks=False) == before, "check mode changed the lab"
    assert succeeded(ansible.playbook("eksnodes.windows.upgrade", upgrade, env=env, callback="default")) > 0
    assert ready_windows_images(lab) == [image_id]
    assert live_stacks(lab) == ["lab-nodegroup-compat-v2"]
    assert succeeded(ansible.playbook("eksnodes.windows.upgrade", {**upgrade, "nodegroup_name": "compat-v2"}, env=env, callback="default")) == 0

    removed = ansible.playbook("eksnodes.windows.remove", {"cluster_name": "lab", "nodegroup_name": "compat-v2"}, env=env, callback="default")
    assert succeeded(removed) > 0
    assert live_stacks(lab) == [] and windows_node_roles(lab) == []


# The other paths, on the oldest and the newest release: access entries (a cluster in API mode), the VPC CNI's IAM role
# through EKS Pod Identity, and a rolling upgrade.
@pytest.mark.parametrize("release", [OLDEST, NEWEST])
def test_access_entries_pod_identity_and_a_rolling_upgrade(release, lab_factory):
    lab, ansible, env = fast_lab(lab_factory, environment_for(release), auth_mode="API")
    eks = lab.aws_client("eks")
    eks.create_addon(clusterName="lab", addonName="eks-pod-identity-agent")
    launch = {"cluster_name": "lab", "nodegroup_name": "compat", "nodes": 2, "nodes_min": 2, "nodes_max": 3, "cni_identity": "pod_identity"}

    assert succeeded(ansible.playbook("eksnodes.windows.launch", launch, env=env, callback="default")) > 0
    assert len(windows_access_entries(lab)) == 1 and len(ready_windows_images(lab)) == 2
    associations = eks.list_pod_identity_associations(clusterName="lab", namespace="kube-system", serviceAccount="aws-node")["associations"]
    assert len(associations) == 1, associations
    assert succeeded(ansible.playbook("eksnodes.windows.launch", launch, env=env, callback="default")) == 0

    image_id = publish_newer_ami(lab)
    upgrade = {"cluster_name": "lab", "nodegroup_name": "compat", "max_grace_period": 1, "upgrade_strategy": "rolling"}
    assert succeeded(ansible.playbook("eksnodes.windows.upgrade", upgrade, env=env, callback="default")) > 0
    assert ready_windows_images(lab) == [image_id, image_id] and live_stacks(lab) == ["lab-nodegroup-compat"]
    assert succeeded(ansible.playbook("eksnodes.windows.upgrade", upgrade, env=env, callback="default")) == 0

    assert succeeded(ansible.playbook("eksnodes.windows.remove", {"cluster_name": "lab", "nodegroup_name": "compat"}, env=env, callback="default")) > 0
    assert live_stacks(lab) == [] and windows_access_entries(lab) == []
