"""The resource types the server knows, with the per-type behaviour the REST layer needs."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .errors import ApiError

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Subresource:
    """A subresource as discovery lists it; an empty kind means the parent's kind."""

    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str = ""
    version: str = ""


STATUS = Subresource("status", "", ("get", "patch", "update"))
SCALE = Subresource("scale", "Scale", ("get", "patch", "update"), "autoscaling", "v1")
EVICTION = Subresource("eviction", "Eviction", ("create",), "policy", "v1")
BINDING = Subresource("binding", "Binding", ("create",))


@dataclass(frozen=True)
class ResourceType:
    """One REST resource (``group/version/plural``) and how its registry strategy behaves."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    subresource_list: tuple[Subresource, ...] = ()
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    name_rule: str = "subdomain"          # subdomain | label | dns1035 | path
    reset_status_on_create: bool = False  # the strategy's PrepareForCreate clears status
    generation_fields: tuple[str, ...] = ()  # dotted paths whose change bumps metadata.generation
    return_deleted_object: bool = False   # DELETE answers with the object instead of a Status

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified_name(self) -> str:
        """``configmaps`` or ``deployments.apps``: how kube-apiserver names the resource in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def tracks_generation(self) -> bool:
        return bool(self.generation_fields)

    @property
    def subresources(self) -> dict[str, Subresource]:
        return {sub.name: sub for sub in self.subresource_list}

    @property
    def verbs(self) -> tuple[str, ...]:
        if self.kind == "Namespace":  # namespaces are deleted one by one, each through its finalizer
            return tuple(verb for verb in VERBS if verb != "deletecollection")
        return VERBS

    @property
    def has_status_subresource(self) -> bool:
        return "status" in self.subresources


CORE = ""
APPS = "apps"
RBAC = "rbac.authorization.k8s.io"
ADMISSION = "admissionregistration.k8s.io"
POLICY = "policy"

RESOURCES: tuple[ResourceType, ...] = (
    ResourceType(CORE, "v1", "namespaces", "Namespace", False, (STATUS,), ("ns",), name_rule="label", reset_status_on_create=True,
                 return_deleted_object=True),
    ResourceType(CORE, "v1", "configmaps", "ConfigMap", True, (), ("cm",)),
    ResourceType(CORE, "v1", "secrets", "Secret", True),
    ResourceType(CORE, "v1", "nodes", "Node", False, (STATUS,), ("no",)),
    ResourceType(CORE, "v1", "pods", "Pod", True, (STATUS, BINDING, EVICTION), ("po",), ("all",), reset_status_on_create=True,
                 return_deleted_object=True),
    ResourceType(CORE, "v1", "services", "Service", True, (STATUS,), ("svc",), ("all",), name_rule="dns1035", reset_status_on_create=True,
                 return_deleted_object=True),
    ResourceType(CORE, "v1", "serviceaccounts", "ServiceAccount", True, (), ("sa",)),
    ResourceType(CORE, "v1", "events", "Event", True, (), ("ev",)),
    ResourceType(APPS, "v1", "deployments", "Deployment", True, (STATUS, SCALE), ("deploy",), ("all",), reset_status_on_create=True,
                 generation_fields=("spec", "metadata.annotations")),
    ResourceType(APPS, "v1", "daemonsets", "DaemonSet", True, (STATUS,), ("ds",), ("all",), reset_status_on_create=True,
                 generation_fields=("spec",)),
    ResourceType(POLICY, "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, (STATUS,), ("pdb",), reset_status_on_create=True,
                 generation_fields=("spec",)),
    ResourceType(RBAC, "v1", "clusterroles", "ClusterRole", False, name_rule="path"),
    ResourceType(RBAC, "v1", "clusterrolebindings", "ClusterRoleBinding", False, name_rule="path"),
    ResourceType(RBAC, "v1", "roles", "Role", True, name_rule="path"),
    ResourceType(RBAC, "v1", "rolebindings", "RoleBinding", True, name_rule="path"),
    ResourceType(ADMISSION, "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", False,
                 generation_fields=("webhooks",)),
    ResourceType(ADMISSION, "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", False,
                 generation_fields=("webhooks",)),
)

_BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
_BY_KIND = {(r.api_version, r.kind): r for r in RESOURCES}
NAMESPACES = _BY_PATH[(CORE, "v1", "namespaces")]
PODS = _BY_PATH[(CORE, "v1", "pods")]
NODES = _BY_PATH[(CORE, "v1", "nodes")]
PDBS = _BY_PATH[(POLICY, "v1", "poddisruptionbudgets")]


def lookup(group: str, version: str, plural: str) -> Optional[ResourceType]:
    return _BY_PATH.get((group, version, plural))


def for_object(obj: dict) -> ResourceType:
    """The resource type of a manifest, from its ``apiVersion`` and ``kind``."""
    resource = _BY_KIND.get((obj.get("apiVersion", ""), obj.get("kind", "")))
    if resource is None:
        raise ApiError(404, "NotFound", f'no resource for apiVersion {obj.get("apiVersion")!r} kind {obj.get("kind")!r}')
    return resource


def api_groups() -> dict[str, list[str]]:
    """Named groups (the core group excluded) and their versions, in table order."""
    groups: dict[str, list[str]] = {}
    for resource in RESOURCES:
        if resource.group:
            versions = groups.setdefault(resource.group, [])
            if resource.version not in versions:
                versions.append(resource.version)
    return groups


def in_group_version(group: str, version: str) -> list[ResourceType]:
    return [r for r in RESOURCES if (r.group, r.version) == (group, version)]
