# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure functions: stack events as structured data, and the first root cause of a failure.

When one resource fails, CloudFormation cancels the others ("Resource creation cancelled") and
adds a stack-level event listing the failed resources; neither is the cause. The root cause is
the earliest failed resource event that is not such a consequence.
"""

import re
from typing import Any, Dict, List, Mapping, Optional

# Reasons that are a consequence of another failure, not a cause.
CONSEQUENCE_PATTERNS = (
    re.compile(r"^Resource (creation|update|deletion) cancelled", re.IGNORECASE),
    re.compile(r"^The following resource\(s\) failed to", re.IGNORECASE),
    re.compile(r"^Stack .* (rollback|was rolled back)", re.IGNORECASE),
    re.compile(r"^(Rollback|Delete) requested by user", re.IGNORECASE),
    re.compile(r"^User Initiated", re.IGNORECASE),
)


def _timestamp(value: Any) -> Optional[str]:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def event_facts(event: Mapping[str, Any]) -> Dict[str, Any]:
    """One stack event in snake_case."""
    return {
        "timestamp": _timestamp(event.get("Timestamp")),
        "logical_resource_id": event.get("LogicalResourceId"),
        "physical_resource_id": event.get("PhysicalResourceId"),
        "resource_type": event.get("ResourceType"),
        "resource_status": event.get("ResourceStatus"),
        "resource_status_reason": event.get("ResourceStatusReason"),
        "event_id": event.get("EventId"),
    }


def of_request(events: List[Mapping[str, Any]], client_request_token: Optional[str]) -> List[Mapping[str, Any]]:
    """The raw events of the request with this token; events that carry no token are kept."""
    if not client_request_token:
        return list(events)
    return [event for event in events if event.get("ClientRequestToken") in (None, "", client_request_token)]


def progress_line(stack_name: str, event: Mapping[str, Any]) -> str:
    """'my-stack: NodeGroup AWS::AutoScaling::AutoScalingGroup CREATE_IN_PROGRESS', then ': <reason>' if any."""
    line = f"{stack_name}: {event.get('logical_resource_id')} {event.get('resource_type')} {event.get('resource_status')}"
    reason = event.get("resource_status_reason")
    return f"{line}: {reason}" if reason else line


def is_stack_event(event: Mapping[str, Any]) -> bool:
    return event.get("resource_type") == "AWS::CloudFormation::Stack"


def failed_events(events: List[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """The failure events (snake_case, oldest first) of resources, then of the stack itself."""
    failed = [dict(event) for event in events if str(event.get("resource_status") or "").endswith("_FAILED")]
    return [event for event in failed if not is_stack_event(event)] + [event for event in failed if is_stack_event(event)]


def is_consequence(reason: Optional[str]) -> bool:
    return any(pattern.search(reason or "") for pattern in CONSEQUENCE_PATTERNS)


def root_cause(events: List[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    """The first failed resource event that caused the failure (events oldest first), else the first failure."""
    failed = [event for event in events if str(event.get("resource_status") or "").endswith("_FAILED")]
    for event in failed:
        if not is_stack_event(event) and not is_consequence(event.get("resource_status_reason")):
            return dict(event)
    for event in failed:
        if not is_stack_event(event):
            return dict(event)
    for event in events:
        if is_stack_event(event) and event.get("resource_status_reason") and str(event.get("resource_status", "")).endswith(("FAILED", "ROLLBACK_IN_PROGRESS")):
            return dict(event)
    return dict(failed[0]) if failed else None


def last_operation(events: List[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """The events (oldest first) since the stack's last create, update or delete began.

    A rollback belongs to the operation it undoes, so it does not start a new one.
    """
    start = 0
    for index, event in enumerate(events):
        status = str(event.get("resource_status") or "")
        if is_stack_event(event) and status in ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS", "IMPORT_IN_PROGRESS"):
            start = index
    return [dict(event) for event in events[start:]]


def describe_cause(event: Optional[Mapping[str, Any]]) -> str:
    """'NodeGroup (AWS::AutoScaling::AutoScalingGroup) CREATE_FAILED: <reason>'."""
    if not event:
        return "no failure event was recorded"
    return (
        f"{event.get('logical_resource_id')} ({event.get('resource_type')}) {event.get('resource_status')}: "
        f"{event.get('resource_status_reason') or 'no reason given'}"
    )
