"""Resource updates as AWS makes them, where moto's resource models replace what AWS updates in place.

AWS::EC2::SecurityGroup: ``GroupDescription``, ``GroupName`` and ``VpcId`` require a replacement; ``Tags`` (and the
inline rules) are updated without interruption, so the group keeps its ID and every instance, launch template
and rule that names it is unaffected. moto 5.2.5 deletes the group and creates a new one for any change.
The lab updates a group in place when only its Tags change; other changes keep moto's replacement (inline rules
are not modelled: the collection's template declares its rules as separate resources).
"""

from __future__ import annotations

from typing import Any

from moto.ec2.models import ec2_backends
from moto.ec2.models.security_groups import SecurityGroup

# Set by the stack update on each security group model: the tags its template declared before the update (resolved),
# so that the tags the new template drops are removed and the stack's own (propagated) tags are kept.
DECLARED_TAGS_ATTRIBUTE = "lab_declared_tags"
REPLACING_PROPERTIES = ("GroupDescription", "GroupName", "VpcId")

_replace = SecurityGroup.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]
_installed: list[bool] = []


def declared_tags(properties: Any) -> dict[str, str]:
    """The Tags property of a resolved resource as a dict."""
    return {str(tag["Key"]): str(tag["Value"]) for tag in ((properties or {}).get("Tags") or []) if isinstance(tag, dict) and "Key" in tag}


def may_be_replaced(before: Any, after: Any) -> bool:
    """Whether a resource's template change may replace it (give it a new physical ID).

    Known only for security groups (a change of GroupDescription, GroupName or VpcId); any other type may be.
    """
    if not (isinstance(before, dict) and isinstance(after, dict)) or before.get("Type") != after.get("Type"):
        return True
    if after.get("Type") != SecurityGroup.cloudformation_type():
        return True
    old, new = before.get("Properties") or {}, after.get("Properties") or {}
    return any(old.get(name) != new.get(name) for name in REPLACING_PROPERTIES)


def remember_declared_tags(model: Any, properties: Any) -> None:
    """Before a stack update: the tags a security group's template declared until now (see update_security_group)."""
    if isinstance(model, SecurityGroup) and isinstance(properties, dict):
        setattr(model, DECLARED_TAGS_ATTRIBUTE, declared_tags(properties))


def _replaced(group: SecurityGroup, properties: dict[str, Any]) -> bool:
    current = {"GroupDescription": group.description, "GroupName": group.name, "VpcId": group.vpc_id}
    return any(name in properties and properties[name] != current[name] for name in REPLACING_PROPERTIES)


def update_security_group(cls: type, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str,
                          region_name: str) -> Any:
    """Replacement for ``SecurityGroup.update_from_cloudformation_json``: tags in place, the rest as moto does."""
    properties = cloudformation_json.get("Properties") or {}
    before = getattr(original_resource, DECLARED_TAGS_ATTRIBUTE, None)
    if before is None or _replaced(original_resource, properties):
        return _replace(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
    wanted = declared_tags(properties)
    backend = ec2_backends[account_id][region_name]
    dropped = [key for key in before if key not in wanted]
    if dropped:
        backend.delete_tag_keys([original_resource.id], dropped)
    if wanted:
        backend.create_tags([original_resource.id], wanted)
    setattr(original_resource, DECLARED_TAGS_ATTRIBUTE, wanted)
    return original_resource


def install() -> None:
    """Patch moto's security group model once per process."""
    if _installed:
        return
    SecurityGroup.update_from_cloudformation_json = classmethod(update_security_group)  # type: ignore[method-assign,assignment]
    _installed.append(True)
