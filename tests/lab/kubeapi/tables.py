"""``meta.k8s.io`` Table responses, which ``kubectl get`` asks for to print its columns."""
from __future__ import annotations

import datetime
from typing import Any, Callable, Optional

from .resources import ResourceType

Row = Callable[[dict], list]


def requested_table_version(accept: str) -> Optional[str]:
    """``meta.k8s.io/v1`` (or v1beta1) when the Accept header asks for ``as=Table``, else None."""
    for media_range in accept.split(","):
        params = dict(part.strip().partition("=")[::2] for part in media_range.split(";")[1:])
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
            return f"meta.k8s.io/{params['v']}"
    return None


def human_age(timestamp: Optional[str], now: Optional[datetime.datetime] = None) -> str:
    """kubectl's ``duration.HumanDuration`` of the time since ``timestamp``."""
    if not timestamp:
        return "<unknown>"
    created = datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    seconds = int(((now or datetime.datetime.now(datetime.timezone.utc)) - created).total_seconds())
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    steps = (
        (seconds < 120, lambda: f"{max(seconds, 0)}s"),
        (minutes < 10, lambda: f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"),
        (hours < 3, lambda: f"{minutes}m"),
        (hours < 8, lambda: f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"),
        (hours < 48, lambda: f"{hours}h"),
        (hours < 192, lambda: f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"),
        (days < 730, lambda: f"{days}d"),
    )
    return next((render() for condition, render in steps if condition), f"{days // 365}y")


def _column(name: str, priority: int = 0, description: str = "") -> dict:
    return {"name": name, "type": "string", "format": "name" if name == "Name" else "", "description": description, "priority": priority}


def _node_status(node: dict) -> str:
    ready = next((c.get("status") for c in (node.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), None)
    status = {"True": "Ready", None: "Unknown"}.get(ready, "NotReady")
    return status + (",SchedulingDisabled" if (node.get("spec") or {}).get("unschedulable") else "")


def _node_roles(node: dict) -> str:
    labels = node["metadata"].get("labels") or {}
    roles = sorted({key.split("/", 1)[1] for key in labels if key.startswith("node-role.kubernetes.io/")}
                   | ({labels["kubernetes.io/role"]} if "kubernetes.io/role" in labels else set()))
    return ",".join(role for role in roles if role) or "<none>"


def _node_address(node: dict, kind: str) -> str:
    return next((a.get("address") for a in (node.get("status") or {}).get("addresses") or [] if a.get("type") == kind), "<none>")


def _node_row(node: dict) -> list:
    info = (node.get("status") or {}).get("nodeInfo") or {}
    return [_node_status(node), _node_roles(node), _age(node), info.get("kubeletVersion", ""),
            _node_address(node, "InternalIP"), _node_address(node, "ExternalIP"), info.get("osImage", "<unknown>"),
            info.get("kernelVersion", "<unknown>"), info.get("containerRuntimeVersion", "<unknown>")]


def _pod_row(pod: dict) -> list:
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or [])
    phase = "Terminating" if pod["metadata"].get("deletionTimestamp") else status.get("reason") or status.get("phase", "")
    return [f"{sum(1 for s in statuses if s.get('ready'))}/{total}", phase, sum(s.get("restartCount", 0) for s in statuses), _age(pod),
            status.get("podIP", "<none>"), (pod.get("spec") or {}).get("nodeName", "<none>")]


def _deployment_row(deployment: dict) -> list:
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return [f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}", status.get("updatedReplicas", 0), status.get("availableReplicas", 0),
            _age(deployment), ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)]


def _daemonset_row(daemonset: dict) -> list:
    status = daemonset.get("status") or {}
    node_selector = (((daemonset.get("spec") or {}).get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
    return [status.get("desiredNumberScheduled", 0), status.get("currentNumberScheduled", 0), status.get("numberReady", 0),
            status.get("updatedNumberScheduled", 0), status.get("numberAvailable", 0),
            ",".join(f"{k}={v}" for k, v in sorted(node_selector.items())) or "<none>", _age(daemonset)]


def _age(obj: dict) -> str:
    return human_age(obj["metadata"].get("creationTimestamp"))


_PRINTERS: dict[str, tuple[list[dict], Row]] = {
    "Node": ([_column("Status"), _column("Roles"), _column("Age"), _column("Version"), _column("Internal-IP", 1), _column("External-IP", 1),
              _column("OS-Image", 1), _column("Kernel-Version", 1), _column("Container-Runtime", 1)], _node_row),
    "Pod": ([_column("Ready"), _column("Status"), _column("Restarts"), _column("Age"), _column("IP", 1), _column("Node", 1)], _pod_row),
    "Deployment": ([_column("Ready"), _column("Up-to-date"), _column("Available"), _column("Age"), _column("Containers", 1), _column("Images", 1)],
                   _deployment_row),
    "DaemonSet": ([_column("Desired"), _column("Current"), _column("Ready"), _column("Up-to-date"), _column("Available"), _column("Node Selector"),
                   _column("Age")], _daemonset_row),
    "PodDisruptionBudget": ([_column("Min Available"), _column("Max Unavailable"), _column("Allowed Disruptions"), _column("Age")],
                            lambda pdb: [str((pdb.get("spec") or {}).get("minAvailable", "N/A")), str((pdb.get("spec") or {}).get("maxUnavailable", "N/A")),
                                         (pdb.get("status") or {}).get("disruptionsAllowed", 0), _age(pdb)]),
    "Namespace": ([_column("Status"), _column("Age")], lambda ns: [(ns.get("status") or {}).get("phase", ""), _age(ns)]),
    "ConfigMap": ([_column("Data"), _column("Age")], lambda cm: [len(cm.get("data") or {}) + len(cm.get("binaryData") or {}), _age(cm)]),
    "Secret": ([_column("Type"), _column("Data"), _column("Age")], lambda s: [s.get("type", ""), len(s.get("data") or {}), _age(s)]),
}
_GENERIC: tuple[list[dict], Row] = ([_column("Age")], lambda obj: [_age(obj)])


def _row_object(obj: dict, include_object: str, api_version: str) -> Optional[dict]:
    if include_object == "None":
        return None
    if include_object == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": api_version, "metadata": obj["metadata"]}


def as_table(resource: ResourceType, objects: list[dict], api_version: str, include_object: str = "Metadata",
             list_metadata: Optional[dict] = None) -> dict[str, Any]:
    """One Table for a list (or a single object), with columns like kube-apiserver's printers for common kinds."""
    columns, row = _PRINTERS.get(resource.kind, _GENERIC)
    rows = []
    for obj in objects:
        table_row: dict[str, Any] = {"cells": [obj["metadata"]["name"], *row(obj)]}
        row_object = _row_object(obj, include_object, api_version)
        if row_object is not None:
            table_row["object"] = row_object
        rows.append(table_row)
    return {"kind": "Table", "apiVersion": api_version, "metadata": list_metadata or {},
            "columnDefinitions": [_column("Name", description="Name must be unique within a namespace.")] + columns, "rows": rows}
