"""``AWS::IAM::Role`` in CloudFormation: ``ManagedPolicyArns``.

AWS: the role gets the listed managed policies attached on create, the list is reconciled on update, and the
policies are detached before the role is deleted.
moto 5.2.5: ignores ``ManagedPolicyArns`` (the role has no attached policies), and its delete would fail with
DeleteConflict if policies were attached.
"""

from __future__ import annotations

from typing import Any, Callable

from moto.iam.models import IAMBackend, Role, iam_backends
from moto.utilities.utils import get_partition

ORIGINAL: dict[str, Callable[..., Any]] = {
    "create": Role.create_from_cloudformation_json.__func__,  # type: ignore[attr-defined]
    "update": Role.update_from_cloudformation_json.__func__,  # type: ignore[attr-defined]
    "delete": Role.delete_from_cloudformation_json.__func__,  # type: ignore[attr-defined]
}


def _backend(account_id: str, region_name: str) -> IAMBackend:
    return iam_backends[account_id][get_partition(region_name)]


def sync_managed_policies(backend: IAMBackend, role: Role, wanted: list[str]) -> None:
    """Attach the policies in ``wanted`` and detach the others."""
    for arn in wanted:
        if arn not in role.managed_policies:
            backend.attach_role_policy(arn, role.name)
    for arn in list(role.managed_policies):
        if arn not in wanted:
            backend.detach_role_policy(arn, role.name)


def create_role(cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
                **kwargs: Any) -> Role:
    role = ORIGINAL["create"](cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    sync_managed_policies(_backend(account_id, region_name), role, list(cloudformation_json["Properties"].get("ManagedPolicyArns") or []))
    return role


def update_role(cls: type, original_resource: Role, new_resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                region_name: str) -> Role:
    role = ORIGINAL["update"](cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
    sync_managed_policies(_backend(account_id, region_name), role, list(cloudformation_json["Properties"].get("ManagedPolicyArns") or []))
    return role


def delete_role(cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str) -> None:
    backend = _backend(account_id, region_name)
    for role in list(backend.roles.values()):
        if role.name == resource_name:
            sync_managed_policies(backend, role, [])
    ORIGINAL["delete"](cls, resource_name, cloudformation_json, account_id, region_name)


def install() -> None:
    Role.create_from_cloudformation_json = classmethod(create_role)  # type: ignore[method-assign,assignment]
    Role.update_from_cloudformation_json = classmethod(update_role)  # type: ignore[method-assign,assignment]
    Role.delete_from_cloudformation_json = classmethod(delete_role)  # type: ignore[method-assign,assignment]
