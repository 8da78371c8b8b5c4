"""The EKS add-on catalogue the lab knows: versions, and a configuration schema for vpc-cni.

The vpc-cni schema keeps the keys the Windows work touches (``enableWindowsIpam`` and friends, see
eks-windows-facts.md section 4) plus the common ones, with the types the real schema declares. Values are
checked the way EKS reports schema errors, e.g. ``$.enableWindowsIpam: boolean found, string expected``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

from lab.aws.eks.errors import InvalidParameterException

BOOLEAN_STRING = {"type": "string", "format": "boolean"}
INTEGER = {"type": "integer"}
OBJECT = {"type": "object"}
ARRAY = {"type": "array"}

VPC_CNI_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "additionalProperties": False,
    "type": "object",
    "properties": {
        "affinity": OBJECT,
        "branchENICooldown": INTEGER,
        "enableNetworkPolicy": BOOLEAN_STRING,
        "enableWindowsIpam": BOOLEAN_STRING,
        "enableWindowsPrefixDelegation": BOOLEAN_STRING,
        "env": OBJECT,
        "eniConfig": OBJECT,
        "init": OBJECT,
        "livenessProbeTimeoutSeconds": INTEGER,
        "minimumWindowsIPTarget": INTEGER,
        "nodeAgent": OBJECT,
        "podAnnotations": OBJECT,
        "podLabels": OBJECT,
        "readinessProbeTimeoutSeconds": INTEGER,
        "resources": OBJECT,
        "tolerations": ARRAY,
        "updateStrategy": OBJECT,
        "warmWindowsIPTarget": INTEGER,
        "warmWindowsPrefixTarget": INTEGER,
    },
}
OPEN_SCHEMA: dict[str, Any] = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "additionalProperties": True}
JSON_TYPES = {"string": str, "integer": int, "object": dict, "array": list, "boolean": bool}


@dataclass(frozen=True)
class AddonKind:
    """A catalogue entry: the add-on's type and its versions, newest first."""

    name: str
    addon_type: str
    versions: tuple[str, ...]
    schema: dict[str, Any]

    def versions_for(self, kubernetes_version: str) -> tuple[str, ...]:
        return tuple(version.replace("{k8s}", kubernetes_version) for version in self.versions)


CATALOGUE = {
    kind.name: kind for kind in (
        AddonKind("vpc-cni", "networking", ("v1.19.2-eksbuild.1", "v1.18.6-eksbuild.1"), VPC_CNI_SCHEMA),
        AddonKind("coredns", "networking", ("v1.11.3-eksbuild.2", "v1.11.1-eksbuild.13"), OPEN_SCHEMA),
        AddonKind("kube-proxy", "networking", ("v{k8s}.2-eksbuild.3", "v{k8s}.0-eksbuild.2"), OPEN_SCHEMA),
        AddonKind("eks-pod-identity-agent", "security", ("v1.3.4-eksbuild.1",), OPEN_SCHEMA),
        AddonKind("aws-ebs-csi-driver", "storage", ("v1.37.0-eksbuild.1",), OPEN_SCHEMA),
    )
}


def addon_kind(name: str) -> AddonKind:
    if name not in CATALOGUE:
        raise InvalidParameterException(f"Addon {name} specified is not supported")
    return CATALOGUE[name]


def resolve_version(kind: AddonKind, kubernetes_version: str, requested: str | None) -> str:
    versions = kind.versions_for(kubernetes_version)
    if requested is None:
        return versions[0]
    if requested not in versions:
        raise InvalidParameterException(f"Addon version specified is not supported for the addon {kind.name} "
                                        f"and cluster version {kubernetes_version}")
    return requested


def _type_name(value: Any) -> str:
    for name, python_type in (("boolean", bool), ("integer", int), ("number", float), ("string", str), ("array", list), ("object", dict)):
        if isinstance(value, python_type):
            return name
    return "null"


def schema_errors(values: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Top-level JSON-schema problems, worded as EKS words them."""
    errors = []
    properties = schema.get("properties", {})
    for key, value in values.items():
        rule = properties.get(key)
        if rule is None:
            if not schema.get("additionalProperties", True):
                errors.append(f"$.{key}: is not defined in the schema and the schema does not allow additional properties")
            continue
        found = _type_name(value)
        expected = rule["type"]
        if not isinstance(value, JSON_TYPES[expected]) or (expected == "integer" and isinstance(value, bool)):
            errors.append(f"$.{key}: {found} found, {expected} expected")
        elif rule.get("format") == "boolean" and value not in ("true", "false"):
            errors.append(f"$.{key}: does not match the boolean pattern")
    return errors


def validate_configuration(kind: AddonKind, configuration_values: str | None) -> None:
    """Raise InvalidParameterException unless the JSON or YAML string fits the add-on's schema."""
    if configuration_values is None or configuration_values.strip() == "":
        return
    try:
        values = json.loads(configuration_values)
    except ValueError:
        try:
            values = yaml.safe_load(configuration_values)
        except yaml.YAMLError as error:
            raise InvalidParameterException(f"ConfigurationValue provided in request is not supported: {error}") from error
    if not isinstance(values, dict):
        raise InvalidParameterException("ConfigurationValue provided in request is not supported: "
                                        f"Json schema validation failed with error: [$: {_type_name(values)} found, object expected]")
    errors = schema_errors(values, kind.schema)
    if errors:
        raise InvalidParameterException("ConfigurationValue provided in request is not supported: "
                                        f"Json schema validation failed with error: [{', '.join(errors)}]")


def describe_versions(kubernetes_version: str | None, default_kubernetes_version: str, names: list[str] | None) -> list[dict[str, Any]]:
    """The ``addons`` list of DescribeAddonVersions."""
    cluster_version = kubernetes_version or default_kubernetes_version
    result = []
    for kind in CATALOGUE.values():
        if names and kind.name not in names:
            continue
        versions = kind.versions_for(cluster_version)
        result.append({
            "addonName": kind.name, "type": kind.addon_type, "publisher": "eks", "owner": "aws",
            "addonVersions": [{
                "addonVersion": version, "architecture": ["amd64", "arm64"], "computeTypes": ["ec2"],
                "compatibilities": [{"clusterVersion": cluster_version, "platformVersions": ["*"], "defaultVersion": index == 0}],
                "requiresConfiguration": False, "requiresIamPermissions": kind.name in ("vpc-cni", "aws-ebs-csi-driver"),
            } for index, version in enumerate(versions)],
        })
    return result
