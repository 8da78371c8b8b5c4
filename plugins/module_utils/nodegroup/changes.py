# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure functions: what differs between a deployed stack and the desired one, and how to show it.

The no-op decision is taken here from two describe answers (the stack and its template), without
asking CloudFormation to try an update.
"""

import hashlib
import json
from typing import Any, Dict, Iterable, List, Mapping, Optional

NO_CHANGES_REASONS = (
    "didn't contain changes",
    "No updates are to be performed",
    "does not contain changes",
)


def stack_parameters(stack: Optional[Mapping[str, Any]]) -> Dict[str, str]:
    """The stack's parameter values as submitted (SSM-typed ones by name, not resolved)."""
    if not stack:
        return {}
    return {item["ParameterKey"]: item.get("ParameterValue", "") for item in stack.get("Parameters") or []}


def resolved_parameters(stack: Optional[Mapping[str, Any]]) -> Dict[str, str]:
    """The values CloudFormation resolved for SSM-typed parameters."""
    if not stack:
        return {}
    return {item["ParameterKey"]: item["ResolvedValue"] for item in stack.get("Parameters") or [] if item.get("ResolvedValue")}


def list_items(value: Any) -> List[str]:
    """The items of a list parameter as CloudFormation stores it, comma-joined."""
    return [item.strip() for item in ("" if value is None else str(value)).split(",") if item.strip()]


def _normalized(name: str, value: Any, list_names: Iterable[str]) -> Any:
    if name in list_names:
        return sorted(list_items(value))
    return "" if value is None else str(value)


# The template's parameters that bound how many instances its Auto Scaling group runs.
CAPACITY_PARAMETERS = ("NodeAutoScalingGroupDesiredCapacity", "NodeAutoScalingGroupMaxSize")


def lowered_capacity(before: Mapping[str, Any], after: Mapping[str, Any]) -> Optional[int]:
    """How many instances the group has room for after an update that lowers its desired capacity or maximum size;
    None when neither goes down (or the template has no such parameters)."""
    def number(value: Any) -> Optional[int]:
        return int(value) if str(value or "").isdigit() else None
    wanted = [number(after.get(name)) for name in CAPACITY_PARAMETERS]
    if None in wanted:
        return None
    lowered = any(number(before.get(name)) is None or new < number(before.get(name)) for name, new in zip(CAPACITY_PARAMETERS, wanted))
    return min(wanted) if lowered else None


def parameter_changes(
    current: Mapping[str, str], desired: Mapping[str, str], list_names: Iterable[str] = ()
) -> Dict[str, Dict[str, str]]:
    """name -> {before, after} for each parameter whose desired value differs (lists compared as sets).

    A parameter the deployed stack has but the desired set lacks is left out: CloudFormation then
    applies the template's default, which the caller has already put in desired for every parameter
    it knows of.
    """
    list_names = tuple(list_names)
    changes = {}
    for name, after in desired.items():
        before = current.get(name)
        if before is None or _normalized(name, before, list_names) != _normalized(name, after, list_names):
            changes[name] = {"before": before, "after": after}
    return changes


def _parsed(body: Any) -> Any:
    if isinstance(body, (dict, list)):
        return body
    try:
        return json.loads(body)
    except (TypeError, ValueError):
        return None


def same_template(deployed: Any, desired: Optional[str]) -> bool:
    """Whether the deployed template body is the desired one (text equal, or equal JSON)."""
    if deployed is None or desired is None:
        return False
    if isinstance(deployed, str) and deployed.strip() == desired.strip():
        return True
    deployed_data, desired_data = _parsed(deployed), _parsed(desired)
    return deployed_data is not None and deployed_data == desired_data


def stack_tags(stack: Optional[Mapping[str, Any]]) -> Dict[str, str]:
    if not stack:
        return {}
    return {item["Key"]: item.get("Value", "") for item in stack.get("Tags") or []}


def desired_tags(current: Mapping[str, str], tags: Optional[Mapping[str, Any]], purge_tags: bool) -> Optional[Dict[str, str]]:
    """The stack tags to send, or None to leave them as they are."""
    if tags is None:
        return None
    wanted = {str(key): "" if value is None else str(value) for key, value in tags.items()}
    if purge_tags:
        return wanted
    merged = dict(current)
    merged.update(wanted)
    return merged


def tag_list(tags: Mapping[str, str]) -> List[Dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def is_no_op(
    stack: Mapping[str, Any],
    deployed_template: Any,
    desired_template: Optional[str],
    desired_parameters: Mapping[str, str],
    desired_stack_tags: Optional[Mapping[str, str]],
    list_names: Iterable[str] = (),
) -> bool:
    """True when the stack already has the desired template, parameters and tags: nothing to write."""
    if not same_template(deployed_template, desired_template):
        return False
    if parameter_changes(stack_parameters(stack), desired_parameters, list_names):
        return False
    if desired_stack_tags is not None and dict(desired_stack_tags) != stack_tags(stack):
        return False
    return True


def change_set_is_empty(change_set: Mapping[str, Any]) -> bool:
    """A change set CloudFormation refused because it would change nothing."""
    if change_set.get("Status") != "FAILED":
        return False
    reason = change_set.get("StatusReason") or ""
    return any(text in reason for text in NO_CHANGES_REASONS)


def resource_changes(change_set: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """The change set's resource changes, in snake_case."""
    found = []
    for change in change_set.get("Changes") or []:
        resource = change.get("ResourceChange") or {}
        if not resource:
            continue
        details = []
        for detail in resource.get("Details") or []:
            target = detail.get("Target") or {}
            details.append({
                "attribute": target.get("Attribute"),
                "name": target.get("Name"),
                "requires_recreation": target.get("RequiresRecreation"),
                "change_source": detail.get("ChangeSource"),
                "causing_entity": detail.get("CausingEntity"),
            })
        found.append({
            "action": resource.get("Action"),
            "logical_resource_id": resource.get("LogicalResourceId"),
            "physical_resource_id": resource.get("PhysicalResourceId"),
            "resource_type": resource.get("ResourceType"),
            "replacement": resource.get("Replacement"),
            "scope": list(resource.get("Scope") or []),
            "details": details,
        })
    return found


# Longer values without a comma (the cluster CA) are shown by their start, length and digest, which still
# differ when they do; lists (comma-joined IDs) are always shown whole.
LONG_VALUE = 96


def shown_value(value: Any) -> str:
    text = "" if value is None else str(value)
    if len(text) <= LONG_VALUE or "," in text:
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return f"{text[:32]}... ({len(text)} characters, sha256 {digest})"


def _text(mapping: Mapping[str, Any]) -> str:
    return "".join(f"{key}: {shown_value(mapping[key])}\n" for key in sorted(mapping))


def _resource_line(change: Mapping[str, Any]) -> str:
    line = f"{change['logical_resource_id']} ({change['resource_type']})"
    action = change.get("action")
    if action == "Modify":
        names = sorted({detail["name"] or detail["attribute"] for detail in change.get("details") or [] if detail.get("name") or detail.get("attribute")})
        what = ", ".join(names or change.get("scope") or [])
        line += f" modified: {what}" if what else " modified"
        if change.get("replacement") in ("True", "Conditional"):
            line += f"; replacement: {change['replacement']}"
    return line + "\n"


def build_diff(
    before_parameters: Mapping[str, str],
    after_parameters: Mapping[str, str],
    changes: List[Mapping[str, Any]],
    stack_name: str,
    before_tags: Optional[Mapping[str, str]] = None,
    after_tags: Optional[Mapping[str, str]] = None,
) -> List[Dict[str, str]]:
    """Ansible diffs: one for the parameters (and tags), one for the resources the change set touches."""
    diffs = []
    before = dict(before_parameters)
    after = dict(after_parameters)
    if before_tags is not None or after_tags is not None:
        before.update({f"tag:{key}": value for key, value in (before_tags or {}).items()})
        after.update({f"tag:{key}": value for key, value in (after_tags if after_tags is not None else before_tags or {}).items()})
    diffs.append({
        "before_header": f"stack {stack_name} parameters (deployed)",
        "after_header": f"stack {stack_name} parameters (desired)",
        "before": _text(before),
        "after": _text(after),
    })
    if changes:
        before_lines = [_resource_line({**change, "action": "Existing"}) for change in changes if change.get("action") in ("Modify", "Remove", "Dynamic")]
        after_lines = [_resource_line(change) for change in changes if change.get("action") in ("Add", "Modify", "Dynamic")]
        diffs.append({
            "before_header": f"stack {stack_name} resources (deployed)",
            "after_header": f"stack {stack_name} resources (after the change set)",
            "before": "".join(sorted(before_lines)),
            "after": "".join(sorted(after_lines)),
        })
    return diffs
