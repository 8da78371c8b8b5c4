"""Benchmarks that print their figures (no pass/fail): ``make benchmarks``.

- lab start-up: ``python -m lab up`` until ready, and ``down``;
- Kubernetes API server: GET and merge-PATCH round trips of the aws-auth ConfigMap;
- AWS side: DescribeCluster and DescribeImages (name filter) round trips;
- the upgrade playbook for 2 and 10 Windows nodes (``upgrade.py``);
- issue 14's figures: the aws-auth merge into 10,000 entries (``aws_auth.py``), the readiness loop after a burst of
  Nodes (``readiness.py``), each module's start-up (``startup.py``), the calls and time of a no-op launch rerun
  (``rerun.py``), the launch against the stock-module playbook (``yardstick.py``, ``stock-launch.yml``), and 20 node
  groups in one run with ``-f 10`` (``nodegroups.py``, ``many-nodegroups.yml``).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import boto3
from kubernetes import client, config

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from lab.runtime import read_info  # noqa: E402  pylint: disable=wrong-import-position

import aws_auth as aws_auth_benchmark  # noqa: E402  pylint: disable=wrong-import-position
import nodegroups as nodegroups_benchmark  # noqa: E402  pylint: disable=wrong-import-position
import readiness as readiness_benchmark  # noqa: E402  pylint: disable=wrong-import-position
import rerun as rerun_benchmark  # noqa: E402  pylint: disable=wrong-import-position
import startup as startup_benchmark  # noqa: E402  pylint: disable=wrong-import-position
import upgrade as upgrade_benchmark  # noqa: E402  pylint: disable=wrong-import-position
import yardstick as yardstick_benchmark  # noqa: E402  pylint: disable=wrong-import-position


def timed(label: str, action: Callable[[], object], repeat: int) -> None:
    samples = []
    for _sample in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[max(0, int(len(samples) * 0.95) - 1)]
    print(f"  {label:<44} n={repeat:<4} mean {statistics.mean(samples):7.2f} ms   p95 {p95:7.2f} ms")


def main() -> int:
    with tempfile.TemporaryDirectory() as state:
        lab = [sys.executable, "-m", "lab"]
        started = time.perf_counter()
        subprocess.run([*lab, "up", "--state-dir", state], check=True, capture_output=True)
        print(f"lab up (start, seed, ready): {time.perf_counter() - started:.2f} s")
        try:
            info = read_info(Path(state))
            kube = client.CoreV1Api(config.new_client_from_config(config_file=info["kubeconfig"]))
            timed("kube GET configmap aws-auth", lambda: kube.read_namespaced_config_map("aws-auth", "kube-system"), 200)
            kube.create_namespaced_config_map("default", {"metadata": {"name": "bench"}, "data": {}})
            timed("kube merge-PATCH configmap", lambda: kube.patch_namespaced_config_map(
                "bench", "default", {"data": {"k": str(time.time())}}), 200)
            session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=info["region"])
            eks = session.client("eks", endpoint_url=info["aws"]["url"])
            ec2 = session.client("ec2", endpoint_url=info["aws"]["url"])
            timed("aws eks.describe_cluster", lambda: eks.describe_cluster(name="lab"), 100)
            timed("aws ec2.describe_images (name filter)", lambda: ec2.describe_images(
                Filters=[{"Name": "name", "Values": ["Windows_Server-2022-English-Core-EKS_Optimized-1.31-*"]}]), 50)
        finally:
            started = time.perf_counter()
            subprocess.run([*lab, "down", "--state-dir", state], check=True, capture_output=True)
            print(f"lab down: {time.perf_counter() - started:.2f} s")
    for benchmark in (readiness_benchmark, startup_benchmark, aws_auth_benchmark, rerun_benchmark, yardstick_benchmark, nodegroups_benchmark,
                      upgrade_benchmark):
        benchmark.main([])
    return 0


if __name__ == "__main__":
    sys.exit(main())
