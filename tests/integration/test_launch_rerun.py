"""Reruns of the launch playbook: a failed create is recovered with the launch variable that the failure names, and a
changed instance type is previewed, then rolled out node by node with drain.  (A rerun after AWS published a newer
AMI is in test_upgrade_playbook.py::test_a_newer_ami_reaches_every_node_and_the_app_keeps_a_ready_replica.)"""


import pytest

from integration_helpers import AnsibleRunner

pytestmark = pytest.mark.long

LAUNCH_VARS = {"cluster_name": "lab", "nodegroup_name": "win", "nodes": 2}
SSM_PARAMETER = "/aws/service/ami-windows-latest/Windows_Server-2022-English-Core-EKS_Optimized-1.31/image_id"
NEWER_NAME = "Windows_Server-2022-English-Core-EKS_Optimized-1.31-2026.12.09"


def group_instances(lab):
    groups = lab.aws_client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    group = next(g for g in groups if g["AutoScalingGroupName"].startswith("lab-nodegroup-win-"))
    return sorted((i["InstanceId"], i.get("LaunchTemplate", {}).get("Version")) for i in group["Instances"])


def instance_ids(lab):
    return [instance_id for instance_id, _version in group_instances(lab)]


def stack_image(lab):
    parameters = lab.aws_client("cloudformation").describe_stacks(StackName="lab-nodegroup-win")["Stacks"][0]["Parameters"]
    return next(p["ParameterValue"] for p in parameters if p["ParameterKey"] == "NodeImageId")


def test_a_failed_create_names_the_launch_variable_that_recovers_it(lab_factory):
    lab = lab_factory(join_delay=1)
    ansible = AnsibleRunner(lab.env)
    lab.control.aws.fail_next_stack_create("lab-nodegroup-win", logical_id="NodeGroup", reason="lab: not enough capacity")
    failed = ansible.playbook("eksnodes.windows.launch", extra_vars=LAUNCH_VARS, callback="default")
    assert failed.returncode != 0
    assert "lab: not enough capacity" in failed.stdout

    again = ansible.playbook("eksnodes.windows.launch", extra_vars=LAUNCH_VARS, callback="default")
    assert again.returncode != 0
    assert "ROLLBACK_COMPLETE" in again.stdout and "recover_failed=true" in again.stdout

    recovered = ansible.playbook("eksnodes.windows.launch", extra_vars={**LAUNCH_VARS, "recover_failed": True}, callback="default")
    assert recovered.returncode == 0, recovered.stdout[-4000:]
    status = lab.aws_client("cloudformation").describe_stacks(StackName="lab-nodegroup-win")["Stacks"][0]["StackStatus"]
    assert status == "CREATE_COMPLETE"
    assert len(group_instances(lab)) == 2


def test_a_changed_instance_type_is_previewed_then_rolled_out_node_by_node_with_drain(lab_factory):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    lab = lab_factory(join_delay=1)
    ansible = AnsibleRunner(lab.env)
    first = ansible.playbook("eksnodes.windows.launch", extra_vars={**LAUNCH_VARS, "deploy_sample_app": True}, callback="default")
    assert first.returncode == 0, first.stdout[-4000:]
    old = instance_ids(lab)
    core = client.CoreV1Api(lab.kube_api_client())
    node_of = {n.spec.provider_id.rsplit("/", 1)[-1]: n.metadata.name for n in core.list_node().items}

    changed = {**LAUNCH_VARS, "node_type": "m5.xlarge"}
    preview = ansible.playbook("eksnodes.windows.launch", extra_vars=changed, check=True, diff=True, callback="default")
    assert preview.returncode == 0, preview.stdout[-4000:]
    assert "2 nodes will be replaced" in preview.stdout and all(instance_id in preview.stdout for instance_id in old)
    assert instance_ids(lab) == old

    mark = lab.control.lifecycle_mark()
    rollout = ansible.playbook("eksnodes.windows.launch", extra_vars=changed, callback="default")
    assert rollout.returncode == 0, rollout.stdout[-4000:]
    assert "cordoned" in rollout.stdout and "drained" in rollout.stdout

    now = instance_ids(lab)
    assert len(now) == 2 and not set(now) & set(old)
    reservations = lab.aws_client("ec2").describe_instances(InstanceIds=now)["Reservations"]
    assert {i["InstanceType"] for r in reservations for i in r["Instances"]} == {"m5.xlarge"}

    entries = lab.control.lifecycle(mark)
    terminated = {e["instance_id"]: e["seq"] for e in entries if e["kind"] == "instance_terminate" and e["instance_id"] in old}
    assert set(terminated) == set(old)
    sample_pods_evicted = [e for e in entries if e["kind"] == "eviction" and e["allowed"] and e["namespace"] == "eks-sample-app"]
    assert sample_pods_evicted, "the sample app's pods were not evicted"
    for eviction in sample_pods_evicted:
        instance_id = next(i for i, name in node_of.items() if name == eviction["node"])
        assert eviction["seq"] < terminated[instance_id], f"{eviction['pod']} was evicted after its instance was terminated"
    deleted_without_eviction = [e for e in entries if e["kind"] == "pod_delete" and e["via"] != "eviction" and e["actor"] == "client"]
    assert deleted_without_eviction == []
