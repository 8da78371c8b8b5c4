"""RBAC authorization, as kube-apiserver's RBAC authorizer decides (the lab's enforcing mode).

A request is turned into attributes (verb, API group, resource, subresource, namespace, name), then
allowed when a rule of a role bound to the user or one of its groups covers them:

* ClusterRoleBindings grant their ClusterRole's rules everywhere;
* RoleBindings grant their Role's (or ClusterRole's) rules in the binding's namespace only;
* a rule matches when its ``verbs``, ``apiGroups`` and ``resources`` (``pods/eviction`` for a
  subresource, ``pods/*`` and ``*`` as wildcards) include the request's, and, when it lists
  ``resourceNames``, the request names one of them (so a rule with names never covers list, watch or
  create of a collection).

``system:masters`` is allowed everything, as on every cluster. Non-resource paths (discovery,
``/version``) are allowed to every authenticated user, as the default ``system:discovery`` and
``system:public-info-viewer`` bindings do. Refusals are 403 Forbidden with kube-apiserver's message:
``<resource> "<name>" is forbidden: User "<user>" cannot <verb> resource "<resource>" in API group
"<group>" in the namespace "<ns>"``. Not modelled: aggregated ClusterRoles, ServiceAccount subjects,
nonResourceURLs rules, impersonation, escalation checks on writes of RBAC objects.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional

from .auth import Identity
from .errors import ApiError
from .resources import lookup
from .routing import ResourceTarget

MASTERS_GROUP = "system:masters"
RBAC_GROUP = "rbac.authorization.k8s.io"
WATCH_VALUES = ("true", "1", "t")


@dataclass(frozen=True)
class Attributes:
    verb: str
    group: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""

    @property
    def resource_path(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


def request_attributes(method: str, query: dict[str, str], target: ResourceTarget) -> Attributes:
    """What kube-apiserver's request info resolver makes of a resource request."""
    resource = target.resource
    name = target.name or ""
    if method == "GET":
        watching = target.legacy_watch or query.get("watch", "").lower() in WATCH_VALUES
        verb = "watch" if watching else ("get" if target.name else "list")
        if not name and verb in ("list", "watch"):  # a list or watch by metadata.name is authorized as that name
            name = _name_from_field_selector(query.get("fieldSelector", ""))
    elif method == "POST":
        verb = "create"
    elif method == "PUT":
        verb = "update"
    elif method == "PATCH":
        verb = "patch"
    elif method == "DELETE":
        verb = "delete" if target.name else "deletecollection"
    else:
        verb = method.lower()
    return Attributes(verb, resource.group, resource.plural, target.subresource or "", target.namespace or "", name)


def _name_from_field_selector(selector: str) -> str:
    for term in selector.split(","):
        key, _sep, value = term.partition("=")
        if key.strip() == "metadata.name" and not value.startswith("="):
            return value.strip()
        if key.strip() == "metadata.name" and value.startswith("="):
            return value[1:].strip()
    return ""


def _covers(values: Iterable[str], wanted: str) -> bool:
    values = list(values or [])
    return "*" in values or wanted in values


def _resource_covered(resources: Iterable[str], attributes: Attributes) -> bool:
    for item in resources or []:
        if item == "*" or item == attributes.resource_path:
            return True
        if attributes.subresource and item == f"{attributes.resource}/*":
            return True
        if attributes.subresource and item == f"*/{attributes.subresource}":
            return True
    return False


def rule_allows(rule: dict, attributes: Attributes) -> bool:
    if not _covers(rule.get("verbs"), attributes.verb) or not _covers(rule.get("apiGroups"), attributes.group):
        return False
    if not _resource_covered(rule.get("resources"), attributes):
        return False
    names = rule.get("resourceNames") or []
    return not names or attributes.name in names


def _subject_matches(subject: dict, identity: Identity) -> bool:
    kind = subject.get("kind")
    if kind == "User":
        return subject.get("name") == identity.username
    if kind == "Group":
        return subject.get("name") in identity.groups
    return False


class RbacAuthorizer:
    """Reads the RBAC objects from the lab's store at each request (they are few)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def _objects(self, plural: str, namespace: Optional[str] = None) -> list[dict]:
        resource = lookup(RBAC_GROUP, "v1", plural)
        return self.store.list(resource, namespace) if resource is not None else []

    def _role_rules(self, role_ref: dict, namespace: Optional[str]) -> list[dict]:
        kind, name = role_ref.get("kind"), role_ref.get("name")
        if kind == "ClusterRole":
            candidates = self._objects("clusterroles")
        elif kind == "Role" and namespace:
            candidates = self._objects("roles", namespace)
        else:
            return []
        role = next((obj for obj in candidates if obj["metadata"]["name"] == name), None)
        return list((role or {}).get("rules") or [])

    def allowed(self, identity: Identity, attributes: Attributes) -> bool:
        if MASTERS_GROUP in identity.groups:
            return True
        for binding in self._objects("clusterrolebindings"):
            if any(_subject_matches(s, identity) for s in binding.get("subjects") or []):
                if any(rule_allows(rule, attributes) for rule in self._role_rules(binding.get("roleRef") or {}, None)):
                    return True
        if attributes.namespace:
            for binding in self._objects("rolebindings", attributes.namespace):
                if any(_subject_matches(s, identity) for s in binding.get("subjects") or []):
                    if any(rule_allows(rule, attributes) for rule in self._role_rules(binding.get("roleRef") or {}, attributes.namespace)):
                        return True
        return False

    def authorize(self, identity: Identity, method: str, query: dict[str, str], target: Optional[ResourceTarget]) -> None:
        """Raise 403 Forbidden when RBAC does not allow the request; non-resource paths pass."""
        if target is None or MASTERS_GROUP in identity.groups:
            return
        attributes = request_attributes(method, query, target)
        if not self.allowed(identity, attributes):
            raise forbidden(identity, attributes)


def forbidden_message(identity: Identity, attributes: Attributes) -> str:
    qualified = f"{attributes.resource}.{attributes.group}" if attributes.group else attributes.resource
    subject = f'{qualified} "{attributes.name}"' if attributes.name else qualified
    scope = f'in the namespace "{attributes.namespace}"' if attributes.namespace else "at the cluster scope"
    return (f'{subject} is forbidden: User "{identity.username}" cannot {attributes.verb} resource "{attributes.resource_path}" '
            f'in API group "{attributes.group}" {scope}')


def forbidden(identity: Identity, attributes: Attributes) -> ApiError:
    details: dict = {"kind": attributes.resource}
    if attributes.group:
        details["group"] = attributes.group
    if attributes.name:
        details["name"] = attributes.name
    return ApiError(403, "Forbidden", forbidden_message(identity, attributes), details)
