"""The slice of kube-apiserver validation the lab relies on: names, labels, workload selectors, role refs, sizes."""
from __future__ import annotations

import base64
import binascii
import copy
import json
import re
from typing import Any, Optional

from .errors import ApiError, invalid
from .resources import ResourceType
from .selectors import LabelSelector

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*"
_DNS1035_LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"
_LABEL_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"

_NAME_RULES = {
    "subdomain": (_DNS1123_SUBDOMAIN, 253, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                                           "and must start and end with an alphanumeric character"),
    "label": (_DNS1123_LABEL, 63, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                                  "and must start and end with an alphanumeric character"),
    "dns1035": (_DNS1035_LABEL, 63, "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                                    "start with an alphabetic character, and end with an alphanumeric character"),
}
WORKLOAD_KINDS = ("Deployment", "DaemonSet")
# ValidateConfigMap/ValidateSecret: the values of data (and the decoded binaryData) may total 1 MiB (core.MaxSecretSize).
MAX_DATA_BYTES = 1024 * 1024
# etcd's default --max-request-bytes. kube-apiserver stores protobuf; the lab measures compact JSON, which is a
# little larger (escapes), so the lab is slightly stricter than a real cluster near the limit.
ETCD_MAX_REQUEST_BYTES = 1536 * 1024
BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")


def _cause(field: str, message: str, reason: str = "FieldValueInvalid") -> dict:
    return {"reason": reason, "message": message, "field": field}


def _invalid_value(field: str, value: Any, why: str) -> dict:
    return _cause(field, f"Invalid value: {json.dumps(value)}: {why}")


def name_problems(resource: ResourceType, name: str) -> list[str]:
    if resource.name_rule == "path":
        if name in (".", ".."):
            return [f"may not be '{name}'"]
        return [f"may not contain '{char}'" for char in "/%" if char in name]
    pattern, max_length, description = _NAME_RULES[resource.name_rule]
    problems = []
    if len(name) > max_length:
        problems.append(f"must be no more than {max_length} characters")
    if not re.fullmatch(pattern, name):
        problems.append(f"{description} (regex used for validation is '{pattern}')")
    return problems


def _label_key_problems(key: str) -> list[str]:
    prefix, _slash, name = key.rpartition("/")
    problems = []
    if prefix and (len(prefix) > 253 or not re.fullmatch(_DNS1123_SUBDOMAIN, prefix)):
        problems.append("prefix part must be a lowercase RFC 1123 subdomain")
    if not name or len(name) > 63 or not re.fullmatch(_LABEL_NAME, name):
        problems.append("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")
    return problems


def _label_value_problems(value: Any) -> list[str]:
    if not isinstance(value, str):
        return ["must be a string"]
    if len(value) > 63:
        return ["must be no more than 63 characters"]
    if value and not re.fullmatch(_LABEL_NAME, value):
        return ["a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                "and must start and end with an alphanumeric character"]
    return []


def _metadata_causes(resource: ResourceType, metadata: dict) -> list[dict]:
    name = metadata.get("name") or ""
    causes = [_invalid_value("metadata.name", name, problem) for problem in name_problems(resource, name)]
    for key, value in (metadata.get("labels") or {}).items():
        causes += [_invalid_value("metadata.labels", key, problem) for problem in _label_key_problems(key)]
        causes += [_invalid_value("metadata.labels", value, problem) for problem in _label_value_problems(value)]
    for key in metadata.get("annotations") or {}:
        causes += [_invalid_value("metadata.annotations", key, problem) for problem in _label_key_problems(key.lower())]
    return causes


def _workload_causes(spec: dict) -> list[dict]:
    selector_spec = spec.get("selector")
    if not selector_spec:
        return [_cause("spec.selector", "Required value", "FieldValueRequired")]
    selector = LabelSelector.from_spec(selector_spec)
    if selector.empty:
        return [_invalid_value("spec.selector", selector_spec, "empty selector is invalid for deployment")]
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not selector.matches(template_labels):
        return [_invalid_value("spec.template.metadata.labels", template_labels, "`selector` does not match template `labels`")]
    return []


def _binding_causes(obj: dict, old: Optional[dict]) -> list[dict]:
    role_ref = obj.get("roleRef") or {}
    if not role_ref.get("name") or not role_ref.get("kind"):
        return [_cause("roleRef", "Required value", "FieldValueRequired")]
    if old is not None and role_ref != old.get("roleRef"):
        return [_invalid_value("roleRef", role_ref, "cannot change roleRef")]
    return []


def _pod_update_causes(obj: dict, old: dict) -> list[dict]:
    """A pod's spec is immutable but for images, activeDeadlineSeconds, added tolerations and the grace period."""
    def comparable(spec: dict) -> dict:
        spec = copy.deepcopy(spec or {})
        for field in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"):
            spec.pop(field, None)
        for field in ("containers", "initContainers"):
            for container in spec.get(field) or []:
                container.pop("image", None)
        return spec

    if comparable(obj.get("spec")) == comparable(old.get("spec")):
        return []
    return [_cause("spec", "Forbidden: pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, "
                           "`spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations) or "
                           "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)", "FieldValueForbidden")]


def _int_or_percent_causes(field: str, value: Any) -> list[dict]:
    if value is None:
        return []
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return [_invalid_value(field, value, "must be an integer or percentage (e.g '5%')")]
    if isinstance(value, str) and not re.fullmatch(r"[0-9]+%", value):
        return [_invalid_value(field, value, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', "
                                             "regex used for validation is '[0-9]+%')")]
    number = value if isinstance(value, int) else int(value[:-1])
    if number < 0:
        return [_invalid_value(field, value, "must be greater than or equal to 0")]
    if isinstance(value, str) and number > 100:
        return [_invalid_value(field, value, "must not be greater than 100%")]
    return []


def _pdb_causes(spec: dict) -> list[dict]:
    """policy/v1 PodDisruptionBudget: minAvailable and maxUnavailable are exclusive int-or-percent values."""
    causes = _int_or_percent_causes("spec.minAvailable", spec.get("minAvailable"))
    causes += _int_or_percent_causes("spec.maxUnavailable", spec.get("maxUnavailable"))
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        causes.append(_invalid_value("spec", spec, "minAvailable and maxUnavailable cannot be both set"))
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in ("IfHealthyBudget", "AlwaysAllow"):
        causes.append(_cause("spec.unhealthyPodEvictionPolicy", f'Unsupported value: "{policy}": supported values: "AlwaysAllow", "IfHealthyBudget"',
                             "FieldValueNotSupported"))
    return causes


def _finalizer_causes(obj: dict, old: dict) -> list[dict]:
    if not obj["metadata"].get("deletionTimestamp"):
        return []
    added = sorted(set(obj["metadata"].get("finalizers") or ()) - set(old["metadata"].get("finalizers") or ()))
    if not added:
        return []
    return [_cause("metadata.finalizers", f"Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added}",
                   "FieldValueForbidden")]


def _decoded_length(value: Any) -> int:
    try:
        return len(base64.b64decode(str(value), validate=True))
    except binascii.Error:
        return len(str(value))


def _size_causes(resource: ResourceType, obj: dict) -> list[dict]:
    """ConfigMap: data values plus decoded binaryData; Secret: decoded data plus stringData (merged into data on write)."""
    if resource.kind == "ConfigMap":
        size = sum(len(str(value).encode("utf-8")) for value in (obj.get("data") or {}).values())
        size += sum(_decoded_length(value) for value in (obj.get("binaryData") or {}).values())
    elif resource.kind == "Secret":
        size = sum(_decoded_length(value) for value in (obj.get("data") or {}).values())
        size += sum(len(str(value).encode("utf-8")) for value in (obj.get("stringData") or {}).values())
    else:
        return []
    if size <= MAX_DATA_BYTES:
        return []
    return [_cause("[]", f"Too long: must have at most {MAX_DATA_BYTES} bytes", "FieldValueTooLong")]  # the path kube-apiserver prints


def check_stored_size(obj: dict) -> None:
    """What etcd refuses whatever the kind; kube-apiserver passes the error on as a 500 (kubernetes#112152)."""
    if len(json.dumps(obj, separators=(",", ":")).encode("utf-8")) > ETCD_MAX_REQUEST_BYTES:
        raise ApiError(500, "InternalError", "etcdserver: request is too large")


def validate(resource: ResourceType, obj: dict, old: Optional[dict] = None) -> None:
    """Raise 422 Invalid when ``obj`` (a create, or an update of ``old``) breaks a rule we check, 500 when etcd would refuse it."""
    causes = _metadata_causes(resource, obj["metadata"]) + _size_causes(resource, obj)
    if resource.kind in WORKLOAD_KINDS:
        spec = obj.get("spec") or {}
        causes += _workload_causes(spec)
        if old is not None and spec.get("selector") != (old.get("spec") or {}).get("selector"):
            causes.append(_invalid_value("spec.selector", spec.get("selector"), "field is immutable"))
    if resource.kind in BINDING_KINDS:
        causes += _binding_causes(obj, old)
    if resource.kind == "PodDisruptionBudget":
        causes += _pdb_causes(obj.get("spec") or {})
    if old is not None:
        causes += _finalizer_causes(obj, old)
        if resource.kind == "Pod":
            causes += _pod_update_causes(obj, old)
    if causes:
        raise invalid(resource, obj["metadata"].get("name", ""), causes)
    check_stored_size(obj)
