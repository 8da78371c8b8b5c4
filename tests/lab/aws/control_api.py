"""Test-only control requests under ``/_lab/`` on the lab's AWS endpoint. Product code never calls them.

=======================  =========================================================================================
``GET /_lab/healthz``    ``{"ok": true, "region": ..., "clusters": {name: status}}``
``POST /_lab/stack-failure``  ``{"stack_name", "logical_id"?, "resource_type"?, "reason"?}``: the next creation of that
                         stack fails on that resource and rolls back (ROLLBACK_COMPLETE). ``GET`` lists, ``DELETE`` disarms.
``POST /_lab/cluster-status``  ``{"name", "status", "after_seconds"?, "then"?}``: set an EKS cluster's status now and
                         optionally become ``then`` (default ACTIVE) after ``after_seconds``.
``POST /_lab/cluster-issuer``  ``{"name", "issuer"}``: set (or, with ``null``, remove) an EKS cluster's OIDC issuer
                         (``identity.oidc.issuer``), for clusters that report none.
``POST /_lab/faults``    ``{"service", "action", "code", "status"?, "count"?, "message"?}``: the next ``count`` matching
                         calls fail with that AWS error. ``{"share", "service"?, "action"?, "code"?, "status"?, "seed"?}``:
                         each matching call (any service/action when left out) fails with probability ``share``, with
                         ``code`` or the service's own throttling code. ``GET`` lists the remaining rules and the share
                         rules (with ``seen``/``injected`` counts), ``DELETE`` removes them all.
``POST /_lab/ssm``       ``{"name", "value"}`` publishes a public (``/aws/...``) SSM parameter; ``{"name", "delete": true}``
                         removes it.
``POST /_lab/ami``       ``{"name", "owner_id"?, "platform"?, "creation_date"?, "public"?, "root_volume_gib"?,
                         "root_device_name"?, "description"?}`` publishes an image of that owner (alias amazon only for AWS's accounts) and
                         returns its ``image_id``;
                         ``{"image_id", "delete": true}`` removes one.
``POST /_lab/kube``      ``{"endpoint", "ca_pem"}`` points every EKS cluster at another API server.
``POST /_lab/rolling-update``  ``{"pause_scale"?, "async"?}``: rolling updates of Auto Scaling groups wait PauseTime x
                         ``pause_scale`` (default 0.01) between batches, in the background (``async``, default true) or at once.
=======================  =========================================================================================
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Callable, Iterable

from moto.eks.models import eks_backends

from lab.aws import catalog
from lab.aws.constants import ACCOUNT_ID, WINDOWS_AMI_OWNERS
from lab.aws.eks.errors import InvalidParameterException, ResourceNotFoundException
from lab.aws.eks.models import LabEksBackend
from lab.aws.faults import FaultRule, ShareRule
from lab.aws.state import LAB_STATE, StackFailure

Handler = Callable[[dict[str, Any]], tuple[int, Any]]


class ControlError(Exception):
    """A bad control request (HTTP 400)."""


def _eks(body: dict[str, Any]) -> LabEksBackend:
    backend = eks_backends[ACCOUNT_ID][body.get("region") or LAB_STATE.settings.region]
    assert isinstance(backend, LabEksBackend)
    return backend


def _required(body: dict[str, Any], *names: str) -> list[Any]:
    missing = [name for name in names if body.get(name) in (None, "")]
    if missing:
        raise ControlError(f"missing field(s): {', '.join(missing)}")
    return [body[name] for name in names]


def healthz(_body: dict[str, Any]) -> tuple[int, Any]:
    clusters = {name: cluster.status for name, cluster in _eks({}).clusters.items()}
    return 200, {"ok": True, "region": LAB_STATE.settings.region, "clusters": clusters}


def arm_stack_failure(body: dict[str, Any]) -> tuple[int, Any]:
    (stack_name,) = _required(body, "stack_name")
    failure = StackFailure(stack_name=stack_name, logical_id=body.get("logical_id"), resource_type=body.get("resource_type"),
                           reason=body.get("reason") or StackFailure.reason)
    LAB_STATE.arm_stack_failure(failure)
    return 200, {"armed": failure.__dict__}


def list_stack_failures(_body: dict[str, Any]) -> tuple[int, Any]:
    return 200, {"armed": [failure.__dict__ for failure in LAB_STATE.armed_stack_failures()]}


def disarm_stack_failures(_body: dict[str, Any]) -> tuple[int, Any]:
    LAB_STATE.clear_stack_failures()
    return 200, {"armed": []}


def set_cluster_status(body: dict[str, Any]) -> tuple[int, Any]:
    name, status = _required(body, "name", "status")
    after = body.get("after_seconds")
    try:
        cluster = _eks(body).set_cluster_status(name, status, None if after is None else float(after), body.get("then") or "ACTIVE")
    except (InvalidParameterException, ResourceNotFoundException) as error:
        raise ControlError(error.message) from error
    return 200, {"name": name, "status": cluster.status}


def set_cluster_issuer(body: dict[str, Any]) -> tuple[int, Any]:
    (name,) = _required(body, "name")
    try:
        cluster = _eks(body).cluster(name)
    except (InvalidParameterException, ResourceNotFoundException) as error:
        raise ControlError(error.message) from error
    issuer = body.get("issuer")
    cluster.identity = {"oidc": {"issuer": issuer}} if issuer else {}
    return 200, {"name": name, "identity": cluster.identity}


def add_fault(body: dict[str, Any]) -> tuple[int, Any]:
    if body.get("share") is not None:
        return add_share_fault(body)
    service, action, code = _required(body, "service", "action", "code")
    rule = FaultRule(service=service, action=action, code=code, status=int(body.get("status", 400)), count=int(body.get("count", 1)),
                     message=str(body.get("message") or ""), stall_seconds=float(body.get("stall_seconds") or 0.0))
    LAB_STATE.faults.add(rule)
    return 200, {"rules": LAB_STATE.faults.rules(), "shares": LAB_STATE.faults.shares()}


def add_share_fault(body: dict[str, Any]) -> tuple[int, Any]:
    try:
        rule = ShareRule(share=float(body["share"]), service=body.get("service") or None, action=body.get("action") or None,
                         code=body.get("code") or None, status=int(body.get("status", 400)), message=str(body.get("message") or ""),
                         seed=None if body.get("seed") is None else int(body["seed"]))
    except (TypeError, ValueError) as error:
        raise ControlError(f"invalid share fault: {error}") from error
    LAB_STATE.faults.add(rule)
    return 200, {"rules": LAB_STATE.faults.rules(), "shares": LAB_STATE.faults.shares()}


def list_faults(_body: dict[str, Any]) -> tuple[int, Any]:
    return 200, {"rules": LAB_STATE.faults.rules(), "shares": LAB_STATE.faults.shares(), "held": LAB_STATE.faults.held()}


def clear_faults(_body: dict[str, Any]) -> tuple[int, Any]:
    LAB_STATE.faults.clear()
    return 200, {"rules": [], "shares": []}


def ssm_parameter(body: dict[str, Any]) -> tuple[int, Any]:
    (name,) = _required(body, "name")
    region = body.get("region") or LAB_STATE.settings.region
    if body.get("delete"):
        return 200, {"name": name, "deleted": catalog.delete_public_parameter(region, name)}
    (value,) = _required(body, "value")
    catalog.put_public_parameter(region, name, str(value), str(body.get("data_type") or "text"))
    return 200, {"name": name, "value": value}


def ami(body: dict[str, Any]) -> tuple[int, Any]:
    region = body.get("region") or LAB_STATE.settings.region
    if body.get("delete"):
        (image_id,) = _required(body, "image_id")
        return 200, {"image_id": image_id, "deleted": catalog.remove_image(region, image_id)}
    (name,) = _required(body, "name")
    created = body.get("creation_date")
    spec = catalog.ImageSpec(
        name=name, owner_id=str(body.get("owner_id") or WINDOWS_AMI_OWNERS[0]),
        creation_date=dt.datetime.fromisoformat(created.replace("Z", "+00:00")) if created else dt.datetime.now(dt.timezone.utc),
        description=str(body.get("description") or ""), platform=body.get("platform"), public=bool(body.get("public", True)),
        root_volume_gib=int(body.get("root_volume_gib", 50)), root_device_name=str(body.get("root_device_name") or "/dev/sda1"))
    return 200, {"image_id": catalog.register_public_image(region, spec), "name": name}


def kube(body: dict[str, Any]) -> tuple[int, Any]:
    endpoint, ca_pem = _required(body, "endpoint", "ca_pem")
    LAB_STATE.settings.kube_endpoint, LAB_STATE.settings.kube_ca_pem = endpoint, ca_pem
    _eks(body).point_clusters_at_lab()
    return 200, {"endpoint": endpoint}


def rolling_update(body: dict[str, Any]) -> tuple[int, Any]:
    """``{"pause_scale"?, "async"?}``: how the lab's CloudFormation runs AutoScalingRollingUpdate (GET: the settings)."""
    settings = LAB_STATE.settings
    if "pause_scale" in body:
        scale = float(body["pause_scale"])
        if scale < 0:
            raise ControlError("pause_scale must be a non-negative number")
        settings.rolling_pause_scale = scale
    if "async" in body:
        settings.rolling_update_async = bool(body["async"])
    return 200, {"pause_scale": settings.rolling_pause_scale, "async": settings.rolling_update_async}


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/_lab/healthz"): healthz,
    ("POST", "/_lab/stack-failure"): arm_stack_failure,
    ("GET", "/_lab/stack-failure"): list_stack_failures,
    ("DELETE", "/_lab/stack-failure"): disarm_stack_failures,
    ("POST", "/_lab/cluster-status"): set_cluster_status,
    ("POST", "/_lab/cluster-issuer"): set_cluster_issuer,
    ("POST", "/_lab/faults"): add_fault,
    ("GET", "/_lab/faults"): list_faults,
    ("DELETE", "/_lab/faults"): clear_faults,
    ("POST", "/_lab/ssm"): ssm_parameter,
    ("POST", "/_lab/ami"): ami,
    ("POST", "/_lab/kube"): kube,
    ("POST", "/_lab/rolling-update"): rolling_update,
    ("GET", "/_lab/rolling-update"): rolling_update,
}


def handle(environ: dict[str, Any], body: bytes, start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answer one ``/_lab/`` request."""
    route = ROUTES.get((environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "").rstrip("/")))
    if route is None:
        status, payload = 404, {"error": f"no control endpoint {environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"}
    else:
        try:
            request = json.loads(body or b"{}")
            if not isinstance(request, dict):
                raise ControlError("the body must be a JSON object")
            status, payload = route(request)
        except (ControlError, ValueError, TypeError) as error:
            status, payload = 400, {"error": str(error)}
    data = json.dumps(payload, default=str).encode()
    start_response(f"{status} {'OK' if status == 200 else 'Error'}", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
