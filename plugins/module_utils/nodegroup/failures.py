# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The errors of a stack operation that failed or outlasted its wait, from its events.

Apart from operations.py so that the nodegroup_stack action plugin, which builds them after its own wait, does not
import boto3 into ansible-playbook (operations.py reaches it through the AWS calls).
"""

from typing import Any, Dict, List, Mapping, Optional

from . import events as event_logic


class StackOperationError(Exception):
    """A failure with the structured facts the module returns next to its message."""

    def __init__(self, message: str, **facts: Any):
        super().__init__(message)
        self.message = message
        self.facts = facts


def timeout_error(stack_name: str, what: str, seconds: float, last: Optional[Mapping[str, Any]], events: List[Dict[str, Any]]) -> StackOperationError:
    """The error of a wait for the stack that ran out of wait_timeout (last: the last description)."""
    last = last or {}
    return StackOperationError(
        f"Stack {stack_name}: the {what} did not finish within wait_timeout ({seconds:g} s); "
        f"it is {last.get('StackStatus')} and CloudFormation carries on: run the task again to wait for it, "
        "or raise wait_timeout",
        stack_status=last.get("StackStatus"),
        events=events,
    )


def failure_error(
    stack_name: str,
    operation: str,
    stack: Optional[Mapping[str, Any]],
    operation_events: List[Dict[str, Any]],
    events: List[Dict[str, Any]],
) -> StackOperationError:
    """The error of a stack operation that ended in failure; the root cause is found in operation_events."""
    status = (stack or {}).get("StackStatus")
    cause = event_logic.root_cause(operation_events)
    return StackOperationError(
        f"Stack {stack_name}: {operation} failed ({status}). Root cause: {event_logic.describe_cause(cause)}",
        stack_status=status,
        stack_status_reason=(stack or {}).get("StackStatusReason"),
        failure_events=event_logic.failed_events(operation_events),
        root_cause=cause,
        events=events,
    )
