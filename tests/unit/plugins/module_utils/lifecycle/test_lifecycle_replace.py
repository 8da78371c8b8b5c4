"""The rolling replacement loop against in-memory AWS and Kubernetes: batches, the floor, stops and continuing."""

import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.drain import Drainer, DrainOptions, DrainStopped
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.replace import ReplaceOps, ReplaceOptions, Replacer, ReplaceStopped
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.rolling import LaunchTarget

from test_lifecycle_drain import Clock, FakeApi, pod

TARGET = LaunchTarget(template_id="lt-1", version="2", image_id="ami-new")


class FakeGroup(ReplaceOps):
    """A group whose replacements launch at once and turn Ready after `ready_after` looks."""

    def __init__(self, api, clock, count=2, ready_after=1, launches=True):
        self.api, self.clock = api, clock
        self.desired = count
        self.instances = [{"instance_id": f"i-old{n}", "version": "1", "ready_in": 0} for n in range(count)]
        self.ready_after = ready_after
        self.launches = launches
        self.log = []
        self.serial = 0
        for instance in self.instances:
            api.nodes[f"node-{instance['instance_id']}"] = {"metadata": {"name": f"node-{instance['instance_id']}"}, "spec": {}}

    def observe(self):
        facts = []
        for i in self.instances:
            node = self.api.nodes.get(f"node-{i['instance_id']}")
            facts.append({"instance_id": i["instance_id"], "lifecycle_state": "InService", "launch_template_id": "lt-1",
                          "launch_template_version": i["version"], "image_id": "ami-new" if i["version"] == "2" else "ami-old",
                          "node_name": node and node["metadata"]["name"], "node_ready": bool(node) and i["ready_in"] <= 0,
                          "cordoned": bool(node and node["spec"].get("unschedulable"))})
        return facts, self.desired, TARGET

    def terminate(self, instance_id):
        self.log.append(("terminate", instance_id, [p["metadata"]["name"] for p in self.api.pods_on(f"node-{instance_id}")]))
        self.instances = [i for i in self.instances if i["instance_id"] != instance_id]
        del self.api.nodes[f"node-{instance_id}"]
        if self.launches:
            self.serial += 1
            new = {"instance_id": f"i-new{self.serial}", "version": "2", "ready_in": self.ready_after}
            self.instances.append(new)
            self.api.nodes[f"node-{new['instance_id']}"] = {"metadata": {"name": f"node-{new['instance_id']}"}, "spec": {}}

    def wait_ready(self, seconds):
        for instance in self.instances:
            instance["ready_in"] -= 1
        self.clock.sleep(min(seconds, 1.0))
        ready = sum(1 for i in self.instances if i["ready_in"] <= 0)
        return f"{ready}/{self.desired} Windows nodes Ready"


def replacer(api, ops, clock, memo=None, drain_memo=None, **options):
    drainer = Drainer(api, DrainOptions(eviction_timeout=10), drain_memo, clock=clock, pause=clock.sleep)
    return Replacer(ops, drainer, ReplaceOptions(**options), memo, clock=clock)


def test_one_batch_at_a_time_each_node_drained_before_its_instance_goes():
    clock = Clock()
    api = FakeApi([], [pod("a", "node-i-old0"), pod("b", "node-i-old1")])
    ops = FakeGroup(api, clock, ready_after=2)
    run = replacer(api, ops, clock, batch_size=1, min_in_service=1)
    assert run.run(deadline=clock() + 600)
    assert [entry[:2] for entry in ops.log] == [("terminate", "i-old0"), ("terminate", "i-old1")]
    assert all(entry[2] == [] for entry in ops.log), "an instance was terminated with pods on it"
    assert [i["instance_id"] for i in ops.instances] == ["i-new1", "i-new2"]
    assert [t["reason"] for t in run.report.terminated] == ["launch template version 1, the group's is 2"] * 2
    # The second batch waited for the first replacement to be Ready.
    lines = run.drainer.report.lines
    assert lines.index("waiting for replacements: 1 new node(s) not Ready") < lines.index("waiting for replacements: 1/2 Windows nodes Ready")
    assert lines.index("waiting for replacements: 2/2 Windows nodes Ready") < lines.index("replacing node-i-old1 (launch template version 1, the group's is 2)")


def test_the_floor_stops_a_group_that_cannot_spare_a_node():
    clock = Clock()
    api = FakeApi([], [])
    ops = FakeGroup(api, clock)
    with pytest.raises(ReplaceStopped) as stopped:
        replacer(api, ops, clock, batch_size=1, min_in_service=2).run(deadline=clock() + 600)
    assert "min_in_service=2" in str(stopped.value) and ops.log == []


def test_default_floor_is_desired_minus_batch():
    run = replacer(FakeApi([], []), None, Clock(), batch_size=2)
    assert run.min_in_service(5) == 3 and run.min_in_service(1) == 0


def test_a_blocked_drain_stops_before_any_termination_and_a_rerun_continues():
    clock = Clock()
    api = FakeApi([], [pod("a", "node-i-old0"), pod("b", "node-i-old1")])
    api.refuse["a"] = 10 ** 6
    ops = FakeGroup(api, clock)
    with pytest.raises(DrainStopped):
        replacer(api, ops, clock, batch_size=1, min_in_service=1).run(deadline=clock() + 600)
    assert ops.log == [] and api.nodes["node-i-old0"]["spec"]["unschedulable"] is True
    api.refuse["a"] = 0
    again = replacer(api, ops, clock, batch_size=1, min_in_service=1)
    assert again.run(deadline=clock() + 600)
    assert [entry[1] for entry in ops.log] == ["i-old0", "i-old1"]
    assert again.drainer.report.cordoned == ["node-i-old1"]  # the first node was cordoned by the first run


def test_a_replacement_that_never_gets_ready_stops_after_replacement_timeout():
    clock = Clock()
    api = FakeApi([], [])
    ops = FakeGroup(api, clock, ready_after=10 ** 6)
    memo = {}
    with pytest.raises(ReplaceStopped) as stopped:
        replacer(api, ops, clock, memo, batch_size=1, min_in_service=1, replacement_timeout=30).run(deadline=clock() + 600)
    assert "not Ready after" in str(stopped.value) and "nodes_ready" in str(stopped.value)
    assert [entry[1] for entry in ops.log] == ["i-old0"]


def test_deadline_returns_false_and_memo_continues():
    clock = Clock()
    api = FakeApi([], [])
    ops = FakeGroup(api, clock, ready_after=5)
    memo = {}
    assert not replacer(api, ops, clock, memo, batch_size=1, min_in_service=1).run(deadline=clock() + 2)
    assert "waiting_since" in memo
    assert replacer(api, ops, clock, memo, batch_size=1, min_in_service=1).run(deadline=clock() + 600)


def test_a_step_after_the_last_termination_still_waits_for_the_replacement():
    clock = Clock()
    api = FakeApi([], [])
    ops = FakeGroup(api, clock, count=1, ready_after=5)
    memo = {}
    assert not replacer(api, ops, clock, memo, batch_size=1, min_in_service=0).run(deadline=clock() + 0.5)
    assert [entry[1] for entry in ops.log] == ["i-old0"] and ops.instances[0]["ready_in"] > 0
    # The next step is a new process: its report is empty, the memo says a replacement is awaited.
    assert replacer(api, ops, clock, memo, batch_size=1, min_in_service=0).run(deadline=clock() + 600)
    assert ops.instances[0]["ready_in"] <= 0 and "waiting_since" not in memo
