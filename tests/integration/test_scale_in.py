"""A smaller node group: the nodes that leave are cordoned and drained, PodDisruptionBudgets respected, before their
instances are terminated; --check --diff says which leave and changes nothing; the rerun changes nothing. Through the
launch playbook (plan, then change) and through the nodegroup role on its own (plan and change in one module run)."""

import pytest
from kubernetes import client as kclient

from ansible_collections.eksnodes.windows.plugins.module_utils.eks.transformations import cluster_facts

from integration_helpers import AnsibleRunner, recap, settled_snapshot, snapshot
from test_drain import SampleApp

pytestmark = pytest.mark.long

LAUNCH = {"cluster_name": "lab", "nodegroup_name": "win", "nodes": 3}


def group(lab):
    outputs = lab.aws_client("cloudformation").describe_stacks(StackName="lab-nodegroup-win")["Stacks"][0]["Outputs"]
    name = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "NodeAutoScalingGroup")
    return lab.aws_client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]


def live(found):
    return sorted(i["InstanceId"] for i in found["Instances"] if i["LifecycleState"] == "InService")


def ready_windows_nodes(lab):
    nodes = kclient.CoreV1Api(lab.kube_api_client()).list_node(label_selector="kubernetes.io/os=windows").items
    return sorted(n.spec.provider_id.rsplit("/", 1)[-1] for n in nodes
                  if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or []))


def assert_drained_before_terminated(lab, mark, namespace, terminated):
    """Every pod of the application on a terminated instance left by an allowed eviction, before the instance went."""
    records = lab.control.lifecycle(mark, ["eviction", "pod_delete", "instance_terminate"])
    gone = {r["instance_id"]: r["seq"] for r in records if r["kind"] == "instance_terminate"}
    assert sorted(gone) == sorted(terminated), records
    deleted = [r for r in records if r["kind"] == "pod_delete" and r.get("namespace") == namespace and r["actor"] == "client"]
    assert deleted and all(r["via"] == "eviction" for r in deleted), deleted
    assert all(r["seq"] < min(gone.values()) for r in deleted), records


def test_a_smaller_node_group_drains_the_nodes_that_leave(lab_factory):
    lab = lab_factory(join_delay=0.5, ready_delay=0.3)
    lab.control.set_nodesim(interval=0.2)
    ansible = AnsibleRunner(lab.env)
    assert ansible.playbook("eksnodes.windows.launch", extra_vars=LAUNCH, callback="default").returncode == 0
    assert len(ready_windows_nodes(lab)) == 3
    app = SampleApp(lab, ansible)
    app.deploy(replicas=3, maxUnavailable=1)
    app.wait_ready(3)

    # --check --diff says which node leaves, and changes nothing.
    before = settled_snapshot(lab, deleted_stacks=False)
    previewed = ansible.playbook("eksnodes.windows.launch", extra_vars={**LAUNCH, "nodes": 2}, check=True, diff=True, callback="default")
    assert previewed.returncode == 0, previewed.stdout[-4000:]
    leaving = live(group(lab))[-1]
    assert f"1 node(s) leave node group win (2 wanted), each cordoned and drained first, then terminated: {leaving}" in previewed.stdout
    assert snapshot(lab, deleted_stacks=False) == before, "check mode changed the lab"

    # The launch playbook: plan, drain and take out, then the stack update.
    mark = lab.control.lifecycle_mark()
    smaller = ansible.playbook("eksnodes.windows.launch", extra_vars={**LAUNCH, "nodes": 2}, callback="default")
    assert smaller.returncode == 0, smaller.stdout[-5000:]
    assert_drained_before_terminated(lab, mark, app.namespace, [leaving])
    found = group(lab)
    assert (found["DesiredCapacity"], found["MinSize"], len(live(found))) == (2, 2, 2) and leaving not in live(found)
    assert ready_windows_nodes(lab) == live(found)
    app.wait_ready(3)
    assert recap(ansible.playbook("eksnodes.windows.launch", extra_vars={**LAUNCH, "nodes": 2}, callback="default").stdout) == (0, 0)

    # The role on its own: nodegroup_stack refuses the update before any change, the role drains, then updates.
    leaving = live(group(lab))[-1]
    mark = lab.control.lifecycle_mark()
    cluster = cluster_facts(lab.aws_client("eks").describe_cluster(name="lab")["cluster"])
    role = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "node group", "ansible.builtin.include_role": {"name": "eksnodes.windows.nodegroup"},
         "vars": {"nodegroup_cluster": cluster, "nodegroup_name": "win", "nodegroup_nodes": 1, "nodegroup_nodes_min": 1,
                  "nodegroup_nodes_max": 2}}]}]
    alone = ansible.playbook(role, callback="default")
    assert alone.returncode == 0, alone.stdout[-5000:]
    assert_drained_before_terminated(lab, mark, app.namespace, [leaving])
    found = group(lab)
    assert (found["DesiredCapacity"], found["MinSize"], found["MaxSize"], len(live(found))) == (1, 1, 2, 1)
