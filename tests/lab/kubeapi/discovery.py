"""Legacy (unaggregated) discovery documents: /version, /api, /api/v1, /apis, /apis/<group>[/<version>]."""
from __future__ import annotations

import re
from typing import Optional

from .resources import ResourceType, api_groups, in_group_version


def version_info(kubernetes_version: str) -> dict:
    """``/version`` for a version like "1.31" or "1.31.2": gitVersion v1.31.0-eks-lab, major "1", minor "31"."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.(\d+))?", kubernetes_version.strip())
    if not match:
        raise ValueError(f"kubernetes_version must look like 1.31 or 1.31.2, not {kubernetes_version!r}")
    major, minor, patch = match.group(1), match.group(2), match.group(3) or "0"
    return {"major": major, "minor": minor, "gitVersion": f"v{major}.{minor}.{patch}-eks-lab", "gitCommit": "0" * 40,
            "gitTreeState": "clean", "buildDate": "2024-01-01T00:00:00Z", "goVersion": "go1.22.5", "compiler": "gc",
            "platform": "linux/amd64"}


def api_versions(server_address: str) -> dict:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _api_group(name: str, versions: list[str]) -> dict:
    entries = [{"groupVersion": f"{name}/{version}", "version": version} for version in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_group_list() -> dict:
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_api_group(name, versions) for name, versions in api_groups().items()]}


def api_group(name: str) -> Optional[dict]:
    versions = api_groups().get(name)
    return {"kind": "APIGroup", "apiVersion": "v1", **_api_group(name, versions)} if versions else None


def _resource_entries(resource: ResourceType) -> list[dict]:
    entries = [{"name": resource.plural, "singularName": resource.kind.lower(), "namespaced": resource.namespaced, "kind": resource.kind,
                "verbs": list(resource.verbs), **({"shortNames": list(resource.short_names)} if resource.short_names else {}),
                **({"categories": list(resource.categories)} if resource.categories else {})}]
    for sub in resource.subresources.values():
        entry = {"name": f"{resource.plural}/{sub.name}", "singularName": "", "namespaced": resource.namespaced,
                 "kind": sub.kind or resource.kind, "verbs": list(sub.verbs)}
        if sub.group:
            entry.update(group=sub.group, version=sub.version)
        entries.append(entry)
    return entries


def api_resource_list(group: str, version: str) -> Optional[dict]:
    resources = in_group_version(group, version)
    if not resources:
        return None
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group else version,
            "resources": [entry for resource in resources for entry in _resource_entries(resource)]}
