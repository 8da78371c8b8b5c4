"""The remove playbook converges from any interruption and never touches what is not the node group's.

A removal killed between the stack deletion and the aws-auth / access-entry clean-up is simulated by
deleting the stack directly, as the killed run had; the next run must take out the mapping it left.
"""

import os
import signal
import subprocess
import time
import uuid

import yaml

from integration_helpers import REPO, AnsibleRunner

from test_stack_ownership import create_topic_stack, stack_args, stack_state

REMOVE = "eksnodes.windows.remove"
WINDOWS_GROUPS = ["system:bootstrappers", "system:nodes", "eks:kube-proxy-windows"]


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def core(lab):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    return client.CoreV1Api(lab.kube_api_client())


def aws_auth(lab):
    """The aws-auth ConfigMap's data and resourceVersion."""
    found = core(lab).read_namespaced_config_map("aws-auth", "kube-system")
    return {"data": dict(found.data or {}), "resource_version": found.metadata.resource_version}


def mapped_roles(lab):
    return [entry["rolearn"] for entry in yaml.safe_load(aws_auth(lab)["data"].get("mapRoles") or "[]")]


def map_roles(lab, arns):
    """Add Windows node mappings for arns, as the launch playbook (or someone else) did."""
    config_map = core(lab).read_namespaced_config_map("aws-auth", "kube-system")
    entries = yaml.safe_load(config_map.data.get("mapRoles") or "[]")
    entries += [{"rolearn": arn, "username": "system:node:{{EC2PrivateDNSName}}", "groups": WINDOWS_GROUPS} for arn in arns]
    config_map.data["mapRoles"] = yaml.safe_dump(entries, sort_keys=False)
    core(lab).replace_namespaced_config_map("aws-auth", "kube-system", config_map)


def unmap_roles(lab, arns):
    config_map = core(lab).read_namespaced_config_map("aws-auth", "kube-system")
    entries = [entry for entry in yaml.safe_load(config_map.data.get("mapRoles") or "[]") if entry["rolearn"] not in arns]
    config_map.data["mapRoles"] = yaml.safe_dump(entries, sort_keys=False)
    core(lab).replace_namespaced_config_map("aws-auth", "kube-system", config_map)


def launch_stack(lab, ansible, nodegroup):
    created = ansible.task("eksnodes.windows.nodegroup_stack", stack_args(lab, nodegroup))
    assert created.get("changed") and not created.get("failed"), created
    return created["outputs"]["node_instance_role_arn"]


def delete_stack_as_a_killed_run_did(lab, stack_name, role_arn):
    client = lab.aws_client("cloudformation")
    client.delete_stack(StackName=stack_name)
    assert stack_name not in [item["StackName"] for item in client.list_stacks()["StackSummaries"] if item["StackStatus"] != "DELETE_COMPLETE"]
    roles = [item["Arn"] for item in lab.aws_client("iam").list_roles()["Roles"]]
    assert role_arn not in roles, "the stack deletion did not delete the node role"


def decoy_roles(lab, stack_name):
    """Mappings that look like ours but are not provably ours: they must stay."""
    account = lab.facts["account_id"]
    living = f"{stack_name}-NodeInstanceRole-LIVING123456"
    lab.aws_client("iam").create_role(RoleName=living, AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": []}')
    return [
        f"arn:aws:iam::{account}:role/{living}",                                       # the name, but the role still exists
        f"arn:aws:iam::{account}:role/{stack_name}x-NodeInstanceRole-GONE12345678",    # another stack's name
        f"arn:aws:iam::999999999999:role/{stack_name}-NodeInstanceRole-GONE12345678",  # another account
    ]


def recap(run):
    return run.stats.get("changed"), run.stats.get("failures")


def test_remove_killed_after_the_stack_deletion_is_finished_by_the_next_run(lab, ansible):
    nodegroup = unique("rm")
    stack_name = f"lab-nodegroup-{nodegroup}"
    role_arn = launch_stack(lab, ansible, nodegroup)
    decoys = decoy_roles(lab, stack_name)
    map_roles(lab, [role_arn] + decoys)
    delete_stack_as_a_killed_run_did(lab, stack_name, role_arn)
    try:
        rerun = ansible.playbook(REMOVE, extra_vars={"cluster_name": "lab", "nodegroup_name": nodegroup})
        after_rerun = aws_auth(lab)
        again = ansible.playbook(REMOVE, extra_vars={"cluster_name": "lab", "nodegroup_name": nodegroup})

        assert rerun.returncode == 0, rerun.stdout[-4000:]
        mapped = mapped_roles(lab)
        assert role_arn not in mapped
        assert lab.facts["linux_node_role_arn"] in mapped and all(decoy in mapped for decoy in decoys)
        assert again.returncode == 0 and recap(again) == (0, 0), again.stdout[-4000:]
        assert aws_auth(lab) == after_rerun
    finally:
        unmap_roles(lab, decoys)
        lab.aws_client("iam").delete_role(RoleName=decoys[0].rsplit("/", maxsplit=1)[-1])


def test_remove_of_an_unrelated_stack_of_the_node_group_name_is_refused_before_any_change(lab, ansible):
    nodegroup = unique("taken")
    stack_name = f"lab-nodegroup-{nodegroup}"
    create_topic_stack(lab, stack_name)
    try:
        stack_before, auth_before = stack_state(lab, stack_name), aws_auth(lab)
        lab.control.aws_fault_share(0.0, service="cloudformation", action="DescribeStackEvents")

        refused = ansible.playbook(REMOVE, extra_vars={"cluster_name": "lab", "nodegroup_name": nodegroup})

        # The stack is read for its ownership, not for its events.
        assert [rule["seen"] for rule in lab.control.aws.share_faults() if rule["action"] == "DescribeStackEvents"] == [0]
        read = refused.result("Read the node group stack")
        assert read["exists"] and read["events"] == [] and read["owned"] is False
        assert refused.returncode != 0
        failed = refused.result("Refuse a stack of this name that is not the node group's")
        assert failed.get("failed") and "lacks the node group parameters" in failed["msg"] and "Nothing was changed" in failed["msg"], failed
        assert stack_state(lab, stack_name) == stack_before
        assert aws_auth(lab) == auth_before
    finally:
        lab.control.aws.clear_faults()
        lab.aws_client("cloudformation").delete_stack(StackName=stack_name)


def test_remove_in_api_and_config_map_mode_cleans_the_access_entry_and_the_mapping_after_an_interruption(lab_factory):
    lab = lab_factory(auth_mode="API_AND_CONFIG_MAP")
    ansible = AnsibleRunner(lab.env)
    nodegroup = unique("rm")
    stack_name = f"lab-nodegroup-{nodegroup}"
    role_arn = launch_stack(lab, ansible, nodegroup)
    eks = lab.aws_client("eks")
    eks.create_access_entry(clusterName="lab", principalArn=role_arn, type="EC2_WINDOWS")
    map_roles(lab, [role_arn])
    delete_stack_as_a_killed_run_did(lab, stack_name, role_arn)
    entries_before = eks.list_access_entries(clusterName="lab")["accessEntries"]
    assert role_arn in entries_before

    # A share-0 rule fails nothing and counts: the cluster is described once, by cluster_info, whose facts the aws_auth
    # and access_entry tasks are given.
    lab.control.aws_fault_share(0.0, service="eks", action="DescribeCluster")
    rerun = ansible.playbook(REMOVE, extra_vars={"cluster_name": "lab", "nodegroup_name": nodegroup})
    assert [rule["seen"] for rule in lab.control.aws.share_faults() if rule["action"] == "DescribeCluster"] == [1]
    lab.control.aws.clear_faults()
    after_rerun = aws_auth(lab)
    again = ansible.playbook(REMOVE, extra_vars={"cluster_name": "lab", "nodegroup_name": nodegroup})

    assert rerun.returncode == 0, rerun.stdout[-4000:]
    assert eks.list_access_entries(clusterName="lab")["accessEntries"] == [arn for arn in entries_before if arn != role_arn]
    assert role_arn not in mapped_roles(lab) and lab.facts["linux_node_role_arn"] in mapped_roles(lab)
    assert again.returncode == 0 and recap(again) == (0, 0), again.stdout[-4000:]
    assert aws_auth(lab) == after_rerun


def test_remove_killed_right_after_the_stack_deletion_is_finished_by_the_next_run(lab, ansible, tmp_path):
    nodegroup = unique("kill")
    stack_name = f"lab-nodegroup-{nodegroup}"
    role_arn = launch_stack(lab, ansible, nodegroup)
    map_roles(lab, [role_arn])
    cloudformation = lab.aws_client("cloudformation")
    stack_id = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]["StackId"]

    command = [str(REPO / ".venv/bin/ansible-playbook"), "-i", "localhost,", "-c", "local", REMOVE,
               "-e", f"cluster_name=lab nodegroup_name={nodegroup}"]
    with open(tmp_path / "killed.log", "w") as log:
        process = subprocess.Popen(command, env=ansible.environment(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 300
            while cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] != "DELETE_COMPLETE":
                assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "killed.log").read_text()[-3000:]
                time.sleep(0.05)
            os.killpg(process.pid, signal.SIGKILL)
        finally:
            process.wait()
    assert role_arn in mapped_roles(lab), "the run was killed after the mapping was removed: nothing left to finish"

    rerun = ansible.playbook(REMOVE, extra_vars={"cluster_name": "lab", "nodegroup_name": nodegroup})

    assert rerun.returncode == 0, rerun.stdout[-4000:]
    assert role_arn not in mapped_roles(lab) and lab.facts["linux_node_role_arn"] in mapped_roles(lab)
