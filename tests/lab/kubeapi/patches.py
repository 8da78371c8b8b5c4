"""PATCH bodies: JSON merge patch (RFC 7386), strategic merge patch and JSON patch (RFC 6902)."""
from __future__ import annotations

import copy
from typing import Any, Optional

import jsonpatch

from .errors import ApiError, bad_request

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
SUPPORTED = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH)

# patchMergeKey of the list fields of the built-in types we serve, by field name. The real schema
# keys them by type path; the names below do not collide within the types this server knows.
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
    "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath", "imagePullSecrets": "name",
    "hostAliases": "ip", "conditions": "type", "addresses": "type", "ownerReferences": "uid",
    "topologySpreadConstraints": "topologyKey", "secrets": "name", "webhooks": "name",
    "resourceClaims": "name", "schedulingGates": "name",
}
CONTAINER_FIELDS = ("containers", "initContainers", "ephemeralContainers")
PRIMITIVE_SET_LISTS = ("finalizers",)  # patchStrategy=merge on a list of strings: union
_DELETE = object()


def apply_patch(content_type: str, original: dict, patch: Any) -> dict:
    """The patched copy of ``original``; ``original`` itself is not modified."""
    if content_type == JSON_PATCH:
        return _json_patch(original, patch)
    if content_type == MERGE_PATCH:
        return _require_object(merge_patch(original, _require_object(patch)))
    if content_type == STRATEGIC_MERGE_PATCH:
        result = strategic_merge_patch(original, _require_object(patch))
        return {} if result is _DELETE else result
    if content_type == APPLY_PATCH:
        raise ApiError(415, "UnsupportedMediaType", "server-side apply (application/apply-patch+yaml) is not supported by the lab API server")
    raise ApiError(415, "UnsupportedMediaType",
                   f"the body of the request was in an unknown format - accepted media types include: {', '.join(SUPPORTED)}")


def _require_object(value: Any) -> dict:
    if not isinstance(value, dict):
        raise bad_request("the patch must be a JSON object")
    return value


def _json_patch(original: dict, operations: Any) -> dict:
    if not isinstance(operations, list):
        raise bad_request("a JSON patch must be a list of operations")
    try:
        return jsonpatch.apply_patch(original, operations)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as error:
        raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: {error}") from error


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(original: Any, patch: dict, parent_field: Optional[str] = None) -> Any:
    """Merge a map the strategic way; returns ``_DELETE`` for a ``$patch: delete`` map."""
    directive = patch.get("$patch")
    if directive == "replace":
        return {key: copy.deepcopy(value) for key, value in patch.items() if key != "$patch"}
    if directive == "delete":
        return _DELETE
    result = dict(original) if isinstance(original, dict) else {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [item for item in result.get(field) or [] if item not in value]
        elif value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge_patch(result.get(key), value, key)
            if merged is _DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(result.get(key) or [], value, key, parent_field)
        else:
            result[key] = copy.deepcopy(value)
    if "$retainKeys" in patch:
        result = {key: value for key, value in result.items() if key in patch["$retainKeys"]}
    return result


def _merge_key(field: str, parent_field: Optional[str]) -> Optional[str]:
    if field == "ports":
        return "containerPort" if parent_field in CONTAINER_FIELDS else "port"
    return MERGE_KEYS.get(field)


def _merge_list(original: list, patch: list, field: str, parent_field: Optional[str]) -> list:
    if field in PRIMITIVE_SET_LISTS:
        return list(original) + [item for item in patch if item not in original]
    merge_key = _merge_key(field, parent_field)
    if merge_key is None:
        return copy.deepcopy(patch)  # lists without a merge strategy are atomic
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [copy.deepcopy(item) for item in patch if not (isinstance(item, dict) and "$patch" in item)]
    result = [copy.deepcopy(item) for item in original]
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            result.append(copy.deepcopy(item))
            continue
        index = next((i for i, existing in enumerate(result) if isinstance(existing, dict) and existing.get(merge_key) == item[merge_key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
        elif index is None:
            result.append(strategic_merge_patch({}, item, field))
        else:
            result[index] = strategic_merge_patch(result[index], item, field)
    return result
