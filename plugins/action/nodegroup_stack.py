# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Progress for eksnodes.windows.nodegroup_stack: print each stack event of the operation as it happens.

A module cannot stream output, so with wait=true (outside check mode) the wait moves here:

1. the module runs with wait=false: it validates, computes and executes the change set (or deletes
   the stack) and returns where the operation's events start (its ``started`` key). When it finds
   another operation running on the stack (which it refuses with wait=false), that operation is
   waited for here, printing its events, and the module runs again;
2. nodegroup_stack_info is polled with the waiters' backoff until the operation ends or wait_timeout
   passes, each new event printed through Display at normal verbosity;
3. the result is the module's with wait=true: final status, outputs and instances, every event, and
   on failure the message, failure events and root cause the module would give.

The module keeps all the work; this plugin only decides when to call it and what to print.
"""

import math
import time

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.validation import check_type_bool, check_type_int
from ansible.utils.display import Display

from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup.events import progress_line
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup.failures import failure_error, timeout_error
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup.waiters import Deadline, WaitTimeout, is_settled, wait_for_stack
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.nodes import format_duration
from ansible_collections.eksnodes.windows.plugins.plugin_utils.in_process import InProcessActionBase

display = Display()

MODULE = "eksnodes.windows.nodegroup_stack"
INFO_MODULE = "eksnodes.windows.nodegroup_stack_info"
DEFAULT_WAIT_TIMEOUT = 1800
SUCCESS = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
DELETE_ENDS = (None, "DELETE_COMPLETE", "DELETE_FAILED")
# What the module names each operation in its messages.
WHAT = {"create": "create", "update": "update", "recreate": "recreate", "delete": "deletion"}
# The result keys that describe the stack, taken from the last read of it.
STACK_KEYS = ("stack_id", "stack_status", "stack_status_reason", "outputs", "parameters", "resolved_parameters", "instances", "instance_ids")
STATUS_KEYS = ("stack_id", "stack_status", "stack_status_reason")


def connection_args(args):
    """The task's AWS connection options (and their aliases), for nodegroup_stack_info."""
    # Here, not at the top: amazon.aws's module_utils import boto3, which only a wait needs. The plan (in check mode)
    # and every other task of the play then run without it in ansible-playbook.
    from ansible_collections.amazon.aws.plugins.module_utils.modules import aws_argument_spec  # pylint: disable=import-outside-toplevel
    names = set()
    for name, spec in aws_argument_spec().items():
        names.add(name)
        names.update(spec.get("aliases") or ())
    return {name: value for name, value in args.items() if name in names}


def described(info):
    """A nodegroup_stack_info result as the waiters see a DescribeStacks answer (None: no stack)."""
    if not info.get("exists"):
        return None
    return {"StackId": info.get("stack_id"), "StackStatus": info.get("stack_status"), "StackStatusReason": info.get("stack_status_reason")}


class _InfoFailed(Exception):
    def __init__(self, result):
        super().__init__(result.get("msg"))
        self.result = result


class ActionModule(InProcessActionBase):
    _supports_check_mode = True
    _supports_async = False

    clock = staticmethod(time.monotonic)
    pause = staticmethod(time.sleep)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        try:
            wait = check_type_bool(args.get("wait", True))
            wait_timeout = check_type_int(args.get("wait_timeout", DEFAULT_WAIT_TIMEOUT))
        except TypeError as error:
            raise AnsibleActionFail(f"wait must be a boolean and wait_timeout whole seconds: {error}") from error
        if not wait or self._task.check_mode or not args.get("stack_name"):
            result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
            return result
        run = _Run(self, args, task_vars, Deadline(max(wait_timeout, 0), clock=self.clock))
        try:
            result.update(run.run())
        except _InfoFailed as error:
            result.update(error.result)
        return result


class _Run:
    """One task: the state of the waits and the events printed so far."""

    def __init__(self, action, args, task_vars, deadline):
        self.action = action
        self.args = args
        self.task_vars = task_vars
        self.deadline = deadline
        self.host = (task_vars or {}).get("inventory_hostname", "localhost")
        self.stack_name = args["stack_name"]
        self.connection = connection_args(args)
        self.events = []
        self.last = {}

    def print(self, event):
        self.events.append(event)
        display.display(f"[{self.host}] {progress_line(self.stack_name, event)}")

    def info(self, stack, after_event_id=None, client_request_token=None):
        module_args = dict(self.connection, stack_name=stack)
        if after_event_id:
            module_args["after_event_id"] = after_event_id
        if client_request_token:
            module_args["client_request_token"] = client_request_token
        info = self.action._execute_module(module_name=INFO_MODULE, module_args=module_args, task_vars=self.task_vars)
        if info.get("failed"):
            raise _InfoFailed(info)
        return info

    def watch(self, stack_id, after_event_id, client_request_token=None, done=None):
        """Poll until done(status), printing each new event; returns the last stack info."""
        cursor = {"after": after_event_id}

        def describe():
            self.last = self.info(stack_id, cursor["after"], client_request_token)
            cursor["after"] = self.last.get("last_event_id") or cursor["after"]
            return described(self.last)

        kwargs = {"done": done} if done is not None else {}
        wait_for_stack(describe, lambda: self.last.get("events") or [], self.deadline, on_event=self.print, pause=self.action.pause, **kwargs)
        return self.last

    def wait_for_running(self, status):
        """Wait, printing its events, for an operation someone else started, as the module does with wait=true."""
        first = self.info(self.stack_name)
        for event in first.get("events") or []:
            self.print(event)
        if not first.get("exists") or first.get("settled"):
            return None
        try:
            self.watch(first["stack_id"], first.get("last_event_id"), done=is_settled)
        except WaitTimeout as error:
            return self.failed(timeout_error(self.stack_name, f"operation already running ({status})", self.deadline.seconds, error.last, self.events))
        return None

    def start(self):
        module_args = dict(self.args, wait=False, wait_timeout=max(int(math.ceil(self.deadline.remaining())), 1))
        return self.action._execute_module(module_name=MODULE, module_args=module_args, task_vars=self.task_vars)

    def run(self):
        started = self.start()
        status = started.get("stack_status")
        if started.get("failed") and status and not is_settled(status):
            # With wait=false the module refuses a stack another operation is running on: wait for it here, then start again.
            timed_out = self.wait_for_running(status)
            if timed_out:
                return timed_out
            started = self.start()
        invocation = (started.get("invocation") or {}).get("module_args")
        if isinstance(invocation, dict):
            invocation.update(wait=True, wait_timeout=self.args.get("wait_timeout", DEFAULT_WAIT_TIMEOUT))
        where = started.pop("started", None)
        if started.get("failed") or not where:
            # It failed, or it had nothing to do: its result is the task's.
            if self.events:
                started["events"] = self.events + list(started.get("events") or [])
            if not started.get("failed"):
                started["elapsed"] = round(self.deadline.elapsed(), 1)
            return started
        for event in started.get("events") or []:
            self.print(event)
        operation = started.get("operation")
        before = len(self.events)
        done = (lambda status: status in DELETE_ENDS) if operation == "delete" else None
        try:
            info = self.watch(where["stack_id"], where.get("after_event_id"), where.get("client_request_token"), done=done)
        except WaitTimeout as error:
            return self.failed(timeout_error(self.stack_name, WHAT.get(operation, operation), self.deadline.seconds, error.last, self.events), started)
        status = info.get("stack_status") if info.get("exists") else None
        display.display(f"[{self.host}] {self.stack_name}: {status or 'DELETE_COMPLETE'} after {format_duration(self.deadline.elapsed())}")
        if operation == "delete":
            if status == "DELETE_FAILED":
                return self.failed(failure_error(self.stack_name, "deletion", described(info), self.events[before:], self.events), started)
            final = dict(started)
            final.update({key: info.get(key) for key in STATUS_KEYS} if info.get("exists") else {
                "stack_id": where["stack_id"], "stack_status": "DELETE_COMPLETE", "stack_status_reason": None})
        else:
            if status not in SUCCESS:
                return self.failed(failure_error(self.stack_name, operation, described(info), self.events[before:], self.events), started)
            final = dict(started)
            final.update({key: info.get(key) for key in STACK_KEYS})
        final["events"] = self.events
        final["elapsed"] = round(self.deadline.elapsed(), 1)
        return final

    def failed(self, error, started=None):
        """The module's failure result: its message and facts, with what the start of the operation reported."""
        result = {"failed": True, "msg": error.message, "stack_name": self.stack_name}
        if started is not None:
            result["changed"] = True
            for key in ("change_set_id", "changes", "parameter_changes", "diff", "warnings", "invocation"):
                if key in started:
                    result[key] = started[key]
        result.update(error.facts)
        return result
