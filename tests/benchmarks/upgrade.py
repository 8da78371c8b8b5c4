"""Benchmark: the upgrade playbook's wall time on the lab, for 2 and 10 Windows nodes, and where it goes.

For each size a lab of its own is started, a node group launched, a newer AMI published, and
``ansible-playbook eksnodes.windows.upgrade`` timed. The wall time is split into:

- our code: CPU time of the ansible-playbook process tree (Ansible itself, the collection's modules and
  action plugins), from the children's rusage; the lab runs in another process and is not counted;
- the lab: CPU time of the lab's process (moto, the API server, the node simulator) during the run;
- waiting: the rest of the wall time (the node simulator's join and readiness delays, polling intervals,
  and, on a busy machine, waiting for a CPU).

Per-task wall times come from the json callback; the longest tasks are printed. No pass/fail.
Run on its own with ``python tests/benchmarks/upgrade.py [sizes...] [--strategy rolling]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Sequence

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from lab.control import LabControl  # noqa: E402  pylint: disable=wrong-import-position
from lab.runtime import lab_env, read_info  # noqa: E402  pylint: disable=wrong-import-position

# The lab's default knobs: a node joins 3 s after its instance is seen and is Ready 1 s later.
JOIN_DELAY = 3.0
READY_DELAY = 1.0
FAMILY = "Windows_Server-2022-English-Core-EKS_Optimized"
SHOWN_TASKS = 6


@contextmanager
def fresh_lab(*options: str) -> Iterator[Path]:
    """A lab started for the block (``python -m lab up`` with options), stopped after it; yields its state directory."""
    lab = [sys.executable, "-m", "lab"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "tests")}
    with tempfile.TemporaryDirectory() as state:
        subprocess.run([*lab, "up", "--state-dir", state, *options], check=True, capture_output=True, env=env)
        try:
            yield Path(state)
        finally:
            subprocess.run([*lab, "down", "--state-dir", state], check=False, capture_output=True, env=env)


def lab_core(lab_state: Path) -> Any:
    """The Kubernetes CoreV1Api of the lab's API server."""
    from kubernetes import client, config  # pylint: disable=import-outside-toplevel
    return client.CoreV1Api(config.new_client_from_config(config_file=read_info(lab_state)["kubeconfig"]))


def aws_auth_roles(core: Any) -> list[dict[str, Any]]:
    """The mapRoles entries of kube-system/aws-auth."""
    return yaml.safe_load((core.read_namespaced_config_map("aws-auth", "kube-system").data or {}).get("mapRoles") or "[]") or []


def ready_windows_nodes(core: Any) -> int:
    return sum(1 for node in core.list_node(label_selector="kubernetes.io/os=windows").items
               if any(condition.type == "Ready" and condition.status == "True" for condition in node.status.conditions or []))


def ansible_env(lab_state: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(lab_env(read_info(lab_state)))
    # As make sets them, so that a benchmark run on its own writes nothing outside the checkout either (the local
    # connection puts each module's files under remote_tmp, ~/.ansible/tmp by default).
    env.setdefault("ANSIBLE_HOME", str(REPO / ".build/ansible-home"))
    env.setdefault("ANSIBLE_REMOTE_TMP", env["ANSIBLE_HOME"] + "/tmp")
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".collections"),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "True",
        "ANSIBLE_PYTHON_INTERPRETER": str(REPO / ".venv/bin/python"),
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        "ANSIBLE_NOCOLOR": "1",
    })
    return env


def playbook(name: str, extra_vars: dict[str, Any], env: dict[str, str], callback: str = "default", prefix: Sequence[str] = ()) -> tuple[str, float, float]:
    """Run a playbook (through the command prefix, if any); returns its stdout, wall seconds and the CPU seconds of its process tree."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as handle:
        json.dump(extra_vars, handle)
        handle.flush()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = subprocess.run([*prefix, str(REPO / ".venv/bin/ansible-playbook"), "-i", "localhost,", "-c", "local", name, "-e", f"@{handle.name}"],
                              env={**env, "ANSIBLE_STDOUT_CALLBACK": callback}, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return proc.stdout, wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def task_times(stdout: str) -> list[tuple[str, float]]:
    """(task name, wall seconds) from the json callback's document, longest first."""
    start = re.search(r"^\{", stdout, re.MULTILINE)
    document = json.loads(stdout[start.start():]) if start else {}
    times: dict[str, float] = {}
    for play in document.get("plays", []):
        for task in play.get("tasks", []):
            duration = task["task"].get("duration") or {}
            if duration.get("start") and duration.get("end"):
                seconds = (datetime.fromisoformat(duration["end"].replace("Z", "+00:00"))
                           - datetime.fromisoformat(duration["start"].replace("Z", "+00:00"))).total_seconds()
                times[task["task"]["name"]] = times.get(task["task"]["name"], 0.0) + seconds
    return sorted(times.items(), key=lambda item: item[1], reverse=True)


def process_cpu(pid: int) -> float:
    """utime + stime of a running process, in seconds (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def publish_newer_ami(control: LabControl) -> str:
    image_id = control.aws.add_image(f"{FAMILY}-1.31-2026.12.01", creation_date="2026-12-01T08:00:00.000Z")
    control.aws.put_ssm_parameter(f"/aws/service/ami-windows-latest/{FAMILY}-1.31/image_id", image_id)
    return image_id


def measure(nodes: int, strategy: str) -> None:
    with fresh_lab("--join-delay", str(JOIN_DELAY), "--ready-delay", str(READY_DELAY)) as state:
        env = ansible_env(state)
        launch = {"cluster_name": "lab", "nodegroup_name": "bench", "nodes": nodes, "nodes_min": nodes, "nodes_max": nodes + 1}
        _out, launch_wall, _cpu = playbook("eksnodes.windows.launch", launch, env)
        publish_newer_ami(LabControl.from_state_dir(state))
        upgrade = {"cluster_name": "lab", "nodegroup_name": "bench", "upgrade_strategy": strategy, "max_grace_period": 1}
        lab_pid = int(read_info(state)["pid"])
        lab_before = process_cpu(lab_pid)
        stdout, wall, cpu = playbook("eksnodes.windows.upgrade", upgrade, env, callback="json")
        lab_cpu = process_cpu(lab_pid) - lab_before
        print(f"upgrade {strategy}, {nodes} nodes (launch took {launch_wall:.0f} s):")
        print(f"  wall {wall:7.1f} s   our code (CPU of ansible-playbook and its modules) {cpu:6.1f} s   "
              f"the lab (CPU) {lab_cpu:6.1f} s   waiting {max(wall - cpu - lab_cpu, 0.0):6.1f} s")
        for name, seconds in task_times(stdout)[:SHOWN_TASKS]:
            print(f"    {seconds:7.1f} s  {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[2, 10])
    parser.add_argument("--strategy", default="blue_green", choices=["blue_green", "rolling"])
    args = parser.parse_args(argv)
    for size in args.sizes:
        measure(size, args.strategy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
