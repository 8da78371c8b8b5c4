"""eksnodes.windows.nodes_replace against the lab: a 2-node Windows node group stack is updated to a new AMI (its
instances stay: the template has no CloudFormation rolling update), then moves to it one node at a time, each node
drained before its instance is terminated, the sample application (2 replicas, a PodDisruptionBudget) always
keeping a Ready replica; a budget that forbids evictions stops the replacement, and a rerun after relaxing it finishes.

A third Windows node outside the group gives the application room while both of the group's nodes are busy: in the lab
a pod on a cordoned node reports NotReady (lab.controllers.node_ready), which a kubelet does not do, so without it the
budget would refuse the second node's evictions for good.
"""

import re
import uuid

import pytest
from kubernetes import client as kclient

from test_drain import ReadySampler, SampleApp, node_names_of
from test_nodegroup_stack import stack_args
from test_nodes_ready import FAST_KNOBS, fleet, settings  # noqa: F401 pylint: disable=unused-import

MODULE = "eksnodes.windows.nodes_replace"
FAMILY = "Windows_Server-2022-English-Core-EKS_Optimized-1.31"


def wait_ready(lab, ansible, group_name):
    waited = ansible.task("eksnodes.windows.nodes_ready",
                          {"cluster_name": lab.cluster_name, "autoscaling_group_name": group_name, "wait_timeout": 60})
    assert waited.get("done"), waited
    return waited


def images_of(lab, fleet, group_name):  # noqa: F811 pylint: disable=redefined-outer-name
    ids = fleet.instance_ids(group_name)
    reservations = lab.aws_client("ec2").describe_instances(InstanceIds=ids)["Reservations"]
    return {i["InstanceId"]: i["ImageId"] for r in reservations for i in r["Instances"]}


def setup(lab, ansible, fleet, budget):  # noqa: F811 pylint: disable=redefined-outer-name
    """A node group stack on an older AMI with the sample app on its nodes, a spare node, then the stack updated to the
    newest AMI: CloudFormation changes the launch template and keeps the instances."""
    images = lab.facts["windows_amis"][FAMILY]["images"]
    older, newest = images[0]["image_id"], images[-1]["image_id"]
    name = f"roll-{uuid.uuid4().hex[:6]}"
    args = stack_args(lab, name, image_id=older)
    created = ansible.task("eksnodes.windows.nodegroup_stack", args)
    assert created.get("changed") and not created.get("failed"), created
    fleet.map(created["outputs"]["node_instance_role_arn"])
    group = {"name": created["outputs"]["node_autoscaling_group"], "instance_ids": sorted(created["instance_ids"]), "stack": args["stack_name"]}
    wait_ready(lab, ansible, group["name"])
    old_nodes = node_names_of(lab, group["instance_ids"])
    app = SampleApp(lab, ansible)
    app.deploy(replicas=2, **budget)
    app.wait_ready(2, on_nodes=old_nodes)
    spare = fleet.create(size=1, release="2022")
    fleet.map(spare["role_arn"])
    wait_ready(lab, ansible, spare["name"])
    updated = ansible.task("eksnodes.windows.nodegroup_stack", dict(args, image_id=newest))
    assert updated.get("changed") and updated["outputs"]["node_image_id"] == newest, updated
    assert sorted(updated["instance_ids"]) == group["instance_ids"] and set(images_of(lab, fleet, group["name"]).values()) == {older}
    return group, old_nodes, app, newest


@pytest.fixture
def stacks(lab):
    """Stacks to delete after the test."""
    names = []
    yield names
    for name in names:
        lab.aws_client("cloudformation").delete_stack(StackName=name)


def test_rolls_a_group_to_a_new_ami_one_drained_node_at_a_time(lab, ansible, fleet, settings, stacks):  # noqa: F811
    settings.knobs(**FAST_KNOBS)
    settings.ipam("true")
    core = kclient.CoreV1Api(lab.kube_api_client())
    group, old_nodes, app, newest = setup(lab, ansible, fleet, {"minAvailable": 1})
    stacks.append(group["stack"])
    try:
        args = {"cluster_name": lab.cluster_name, "autoscaling_group_name": group["name"], "batch_size": 1, "min_in_service": 1,
                "max_grace_period": 1, "eviction_timeout": 60, "replacement_timeout": 120, "progress_interval": 2}
        node_of = {i: node_names_of(lab, [i])[0] for i in group["instance_ids"]}
        mark = lab.control.lifecycle_mark()
        planned = ansible.task(MODULE, args, check=True, diff=True)
        assert not planned.get("failed"), planned
        short = sorted(n.split(".")[0] for n in old_nodes)
        assert planned["changed"] is True and planned["summary"].startswith("2 node(s) will be replaced: ")
        assert sorted(planned["summary"].split(": ", 1)[1].split(", ")) == short
        assert sorted(o["reason"] for o in planned["old"]) == ["launch template version 1, the group's is 2"] * 2, planned["old"]
        assert planned["target"]["image_id"] == newest
        assert set(planned["diff"]["before"]["instances"]) == set(group["instance_ids"])
        assert fleet.instance_ids(group["name"]) == group["instance_ids"]
        assert not any(core.read_node(n).spec.unschedulable for n in old_nodes)
        assert lab.control.lifecycle(mark, ["eviction", "pod_delete", "instance_terminate"]) == []

        with ReadySampler(app) as sampler:
            rolled = ansible.playbook([{"hosts": "localhost", "gather_facts": False, "tasks": [{"name": "roll", MODULE: args}]}],
                                      callback="default", timeout=900)
        assert rolled.returncode == 0, rolled.stdout[-5000:]
        lines = re.findall(r"^\[localhost\] (.*)$", rolled.stdout, re.MULTILINE)
        assert sum(line.startswith("replacing ") for line in lines) == 2, lines
        assert sampler.min_ready >= 1, sampler.samples
        images = images_of(lab, fleet, group["name"])
        assert len(images) == 2 and set(images.values()) == {newest} and not set(images) & set(group["instance_ids"])
        desired = fleet.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group["name"]])["AutoScalingGroups"][0]["DesiredCapacity"]
        assert desired == 2
        wait_ready(lab, ansible, group["name"])

        # Order: each old node's pods were evicted before its instance was terminated; no pod went without an eviction.
        records = lab.control.lifecycle(mark, ["eviction", "pod_delete", "instance_terminate"])
        deletions = [r for r in records if r["kind"] == "pod_delete" and r["namespace"] == app.namespace]
        assert deletions and all(d["via"] == "eviction" for d in deletions), records
        terminated = {r["instance_id"]: r["seq"] for r in records if r["kind"] == "instance_terminate"}
        for instance_id, node in node_of.items():
            assert all(d["seq"] < terminated[instance_id] for d in deletions if d["node"] == node), records

        mark = lab.control.lifecycle_mark()
        again = ansible.task(MODULE, args)
        assert not again.get("failed") and again["changed"] is False and again["old"] == [] and again["terminated"] == [], again
        assert lab.control.lifecycle(mark, ["eviction", "pod_delete", "instance_terminate"]) == []
    finally:
        app.remove()


def test_a_budget_that_forbids_evictions_stops_the_replacement_until_relaxed(lab, ansible, fleet, settings, stacks):  # noqa: F811
    settings.knobs(**FAST_KNOBS)
    settings.ipam("true")
    core = kclient.CoreV1Api(lab.kube_api_client())
    group, old_nodes, app, newest = setup(lab, ansible, fleet, {"maxUnavailable": 0})
    stacks.append(group["stack"])
    try:
        args = {"cluster_name": lab.cluster_name, "autoscaling_group_name": group["name"], "min_in_service": 1, "max_grace_period": 1,
                "eviction_timeout": 4, "replacement_timeout": 120, "progress_interval": 2}
        mark = lab.control.lifecycle_mark()
        stopped = ansible.task(MODULE, args)
        assert stopped.get("failed"), stopped
        first = sorted(group["instance_ids"])[0]
        node = node_names_of(lab, [first])[0]
        assert stopped["msg"].startswith(f"node {node} will not drain: pod {app.namespace}/"), stopped["msg"]
        assert f"PodDisruptionBudget {app.namespace}/{app.budget} (maxUnavailable 0" in stopped["msg"]
        assert stopped["blocked"]["budget"] == app.budget and stopped["terminated"] == []
        # Nothing was terminated; only the first node's drain started.
        assert fleet.instance_ids(group["name"]) == group["instance_ids"]
        assert lab.control.lifecycle(mark, ["pod_delete", "instance_terminate"]) == []
        assert core.read_node(node).spec.unschedulable is True
        assert [n for n in old_nodes if core.read_node(n).spec.unschedulable] == [node]

        app.policy.patch_namespaced_pod_disruption_budget(app.budget, app.namespace, {"spec": {"maxUnavailable": 1}})
        app.wait_budget_observed()
        finished = ansible.task(MODULE, args)
        assert not finished.get("failed"), (finished.get("msg"), finished.get("lines"))
        assert [t["instance_id"] for t in finished["terminated"]][0] == first and len(finished["terminated"]) == 2
        assert set(images_of(lab, fleet, group["name"]).values()) == {newest}
        deletions = [d for d in lab.control.pod_deletions(mark) if d["namespace"] == app.namespace]
        assert deletions and all(d["via"] == "eviction" for d in deletions)
    finally:
        app.remove()
