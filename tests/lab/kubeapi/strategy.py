"""Per-type write rules, after kube-apiserver's registry strategies: what a create resets,
which fields an update may touch, defaulting, and when ``metadata.generation`` moves."""
from __future__ import annotations

import base64
import copy
from typing import Any, Optional

from .resources import ResourceType
from .selectors import LabelSelector

# Server-owned metadata: a client's PUT or PATCH cannot change these.
SYSTEM_METADATA = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")
DAEMONSET_STATUS_COUNTERS = ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady")
PDB_STATUS_COUNTERS = ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods")
DEFAULT_TERMINATION_GRACE_SECONDS = 30


def _initial_status(resource: ResourceType) -> dict:
    if resource.kind == "Namespace":
        return {"phase": "Active"}
    if resource.kind == "Pod":
        return {"phase": "Pending"}
    if resource.kind == "Service":
        return {"loadBalancer": {}}
    return {}


def apply_defaults(resource: ResourceType, obj: dict) -> None:
    """The handful of defaults clients read back; the full defaulting of kube-apiserver is not reproduced."""
    spec = obj.get("spec")
    if resource.kind == "Deployment" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault("strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
    elif resource.kind == "DaemonSet" and isinstance(spec, dict):
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
    elif resource.kind == "Secret":
        obj.setdefault("type", "Opaque")
        _fold_string_data(obj)
    elif resource.kind == "Service" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
    elif resource.kind == "Namespace":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    elif resource.kind == "Node":
        obj.setdefault("spec", {})  # a struct, not a pointer, in the API: always serialized
    elif resource.kind == "Pod" and isinstance(spec, dict):
        spec.setdefault("terminationGracePeriodSeconds", DEFAULT_TERMINATION_GRACE_SECONDS)
    counters = {"DaemonSet": DAEMONSET_STATUS_COUNTERS, "PodDisruptionBudget": PDB_STATUS_COUNTERS}.get(resource.kind, ())
    if counters:
        status = obj.setdefault("status", {})
        for counter in counters:  # non-pointer ints: always serialized
            status.setdefault(counter, 0)


def _fold_string_data(secret: dict) -> None:
    """``stringData`` is write-only: it is merged into ``data`` (base64) and never stored."""
    string_data = secret.pop("stringData", None) or {}
    if string_data:
        data = secret.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def prepare_for_create(resource: ResourceType, obj: dict) -> None:
    metadata = obj["metadata"]
    for field in SYSTEM_METADATA + ("resourceVersion",):
        metadata.pop(field, None)
    if resource.reset_status_on_create:
        obj["status"] = _initial_status(resource)
    if resource.tracks_generation:
        metadata["generation"] = 1
    apply_defaults(resource, obj)


def prepare_for_update(resource: ResourceType, new: dict, old: dict, subresource: Optional[str]) -> dict:
    """The object to store when ``new`` is written over ``old`` through the main resource or a subresource."""
    if subresource == "status":
        result = copy.deepcopy(old)
        result["status"] = copy.deepcopy(new.get("status") or {})
    elif subresource == "scale":
        result = copy.deepcopy(old)
        result.setdefault("spec", {})["replicas"] = (new.get("spec") or {}).get("replicas", 0)
    else:
        result = copy.deepcopy(new)
        _keep_system_metadata(result["metadata"], old["metadata"])
        if resource.has_status_subresource:
            _copy_field(result, old, "status")
    apply_defaults(resource, result)
    _bump_generation(resource, result, old)
    return result


def _keep_system_metadata(metadata: dict, old_metadata: dict) -> None:
    for field in SYSTEM_METADATA:
        _copy_field(metadata, old_metadata, field)


def _copy_field(target: dict, source: dict, field: str) -> None:
    if field in source:
        target[field] = copy.deepcopy(source[field])
    else:
        target.pop(field, None)


def _dotted(obj: dict, path: str) -> Any:
    current: Any = obj
    for part in path.split("."):
        current = current.get(part) if isinstance(current, dict) else None
    return current


def _bump_generation(resource: ResourceType, new: dict, old: dict) -> None:
    if not resource.tracks_generation:
        return
    generation = old["metadata"].get("generation", 1)
    if any(_dotted(new, path) != _dotted(old, path) for path in resource.generation_fields):
        generation += 1
    new["metadata"]["generation"] = generation


def scale_view(obj: dict) -> dict:
    """The ``autoscaling/v1`` Scale that the ``/scale`` subresource shows for a workload."""
    metadata = obj["metadata"]
    selector = LabelSelector.from_spec((obj.get("spec") or {}).get("selector"))
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {key: metadata[key] for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if key in metadata},
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
        "status": {"replicas": (obj.get("status") or {}).get("replicas", 0), "selector": str(selector)},
    }
