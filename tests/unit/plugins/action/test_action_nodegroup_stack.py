from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.eksnodes.windows.plugins.action import nodegroup_stack

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/lab-nodegroup-win/1"
ARGS = {"stack_name": "lab-nodegroup-win", "cluster_name": "lab", "region": "us-east-1", "endpoint_url": "http://lab", "wait_timeout": 100}
OUTPUTS = {"node_instance_role_arn": "arn:aws:iam::123456789012:role/node"}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def event(logical, status, number, resource_type="AWS::AutoScaling::AutoScalingGroup", reason=None):
    return {"logical_resource_id": logical, "resource_type": resource_type, "resource_status": status,
            "resource_status_reason": reason, "event_id": f"e{number}", "timestamp": f"t{number}"}


def info(status, events=(), last=None, exists=True, **extra):
    result = {"changed": False, "exists": exists, "stack_name": "x", "stack_id": STACK_ID if exists else None, "stack_status": status,
              "stack_status_reason": None, "settled": status is None or not status.endswith("_IN_PROGRESS"), "outputs": {},
              "parameters": {}, "resolved_parameters": {}, "instances": [], "instance_ids": [], "events": list(events),
              "last_event_id": last or (list(events)[-1]["event_id"] if events else None)}
    result.update(extra)
    return result


def started(operation="create", **extra):
    result = {"changed": True, "operation": operation, "stack_name": "lab-nodegroup-win", "stack_id": STACK_ID,
              "stack_status": "CREATE_IN_PROGRESS", "outputs": {}, "events": [], "change_set_id": "cs-1", "changes": [{"action": "Add"}],
              "parameter_changes": {}, "elapsed": 1.0,
              "started": {"stack_id": STACK_ID, "after_event_id": "e0", "client_request_token": "tok"},
              "invocation": {"module_args": dict(ARGS, wait=False, wait_timeout=100)}}
    result.update(extra)
    return result


def make_action(args, responses, monkeypatch, check_mode=False):
    """An ActionModule whose module runs answer from responses[module name] in turn; each run takes a second."""
    task = MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = check_mode
    action = nodegroup_stack.ActionModule(task, MagicMock(), MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    clock = Clock()
    action.clock = clock
    action.pause = lambda seconds: setattr(clock, "now", clock.now + seconds)
    calls = []
    pending = {name: list(items) for name, items in responses.items()}

    def execute_module(module_name, module_args, task_vars):
        calls.append((module_name, dict(module_args)))
        clock.now += 1
        return pending[module_name].pop(0)

    monkeypatch.setattr(action, "_execute_module", execute_module)
    lines = []
    monkeypatch.setattr(nodegroup_stack.display, "display", lambda msg, *a, **k: lines.append(msg))
    return action, calls, lines


def test_prints_each_event_once_and_returns_the_module_result_with_the_final_stack(monkeypatch):
    first = [event("lab-nodegroup-win", "CREATE_IN_PROGRESS", 1, "AWS::CloudFormation::Stack", "User Initiated"),
             event("NodeGroup", "CREATE_IN_PROGRESS", 2)]
    last = [event("NodeGroup", "CREATE_COMPLETE", 3), event("lab-nodegroup-win", "CREATE_COMPLETE", 4, "AWS::CloudFormation::Stack")]
    action, calls, lines = make_action(ARGS, {
        nodegroup_stack.INFO_MODULE: [info("CREATE_IN_PROGRESS", first), info("CREATE_IN_PROGRESS", last="e2"),
                                      info("CREATE_COMPLETE", last, outputs=OUTPUTS, instance_ids=["i-1"])],
        nodegroup_stack.MODULE: [started()],
    }, monkeypatch)
    result = action.run(task_vars={"inventory_hostname": "localhost"})
    assert lines[:4] == [
        "[localhost] lab-nodegroup-win: lab-nodegroup-win AWS::CloudFormation::Stack CREATE_IN_PROGRESS: User Initiated",
        "[localhost] lab-nodegroup-win: NodeGroup AWS::AutoScaling::AutoScalingGroup CREATE_IN_PROGRESS",
        "[localhost] lab-nodegroup-win: NodeGroup AWS::AutoScaling::AutoScalingGroup CREATE_COMPLETE",
        "[localhost] lab-nodegroup-win: lab-nodegroup-win AWS::CloudFormation::Stack CREATE_COMPLETE",
    ]
    assert lines[4].startswith("[localhost] lab-nodegroup-win: CREATE_COMPLETE after ") and len(lines) == 5
    assert not result.get("failed") and result["changed"] and result["operation"] == "create"
    assert result["stack_status"] == "CREATE_COMPLETE" and result["outputs"] == OUTPUTS and result["instance_ids"] == ["i-1"]
    assert [item["event_id"] for item in result["events"]] == ["e1", "e2", "e3", "e4"]
    assert result["change_set_id"] == "cs-1" and result["changes"] == [{"action": "Add"}] and "started" not in result
    assert result["invocation"]["module_args"]["wait"] is True
    module_args = [args for name, args in calls if name == nodegroup_stack.MODULE][0]
    assert module_args["wait"] is False and module_args["cluster_name"] == "lab" and module_args["wait_timeout"] == 100
    assert calls[0][0] == nodegroup_stack.MODULE
    polls = [args for name, args in calls if name == nodegroup_stack.INFO_MODULE]
    assert [poll.get("after_event_id") for poll in polls] == ["e0", "e2", "e2"]
    assert polls[0] == {"stack_name": STACK_ID, "region": "us-east-1", "endpoint_url": "http://lab", "after_event_id": "e0", "client_request_token": "tok"}
    assert all(poll["stack_name"] == STACK_ID and poll["client_request_token"] == "tok" for poll in polls)


def test_a_synchronous_operation_still_prints_its_events(monkeypatch):
    events = [event("NodeGroup", "CREATE_COMPLETE", 1), event("lab-nodegroup-win", "CREATE_COMPLETE", 2, "AWS::CloudFormation::Stack")]
    action, _calls, lines = make_action(ARGS, {
        nodegroup_stack.INFO_MODULE: [info("CREATE_COMPLETE", events, outputs=OUTPUTS)],
        nodegroup_stack.MODULE: [started(stack_status="CREATE_COMPLETE")],
    }, monkeypatch)
    result = action.run(task_vars={})
    assert len(lines) == 3 and result["outputs"] == OUTPUTS and len(result["events"]) == 2


def test_a_failed_create_gives_the_module_message_and_root_cause(monkeypatch):
    events = [event("NodeGroup", "CREATE_FAILED", 1, reason="You have requested more instances than your current instance limit allows"),
              event("NodeLaunchTemplate", "CREATE_FAILED", 2, "AWS::EC2::LaunchTemplate", "Resource creation cancelled"),
              event("lab-nodegroup-win", "ROLLBACK_COMPLETE", 3, "AWS::CloudFormation::Stack")]
    action, _calls, lines = make_action(ARGS, {
        nodegroup_stack.INFO_MODULE: [info("ROLLBACK_COMPLETE", events)],
        nodegroup_stack.MODULE: [started()],
    }, monkeypatch)
    result = action.run(task_vars={})
    assert result["failed"] and result["changed"] and result["stack_status"] == "ROLLBACK_COMPLETE"
    assert result["msg"] == ("Stack lab-nodegroup-win: create failed (ROLLBACK_COMPLETE). Root cause: NodeGroup "
                             "(AWS::AutoScaling::AutoScalingGroup) CREATE_FAILED: You have requested more instances than your current instance limit allows")
    assert result["root_cause"]["event_id"] == "e1" and [item["event_id"] for item in result["failure_events"]] == ["e1", "e2"]
    assert result["change_set_id"] == "cs-1" and len(result["events"]) == 3 and "outputs" not in result
    assert lines[-1].startswith("[localhost] lab-nodegroup-win: ROLLBACK_COMPLETE after")


def test_a_timeout_fails_like_the_module(monkeypatch):
    action, _calls, _lines = make_action(dict(ARGS, wait_timeout=5), {
        nodegroup_stack.INFO_MODULE: [info("CREATE_IN_PROGRESS", last="e0")] * 10,
        nodegroup_stack.MODULE: [started()],
    }, monkeypatch)
    result = action.run(task_vars={})
    assert result["failed"] and result["stack_status"] == "CREATE_IN_PROGRESS"
    assert result["msg"].startswith("Stack lab-nodegroup-win: the create did not finish within wait_timeout (5 s)")


def test_an_operation_already_running_is_waited_for_with_progress_then_the_module_runs_again(monkeypatch):
    running = [event("lab-nodegroup-win", "UPDATE_IN_PROGRESS", 1, "AWS::CloudFormation::Stack")]
    busy = {"failed": True, "msg": "Stack lab-nodegroup-win is UPDATE_IN_PROGRESS: another operation is running on it", "stack_status": "UPDATE_IN_PROGRESS"}
    action, calls, lines = make_action(ARGS, {
        nodegroup_stack.INFO_MODULE: [info("UPDATE_IN_PROGRESS", running),
                                      info("UPDATE_COMPLETE", [event("lab-nodegroup-win", "UPDATE_COMPLETE", 2, "AWS::CloudFormation::Stack")])],
        nodegroup_stack.MODULE: [busy, {"changed": False, "operation": "none", "stack_status": "UPDATE_COMPLETE", "events": [], "elapsed": 0.5}],
    }, monkeypatch)
    result = action.run(task_vars={})
    assert [name for name, _args in calls] == [nodegroup_stack.MODULE, nodegroup_stack.INFO_MODULE, nodegroup_stack.INFO_MODULE, nodegroup_stack.MODULE]
    assert calls[1][1]["stack_name"] == "lab-nodegroup-win" and "after_event_id" not in calls[1][1]
    assert calls[2][1]["after_event_id"] == "e1"
    assert len(lines) == 2 and not result.get("failed") and result["operation"] == "none"
    assert [item["event_id"] for item in result["events"]] == ["e1", "e2"]


def test_an_operation_already_running_that_outlasts_wait_timeout(monkeypatch):
    busy = {"failed": True, "msg": "busy", "stack_status": "UPDATE_IN_PROGRESS"}
    action, calls, _lines = make_action(dict(ARGS, wait_timeout=5), {
        nodegroup_stack.INFO_MODULE: [info("UPDATE_IN_PROGRESS", last="e1")] * 10, nodegroup_stack.MODULE: [busy]}, monkeypatch)
    result = action.run(task_vars={})
    assert result["failed"] and result["msg"].startswith(
        "Stack lab-nodegroup-win: the operation already running (UPDATE_IN_PROGRESS) did not finish within wait_timeout (5 s)")
    assert [name for name, _args in calls].count(nodegroup_stack.MODULE) == 1


def test_a_delete_ends_when_the_stack_is_gone(monkeypatch):
    action, _calls, lines = make_action(dict(ARGS, state="absent"), {
        nodegroup_stack.INFO_MODULE: [info("DELETE_IN_PROGRESS", [event("NodeGroup", "DELETE_IN_PROGRESS", 1)]),
                                      info(None, exists=False)],
        nodegroup_stack.MODULE: [started("delete", stack_status="DELETE_IN_PROGRESS", diff=[{}])],
    }, monkeypatch)
    result = action.run(task_vars={})
    assert not result.get("failed") and result["operation"] == "delete"
    assert result["stack_status"] == "DELETE_COMPLETE" and result["stack_id"] == STACK_ID and len(result["events"]) == 1
    assert lines[-1].startswith("[localhost] lab-nodegroup-win: DELETE_COMPLETE after")


def test_check_mode_no_wait_and_failures_before_the_operation_run_the_module_alone(monkeypatch):
    for args, check_mode in ((ARGS, True), (dict(ARGS, wait=False), False)):
        action, calls, lines = make_action(args, {nodegroup_stack.MODULE: [{"changed": True, "operation": "create"}]}, monkeypatch, check_mode)
        assert action.run(task_vars={})["operation"] == "create"
        assert [name for name, _args in calls] == [nodegroup_stack.MODULE] and calls[0][1] == args and lines == []
    action, calls, lines = make_action(ARGS, {nodegroup_stack.MODULE: [{"failed": True, "msg": "Invalid options: x"}]}, monkeypatch)
    result = action.run(task_vars={})
    assert result["failed"] and result["msg"] == "Invalid options: x" and "events" not in result
    assert [name for name, _args in calls] == [nodegroup_stack.MODULE] and lines == []  # no AWS call before the module's validation


def test_an_info_failure_is_the_result(monkeypatch):
    action, _calls, _lines = make_action(ARGS, {nodegroup_stack.INFO_MODULE: [{"failed": True, "msg": "AccessDenied"}],
                                                nodegroup_stack.MODULE: [started()]}, monkeypatch)
    result = action.run(task_vars={})
    assert result["failed"] and result["msg"] == "AccessDenied"


def test_bad_wait_is_reported(monkeypatch):
    action = make_action(dict(ARGS, wait_timeout="soon"), {}, monkeypatch)[0]
    with pytest.raises(AnsibleActionFail, match="whole seconds"):
        action.run(task_vars={})


def test_connection_args_keep_only_the_aws_options_and_their_aliases():
    args = {"stack_name": "s", "aws_region": "eu-west-1", "profile": "p", "aws_endpoint_url": "http://x", "subnets": ["a"]}
    assert nodegroup_stack.connection_args(args) == {"aws_region": "eu-west-1", "profile": "p", "aws_endpoint_url": "http://x"}
