"""Benchmark: how long nodes_ready's watch loop takes to return after a burst of Nodes turns Ready (issue 14's goal:
<= 0.1 s for 1,000 Nodes, linear in events).

In-process, against a node source that plays the API server: the list shows N registered Nodes of the Auto Scaling
group, NotReady; the watch then delivers N MODIFIED events, each turning one Node Ready, all at once (a burst: they
are all queued when the last Node turns Ready). Printed per N: the seconds from the burst to the return of
``wait_for_nodes`` (what a user waits after the last Node is Ready) and the microseconds per event.

Run on its own with ``python tests/benchmarks/readiness.py [sizes...] [--collections DIR]`` (DIR holds
``ansible_collections``; another checkout's to compare). No pass/fail.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parents[2]


def node(index: int, ready: str) -> dict[str, Any]:
    name = f"ip-10-{index // 65536}-{index // 256 % 256}-{index % 256}.ec2.internal"
    return {
        "metadata": {"name": name, "resourceVersion": str(index), "labels": {
            "kubernetes.io/os": "windows", "node.kubernetes.io/instance-type": "m5.large", "topology.kubernetes.io/zone": "us-east-1a"}},
        "spec": {"providerID": f"aws:///us-east-1a/{instance(index)}"},
        "status": {"conditions": [{"type": "Ready", "status": ready, "reason": "KubeletReady"}],
                   "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}], "nodeInfo": {"kubeletVersion": "v1.31.4-eks-abc"}},
    }


def instance(index: int) -> str:
    return f"i-0{index:016x}"


def measure(size: int) -> tuple[float, float]:
    """(seconds from the burst to the return, CPU seconds of the whole wait)."""
    from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.nodes import group_target  # pylint: disable=import-outside-toplevel
    from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.waiter import (  # pylint: disable=import-outside-toplevel
        NodeSource,
        wait_for_nodes,
    )

    registered = {node(index, "False")["metadata"]["name"]: node(index, "False") for index in range(size)}
    burst = [{"type": "MODIFIED", "object": node(index, "True")} for index in range(size)]
    group = {"AutoScalingGroupName": "bench", "DesiredCapacity": size,
             "Instances": [{"InstanceId": instance(index), "LifecycleState": "InService", "AvailabilityZone": "us-east-1a"}
                           for index in range(size)]}
    marks: dict[str, float] = {}

    class BurstSource(NodeSource):
        def list(self) -> tuple[dict[str, dict[str, Any]], str]:
            return copy.deepcopy(registered), "1"

        def watch(self, resource_version: str, timeout: float) -> Iterator[dict[str, Any]]:
            marks["burst"] = time.perf_counter()
            return iter(burst)

        def reconnect(self) -> None:
            pass

    cpu = time.process_time()
    outcome = wait_for_nodes(BurstSource(), lambda: group_target(group), timeout=600)
    returned = time.perf_counter()
    if not outcome.state.done:
        raise RuntimeError(f"the wait ended without the {size} Nodes Ready")
    return returned - marks["burst"], time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[250, 500, 1000, 2000])
    parser.add_argument("--collections", default=str(REPO / ".collections"))
    args = parser.parse_args(argv)
    sys.path.insert(0, args.collections)
    print("nodes_ready's watch loop after a burst of Nodes turning Ready:")
    for size in args.sizes:
        lag, cpu = measure(size)
        print(f"  {size:5d} Nodes: burst -> return {lag:7.3f} s   {lag / size * 1e6:7.1f} us per event   CPU of the wait {cpu:7.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
