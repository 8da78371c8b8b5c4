"""Per-resource stack events, in the order CloudFormation emits them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional

from moto.cloudformation.models import Event, Stack

from lab.aws.patches.autoscaling import UPDATE_MESSAGES_ATTRIBUTE


@dataclass(frozen=True)
class ResourceRef:
    """A resource of a stack as events name it."""

    logical_id: str
    resource_type: str
    physical_id: str
    model: Any = None


def stack_event(stack: Stack, status: str, reason: Optional[str] = None) -> None:
    stack._add_stack_event(status, resource_status_reason=reason)  # pylint: disable=protected-access


def resource_event(stack: Stack, resource: ResourceRef, status: str, reason: Optional[str] = None) -> None:
    event = Event(stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=resource.logical_id,
                  physical_resource_id=resource.physical_id, resource_type=resource.resource_type, resource_status=status,
                  resource_status_reason=reason, resource_properties=None)
    event.sendToSns(stack.account_id, stack.region_name, stack.notification_arns)
    stack.events.append(event)


def _physical_id(model: Any) -> str:
    try:
        return str(getattr(model, "physical_resource_id", "") or "")
    except (AttributeError, KeyError, TypeError):
        return ""


def _template_resources(stack: Stack) -> dict[str, Any]:
    """The resources the stack's resource map manages (none once a failed creation has been rolled back)."""
    return stack.resource_map._resource_json_map  # pylint: disable=protected-access


def _condition_holds(stack: Stack, resource_json: dict[str, Any]) -> bool:
    condition = resource_json.get("Condition")
    return not condition or bool(stack.resource_map.lazy_condition_map[condition])


def created_resources(stack: Stack) -> list[ResourceRef]:
    """The stack's resources in creation order (moto creates some lazily, on first reference).

    Resources moto has no model for are listed after the others with an empty physical id.
    """
    resources = _template_resources(stack)
    parsed = stack.resource_map._parsed_resources  # pylint: disable=protected-access
    refs = [ResourceRef(logical_id, resources[logical_id]["Type"], _physical_id(model), model)
            for logical_id, model in parsed.items() if logical_id in resources]
    seen = {ref.logical_id for ref in refs}
    refs += [ResourceRef(logical_id, body["Type"], "") for logical_id, body in resources.items()
             if logical_id not in seen and _condition_holds(stack, body)]
    return refs


def ref_of(stack: Stack, logical_id: str) -> ResourceRef:
    body = _template_resources(stack).get(logical_id) or (stack.template_dict.get("Resources") or {}).get(logical_id, {})
    model = stack.resource_map._parsed_resources.get(logical_id)  # pylint: disable=protected-access
    return ResourceRef(logical_id, body.get("Type", ""), _physical_id(model), model)


def completed(stack: Stack, resources: Iterable[ResourceRef], action: str) -> None:
    """``<action>_IN_PROGRESS`` and ``<action>_COMPLETE`` for each resource (rolling-update progress in between)."""
    for resource in resources:
        resource_event(stack, resource, f"{action}_IN_PROGRESS")
        if action == "UPDATE":
            for message in getattr(resource.model, UPDATE_MESSAGES_ATTRIBUTE, None) or []:
                resource_event(stack, resource, "UPDATE_IN_PROGRESS", message)
            if resource.model is not None and hasattr(resource.model, UPDATE_MESSAGES_ATTRIBUTE):
                setattr(resource.model, UPDATE_MESSAGES_ATTRIBUTE, [])
        resource_event(stack, resource, f"{action}_COMPLETE")


def deleted(stack: Stack, resources: Iterable[ResourceRef], retained: Iterable[str] = ()) -> None:
    """Delete events, newest resource first; ``retained`` logical ids get DELETE_SKIPPED."""
    keep = set(retained)
    for resource in reversed(list(resources)):
        if resource.logical_id in keep:
            resource_event(stack, resource, "DELETE_SKIPPED")
            continue
        resource_event(stack, resource, "DELETE_IN_PROGRESS")
        resource_event(stack, resource, "DELETE_COMPLETE")
