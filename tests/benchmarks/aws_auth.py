"""Benchmark: merging one node role into an aws-auth of 10,000 entries (issue 14's goal: <= 1 s in-process,
<= 2 s as a module run, lossless).

- in-process: ``plan_change()`` (parse, merge, render) on the ConfigMap data, median of a few runs;
- module run: ``eksnodes.windows.aws_auth`` against a lab whose aws-auth holds 10,000 entries, first run (adds the
  role) and a no-op rerun: as a process of its own (``python -m`` with the arguments file, as AnsiballZ runs it),
  wall and CPU time; then run by ansible-playbook, the task's duration (json callback) and the CPU of the whole
  ansible-playbook process tree;
- lossless: the ConfigMap read back holds the 10,000 entries unchanged, in order, and the new role after them.

Run on its own with ``python tests/benchmarks/aws_auth.py [--entries N]``. No pass/fail.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / ".collections"))

import yaml  # noqa: E402  pylint: disable=wrong-import-position
from kubernetes import client, config  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.configmap import (  # noqa: E402  pylint: disable=wrong-import-position
    parse_all,
    plan_change,
)
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.mappings import (  # noqa: E402  pylint: disable=wrong-import-position
    ROLES,
    node_role_entry,
    render_mappings,
)
from integration_helpers import AnsibleRunner  # noqa: E402  pylint: disable=wrong-import-position
from lab.runtime import lab_env, read_info  # noqa: E402  pylint: disable=wrong-import-position
from upgrade import fresh_lab  # noqa: E402  pylint: disable=wrong-import-position

ROLE = "arn:aws:iam::123456789012:role/bench-windows-nodes"
IN_PROCESS_RUNS = 5


def existing_entries(count: int) -> list[dict[str, Any]]:
    """Entries as a big organisation's aws-auth holds them: a role per team, a few admin roles (10,000 of them are
    about 960 KB, near the 1 MiB a ConfigMap may hold)."""
    return [{"rolearn": f"arn:aws:iam::123456789012:role/team-{index:05d}", "username": f"team-{index:05d}",
             "groups": ["system:masters"] if index % 500 == 0 else ["devs"]} for index in range(count)]


def in_process(data: dict[str, str]) -> tuple[float, float]:
    """Median wall and CPU seconds of plan_change."""
    request = {ROLES: [node_role_entry(ROLE, "windows")]}
    walls, cpus = [], []
    for _run in range(IN_PROCESS_RUNS):
        started, cpu = time.perf_counter(), time.process_time()
        plan_change(data, request, "present", show_before=False)
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def module_process(env: dict[str, str]) -> tuple[float, float, dict]:
    """The module run as a process of its own; wall seconds, CPU seconds, its result."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": {"cluster_name": "lab", "node_roles": [{"arn": ROLE, "os": "windows"}]}}, handle)
        handle.flush()
        cpu, started = children_cpu(), time.perf_counter()
        proc = subprocess.run([str(REPO / ".venv/bin/python"), "-m", "ansible_collections.eksnodes.windows.plugins.modules.aws_auth",
                               handle.name], env={**env, "PYTHONPATH": str(REPO / ".collections")}, capture_output=True, text=True,
                              check=False)
        wall = time.perf_counter() - started
    result = json.loads(proc.stdout) if proc.stdout.strip() else {}
    if proc.returncode != 0 or result.get("failed"):
        raise RuntimeError(f"the module failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return wall, children_cpu() - cpu, result


def task_seconds(result: Any) -> float:
    for play in result.output.get("plays", []):
        for task in play.get("tasks", []):
            duration = task["task"].get("duration") or {}
            if duration.get("start") and duration.get("end"):
                return (datetime.fromisoformat(duration["end"].replace("Z", "+00:00"))
                        - datetime.fromisoformat(duration["start"].replace("Z", "+00:00"))).total_seconds()
    raise RuntimeError(f"no task duration in the output:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")


def module_task(runner: AnsibleRunner, role: str) -> tuple[float, float, dict]:
    """The module run by ansible-playbook: the task's seconds, the CPU seconds of the process tree, its result."""
    play = {"hosts": "localhost", "gather_facts": False, "tasks": [{
        "name": "aws_auth", "eksnodes.windows.aws_auth": {"cluster_name": "lab", "node_roles": [{"arn": role, "os": "windows"}]}}]}
    cpu = children_cpu()
    result = runner.playbook([play])
    if result.returncode != 0:
        raise RuntimeError(f"the aws_auth task failed:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}")
    return task_seconds(result), children_cpu() - cpu, result.result("aws_auth")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10000)
    args = parser.parse_args(argv)
    entries = existing_entries(args.entries)
    data = {ROLES: render_mappings(entries, ROLES)}
    print(f"aws-auth merge of one role into {args.entries} entries ({len(data[ROLES].encode())} bytes of mapRoles):")
    wall, cpu = in_process(data)
    print(f"  in-process plan_change (parse, merge, render), median of {IN_PROCESS_RUNS}: wall {wall:6.3f} s   CPU {cpu:6.3f} s")

    with fresh_lab() as state:
        info = read_info(state)
        core = client.CoreV1Api(config.new_client_from_config(config_file=info["kubeconfig"]))
        configmap = core.read_namespaced_config_map("aws-auth", "kube-system")
        seeded = yaml.safe_load(configmap.data[ROLES]) + entries
        configmap.data[ROLES] = render_mappings(seeded, ROLES)
        core.replace_namespaced_config_map("aws-auth", "kube-system", configmap)
        env = {**os.environ, **lab_env(info)}
        for label in ("first (adds the role)", "no-op rerun"):
            wall, cpu, result = module_process(env)
            print(f"  module process, {label:<22} wall {wall:6.2f} s   CPU {cpu:6.2f} s   changed={result['changed']}")
        after = parse_all(core.read_namespaced_config_map("aws-auth", "kube-system").data)[ROLES]
        lossless = after[:len(seeded)] == seeded and len(after) == len(seeded) + 1 and after[-1]["rolearn"] == ROLE
        print(f"  lossless (all {len(seeded)} entries unchanged and in order, the role added after them): {lossless}")
        runner = AnsibleRunner(lab_env(info))
        for label, role in (("first (adds a role)", ROLE + "-2"), ("no-op rerun", ROLE + "-2")):
            task, cpu, result = module_task(runner, role)
            print(f"  ansible-playbook task, {label:<20} task {task:6.2f} s   CPU of the tree {cpu:6.2f} s   "
                  f"changed={result['changed']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
