from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.eksnodes.windows.plugins.action import nodes_ready


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def make_action(args, steps, clock, monkeypatch):
    """An ActionModule whose module runs are the given results; each run takes 'takes' seconds (default: the step)."""
    task = MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = False
    connection = MagicMock()
    play_context = MagicMock()
    play_context.check_mode = False
    action = nodes_ready.ActionModule(task, connection, play_context, loader=None, templar=None, shared_loader_obj=None)
    action.clock = clock
    calls = []
    pending = list(steps)

    def execute_module(module_name, module_args, task_vars):
        calls.append((module_name, module_args))
        result = dict(pending.pop(0))
        clock.now += result.pop("takes", module_args["_step"]["seconds"])
        return result

    monkeypatch.setattr(action, "_execute_module", execute_module)
    lines = []
    monkeypatch.setattr(nodes_ready.display, "display", lambda msg, *a, **k: lines.append(msg))
    return action, calls, lines


def step(ready, expected=2, done=False, takes=None, **extra):
    result = {"changed": False, "done": done, "ready_count": ready, "expected": expected, "reconnects": 0,
              "summary": f"{ready}/{expected} Windows nodes Ready", "signature": f"sig-{ready}", "nodes": []}
    if takes is not None:
        result["takes"] = takes
    result.update(extra)
    return result


def test_prints_a_line_per_step_and_returns_when_ready(monkeypatch):
    clock = Clock()
    action, calls, lines = make_action({"cluster_name": "lab", "autoscaling_group_name": "ng"},
                                       [step(0, takes=2), step(1, takes=40, cluster_history=[{"status": "ACTIVE", "seen": 1}]),
                                        step(2, done=True, takes=3, reconnects=1)], clock, monkeypatch)
    result = action.run(task_vars={"inventory_hostname": "localhost"})
    assert lines == ["[localhost] 0/2 Windows nodes Ready after 2s", "[localhost] 1/2 Windows nodes Ready after 42s",
                     "[localhost] 2/2 Windows nodes Ready after 45s"]
    assert result["done"] is True and result["elapsed"] == 45 and result["reconnects"] == 1
    assert all(call[0] == "eksnodes.windows.nodes_ready" for call in calls)
    steps = [call[1]["_step"] for call in calls]
    assert steps[0] == {"seconds": 30, "final": False, "since": "", "history": []}
    assert steps[1]["since"] == "sig-0" and steps[2]["since"] == "sig-1"
    assert steps[2]["history"] == [{"status": "ACTIVE", "seen": 1}]
    assert calls[0][1]["autoscaling_group_name"] == "ng"


def test_the_last_step_is_final_and_its_failure_is_the_result(monkeypatch):
    clock = Clock()
    diagnosis = [{"instance_id": "i-1", "causes": [{"code": "role_not_mapped"}]}]
    action, calls, lines = make_action(
        {"cluster_name": "lab", "autoscaling_group_name": "ng", "wait_timeout": 70, "progress_interval": 30},
        [step(0, takes=1), step(1), step(1), step(1, failed=True, msg="1/2 after 1m10s", diagnosis=diagnosis)],
        clock, monkeypatch)
    result = action.run(task_vars={})
    steps = [call[1]["_step"] for call in calls]
    assert [s["final"] for s in steps] == [False, False, False, True]
    assert steps[-1]["seconds"] == pytest.approx(9)
    assert result["failed"] and result["diagnosis"] == diagnosis
    assert len(lines) == 4


def test_a_change_during_the_final_step_does_not_end_the_wait(monkeypatch):
    clock = Clock()
    action, calls, _lines = make_action(
        {"cluster_name": "lab", "instance_ids": ["i-1", "i-2"], "wait_timeout": 20, "progress_interval": 30},
        [step(0, takes=1), step(1, takes=5), step(2, done=True, takes=1)], clock, monkeypatch)
    result = action.run(task_vars={})
    assert [call[1]["_step"]["final"] for call in calls] == [True, True, True]
    assert result["done"]


def test_zero_timeout_asks_once_for_the_state_then_for_the_verdict(monkeypatch):
    clock = Clock()
    steps = [step(0, takes=1), step(0, takes=1, failed=True)]
    action, calls, _lines = make_action({"cluster_name": "lab", "autoscaling_group_name": "ng", "wait_timeout": 0}, steps, clock, monkeypatch)
    result = action.run(task_vars={})
    assert [call[1]["_step"] for call in calls] == [
        {"seconds": 0, "final": True, "since": "", "history": []},
        {"seconds": 0, "final": True, "since": "sig-0", "history": []},
    ]
    assert result["failed"]


def test_a_failure_before_the_wait_is_returned_as_is(monkeypatch):
    clock = Clock()
    action, calls, lines = make_action({"cluster_name": "nope", "autoscaling_group_name": "ng"},
                                       [{"failed": True, "msg": "cluster nope does not exist", "takes": 1}], clock, monkeypatch)
    result = action.run(task_vars={})
    assert result["failed"] and result["msg"] == "cluster nope does not exist"
    assert len(calls) == 1 and lines == []


def test_tasks_cannot_set_the_internal_step(monkeypatch):
    action = make_action({"cluster_name": "lab", "_step": {}}, [], Clock(), monkeypatch)[0]
    with pytest.raises(AnsibleActionFail, match="_step is set by the action plugin"):
        action.run(task_vars={})


def test_bad_numbers_are_reported(monkeypatch):
    action = make_action({"cluster_name": "lab", "wait_timeout": "soon"}, [], Clock(), monkeypatch)[0]
    with pytest.raises(AnsibleActionFail, match="whole seconds"):
        action.run(task_vars={})
