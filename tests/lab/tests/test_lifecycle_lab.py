"""Draining and replacing nodes in the lab: evictions and PodDisruptionBudgets, graceful deletion, cordons and
taints in the scheduler, the lifecycle record, kubernetes.core.k8s_drain, and rolling Auto Scaling group updates."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from typing import Any, Iterator

import pytest
from integration_helpers import AnsibleRunner
from kubernetes import client as kclient
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

from .conftest import WINDOWS_GROUPS, Kube, NodeGroups

REFUSED = "Cannot evict pod as it would violate the pod's disruption budget."


# --------------------------------------------------------------------------- helpers


class Workloads:
    """Nodes that no instance backs (the node simulator leaves nodes without an aws:/// providerID alone),
    Deployments pinned to them by a label, and budgets; everything removed afterwards."""

    def __init__(self, kube: Kube, policy: kclient.PolicyV1Api) -> None:
        self.kube = kube
        self.core = kube.core
        self.apps = kube.apps
        self.policy = policy
        self.pool = f"pool-{uuid.uuid4().hex[:6]}"
        self.nodes: list[str] = []
        self.deployments: list[str] = []
        self.pdbs: list[str] = []

    def node(self, suffix: str, ready: bool = True) -> str:
        name = f"{self.pool}-{suffix}"
        self.core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {
            "kubernetes.io/os": "linux", "kubernetes.io/hostname": name, "lab-pool": self.pool}},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False", "reason": "KubeletReady"}],
                       "addresses": [{"type": "InternalIP", "address": f"10.9.0.{len(self.nodes) + 1}"}]}})
        self.nodes.append(name)
        return name

    def deployment(self, name: str, replicas: int = 2) -> str:
        labels = {"app": name}
        self.apps.create_namespaced_deployment("default", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": {
            "replicas": replicas, "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {
                "nodeSelector": {"lab-pool": self.pool}, "containers": [{"name": "app", "image": "registry.k8s.io/pause:3.9"}]}}}})
        self.deployments.append(name)
        return name

    def pdb(self, name: str, **spec: Any) -> str:
        self.policy.create_namespaced_pod_disruption_budget("default", {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                                                                        "metadata": {"name": name}, "spec": spec})
        self.pdbs.append(name)
        return name

    def pods(self, app: str, include_terminating: bool = False) -> list:
        pods = self.core.list_namespaced_pod("default", label_selector=f"app={app}").items
        return [p for p in pods if include_terminating or p.metadata.deletion_timestamp is None]

    def ready_pods(self, app: str, count: int, timeout: float = 10.0) -> list:
        def check() -> list:
            pods = self.pods(app)
            ready = [p for p in pods if p.spec.node_name and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]
            return ready if len(ready) == count == len(pods) else []
        return self.kube.wait(f"{count} ready pods of {app}", check, timeout)

    def budget(self, name: str, **expected: int) -> Any:
        def check() -> Any:
            status = self.policy.read_namespaced_pod_disruption_budget_status(name, "default").status
            return status if all(getattr(status, key) == value for key, value in expected.items()) else None
        return self.kube.wait(f"budget {name} with {expected}", check)

    def cleanup(self) -> None:
        for name in self.pdbs:
            _ignore_404(self.policy.delete_namespaced_pod_disruption_budget, name, "default")
        for name in self.deployments:
            _ignore_404(self.apps.delete_namespaced_deployment, name, "default")
            for pod in self.core.list_namespaced_pod("default", label_selector=f"app={name}").items:
                _ignore_404(self.core.delete_namespaced_pod, pod.metadata.name, "default", grace_period_seconds=0)
        for name in self.nodes:
            _ignore_404(self.core.delete_node, name)


def _ignore_404(call: Any, *args: Any, **kwargs: Any) -> None:
    try:
        call(*args, **kwargs)
    except ApiException as err:
        if err.status != 404:
            raise


def _evict(core: kclient.CoreV1Api, name: str, namespace: str = "default", api_version: str = "policy/v1") -> Any:
    body = {"apiVersion": api_version, "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}}
    return core.create_namespaced_pod_eviction(name, namespace, body)


@pytest.fixture
def workloads(fast_lab: Any, kube: Kube) -> Iterator[Workloads]:
    made = Workloads(kube, kclient.PolicyV1Api(fast_lab.kube_api_client()))
    try:
        yield made
    finally:
        made.cleanup()


@pytest.fixture(scope="module")
def ansible(fast_lab: Any) -> AnsibleRunner:
    return AnsibleRunner(fast_lab.env)


# --------------------------------------------------------------------------- discovery


def test_discovery_lists_eviction_and_disruption_budgets(fast_lab: Any):
    api_client = fast_lab.kube_api_client()
    core = json.loads(api_client.call_api("/api/v1", "GET", _preload_content=False, auth_settings=["BearerToken"]).data)
    eviction = next(r for r in core["resources"] if r["name"] == "pods/eviction")
    assert (eviction["group"], eviction["version"], eviction["kind"], eviction["verbs"]) == ("policy", "v1", "Eviction", ["create"])
    dynamic = DynamicClient(api_client)
    pdbs = dynamic.resources.get(api_version="policy/v1", kind="PodDisruptionBudget")
    assert pdbs.namespaced and pdbs.short_names == ["pdb"] and pdbs.subresources["status"]


# --------------------------------------------------------------------------- budgets and evictions


def test_budget_status_follows_the_pods(workloads: Workloads):
    workloads.node("a")
    workloads.node("b")
    app = workloads.deployment(f"web-{workloads.pool}", replicas=3)
    workloads.ready_pods(app, 3)
    by_count = workloads.pdb(f"{app}-min", selector={"matchLabels": {"app": app}}, minAvailable=2)
    by_percent = workloads.pdb(f"{app}-max", selector={"matchLabels": {"app": app}}, maxUnavailable="34%")
    status = workloads.budget(by_count, observed_generation=1, expected_pods=3, current_healthy=3, desired_healthy=2, disruptions_allowed=1)
    assert [(c.type, c.status, c.reason) for c in status.conditions] == [("DisruptionAllowed", "True", "SufficientPods")]
    # 34% of 3 rounds up to 2 unavailable: 1 must stay healthy.
    workloads.budget(by_percent, expected_pods=3, current_healthy=3, desired_healthy=1, disruptions_allowed=2)
    workloads.apps.patch_namespaced_deployment_scale(app, "default", {"spec": {"replicas": 1}})
    workloads.budget(by_count, expected_pods=1, current_healthy=1, desired_healthy=2, disruptions_allowed=0)
    workloads.budget(by_percent, expected_pods=1, current_healthy=1, desired_healthy=0, disruptions_allowed=1)


def test_cordoned_nodes_keep_their_pods_ready_and_counted_healthy(fast_lab: Any, workloads: Workloads):
    # A cordon only stops new pods from being scheduled there, as kube-scheduler has it: the pods that run on the node stay Ready, and
    # a budget still counts them, so that a drain can evict them one at a time while the others serve.
    node_a, node_b = workloads.node("a"), workloads.node("b")
    app = workloads.deployment(f"cordon-{workloads.pool}", replicas=2)
    workloads.ready_pods(app, 2)
    budget = workloads.pdb(f"{app}-min", selector={"matchLabels": {"app": app}}, minAvailable=1)
    workloads.budget(budget, current_healthy=2, disruptions_allowed=1)
    for node in (node_a, node_b):
        workloads.core.patch_node(node, {"spec": {"unschedulable": True}})
    fast_lab.control.controllers_settled()
    assert len(workloads.ready_pods(app, 2)) == 2
    workloads.budget(budget, current_healthy=2, disruptions_allowed=1)


def test_budget_with_both_bounds_is_invalid_and_not_stored(workloads: Workloads):
    before = workloads.policy.list_namespaced_pod_disruption_budget("default")
    with pytest.raises(ApiException) as refused:
        workloads.pdb(f"both-{workloads.pool}", selector={}, minAvailable=1, maxUnavailable=1)
    assert refused.value.status == 422 and "minAvailable and maxUnavailable cannot be both set" in json.loads(refused.value.body)["message"]
    after = workloads.policy.list_namespaced_pod_disruption_budget("default")
    assert [p.metadata.name for p in after.items] == [p.metadata.name for p in before.items]
    assert after.metadata.resource_version == before.metadata.resource_version


def test_eviction_is_allowed_then_refused_with_429_by_the_budget(fast_lab: Any, workloads: Workloads):
    workloads.node("a")
    workloads.node("b")
    app = workloads.deployment(f"api-{workloads.pool}")
    first, second = workloads.ready_pods(app, 2)
    assert first.spec.node_name != second.spec.node_name
    pdb = workloads.pdb(f"{app}-pdb", selector={"matchLabels": {"app": app}}, minAvailable=1)
    workloads.budget(pdb, observed_generation=1, disruptions_allowed=1, current_healthy=2, desired_healthy=1, expected_pods=2)
    mark = fast_lab.control.lifecycle_mark()

    _evict(workloads.core, first.metadata.name)
    # The eviction took the budget's only disruption at once, before any controller ran.
    status = workloads.policy.read_namespaced_pod_disruption_budget_status(pdb, "default").status
    assert status.disruptions_allowed == 0 and first.metadata.name in (status.disrupted_pods or {})
    before = workloads.core.read_namespaced_pod(second.metadata.name, "default")
    with pytest.raises(ApiException) as refused:
        _evict(workloads.core, second.metadata.name, api_version="policy/v1beta1")
    body = json.loads(refused.value.body)
    assert refused.value.status == 429 and (body["reason"], body["message"]) == ("TooManyRequests", REFUSED)
    # Which wording depends on whether the disruption controller has recounted the healthy pods since the first eviction.
    assert body["details"]["causes"] in ([{"reason": "DisruptionBudget", "message": f"The disruption budget {pdb} needs 1 healthy pods and has 1 currently"}],
                                         [{"reason": "DisruptionBudget", "message": f"The disruption budget {pdb} does not allow evicting pods currently"}])
    after = workloads.core.read_namespaced_pod(second.metadata.name, "default")
    assert after.metadata.resource_version == before.metadata.resource_version and after.metadata.deletion_timestamp is None

    records = fast_lab.control.lifecycle(mark, ["eviction", "pod_delete"])
    assert [(r["kind"], r["pod"], r.get("allowed"), r.get("pdb"), r.get("via")) for r in records] == [
        ("eviction", first.metadata.name, True, pdb, None), ("pod_delete", first.metadata.name, None, None, "eviction"),
        ("eviction", second.metadata.name, False, pdb, None)]
    assert records[0]["node"] == first.spec.node_name and records[2]["code"] == 429 and records[2]["message"] == REFUSED

    # The replacement becomes Ready: the budget allows one disruption again, and the second pod can go.
    workloads.ready_pods(app, 2)
    workloads.budget(pdb, disruptions_allowed=1, current_healthy=2)
    _evict(workloads.core, second.metadata.name)


def test_eviction_waits_for_the_budget_to_be_observed_and_refuses_two_budgets(fast_lab: Any, workloads: Workloads):
    workloads.node("a")
    app = workloads.deployment(f"two-{workloads.pool}", replicas=2)
    pod = workloads.ready_pods(app, 2)[0]
    fast_lab.control.set_nodesim(paused=True)  # no disruption controller pass: the new budget stays unobserved
    try:
        pdb = workloads.pdb(f"{app}-new", selector={"matchLabels": {"app": app}}, minAvailable=1)
        with pytest.raises(ApiException) as unobserved:
            _evict(workloads.core, pod.metadata.name)
    finally:
        fast_lab.control.set_nodesim(paused=False)
    body = json.loads(unobserved.value.body)
    assert (unobserved.value.status, body["message"], unobserved.value.headers["Retry-After"]) == (429, REFUSED, "10")
    assert body["details"]["causes"][0]["message"] == f"The disruption budget {pdb} is still being processed by the server."
    workloads.budget(pdb, observed_generation=1, disruptions_allowed=1)

    # A dry run checks without taking the disruption or deleting the pod.
    before = workloads.core.read_namespaced_pod(pod.metadata.name, "default")
    workloads.core.create_namespaced_pod_eviction(pod.metadata.name, "default", {"apiVersion": "policy/v1", "kind": "Eviction",
                                                                                 "metadata": {"name": pod.metadata.name}}, dry_run="All")
    assert workloads.core.read_namespaced_pod(pod.metadata.name, "default").metadata.resource_version == before.metadata.resource_version
    assert workloads.policy.read_namespaced_pod_disruption_budget_status(pdb, "default").status.disruptions_allowed == 1

    workloads.pdb(f"{app}-other", selector={"matchLabels": {"app": app}}, maxUnavailable=1)
    with pytest.raises(ApiException) as ambiguous:
        _evict(workloads.core, pod.metadata.name)
    assert ambiguous.value.status == 500
    assert json.loads(ambiguous.value.body)["message"] == "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
    after = workloads.core.read_namespaced_pod(pod.metadata.name, "default")
    assert after.metadata.resource_version == before.metadata.resource_version and after.metadata.deletion_timestamp is None


def test_an_evicted_pod_terminates_gracefully_and_is_replaced_at_once(fast_lab: Any, workloads: Workloads):
    workloads.node("a")
    app = workloads.deployment(f"grace-{workloads.pool}", replicas=1)
    (pod,) = workloads.ready_pods(app, 1)
    fast_lab.control.set_nodesim(termination_seconds=2.0)
    try:
        _evict(workloads.core, pod.metadata.name)
        terminating = workloads.core.read_namespaced_pod(pod.metadata.name, "default")
        assert terminating.metadata.deletion_timestamp is not None and terminating.metadata.deletion_grace_period_seconds == 30
        # The Deployment does not count a terminating pod: its replacement comes while the old pod still exists.
        workloads.kube.wait("a replacement next to the terminating pod", lambda: len(workloads.pods(app, include_terminating=True)) == 2)
        workloads.kube.wait("the terminating pod removed by its kubelet", lambda: pod.metadata.name not in {
            p.metadata.name for p in workloads.pods(app, include_terminating=True)}, timeout=10)
    finally:
        fast_lab.control.set_nodesim(termination_seconds=1.0)


def test_deleting_a_collection_of_pods_is_graceful_too(fast_lab: Any, workloads: Workloads):
    workloads.node("a")
    app = workloads.deployment(f"coll-{workloads.pool}", replicas=2)
    pods = {p.metadata.name for p in workloads.ready_pods(app, 2)}
    mark = fast_lab.control.lifecycle_mark()
    workloads.core.delete_collection_namespaced_pod("default", label_selector=f"app={app}", grace_period_seconds=20)
    assert [(r["pod"], r["via"], r["grace_seconds"], r["actor"]) for r in sorted(fast_lab.control.pod_deletions(mark), key=lambda r: r["pod"])] == [
        (name, "delete", 20, "client") for name in sorted(pods)]
    terminating = [p for p in workloads.pods(app, include_terminating=True) if p.metadata.name in pods]
    assert len(terminating) in (0, 2) and all(p.metadata.deletion_grace_period_seconds == 20 for p in terminating)
    workloads.kube.wait("the old pods removed and replaced", lambda: not pods & {p.metadata.name for p in workloads.ready_pods(app, 2)})


def test_pods_without_a_node_and_grace_zero_are_deleted_at_once(workloads: Workloads):
    workloads.node("a", ready=False)
    app = workloads.deployment(f"pending-{workloads.pool}", replicas=1)
    (pending,) = workloads.kube.wait("a pending pod", lambda: workloads.pods(app))
    assert pending.spec.node_name is None
    workloads.core.delete_namespaced_pod(pending.metadata.name, "default")
    with pytest.raises(ApiException) as gone:
        workloads.core.read_namespaced_pod(pending.metadata.name, "default")
    assert gone.value.status == 404


# --------------------------------------------------------------------------- the scheduler


def test_replacements_go_only_to_schedulable_nodes(fast_lab: Any, workloads: Workloads):
    node_a, node_b, node_c = workloads.node("a"), workloads.node("b"), workloads.node("c")
    app = workloads.deployment(f"sched-{workloads.pool}", replicas=3)
    workloads.ready_pods(app, 3)
    workloads.core.patch_node(node_b, {"spec": {"unschedulable": True}})
    workloads.core.patch_node(node_c, {"spec": {"taints": [{"key": "upgrade", "value": "old", "effect": "NoSchedule"}]}})
    for pod in workloads.pods(app):
        if pod.spec.node_name != node_a:
            workloads.core.delete_namespaced_pod(pod.metadata.name, "default", grace_period_seconds=0)
    assert {p.spec.node_name for p in workloads.ready_pods(app, 3)} == {node_a}

    # A NoExecute taint the pods do not tolerate drives them off the node; with nowhere left, they stay Pending and say why.
    mark = fast_lab.control.lifecycle_mark()
    workloads.core.patch_node(node_a, {"spec": {"taints": [{"key": "retire", "effect": "NoExecute"}]}})

    def scheduling_message(pod: Any) -> str:
        return next((c.message for c in pod.status.conditions or () if c.type == "PodScheduled"), "")

    # The scheduler says why in a second write, after the controller created the pod: wait for both.
    def unscheduled() -> list:
        pods = workloads.pods(app)
        waiting = [p for p in pods if p.status.phase == "Pending" and not p.spec.node_name and scheduling_message(p)]
        return waiting if len(pods) == 3 else []
    pending = workloads.kube.wait("pending replacements", unscheduled)
    message = scheduling_message(pending[0])
    assert "1 node(s) were unschedulable" in message
    deletions = fast_lab.control.pod_deletions(mark)
    assert deletions and all(d["node"] == node_a and d["via"] == "delete" and d["actor"] == "lab" for d in deletions)


def test_pods_of_a_deleted_node_are_recreated_on_the_other_nodes(fast_lab: Any, workloads: Workloads):
    node_a, node_b = workloads.node("a"), workloads.node("b")
    app = workloads.deployment(f"gc-{workloads.pool}", replicas=2)
    workloads.ready_pods(app, 2)
    mark = fast_lab.control.lifecycle_mark()
    workloads.core.delete_node(node_a)
    workloads.kube.wait("both pods on the remaining node", lambda: {p.spec.node_name for p in workloads.ready_pods(app, 2)} == {node_b})
    records = fast_lab.control.lifecycle(mark, ["node_delete", "pod_delete"])
    assert records[0]["kind"] == "node_delete" and records[0]["node"] == node_a
    assert [(r["node"], r["via"], r["actor"]) for r in records[1:]] == [(node_a, "delete", "lab")]


# --------------------------------------------------------------------------- kubectl drain and kubernetes.core.k8s_drain


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_drain_evicts_through_the_eviction_api(fast_lab: Any, workloads: Workloads):
    node_a, node_b = workloads.node("a"), workloads.node("b")
    app = workloads.deployment(f"kctl-{workloads.pool}", replicas=2)
    pods = workloads.ready_pods(app, 2)
    pdb = workloads.pdb(f"{app}-pdb", selector={"matchLabels": {"app": app}}, minAvailable=1)
    workloads.budget(pdb, observed_generation=1, disruptions_allowed=1)
    kubectl = ["kubectl", "--kubeconfig", str(fast_lab.kubeconfig)]
    listed = subprocess.run(kubectl + ["get", "pdb", pdb, "--no-headers"], capture_output=True, text=True, timeout=30, check=True).stdout.split()
    assert listed[:4] == [pdb, "1", "N/A", "1"]
    mark = fast_lab.control.lifecycle_mark()
    drained = subprocess.run(kubectl + ["drain", node_a, "--ignore-daemonsets", "--timeout=30s"], capture_output=True, text=True, timeout=60,
                             check=False)
    on_a = next(p.metadata.name for p in pods if p.spec.node_name == node_a)
    assert drained.returncode == 0, drained.stderr
    assert f"node/{node_a} cordoned" in drained.stdout and f"pod/{on_a} evicted" in drained.stdout and f"node/{node_a} drained" in drained.stdout
    assert [(e["pod"], e["allowed"], e["pdb"]) for e in fast_lab.control.evictions(mark)] == [(on_a, True, pdb)]
    assert {p.spec.node_name for p in workloads.ready_pods(app, 2)} == {node_b}


def test_k8s_drain_cordons_evicts_within_the_budget_and_ignores_daemonset_pods(fast_lab: Any, workloads: Workloads, ansible: AnsibleRunner):
    node_a, node_b = workloads.node("a"), workloads.node("b")
    app = workloads.deployment(f"drain-{workloads.pool}", replicas=2)
    pods = workloads.ready_pods(app, 2)
    pdb = workloads.pdb(f"{app}-pdb", selector={"matchLabels": {"app": app}}, minAvailable=1)
    workloads.budget(pdb, observed_generation=1, disruptions_allowed=1)
    labels = {"agent": workloads.pool}
    container = {"name": "agent", "image": "registry.k8s.io/pause:3.9"}
    daemonset = workloads.apps.create_namespaced_daemon_set("default", {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": f"agent-{workloads.pool}"},
        "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}})
    owner = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": daemonset.metadata.name, "uid": daemonset.metadata.uid, "controller": True}
    agent = workloads.core.create_namespaced_pod("default", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"agent-{workloads.pool}-a", "labels": labels, "ownerReferences": [owner]},
        "spec": {"nodeName": node_a, "containers": [container]}})
    try:
        mark = fast_lab.control.lifecycle_mark()
        drained = ansible.task("kubernetes.core.k8s_drain", {"name": node_a, "state": "drain", "delete_options": {
            "ignore_daemonsets": True, "wait_timeout": 30, "wait_sleep": 1}})
        assert not drained.get("failed"), drained.get("msg")
        assert drained["changed"] and "marked unschedulable" in drained["result"] and "1 Pod(s) deleted" in drained["result"]
        assert workloads.core.read_node(node_a).spec.unschedulable is True
        assert workloads.core.read_namespaced_pod(agent.metadata.name, "default").spec.node_name == node_a
        on_a = next(p.metadata.name for p in pods if p.spec.node_name == node_a)
        records = fast_lab.control.lifecycle(mark, ["eviction", "pod_delete"])
        assert [(r["kind"], r["pod"], r.get("allowed"), r.get("via")) for r in records] == [
            ("eviction", on_a, True, None), ("pod_delete", on_a, None, "eviction")]
        # The replacement could only go to node b.
        assert {p.spec.node_name for p in workloads.ready_pods(app, 2)} == {node_b}
        workloads.budget(pdb, disruptions_allowed=1, current_healthy=2)

        # Draining b too: the first eviction is allowed, the second would leave no healthy pod and is refused.
        mark = fast_lab.control.lifecycle_mark()
        refused = ansible.task("kubernetes.core.k8s_drain", {"name": node_b, "state": "drain", "delete_options": {"wait_timeout": 30}})
        assert refused.get("failed") and REFUSED in refused["msg"], refused
        evictions = fast_lab.control.evictions(mark)
        assert [(e["allowed"], e["pdb"]) for e in evictions] == [(True, pdb), (False, pdb)]
        assert [d["via"] for d in fast_lab.control.pod_deletions(mark)] == ["eviction"]
    finally:
        _ignore_404(workloads.core.delete_namespaced_pod, agent.metadata.name, "default", grace_period_seconds=0)
        _ignore_404(workloads.apps.delete_namespaced_daemon_set, daemonset.metadata.name, "default")


# --------------------------------------------------------------------------- drain, then terminate: what the record shows


def deleted_without_eviction(records: list[dict]) -> list[dict]:
    """The pod deletions of the record that no allowed eviction of the same pod preceded."""
    evicted: set = set()
    found = []
    for record in records:
        if record["kind"] == "eviction" and record["allowed"]:
            evicted.add((record["namespace"], record["pod"]))
        elif record["kind"] == "pod_delete" and (record["namespace"], record["pod"]) not in evicted:
            found.append(record)
    return found


def test_record_tells_a_drained_node_from_one_terminated_under_its_pods(fast_lab: Any, kube: Kube, node_groups: NodeGroups, ansible: AnsibleRunner):
    previous_ipam = kube.config_map("amazon-vpc-cni").data.get("enable-windows-ipam", "false")
    kube.set_ipam("true")
    group = node_groups.create(size=2)
    kube.map_role(group.role_arn, WINDOWS_GROUPS)
    nodes = {node_groups.node_name(instance_id): instance_id for instance_id in group.instance_ids}
    for name in nodes:
        kube.wait_node_ready(name)
    app = f"win-{group.name}"
    policy = kclient.PolicyV1Api(fast_lab.kube_api_client())
    kube.apps.create_namespaced_deployment("default", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": app}, "spec": {
        "replicas": 2, "selector": {"matchLabels": {"app": app}}, "template": {"metadata": {"labels": {"app": app}}, "spec": {
            "nodeSelector": {"kubernetes.io/os": "windows"},
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": sorted(nodes)}]}]}}},
            "containers": [{"name": "iis", "image": "mcr.microsoft.com/windows/servercore/iis:windowsservercore-ltsc2022"}]}}}})
    policy.create_namespaced_pod_disruption_budget("default", {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {
        "name": app}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": app}}}})
    autoscaling = fast_lab.aws_client("autoscaling")
    # Both instances leave with the desired capacity: AWS refuses to take it below the minimum size.
    autoscaling.update_auto_scaling_group(AutoScalingGroupName=group.asg_name, MinSize=0)
    try:
        def one_running_pod_per_node() -> list:
            pods = kube.core.list_namespaced_pod("default", label_selector=f"app={app}").items
            if len(pods) != 2 or not all(p.status.phase == "Running" for p in pods):
                return []
            if pods[0].spec.node_name == pods[1].spec.node_name:  # scheduled in a pass that saw one node Ready only
                kube.core.delete_namespaced_pod(pods[0].metadata.name, "default", grace_period_seconds=0)
                return []
            return pods
        pods = kube.wait("a running pod on each node", one_running_pod_per_node, timeout=20)
        kube.wait("a budget that allows one disruption",
                  lambda: policy.read_namespaced_pod_disruption_budget_status(app, "default").status.disruptions_allowed == 1)
        first, second = sorted({p.spec.node_name for p in pods})
        mark = fast_lab.control.lifecycle_mark()

        drained = ansible.task("kubernetes.core.k8s_drain", {"name": first, "delete_options": {"ignore_daemonsets": True, "wait_timeout": 30}})
        assert not drained.get("failed"), drained.get("msg")
        autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=nodes[first], ShouldDecrementDesiredCapacity=True)
        kube.wait(f"node {first} gone with its instance", lambda: kube.node(first) is None, timeout=15)
        drained_records = fast_lab.control.lifecycle(mark)
        terminated_at = next(r["seq"] for r in drained_records if r["kind"] == "instance_terminate" and r["instance_id"] == nodes[first])
        evictions = [r for r in drained_records if r["kind"] == "eviction" and r["node"] == first]
        assert evictions and all(r["allowed"] and r["seq"] < terminated_at for r in evictions)
        assert deleted_without_eviction(drained_records) == []

        # The other instance goes without a drain: its pods are deleted by the pod garbage collector after their node is gone.
        mark = fast_lab.control.lifecycle_mark()
        autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=nodes[second], ShouldDecrementDesiredCapacity=True)
        kube.wait(f"node {second} gone with its instance", lambda: kube.node(second) is None, timeout=15)
        kube.wait("its pods deleted", lambda: all(p.spec.node_name != second for p in kube.core.list_namespaced_pod(
            "default", label_selector=f"app={app}").items))
        records = fast_lab.control.lifecycle(mark)
        kinds = [(r["kind"], r.get("instance_id") or r.get("node")) for r in records if r["kind"] in ("instance_terminate", "node_delete")]
        assert kinds == [("instance_terminate", nodes[second]), ("node_delete", second)]
        violations = deleted_without_eviction(records)
        assert len(violations) == 2 and all((v["node"], v["via"], v["actor"]) == (second, "delete", "lab") for v in violations)
        assert all(v["seq"] > records[0]["seq"] for v in violations)
    finally:
        policy.delete_namespaced_pod_disruption_budget(app, "default")
        kube.apps.delete_namespaced_deployment(app, "default")
        kube.set_ipam(previous_ipam)


# --------------------------------------------------------------------------- rolling Auto Scaling group updates

ROLLING_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  ImageId: {Type: String}
  Subnets: {Type: "List<AWS::EC2::Subnet::Id>"}
Resources:
  Template:
    Type: AWS::EC2::LaunchTemplate
    Properties:
      LaunchTemplateData: {ImageId: !Ref ImageId, InstanceType: m5.large}
  Group:
    Type: AWS::AutoScaling::AutoScalingGroup
    Properties:
      LaunchTemplate: {LaunchTemplateId: !Ref Template, Version: !GetAtt Template.LatestVersionNumber}
      MinSize: 3
      MaxSize: 4
      DesiredCapacity: 3
      VPCZoneIdentifier: !Ref Subnets
    UpdatePolicy:
      AutoScalingRollingUpdate: {MaxBatchSize: 1, MinInstancesInService: MIN_IN_SERVICE, PauseTime: PT5M}
Outputs:
  Group: {Value: !Ref Group}
"""


@pytest.mark.parametrize("min_in_service, launched_first, order", [
    (2, False, ["instance_terminate", "instance_launch"] * 3),   # 3 - 1 >= 2: each old instance goes first
    (3, True, ["instance_launch", "instance_terminate"] * 3),    # 3 - 1 < 3: each replacement comes first
])
def test_rolling_update_replaces_instances_in_batches_while_the_stack_is_in_progress(fast_lab: Any, min_in_service: int, launched_first: bool,
                                                                                     order: list):
    cloudformation = fast_lab.aws_client("cloudformation")
    images = next(iter(fast_lab.facts["windows_amis"].values()))["images"]
    name = f"rolling-{uuid.uuid4().hex[:6]}"
    subnets = ",".join(fast_lab.facts["private_subnet_ids"])
    template = ROLLING_TEMPLATE.replace("MIN_IN_SERVICE", str(min_in_service))
    cloudformation.create_stack(StackName=name, TemplateBody=template, Parameters=[
        {"ParameterKey": "ImageId", "ParameterValue": images[0]["image_id"]}, {"ParameterKey": "Subnets", "ParameterValue": subnets}])
    group = next(o["OutputValue"] for o in cloudformation.describe_stacks(StackName=name)["Stacks"][0]["Outputs"] if o["OutputKey"] == "Group")
    autoscaling = fast_lab.aws_client("autoscaling")
    old = {i["InstanceId"] for i in autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0]["Instances"]}
    fast_lab.control.aws.set_rolling_update(pause_scale=0.004)  # PT5M -> 1.2 s between batches
    try:
        mark = fast_lab.control.lifecycle_mark()
        cloudformation.update_stack(StackName=name, UsePreviousTemplate=True, Parameters=[
            {"ParameterKey": "ImageId", "ParameterValue": images[1]["image_id"]}, {"ParameterKey": "Subnets", "UsePreviousValue": True}])
        assert cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "UPDATE_IN_PROGRESS"
        cloudformation.get_waiter("stack_update_complete").wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    finally:
        fast_lab.control.aws.set_rolling_update(pause_scale=0.01)
    records = [r for r in fast_lab.control.lifecycle(mark, ["instance_launch", "instance_terminate", "asg_rolling_batch"]) if r["asg"] == group]
    batches = [r for r in records if r["kind"] == "asg_rolling_batch"]
    assert [(len(b["terminated"]), len(b["launched"]), b["launched_first"]) for b in batches] == [(1, 1, launched_first)] * 3
    assert {i for b in batches for i in b["terminated"]} == old
    # One instance at a time, so the group never has fewer than MinInstancesInService instances.
    in_service, lowest = len(old), len(old)
    for record in records:
        in_service += {"instance_launch": 1, "instance_terminate": -1}.get(record["kind"], 0)
        lowest = min(lowest, in_service)
    assert lowest == min_in_service and in_service == 3
    assert [r["kind"] for r in records if r["kind"] != "asg_rolling_batch"] == order
    rolled = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0]["Instances"]
    assert len(rolled) == 3 and not {i["InstanceId"] for i in rolled} & old
    reasons = [e.get("ResourceStatusReason", "") for e in reversed(cloudformation.describe_stack_events(StackName=name)["StackEvents"])
               if e["LogicalResourceId"] == "Group" and e["ResourceStatus"] == "UPDATE_IN_PROGRESS"]
    assert reasons[1].startswith("Rolling update initiated. Terminating 3 obsolete instance(s) in batches of 1")
    assert [r for r in reasons if r.startswith("Successfully terminated")][-1].endswith("(Progress 100%).")
    cloudformation.delete_stack(StackName=name)
