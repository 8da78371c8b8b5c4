from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.eksnodes.windows.plugins.action import nodes_drain, nodes_replace


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def make_action(module, args, steps, clock, monkeypatch):
    task = MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = False
    play_context = MagicMock()
    play_context.check_mode = False
    action = module.ActionModule(task, MagicMock(), play_context, loader=None, templar=None, shared_loader_obj=None)
    action.clock = clock
    calls = []
    pending = list(steps)

    def execute_module(module_name, module_args, task_vars):
        calls.append((module_name, module_args))
        clock.now += module_args["_step"]["seconds"]
        return dict(pending.pop(0))

    monkeypatch.setattr(action, "_execute_module", execute_module)
    lines = []
    monkeypatch.setattr(nodes_drain.display, "display", lambda msg, *a, **k: lines.append(msg))
    return action, calls, lines


def step(done=False, changed=False, memo=None, **extra):
    return dict({"changed": changed, "done": done, "memo": memo if memo is not None else {}, "lines": []}, **extra)


def test_steps_pass_the_memo_print_lines_and_add_up_what_was_done(monkeypatch):
    clock = Clock()
    steps = [step(changed=True, memo={"stuck": {"a": 1}}, cordoned=["n1"], evicted=[{"pod": "ns/a", "node": "n1"}], drained=[],
                  lines=["n1: cordoned, 1 pod(s) to evict", "n1: evicted ns/a"]),
             step(memo={"stuck": {}}, drained=["n1"], lines=["n1: drained"]),
             step(done=True, drained=["n1", "n2"], cordoned=["n2"], lines=["n2: drained"])]
    action, calls, lines = make_action(nodes_drain, {"cluster_name": "lab", "node_names": ["n1", "n2"], "progress_interval": 5}, steps, clock,
                                       monkeypatch)
    result = action.run(task_vars={"inventory_hostname": "localhost"})
    assert lines == ["[localhost] n1: cordoned, 1 pod(s) to evict", "[localhost] n1: evicted ns/a", "[localhost] n1: drained",
                     "[localhost] n2: drained"]
    assert [c[1]["_step"]["memo"] for c in calls] == [{}, {"stuck": {"a": 1}}, {"stuck": {}}]
    assert all(c[0] == "eksnodes.windows.nodes_drain" and c[1]["_step"]["seconds"] == 5 for c in calls)
    assert result["changed"] is True and result["done"] is True and "memo" not in result
    assert result["cordoned"] == ["n1", "n2"] and result["drained"] == ["n1", "n2"] and result["evicted"] == [{"pod": "ns/a", "node": "n1"}]


def test_the_last_step_is_final_and_a_failure_ends_the_loop(monkeypatch):
    clock = Clock()
    steps = [step(), step(failed=True, msg="node n1 will not drain", blocked={"node": "n1", "pod": "ns/a", "budget": "b"})]
    action, calls, _lines = make_action(nodes_replace, {"cluster_name": "lab", "autoscaling_group_name": "g", "wait_timeout": 40,
                                                        "progress_interval": 30}, steps, clock, monkeypatch)
    result = action.run(task_vars={})
    assert [c[1]["_step"]["final"] for c in calls] == [False, True]
    assert calls[1][1]["_step"]["seconds"] == 10 and calls[0][0] == "eksnodes.windows.nodes_replace"
    assert result["failed"] and result["blocked"]["budget"] == "b"


def test_an_early_failure_is_returned_as_is(monkeypatch):
    action, calls, _lines = make_action(nodes_drain, {"cluster_name": "lab", "node_names": ["n1"]},
                                        [{"failed": True, "msg": "cluster lab does not exist (cluster_name)"}], Clock(), monkeypatch)
    result = action.run(task_vars={})
    assert result["msg"] == "cluster lab does not exist (cluster_name)" and len(calls) == 1


def test_step_is_not_a_task_option(monkeypatch):
    action, _calls, _lines = make_action(nodes_drain, {"cluster_name": "lab", "node_names": ["n1"], "_step": {}}, [], Clock(), monkeypatch)
    with pytest.raises(AnsibleActionFail):
        action.run(task_vars={})
