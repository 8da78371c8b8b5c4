"""Benchmark: many node groups in one run (issue 14's goal: 20 node groups with ``-f 10`` in at most 3x the wall time of
one, every aws-auth entry kept).

``many-nodegroups.yml`` treats each inventory host as one node group of the lab's cluster: the cluster is checked once,
then each host launches its group (one node), maps its node role in aws-auth, and waits for its node. It is run on a
fresh lab with one host, then with ``--groups`` hosts and ``-f --forks``, ``--repeat`` times in turn. Printed: the ratio
of each such pair; for the pair of the median ratio, wall and CPU (the ansible-playbook process tree) of both, how many
of the node roles aws-auth maps, how many Windows nodes are Ready, and how the many groups' CPU divides between
ansible-playbook itself (read from /proc until it exits) and its workers. Then
the many groups once more, untimed, through an interpreter that records each module process: the CPU per group of each
module, and what is left for ansible-playbook itself. That interpreter is not ansible-playbook's Python, so there every
module runs as a process, as it does wherever the modules cannot run in a fork of the task's worker (timed runs run them so:
plugins/plugin_utils/in_process.py).

Run on its own with ``python tests/benchmarks/nodegroups.py [--groups 20] [--forks 10] [--repeat 3] [--collections DIR]``. No
pass/fail.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(HERE))

from rerun import module_usage, module_wrapper  # noqa: E402  pylint: disable=wrong-import-position
from upgrade import ansible_env, aws_auth_roles, fresh_lab, lab_core, ready_windows_nodes  # noqa: E402  pylint: disable=wrong-import-position


def own_cpu(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of the process itself so far, without its children's (Linux /proc; zeros elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def run(hosts: list[str], forks: int, env: dict[str, str], extra: Sequence[str] = ()) -> tuple[float, float, tuple[float, float]]:
    """Wall and CPU of the run's process tree, and ansible-playbook's own (user, system) CPU, read until it exits."""
    with tempfile.NamedTemporaryFile("w", suffix=".ini") as inventory, tempfile.TemporaryFile("w+") as output:
        inventory.write("\n".join(f"{host} ansible_connection=local" for host in hosts) + "\n")
        inventory.flush()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        with subprocess.Popen([str(REPO / ".venv/bin/ansible-playbook"), "-i", inventory.name, "-f", str(forks),
                               str(HERE / "many-nodegroups.yml"), "-e", "cluster_name=lab", *extra],
                              env=env, stdout=output, stderr=subprocess.STDOUT) as proc:
            itself = (0.0, 0.0)
            while proc.poll() is None:
                itself = max(itself, own_cpu(proc.pid))
                time.sleep(0.05)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        output.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{len(hosts)} node groups failed:\n{output.read()[-6000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), itself


def outcome(state: Path, hosts: list[str]) -> tuple[int, int]:
    """(node roles of these groups that aws-auth maps, Ready Windows nodes)."""
    core = lab_core(state)
    roles = aws_auth_roles(core)
    mapped = sum(1 for host in hosts if any(f"/lab-nodegroup-{host}-NodeInstanceRole-" in (entry.get("rolearn") or "") for entry in roles))
    return mapped, ready_windows_nodes(core)


def measure(groups: int, forks: int, collections: str) -> dict[str, float]:
    hosts = [f"ng{index:02d}" for index in range(1, groups + 1)]
    with fresh_lab() as state:
        env = dict(ansible_env(state), ANSIBLE_COLLECTIONS_PATH=collections)
        wall, cpu, itself = run(hosts, forks, env)
        mapped, ready = outcome(state, hosts)
    return {"wall": wall, "cpu": cpu, "itself": itself, "mapped": mapped, "ready": ready}


def show_module_cpu(groups: int, forks: int, collections: str) -> None:
    hosts = [f"ng{index:02d}" for index in range(1, groups + 1)]
    with fresh_lab() as state:
        wrapper, log = module_wrapper(state)
        env = dict(ansible_env(state), ANSIBLE_COLLECTIONS_PATH=collections)
        _wall, cpu, _itself = run(hosts, forks, env, ["-e", f"ansible_python_interpreter={wrapper}"])
        usage = module_usage(log)
    modules = sum(seconds for runs in usage.values() for _kib, seconds in runs)
    print(f"  CPU per group by module process ({groups} groups again, untimed, every module as a process through a recording interpreter):")
    for module, runs in sorted(usage.items(), key=lambda item: -sum(seconds for _kib, seconds in item[1])):
        total = sum(seconds for _kib, seconds in runs)
        print(f"    {total / groups:5.2f} s  {module} ({len(runs)} runs, {total / len(runs):.2f} s each)")
    print(f"    {(cpu - modules) / groups:5.2f} s  ansible-playbook and the recording interpreters")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3, help="how many (one group, many groups) pairs to run, interleaved")
    parser.add_argument("--collections", default=str(REPO / ".collections"),
                        help="the directory holding ansible_collections/eksnodes/windows (another checkout's, to compare)")
    args = parser.parse_args(argv)
    # One group's wall (about 7 s, most of it the lab's join and Ready delays) moves by 10% from run to run: the ratio is
    # taken per interleaved pair, and the pair of the median ratio is the one described.
    pairs = sorted(((measure(1, 1, args.collections), measure(args.groups, args.forks, args.collections)) for _pair in range(args.repeat)),
                   key=lambda pair: pair[1]["wall"] / pair[0]["wall"])
    one, many = pairs[len(pairs) // 2]
    ratios = ", ".join(f"{pair_many['wall'] / pair_one['wall']:.2f}x ({pair_many['wall']:.1f} / {pair_one['wall']:.1f} s)" for pair_one, pair_many in pairs)
    print(f"node groups in one run (fresh lab each; one Windows node per group; -f {args.forks}; {args.repeat} interleaved pairs):")
    print(f"  ratios of the pairs: {ratios}")
    print("  the median pair:")
    print(f"  1 group        wall {one['wall']:6.1f} s   CPU {one['cpu']:6.1f} s")
    print(f"  {args.groups} groups      wall {many['wall']:6.1f} s   CPU {many['cpu']:6.1f} s   ({many['wall'] / one['wall']:.2f}x the wall of one)")
    print(f"  aws-auth maps {many['mapped']} of the {args.groups} node roles; {many['ready']} Windows nodes Ready")
    print(f"  CPU per group: {many['cpu'] / args.groups:.1f} s (one group alone: {one['cpu']:.1f} s)")
    user, system = many["itself"]
    print(f"  of the {args.groups} groups' CPU, ansible-playbook itself: {user + system:.1f} s ({system:.1f} s system time: forking a worker per"
          f" task and host); its workers and their module forks: {many['cpu'] - user - system:.1f} s")
    show_module_cpu(args.groups, args.forks, args.collections)
    return 0


if __name__ == "__main__":
    sys.exit(main())
