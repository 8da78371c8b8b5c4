"""What kube-apiserver's JSON decoding refuses before any validation: a field of the wrong JSON type.

kube-apiserver decodes a request body into the kind's Go struct; a value of another JSON type (``replicas: "3"``,
a label value ``3``, ``hostNetwork: "true"``) fails the request with 400 BadRequest, ``... cannot be handled as a
Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32``. A lab that
stored such values would let a role that renders numbers as text (ansible-core before 2.19 does, in a definition) pass
here and fail on every real cluster.

The field types come from the Kubernetes Python client's models (``openapi_types``, ``attribute_map``), which are
generated from the same OpenAPI schema. Kinds without a model (custom resources) are not checked. ``object`` in the
models is what the schema leaves open (IntOrString, RawExtension): any JSON value. Quantities (resource limits and
requests, capacity) are strings in the models but Go's Quantity also decodes a JSON number.
"""
from __future__ import annotations

import re
from typing import Any, Optional

from kubernetes.client import models

from .errors import bad_request
from .resources import ResourceType

_LIST = re.compile(r"list\[(.+)\]$")
_MAP = re.compile(r"dict[\[(]str, (.+)[\])]$")
# The maps and fields whose values are resource.Quantity, which takes a JSON number as well as a string.
QUANTITY_FIELDS = frozenset(("limits", "requests", "capacity", "allocatable", "hard", "used", "overhead", "sizeLimit"))
# What the Go types are called in the message (the models do not say int32 from int64).
GO_TYPES = {"str": "string", "int": "int64", "float": "float64", "bool": "bool", "datetime": "Time", "date": "Time"}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _go_type(openapi_type: str) -> str:
    inner = _LIST.match(openapi_type) or _MAP.match(openapi_type)
    if inner:
        return ("[]" if _LIST.match(openapi_type) else "map[string]") + _go_type(inner.group(1))
    return GO_TYPES.get(openapi_type, re.sub(r"^V\d+(alpha\d+|beta\d+)?", "", openapi_type))


def _fits(openapi_type: str, value: Any, field: str) -> bool:
    """Whether a value of this JSON type decodes into a field of this type (its own members aside)."""
    if value is None or openapi_type == "object":
        return True
    if openapi_type == "str":
        return isinstance(value, str) or (field in QUANTITY_FIELDS and _json_type(value) == "number")
    if openapi_type in ("int", "float"):
        return _json_type(value) == "number" and (openapi_type == "float" or float(value).is_integer())
    if openapi_type == "bool":
        return isinstance(value, bool)
    if openapi_type in ("datetime", "date"):
        return isinstance(value, str)
    if _LIST.match(openapi_type):
        return isinstance(value, list)
    return isinstance(value, dict)


def first_mismatch(openapi_type: str, value: Any, struct: str, path: str, field: str) -> Optional[str]:
    """The decoding error of the first value that does not fit, as Go's encoding/json words it; None when all fit."""
    if not _fits(openapi_type, value, field):
        return (f"json: cannot unmarshal {_json_type(value)} into Go struct field {struct}.{path} of type {_go_type(openapi_type)}")
    if value is None:
        return None
    inner = _LIST.match(openapi_type) or _MAP.match(openapi_type)
    if inner:
        items = value if isinstance(value, list) else list(value.values())
        for item in items:
            # A map's values keep the map's field name: the values of limits are Quantities too.
            found = first_mismatch(inner.group(1), item, struct, path, field)
            if found:
                return found
        return None
    model = getattr(models, openapi_type, None)
    if model is None:
        return None
    for attribute, member_type in model.openapi_types.items():
        key = model.attribute_map[attribute]
        if key in value:
            found = first_mismatch(member_type, value[key], _go_type(openapi_type), f"{path}.{key}" if path else key, key)
            if found:
                return found
    return None


def check_decodes(resource: ResourceType, obj: dict) -> None:
    """400 BadRequest when a field of the body has a JSON type its Go field cannot take."""
    kind = obj.get("kind") or resource.kind
    version = (obj.get("apiVersion") or resource.api_version).rpartition("/")[2]
    found = first_mismatch(version[:1].upper() + version[1:] + kind, obj, kind, "", "")
    if found:
        raise bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: {found}')
