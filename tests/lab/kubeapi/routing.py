"""Turn a REST path into the resource, namespace, name and subresource it addresses."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional
from urllib.parse import unquote

from .errors import unknown_path
from .resources import ResourceType, lookup


@dataclass(frozen=True)
class ResourceTarget:
    resource: ResourceType
    namespace: Optional[str] = None
    name: Optional[str] = None
    subresource: Optional[str] = None
    legacy_watch: bool = False  # the deprecated /api/v1/watch/... form


def _group_version(segments: list[str]) -> Optional[tuple[str, str, list[str]]]:
    if len(segments) >= 2 and segments[0] == "api":
        return "", segments[1], segments[2:]
    if len(segments) >= 3 and segments[0] == "apis":
        return segments[1], segments[2], segments[3:]
    return None


def parse_resource_path(path: str) -> Optional[ResourceTarget]:
    """None for paths above the resources (discovery); 404 NotFound for paths that address nothing."""
    segments = [unquote(segment) for segment in path.strip("/").split("/") if segment]
    parsed = _group_version(segments)
    if parsed is None or not parsed[2]:
        return None
    group, version, rest = parsed
    legacy_watch = rest[0] == "watch"
    if legacy_watch:
        rest = rest[1:]
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        candidate = lookup(group, version, rest[2])
        if candidate is not None and candidate.namespaced:
            namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        raise unknown_path()
    resource = lookup(group, version, rest[0])
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    if resource is None or (resource.namespaced and name is not None and namespace is None):
        raise unknown_path()
    if subresource is not None and subresource not in resource.subresources:
        raise unknown_path()
    return ResourceTarget(resource, namespace, name, subresource, legacy_watch)
