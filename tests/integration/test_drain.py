"""eksnodes.windows.nodes_drain against the lab: the sample application and its PodDisruptionBudget move off a node
group through the Eviction API, with check mode, progress lines, a stop on a budget that forbids evictions, and
continuing after it."""

import re
import threading
import time
import uuid

from kubernetes import client as kclient
from kubernetes.client.rest import ApiException

from test_nodes_ready import FAST_KNOBS, fleet, settings  # noqa: F401 pylint: disable=unused-import
from test_role_windows_sample_app import roles_play

APP_LABEL = "app=eks-sample-windows-app"


class SampleApp:
    """The windows_sample_app role's application in a namespace of its own, with a PodDisruptionBudget."""

    def __init__(self, lab, ansible):
        self.lab = lab
        self.ansible = ansible
        self.namespace = f"sample-{uuid.uuid4().hex[:6]}"
        self.core = kclient.CoreV1Api(lab.kube_api_client())
        self.policy = kclient.PolicyV1Api(lab.kube_api_client())
        self.budget = "eks-sample-windows-pdb"

    def deploy(self, replicas=2, **budget_spec):
        sample = {"windows_sample_app_replicas": replicas, "windows_sample_app_wait_timeout": 60, "windows_sample_app_namespace": self.namespace}
        run = self.ansible.playbook(roles_play(self.lab.cluster_name, sample_app=sample, with_readiness=False))
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr
        spec = dict(budget_spec or {"minAvailable": 1}, selector={"matchLabels": {"app": "eks-sample-windows-app"}})
        self.policy.create_namespaced_pod_disruption_budget(self.namespace, {
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": self.budget}, "spec": spec})
        self.wait_budget_observed()

    def wait_budget_observed(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            budget = self.policy.read_namespaced_pod_disruption_budget(self.budget, self.namespace)
            if budget.status and budget.status.observed_generation == budget.metadata.generation:
                return budget
            time.sleep(0.2)
        raise AssertionError(f"budget {self.budget} never observed")

    def pods(self):
        return self.core.list_namespaced_pod(self.namespace, label_selector=APP_LABEL).items

    def ready_pods(self):
        return [p for p in self.pods() if p.metadata.deletion_timestamp is None and p.spec.node_name
                and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]

    def wait_ready(self, count, on_nodes=None, timeout=60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = self.ready_pods()
            if len(ready) >= count and (on_nodes is None or all(p.spec.node_name in on_nodes for p in ready)):
                return ready
            time.sleep(0.3)
        raise AssertionError(f"not {count} Ready pods of the sample app{' on ' + str(on_nodes) if on_nodes else ''}: "
                             f"{[(p.metadata.name, p.spec.node_name, p.status.phase) for p in self.pods()]}")

    def remove(self):
        try:
            self.core.delete_namespace(self.namespace)
        except ApiException as error:
            if error.status != 404:
                raise


class ReadySampler:
    """Counts the sample app's Ready replicas every second in a thread; min_ready is the lowest count seen."""

    def __init__(self, app, interval=1.0):
        self.app = app
        self.interval = interval
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.samples.append(len(self.app.ready_pods()))
            except ApiException:
                pass
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)

    @property
    def min_ready(self):
        return min(self.samples)


def node_names_of(lab, instance_ids):
    core = kclient.CoreV1Api(lab.kube_api_client())
    return sorted(n.metadata.name for n in core.list_node().items if (n.spec.provider_id or "").rsplit("/", 1)[-1] in instance_ids)


MODULE = "eksnodes.windows.nodes_drain"
READY_ARGS = {"wait_timeout": 60}
TAINT_KEY = "eksnodes.windows/retiring"


def ready_group(lab, ansible, fleet, size):  # noqa: F811 pylint: disable=redefined-outer-name
    group = fleet.create(size=size, release="2022")
    fleet.map(group["role_arn"])
    waited = ansible.task("eksnodes.windows.nodes_ready", dict(READY_ARGS, cluster_name=lab.cluster_name, autoscaling_group_name=group["name"]))
    assert waited.get("done"), waited
    return group, node_names_of(lab, group["instance_ids"])


def node_state(core, names):
    """What a refused or check-mode run must leave alone: each node's spec and resourceVersion."""
    return {name: (core.read_node(name).metadata.resource_version, core.read_node(name).spec.to_dict()) for name in names}


def pod_state(app):
    """The pods, where they run and whether they are being deleted (the lab's controllers update their status)."""
    return sorted((p.metadata.name, p.metadata.uid, p.spec.node_name, p.metadata.deletion_timestamp) for p in app.pods())


def test_drains_a_group_through_evictions_respecting_the_budget(lab, ansible, fleet, settings):  # noqa: F811
    settings.knobs(**FAST_KNOBS)
    settings.ipam("true")
    core = kclient.CoreV1Api(lab.kube_api_client())
    old, old_nodes = ready_group(lab, ansible, fleet, 2)
    app = SampleApp(lab, ansible)
    try:
        app.deploy(replicas=2, minAvailable=1)
        app.wait_ready(2, on_nodes=old_nodes)
        new, new_nodes = ready_group(lab, ansible, fleet, 1)
        args = {"cluster_name": lab.cluster_name, "autoscaling_group_name": old["name"], "taint": True, "max_grace_period": 1,
                "eviction_timeout": 60, "progress_interval": 2}

        # Check mode: the pods that would be evicted, per node; nothing changes.
        mark = lab.control.lifecycle_mark()
        nodes_before, pods_before = node_state(core, old_nodes), pod_state(app)
        planned = ansible.task(MODULE, args, check=True, diff=True)
        assert not planned.get("failed"), planned
        assert planned["changed"] is True and planned["summary"] == "2 node(s) would be drained, 2 pod(s) evicted"
        would = {n["name"]: n["evict"] for n in planned["nodes"]}
        assert sorted(p for pods in would.values() for p in pods) == sorted(f"{app.namespace}/{p.metadata.name}" for p in app.pods())
        assert planned["diff"]["after"]["nodes"] == {name: {"cordoned": True, "pods": []} for name in old_nodes}
        assert node_state(core, old_nodes) == nodes_before and pod_state(app) == pods_before
        assert lab.control.lifecycle(mark, ["eviction", "pod_delete"]) == []

        # The drain: both pods move to the new node, never fewer than one Ready, only through evictions.
        with ReadySampler(app) as sampler:
            drained = ansible.playbook([{"hosts": "localhost", "gather_facts": False, "tasks": [
                {"name": "drain", MODULE: args}]}], callback="default")
        assert drained.returncode == 0, drained.stdout[-4000:]
        lines = re.findall(r"^\[localhost\] (.*)$", drained.stdout, re.MULTILINE)
        assert any(line.endswith("cordoned, 1 pod(s) to evict") and TAINT_KEY in line for line in lines), lines
        assert sum("evicted " + app.namespace in line for line in lines) == 2, lines
        assert sampler.min_ready >= 1, sampler.samples
        app.wait_ready(2, on_nodes=new_nodes)
        for name in old_nodes:
            node = core.read_node(name)
            assert node.spec.unschedulable is True and any(t.key == TAINT_KEY and t.effect == "NoSchedule" for t in node.spec.taints or [])
        records = [r for r in lab.control.lifecycle(mark, ["eviction", "pod_delete"]) if r.get("namespace") == app.namespace]
        deletions = [r for r in records if r["kind"] == "pod_delete"]
        assert len(deletions) == 2 and all(d["via"] == "eviction" and d["node"] in old_nodes for d in deletions), records
        assert all(r["pdb"] == app.budget for r in records if r["kind"] == "eviction"), records

        # Again: nothing to do.
        mark = lab.control.lifecycle_mark()
        again = ansible.task(MODULE, args)
        assert not again.get("failed") and again["changed"] is False and again["evicted"] == [] and again["cordoned"] == [], again
        assert sorted(again["drained"]) == old_nodes
        assert lab.control.lifecycle(mark, ["eviction", "pod_delete"]) == []
        del new
    finally:
        app.remove()


def test_a_budget_that_forbids_evictions_stops_the_drain_and_a_rerun_finishes(lab, ansible, fleet, settings):  # noqa: F811
    settings.knobs(**FAST_KNOBS)
    settings.ipam("true")
    core = kclient.CoreV1Api(lab.kube_api_client())
    _old, old_nodes = ready_group(lab, ansible, fleet, 2)
    app = SampleApp(lab, ansible)
    try:
        app.deploy(replicas=2, maxUnavailable=0)
        app.wait_ready(2, on_nodes=old_nodes)
        _new, new_nodes = ready_group(lab, ansible, fleet, 1)
        args = {"cluster_name": lab.cluster_name, "node_names": old_nodes, "max_grace_period": 1, "eviction_timeout": 4, "progress_interval": 2}
        pods_before = pod_state(app)
        first_pod = next(f"{app.namespace}/{p.metadata.name}" for p in app.pods() if p.spec.node_name == old_nodes[0])
        mark = lab.control.lifecycle_mark()
        stopped = ansible.task(MODULE, args)
        assert stopped.get("failed"), stopped
        assert stopped["msg"].startswith(f"node {old_nodes[0]} will not drain: pod {first_pod} could not be evicted for "), stopped["msg"]
        assert f"PodDisruptionBudget {app.namespace}/{app.budget} (maxUnavailable 0" in stopped["msg"]
        assert f"kubectl edit pdb {app.budget} -n {app.namespace}" in stopped["msg"]
        assert stopped["blocked"] == {"node": old_nodes[0], "pod": first_pod, "budget": app.budget}
        # The pods stayed where they were; the first node is cordoned (its drain started), the second untouched.
        assert pod_state(app) == pods_before
        assert core.read_node(old_nodes[0]).spec.unschedulable is True and not core.read_node(old_nodes[1]).spec.unschedulable
        evictions = lab.control.evictions(mark)
        assert evictions and all(not e["allowed"] and e["code"] == 429 and e["pdb"] == app.budget for e in evictions), evictions

        app.policy.patch_namespaced_pod_disruption_budget(app.budget, app.namespace, {"spec": {"maxUnavailable": 1}})
        app.wait_budget_observed()
        mark = lab.control.lifecycle_mark()
        finished = ansible.task(MODULE, args)
        assert not finished.get("failed"), (finished["msg"], finished.get("lines"))
        assert finished["changed"] is True and finished["cordoned"] == [old_nodes[1]]
        assert [e["node"] for e in finished["evicted"]] == old_nodes
        assert all(d["via"] == "eviction" for d in lab.control.pod_deletions(mark) if d["namespace"] == app.namespace)
        app.wait_ready(2, on_nodes=new_nodes)
    finally:
        app.remove()
