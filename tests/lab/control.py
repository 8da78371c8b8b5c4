"""``LabControl``: the one client tests use for the lab's test-only ``/_lab/`` endpoints.

It wraps the API server's fault injection (``/_lab/faults``, ``/_lab/bump``), the AWS side's
control client (``lab.aws.control.AwsLabControl``, as ``.aws``) and the node simulator's knobs and
verdicts (the lab's control endpoint).  Product code never calls any of these.
"""

from __future__ import annotations

import json
import ssl
import time
from http.client import HTTPConnection, HTTPSConnection
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional
from urllib.parse import urlsplit

from lab.runtime import read_info


class LabControlError(Exception):
    """A control request failed."""


class LabControl:
    """Test-side handle on a running lab, built from its lab.json contents."""

    def __init__(self, info: Mapping[str, Any]) -> None:
        self.info = dict(info)
        self.kube_url: str = info["kube"]["url"]
        self.aws_url: str = info["aws"]["url"]
        self.control_url: str = info["control"]["url"]
        self.ca_file: str = info["kube"]["ca_file"]
        self._aws: Any = None

    @classmethod
    def from_state_dir(cls, state_dir: Path) -> "LabControl":
        info = read_info(Path(state_dir))
        if info is None:
            raise LabControlError(f"no lab.json in {state_dir}: is the lab running?")
        return cls(info)

    # plumbing --------------------------------------------------------------------------------------
    def _request(self, base_url: str, method: str, path: str, body: Any = None) -> Any:
        parts = urlsplit(base_url)
        if parts.scheme == "https":
            context = ssl.create_default_context(cafile=self.ca_file)
            connection: HTTPConnection = HTTPSConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10, context=context)
        else:
            connection = HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        if response.status >= 300:
            raise LabControlError(f"{method} {base_url}{path} -> {response.status}: {raw[:500].decode(errors='replace')}")
        return json.loads(raw) if raw else None

    # Kubernetes API server -------------------------------------------------------------------------
    def kube_fault(self, method: str, path: str, status: int, count: int = 1, after: bool = False) -> Any:
        """Make the next ``count`` requests matching method and path (a regex) fail with ``status``
        (with ``after``, once the request has taken effect)."""
        body = {"method": method, "path": path, "status": status, "count": count, "after": after}
        return self._request(self.kube_url, "POST", "/_lab/faults", body)

    def clear_kube_faults(self) -> Any:
        """Remove every Kubernetes fault, count- and share-based."""
        return self._request(self.kube_url, "DELETE", "/_lab/faults")

    def kube_fault_share(self, share: float, statuses: tuple[int, ...] = (500, 503, 504), method: Optional[str] = None,
                         path: str = ".*", seed: Optional[int] = None) -> Any:
        """Make each API request matching method (None: any) and path fail with probability ``share``, with one of ``statuses``."""
        body = {"share": share, "statuses": list(statuses), "method": method, "path": path, "seed": seed}
        return self._request(self.kube_url, "POST", "/_lab/faults", body)

    def kube_faults(self) -> list:
        """The Kubernetes faults left: count-based ones, and share-based ones with their seen/injected counts."""
        return list(self._request(self.kube_url, "GET", "/_lab/faults")["faults"])

    def aws_fault_share(self, share: float, code: Optional[str] = None, service: Optional[str] = None, action: Optional[str] = None,
                        status: int = 400, seed: Optional[int] = None) -> dict:
        """Make each AWS call of service/action (None: any) fail with probability ``share`` (code None: the service's throttling code)."""
        return self.aws.add_share_fault(share, code=code, service=service, action=action, status=status, seed=seed)

    def kube_bump(self, path: str) -> Any:
        """Simulate a concurrent writer: bump the resourceVersion of the object at ``path``."""
        return self._request(self.kube_url, "POST", "/_lab/bump", {"path": path})

    # AWS ------------------------------------------------------------------------------------------------
    @property
    def aws(self) -> Any:
        """The AWS side's control client (stack failure, cluster status, faults, SSM/AMI seeding)."""
        if self._aws is None:
            from lab.aws.control import AwsLabControl  # pylint: disable=import-outside-toplevel
            self._aws = AwsLabControl(self.aws_url)
        return self._aws

    # node simulator -------------------------------------------------------------------------------------
    def nodesim(self) -> dict:
        """Knobs, tick count and the per-instance verdicts of the node simulator."""
        return self._request(self.control_url, "GET", "/_lab/nodesim")

    def set_nodesim(self, **knobs: Any) -> dict:
        """Change knobs (join_delay, ready_delay, interval, paused); returns all knobs."""
        return self._request(self.control_url, "POST", "/_lab/nodesim", knobs)

    def reconcile(self) -> None:
        """Wake the simulator and controllers now instead of at their next tick."""
        self._request(self.control_url, "POST", "/_lab/reconcile", {})

    def controllers_settled(self, timeout: float = 15.0) -> None:
        """Return once a whole pass of the lab's controllers (add-on manager, workloads, disruption) has started after
        this call, and ended: what the cluster's AWS side says now (an add-on update, say) is rendered."""
        start = self.nodesim()["controllers_passes"]
        self.reconcile()
        deadline = time.monotonic() + timeout
        while self.nodesim()["controllers_passes"] < start + 2:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the lab's controllers did not complete two passes in {timeout:.0f}s")
            time.sleep(0.05)

    def instance(self, instance_id: str) -> Optional[dict]:
        """The simulator's record of one instance (verdict, node name, readiness), or None."""
        return self.nodesim()["instances"].get(instance_id)

    def wait_for_verdict(self, instance_id: str, contains: str, timeout: float = 10.0) -> dict:
        """Wait until the instance's verdict contains ``contains``; returns the record."""
        deadline = time.monotonic() + timeout
        record: Optional[dict] = None
        while time.monotonic() < deadline:
            record = self.instance(instance_id)
            if record and contains in record["verdict"]:
                return record
            time.sleep(0.1)
        raise LabControlError(f"instance {instance_id}: verdict never contained {contains!r}; last record: {record}")

    def wait_for_settled(self, instance_id: str, timeout: float = 10.0) -> dict:
        """Wait until the instance joined, or was refused for longer than the join delay (so it would have joined by now)."""
        deadline = time.monotonic() + timeout
        record: Optional[dict] = None
        while time.monotonic() < deadline:
            status = self.nodesim()
            record = status["instances"].get(instance_id)
            if record and record["joined"]:
                return record
            refused = record and not record["verdict"].startswith(("not evaluated", "join contract holds"))
            if refused and record["first_seen_seconds_ago"] >= status["knobs"]["join_delay"] + status["knobs"]["interval"]:
                return record
            time.sleep(0.1)
        raise LabControlError(f"instance {instance_id} never settled; last record: {record}")

    # lifecycle record (evictions, pod deletions, node deletions, instance launches and terminations) --------------
    def lifecycle(self, since: int = 0, kinds: Optional[Iterable[str]] = None) -> list[dict]:
        """Lifecycle entries after sequence number ``since``, oldest first (see lab/lifecycle.py for their fields)."""
        query = f"?since={int(since)}" + (f"&kind={','.join(kinds)}" if kinds else "")
        return self._request(self.control_url, "GET", f"/_lab/lifecycle{query}")["entries"]

    def lifecycle_mark(self) -> int:
        """The newest sequence number: pass it as ``since`` later to see only what happened after now."""
        return int(self._request(self.control_url, "GET", "/_lab/lifecycle?kind=none")["last_seq"])

    def evictions(self, since: int = 0) -> list[dict]:
        return self.lifecycle(since, ["eviction"])

    def pod_deletions(self, since: int = 0) -> list[dict]:
        return self.lifecycle(since, ["pod_delete"])

    def instance_terminations(self, since: int = 0) -> list[dict]:
        return self.lifecycle(since, ["instance_terminate"])

    # control-plane upgrade ---------------------------------------------------------------------------------------
    def upgrade_control_plane(self, version: str, cluster_name: str = "lab", timeout: float = 30.0) -> dict:
        """Move the cluster's Kubernetes version one minor up with EKS UpdateClusterVersion, as an operator would,
        and wait until the cluster is ACTIVE again; returns the update. Existing nodes keep their kubelet version."""
        from lab.nodesim import aws_client  # pylint: disable=import-outside-toplevel
        eks = aws_client("eks", self.aws_url, self.info["region"])
        update = eks.update_cluster_version(name=cluster_name, version=version)["update"]
        deadline = time.monotonic() + timeout
        while eks.describe_cluster(name=cluster_name)["cluster"]["status"] != "ACTIVE":
            if time.monotonic() > deadline:
                raise LabControlError(f"cluster {cluster_name} not ACTIVE {timeout} s after its upgrade to {version}")
            time.sleep(0.2)
        return update
