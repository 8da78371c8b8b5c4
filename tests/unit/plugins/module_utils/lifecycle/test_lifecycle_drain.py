"""The drain loop against an in-memory API: cordon, evict, 429 retries, stops, and continuing."""

import json

import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.drain import (
    DEFAULT_TAINT, DrainApi, Drainer, DrainOptions, DrainStopped, EvictionRefused, drain_order, preview)


def refused_by(name):
    return json.dumps({"code": 429, "message": "Cannot evict pod as it would violate the pod's disruption budget.",
                       "details": {"causes": [{"reason": "DisruptionBudget",
                                               "message": f"The disruption budget {name} needs 1 healthy pods and has 1 currently"}]}})


class FakeApi(DrainApi):
    def __init__(self, nodes, pods, budgets=None):
        self.nodes = {n: {"metadata": {"name": n}, "spec": {}} for n in nodes}
        self.pods = pods  # list of pod dicts with spec.nodeName
        self.refuse = {}  # pod name -> how many more refusals
        self.calls = []
        self._budgets = budgets or []

    def node(self, name):
        return self.nodes.get(name)

    def pods_on(self, name):
        return [p for p in self.pods if p["spec"]["nodeName"] == name]

    def cordon(self, node, taint):
        name = node["metadata"]["name"]
        self.calls.append(("cordon", name, bool(taint)))
        self.nodes[name]["spec"]["unschedulable"] = True
        if taint:
            self.nodes[name]["spec"].setdefault("taints", []).append(dict(taint))

    def evict(self, pod, grace):
        name = pod["metadata"]["name"]
        self.calls.append(("evict", name, grace))
        if self.refuse.get(name):
            self.refuse[name] -= 1
            raise EvictionRefused(429, refused_by("web-pdb"))
        self.pods.remove(pod)

    def budgets(self, namespace):
        return self._budgets


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def pod(name, node, owner="Deployment"):
    metadata = {"name": name, "namespace": "shop", "labels": {"app": "web"}}
    if owner:
        metadata["ownerReferences"] = [{"kind": owner, "name": "x", "controller": True}]
    return {"metadata": metadata, "spec": {"nodeName": node, "terminationGracePeriodSeconds": 60}, "status": {"phase": "Running"}}


def drainer(api, clock, memo=None, **options):
    return Drainer(api, DrainOptions(**options), memo, clock=clock, pause=clock.sleep)


def test_cordons_evicts_and_leaves_daemonset_pods():
    api = FakeApi(["n1"], [pod("web-1", "n1"), pod("proxy", "n1", owner="DaemonSet")])
    clock = Clock()
    run = drainer(api, clock, max_grace_period=10)
    assert run.run(["n1"], deadline=clock() + 60)
    assert api.calls == [("cordon", "n1", False), ("evict", "web-1", 10)]
    assert run.report.cordoned == ["n1"] and run.report.evicted == [{"pod": "shop/web-1", "node": "n1"}]
    assert [p["metadata"]["name"] for p in api.pods] == ["proxy"]
    assert run.report.lines[0] == "n1: cordoned, 1 pod(s) to evict" and run.report.lines[-1] == "n1: drained"


def test_rerun_changes_nothing():
    api = FakeApi(["n1"], [pod("proxy", "n1", owner="DaemonSet")])
    api.nodes["n1"]["spec"]["unschedulable"] = True
    clock = Clock()
    run = drainer(api, clock)
    assert run.run(["n1"], deadline=clock() + 60) and not run.report.changed and api.calls == []


def test_taint_is_added_to_a_node_already_cordoned():
    api = FakeApi(["n1"], [])
    api.nodes["n1"]["spec"]["unschedulable"] = True
    clock = Clock()
    run = drainer(api, clock, taint=dict(DEFAULT_TAINT))
    assert run.run(["n1"], deadline=clock() + 60)
    assert api.calls == [("cordon", "n1", True)]
    assert api.nodes["n1"]["spec"]["taints"] == [DEFAULT_TAINT]


def test_refused_pods_stop_before_any_change():
    api = FakeApi(["n1"], [pod("bare", "n1", owner=None)])
    clock = Clock()
    with pytest.raises(DrainStopped) as stopped:
        drainer(api, clock).run(["n1"], deadline=clock() + 60)
    assert "force=true" in str(stopped.value) and api.calls == []


def test_429_is_retried_with_backoff_then_succeeds():
    api = FakeApi(["n1"], [pod("web-1", "n1")])
    api.refuse["web-1"] = 3
    clock = Clock()
    run = drainer(api, clock)
    assert run.run(["n1"], deadline=clock() + 60)
    evictions = [c for c in api.calls if c[0] == "evict"]
    assert len(evictions) == 4
    assert any("blocked by PodDisruptionBudget shop/web-pdb" in line for line in run.report.lines)
    # Backoff 1 + 2 + 4 s between the tries, polled every second.
    assert 7 <= clock() - 1000.0 <= 9


def test_a_budget_that_never_allows_stops_with_its_name_and_the_fix():
    api = FakeApi(["n1", "n2"], [pod("web-1", "n1"), pod("web-2", "n2")],
                  budgets=[{"metadata": {"name": "web-pdb", "namespace": "shop"}, "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}},
                            "status": {"currentHealthy": 2, "desiredHealthy": 2, "disruptionsAllowed": 0}}])
    api.refuse["web-1"] = 10 ** 6
    clock = Clock()
    memo = {}
    with pytest.raises(DrainStopped) as stopped:
        drainer(api, clock, memo, eviction_timeout=30).run(["n1", "n2"], deadline=clock() + 600)
    message = str(stopped.value)
    assert message.startswith("node n1 will not drain: pod shop/web-1 could not be evicted for 30s")
    assert "PodDisruptionBudget shop/web-pdb (minAvailable 2; 2 healthy of 2 desired, 0 disruptions allowed)" in message
    assert "kubectl edit pdb web-pdb -n shop" in message
    assert stopped.value.facts == {"node": "n1", "pod": "shop/web-1", "budget": "web-pdb"}
    # parallel=1: the second node was not touched.
    assert not api.nodes["n2"]["spec"].get("unschedulable")
    # The budget is relaxed; a new run (a new memo) goes on from the cordoned node and finishes.
    api.refuse["web-1"] = 0
    again = drainer(api, clock, {}, eviction_timeout=30)
    assert again.run(["n2", "n1"], deadline=clock() + 600)
    assert [e["node"] for e in again.report.evicted] == ["n1", "n2"]
    assert again.report.cordoned == ["n2"]


def test_memo_carries_the_blocked_time_across_steps():
    api = FakeApi(["n1"], [pod("web-1", "n1")])
    api.refuse["web-1"] = 10 ** 6
    clock = Clock()
    memo = {}
    assert not drainer(api, clock, memo, eviction_timeout=20).run(["n1"], deadline=clock() + 12)
    assert memo["stuck"]["shop/web-1"]["since"] == 1000.0
    with pytest.raises(DrainStopped):
        drainer(api, clock, memo, eviction_timeout=20).run(["n1"], deadline=clock() + 12)
    assert clock() - 1000.0 < 24


def test_parallel_nodes_and_missing_nodes():
    api = FakeApi(["n1", "n2"], [pod("a", "n1"), pod("b", "n2")])
    clock = Clock()
    run = drainer(api, clock, parallel=2)
    assert run.run(["n1", "n2", "gone"], deadline=clock() + 60)
    assert [c[1] for c in api.calls if c[0] == "cordon"] == ["n1", "n2"]
    assert sorted(run.report.drained) == ["gone", "n1", "n2"]


def test_order_puts_cordoned_nodes_first():
    nodes = {"a": {"spec": {}}, "b": {"spec": {"unschedulable": True}}, "c": None}
    assert drain_order(nodes, ["a", "b", "c"]) == ["b", "a", "c"]


def test_preview_changes_nothing():
    api = FakeApi(["n1"], [pod("web-1", "n1"), pod("proxy", "n1", owner="DaemonSet")])
    plan = preview(api, ["n1", "n9"], DrainOptions())
    assert plan["n1"] == {"exists": True, "cordon": True, "evict": ["shop/web-1"], "ignored": ["shop/proxy"], "refused": {}}
    assert plan["n9"]["exists"] is False and api.calls == []
