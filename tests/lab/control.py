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
from typing import Any, Mapping, Optional
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
    def kube_fault(self, method: str, path: str, status: int, count: int = 1) -> Any:
        """Make the next ``count`` requests matching method and path (a regex) fail with ``status``."""
        return self._request(self.kube_url, "POST", "/_lab/faults", {"method": method, "path": path, "status": status, "count": count})

    def clear_kube_faults(self) -> Any:
        return self._request(self.kube_url, "DELETE", "/_lab/faults")

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
