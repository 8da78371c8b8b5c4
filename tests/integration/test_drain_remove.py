"""The remove playbook drains the node group before deleting its stack: the sample application (2 replicas, a
PodDisruptionBudget minAvailable 1) moves to another Windows node group through evictions, before any instance of
the removed group is terminated."""

import re
import uuid

import pytest
from kubernetes import client as kclient

from test_drain import ReadySampler, SampleApp, node_names_of
from test_launch_playbook import recap
from test_nodegroup_stack import stack_args
from test_nodes_ready import FAST_KNOBS, fleet, settings  # noqa: F401 pylint: disable=unused-import

pytestmark = pytest.mark.long


def test_remove_drains_the_group_before_its_instances_terminate(lab, ansible, fleet, settings):  # noqa: F811
    settings.knobs(**FAST_KNOBS)
    settings.ipam("true")
    core = kclient.CoreV1Api(lab.kube_api_client())
    name = f"rm-{uuid.uuid4().hex[:6]}"
    remove_vars = {"cluster_name": lab.cluster_name, "nodegroup_name": name, "max_grace_period": 1}
    created = ansible.task("eksnodes.windows.nodegroup_stack", stack_args(lab, name))
    assert created.get("changed") and not created.get("failed"), created
    fleet.map(created["outputs"]["node_instance_role_arn"])
    group_name = created["outputs"]["node_autoscaling_group"]
    waited = ansible.task("eksnodes.windows.nodes_ready",
                          {"cluster_name": lab.cluster_name, "autoscaling_group_name": group_name, "wait_timeout": 60})
    assert waited.get("done"), waited
    old_instances = sorted(created["instance_ids"])
    old_nodes = node_names_of(lab, old_instances)
    app = SampleApp(lab, ansible)
    app.deploy(replicas=2, minAvailable=1)
    app.wait_ready(2, on_nodes=old_nodes)
    new = fleet.create(size=1, release="2022")
    fleet.map(new["role_arn"])
    waited = ansible.task("eksnodes.windows.nodes_ready",
                          {"cluster_name": lab.cluster_name, "autoscaling_group_name": new["name"], "wait_timeout": 60})
    assert waited.get("done"), waited
    new_nodes = node_names_of(lab, new["instance_ids"])
    pods = sorted(f"{app.namespace}/{p.metadata.name}" for p in app.pods())

    # --check lists the pods that would be evicted, and changes nothing; with drain=false there is no drain at all.
    mark = lab.control.lifecycle_mark()
    preview = ansible.playbook("eksnodes.windows.remove", extra_vars=remove_vars, check=True, diff=True, callback="default")
    assert preview.returncode == 0, preview.stdout[-4000:]
    would = re.findall(r"^\[localhost\] (\S+): would cordon and evict (.*)$", preview.stdout, re.MULTILINE)
    assert sorted(pod for _node, listed in would for pod in listed.split(", ")) == pods, preview.stdout[-3000:]
    skipped = ansible.playbook("eksnodes.windows.remove", extra_vars=dict(remove_vars, drain=False), check=True, callback="default")
    assert skipped.returncode == 0 and "would cordon" not in skipped.stdout, skipped.stdout[-3000:]
    assert lab.control.lifecycle(mark, ["eviction", "pod_delete", "instance_terminate"]) == []
    assert not any(core.read_node(n).spec.unschedulable for n in old_nodes)

    with ReadySampler(app) as sampler:
        removed = ansible.playbook("eksnodes.windows.remove", extra_vars=remove_vars, callback="default")
    assert removed.returncode == 0, removed.stdout[-4000:]
    assert sampler.min_ready >= 1, sampler.samples
    app.wait_ready(2, on_nodes=new_nodes)
    records = lab.control.lifecycle(mark, ["eviction", "pod_delete", "instance_terminate"])
    deletions = [r for r in records if r["kind"] == "pod_delete" and r["namespace"] == app.namespace]
    assert sorted(f"{d['namespace']}/{d['pod']}" for d in deletions) == pods and all(d["via"] == "eviction" for d in deletions), records
    terminations = [r for r in records if r["kind"] == "instance_terminate" and r["instance_id"] in old_instances]
    assert sorted(t["instance_id"] for t in terminations) == old_instances, records
    assert max(d["seq"] for d in deletions) < min(t["seq"] for t in terminations), records

    again = ansible.playbook("eksnodes.windows.remove", extra_vars=remove_vars, callback="default")
    assert again.returncode == 0 and recap(again.stdout) == (0, 0), again.stdout[-3000:]
    app.remove()
