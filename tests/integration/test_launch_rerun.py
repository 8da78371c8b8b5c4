"""Reruns of the launch playbook: nothing is replaced because AWS published an AMI, and a failed create is recovered
with the launch variable that the failure names."""

import re

from integration_helpers import AnsibleRunner

LAUNCH_VARS = {"cluster_name": "lab", "nodegroup_name": "win", "nodes": 2}
SSM_PARAMETER = "/aws/service/ami-windows-latest/Windows_Server-2022-English-Core-EKS_Optimized-1.31/image_id"
NEWER_NAME = "Windows_Server-2022-English-Core-EKS_Optimized-1.31-2026.12.09"
RECAP = re.compile(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=(\d+)")


def recap(stdout):
    match = RECAP.search(stdout)
    assert match, stdout[-3000:]
    return int(match.group(1)), int(match.group(2))


def group_instances(lab):
    groups = lab.aws_client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    group = next(g for g in groups if g["AutoScalingGroupName"].startswith("lab-nodegroup-win-"))
    return sorted((i["InstanceId"], i.get("LaunchTemplate", {}).get("Version")) for i in group["Instances"])


def stack_image(lab):
    parameters = lab.aws_client("cloudformation").describe_stacks(StackName="lab-nodegroup-win")["Stacks"][0]["Parameters"]
    return next(p["ParameterValue"] for p in parameters if p["ParameterKey"] == "NodeImageId")


def test_a_newer_ami_is_reported_and_not_rolled_out_until_asked(lab_factory):
    lab = lab_factory(join_delay=1)
    ansible = AnsibleRunner(lab.env)
    first = ansible.playbook("eksnodes.windows.launch", extra_vars=LAUNCH_VARS, callback="default")
    assert first.returncode == 0, first.stdout[-4000:]
    image, instances = stack_image(lab), group_instances(lab)

    newer = lab.control.aws.add_image(NEWER_NAME, owner_id="801119661308", platform="windows", creation_date="2026-12-09T08:00:00.000Z")
    lab.control.aws.put_ssm_parameter(SSM_PARAMETER, newer)

    rerun = ansible.playbook("eksnodes.windows.launch", extra_vars=LAUNCH_VARS, callback="default")
    assert rerun.returncode == 0, rerun.stdout[-4000:]
    assert recap(rerun.stdout) == (0, 0)
    warning = " ".join((rerun.stdout + rerun.stderr).split())
    assert f"A newer EKS optimized Windows AMI exists: {newer} ({NEWER_NAME}" in warning
    assert f"The node group keeps {image}" in warning and "days left before AWS retires it" in warning
    assert "node_ami_update: true" in warning
    assert stack_image(lab) == image and group_instances(lab) == instances

    preview = ansible.playbook("eksnodes.windows.launch", extra_vars={**LAUNCH_VARS, "node_ami_update": True},
                               check=True, diff=True, callback="default")
    assert preview.returncode == 0, preview.stdout[-4000:]
    assert f"-NodeImageId: {image}" in preview.stdout and f"+NodeImageId: {newer}" in preview.stdout
    assert stack_image(lab) == image and group_instances(lab) == instances


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
