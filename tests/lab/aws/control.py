"""Client of the AWS lab's test-only ``/_lab/`` endpoints (see ``lab.aws.control_api``). Product code never uses it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Optional


class AwsLabControlError(RuntimeError):
    """A control request the lab refused."""


class AwsLabControl:
    """Fault injection, forced failures, cluster status and run-time seeding of a running AWS lab."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/_lab/{path}", data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # nosec B310 - a local test endpoint
                return dict(json.loads(response.read() or b"{}"))
        except urllib.error.HTTPError as error:
            raise AwsLabControlError(f"{method} /_lab/{path}: {error.code} {error.read().decode(errors='replace')}") from error

    def healthz(self) -> dict[str, Any]:
        return self._call("GET", "healthz")

    def set_cluster_issuer(self, name: str, issuer: Optional[str]) -> dict[str, Any]:
        """Set the cluster's OIDC issuer, or remove it (None)."""
        return self._call("POST", "cluster-issuer", {"name": name, "issuer": issuer})

    # CloudFormation ------------------------------------------------------------------------------------------
    def fail_next_stack_create(self, stack_name: str, logical_id: Optional[str] = None, resource_type: Optional[str] = None,
                               reason: Optional[str] = None) -> dict[str, Any]:
        """The next creation of ``stack_name`` fails on ``logical_id`` (default: its last resource) and rolls back."""
        body = {"stack_name": stack_name, "logical_id": logical_id, "resource_type": resource_type, "reason": reason}
        return self._call("POST", "stack-failure", {key: value for key, value in body.items() if value is not None})

    def armed_stack_failures(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "stack-failure")["armed"])

    def disarm_stack_failures(self) -> None:
        self._call("DELETE", "stack-failure")

    # EKS -----------------------------------------------------------------------------------------------------
    def set_cluster_status(self, name: str, status: str, after_seconds: Optional[float] = None, then: str = "ACTIVE") -> dict[str, Any]:
        """Set the cluster's status now; with ``after_seconds``, it becomes ``then`` once they have passed."""
        body: dict[str, Any] = {"name": name, "status": status, "then": then}
        if after_seconds is not None:
            body["after_seconds"] = after_seconds
        return self._call("POST", "cluster-status", body)

    # CloudFormation ------------------------------------------------------------------------------------------
    def set_rolling_update(self, pause_scale: Optional[float] = None, run_async: Optional[bool] = None) -> dict[str, Any]:
        """How AutoScalingRollingUpdate runs: PauseTime x ``pause_scale`` between batches, in the background while the
        stack is UPDATE_IN_PROGRESS (``run_async``) or all at once. Returns the settings."""
        body: dict[str, Any] = {}
        if pause_scale is not None:
            body["pause_scale"] = pause_scale
        if run_async is not None:
            body["async"] = run_async
        return self._call("POST", "rolling-update", body)

    def set_kube(self, endpoint: str, ca_pem: str) -> dict[str, Any]:
        return self._call("POST", "kube", {"endpoint": endpoint, "ca_pem": ca_pem})

    # faults --------------------------------------------------------------------------------------------------
    def add_fault(self, service: str, action: str, code: str, status: int = 400, count: int = 1, message: str = "",
                  stall_seconds: float = 0.0) -> list[dict[str, Any]]:
        """The next ``count`` calls of ``service``/``action`` (``*`` for any action) fail with ``code``; with code ``Stall``,
        each is held ``stall_seconds``, then served."""
        body = {"service": service, "action": action, "code": code, "status": status, "count": count, "message": message,
                "stall_seconds": stall_seconds}
        return list(self._call("POST", "faults", body)["rules"])

    def add_share_fault(self, share: float, code: Optional[str] = None, service: Optional[str] = None, action: Optional[str] = None,
                        status: int = 400, seed: Optional[int] = None) -> dict[str, Any]:
        """Each call of ``service``/``action`` (None: any) fails with probability ``share``, with ``code`` (None: the
        service's own throttling code); ``seed`` makes the draws repeatable. Returns {"rules", "shares"}."""
        body = {"share": share, "code": code, "service": service, "action": action, "status": status, "seed": seed}
        return self._call("POST", "faults", body)

    def faults(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "faults")["rules"])

    def held_calls(self) -> int:
        """How many calls a Stall rule holds, or is serving, now."""
        return int(self._call("GET", "faults")["held"])

    def share_faults(self) -> list[dict[str, Any]]:
        """The share rules with how many calls each has seen and failed."""
        return list(self._call("GET", "faults")["shares"])

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    # seeding at run time -------------------------------------------------------------------------------------
    def put_ssm_parameter(self, name: str, value: str, data_type: str = "text") -> dict[str, Any]:
        return self._call("POST", "ssm", {"name": name, "value": value, "data_type": data_type})

    def delete_ssm_parameter(self, name: str) -> bool:
        return bool(self._call("POST", "ssm", {"name": name, "delete": True})["deleted"])

    def add_image(self, name: str, **fields: Any) -> str:
        """Publish an image of ``owner_id`` (alias amazon only for AWS's accounts, so another id is a stranger);
        ``fields``: owner_id, platform, creation_date (ISO), public, root_volume_gib,
        root_device_name, description. Returns its id."""
        return str(self._call("POST", "ami", {"name": name, **fields})["image_id"])

    def remove_image(self, image_id: str) -> bool:
        return bool(self._call("POST", "ami", {"image_id": image_id, "delete": True})["deleted"])
