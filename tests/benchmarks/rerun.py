"""Benchmark: what a no-op rerun of ``eksnodes.windows.launch`` costs (issue 14's goals: <= 6 Kubernetes calls,
<= 10 AWS calls, wall time <= 0.5x the first run's).

On a fresh lab: the launch playbook is run once (first run), then again with nothing to change. Around the rerun,
share-0 fault rules of the lab (which fail nothing, and count what they see; the lab's own clients are never
counted) count the AWS calls per service and action and the Kubernetes requests per method and resource. Printed:
wall and CPU (the ansible-playbook process tree) of both runs, the calls of the rerun, and the slowest tasks.
The modules of these runs run in forks of the task's worker process (plugins/plugin_utils/in_process.py), as they do wherever
the module's Python is ansible-playbook's own. A third, no-op run prints the largest peak resident memory of any
process of the run (ansible-playbook, a worker, or a fork running a module). A fourth, no-op run gives the modules an
interpreter wrapper, which records each module process's peak resident memory and CPU: it is another interpreter, so
there every module runs as a process, as it does where the module's Python is not ansible-playbook's (the wrapper
costs a process per module, so these runs are left out of the times above).

Run on its own with ``python tests/benchmarks/rerun.py [--collections DIR]``. No pass/fail.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import botocore.session

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lab.control import LabControl  # noqa: E402  pylint: disable=wrong-import-position

from upgrade import ansible_env, fresh_lab, playbook, task_times  # noqa: E402  pylint: disable=wrong-import-position

AWS_SERVICES = ("eks", "ec2", "cloudformation", "ssm", "iam", "autoscaling", "sts")
# Kubernetes requests are counted per method and per these resources (the first that matches the path).
KUBE_RESOURCES = ("nodes", "configmaps/aws-auth", "configmaps/amazon-vpc-cni", "configmaps", "deployments", "daemonsets", "services",
                  "secrets", "serviceaccounts", "clusterrolebindings", "clusterroles", "mutatingwebhookconfigurations", "pods",
                  "poddisruptionbudgets", "events", "version")
KUBE_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
LAUNCH = {"cluster_name": "lab", "nodegroup_name": "bench", "nodes": 1, "nodes_min": 1, "nodes_max": 2}
SHOWN_TASKS = 8
# Runs the module with the real interpreter (stdin passed through), then appends "<module> <peak RSS in KiB> <CPU seconds>"
# of that module process to a log.
MODULE_WRAPPER = """#!{python}
import resource, subprocess, sys
status = subprocess.call([{python!r}, *sys.argv[1:]])
module = next((arg.rsplit("AnsiballZ_", 1)[1][:-3] for arg in sys.argv[1:] if "AnsiballZ_" in arg), "(piped)")
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open({log!r}, "a", encoding="utf-8") as log:
    log.write(f"{{module}} {{usage.ru_maxrss}} {{usage.ru_utime + usage.ru_stime:.3f}}\\n")
sys.exit(status)
"""


def module_wrapper(state: Path) -> tuple[Path, Path]:
    """An interpreter for ansible_python_interpreter that records each module process (MODULE_WRAPPER), and its log.
    It costs a process per module, so runs that use it are not timed."""
    wrapper, log = state / "module-python", state / "module-usage.log"
    wrapper.write_text(MODULE_WRAPPER.format(python=str(REPO / ".venv/bin/python"), log=str(log)), encoding="utf-8")
    wrapper.chmod(0o755)
    return wrapper, log


def module_usage(log: Path) -> dict[str, list[tuple[int, float]]]:
    """(peak RSS in KiB, CPU seconds) of each module process, by module."""
    usage: dict[str, list[tuple[int, float]]] = {}
    for line in log.read_text(encoding="utf-8").splitlines():
        module, kib, cpu = line.rsplit(" ", 2)
        usage.setdefault(module, []).append((int(kib), float(cpu)))
    return usage


def count_calls(control: LabControl) -> None:
    """Share-0 rules: one per AWS operation of the services the collection uses, one per Kubernetes method and resource,
    then catch-alls."""
    session = botocore.session.get_session()
    for service in AWS_SERVICES:
        for action in session.get_service_model(service).operation_names:
            control.aws_fault_share(0.0, service=service, action=action)
    control.aws_fault_share(0.0)
    for method in KUBE_METHODS:
        for resource in KUBE_RESOURCES:
            control.kube_fault_share(0.0, method=method, path=f"/{resource}(/|$)" if "/" not in resource else f"/{resource}$")
    control.kube_fault_share(0.0)


def counted(control: LabControl) -> tuple[dict[str, int], dict[str, int]]:
    aws = {f"{rule['service'] or '*'} {rule['action'] or '*'}": rule["seen"] for rule in control.aws.share_faults() if rule["seen"]}
    kube = {f"{rule['method'] or '*'} {rule['path']}": rule["seen"] for rule in control.kube_faults() if rule.get("seen")}
    return aws, kube


def show(label: str, counts: dict[str, int]) -> None:
    print(f"  {label} calls of the rerun: {sum(counts.values())}")
    for name, seen in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        print(f"    {seen:4d}  {name}")


# Runs a command, then prints the largest peak RSS in KiB of it and its descendants (the kernel's RUSAGE_CHILDREN maximum)
# and exits with its status.
LARGEST_PROCESS = ("import resource, subprocess, sys; status = subprocess.call(sys.argv[1:]); "
                   "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(status)")


def show_largest_process(env: dict[str, str]) -> None:
    stdout, _wall, _cpu = playbook("eksnodes.windows.launch", LAUNCH, env, prefix=[sys.executable, "-c", LARGEST_PROCESS])
    print(f"  largest process of a no-op run, modules in forks of the task workers: {int(stdout.splitlines()[-1]) / 1024:.0f} MiB peak resident memory")


def show_module_memory(state: Path, env: dict[str, str]) -> None:
    wrapper, log = module_wrapper(state)
    playbook("eksnodes.windows.launch", dict(LAUNCH, ansible_python_interpreter=str(wrapper)), env)
    usage = module_usage(log)
    peaks = {module: max(kib for kib, _cpu in runs) for module, runs in usage.items()}
    print(f"  each module process of a no-op run: max {max(peaks.values()) / 1024:.0f} MiB peak resident memory; CPU")
    for module, kib in sorted(peaks.items(), key=lambda item: -item[1]):
        print(f"    {kib / 1024:6.0f} MiB  {sum(cpu for _kib, cpu in usage[module]):5.2f} CPU-s  {module}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collections", default=str(REPO / ".collections"),
                        help="the directory holding ansible_collections/eksnodes/windows (another checkout's, to compare)")
    args = parser.parse_args(argv)
    with fresh_lab() as state:
        env = dict(ansible_env(state), ANSIBLE_COLLECTIONS_PATH=args.collections)
        control = LabControl.from_state_dir(state)
        _out, first_wall, first_cpu = playbook("eksnodes.windows.launch", LAUNCH, env)
        count_calls(control)
        stdout, wall, cpu = playbook("eksnodes.windows.launch", LAUNCH, env, callback="json")
        aws, kube = counted(control)
        print("launch, 1 Windows node:")
        print(f"  first run      wall {first_wall:6.1f} s   CPU {first_cpu:6.1f} s")
        print(f"  no-op rerun    wall {wall:6.1f} s   CPU {cpu:6.1f} s   (wall {wall / first_wall:.2f}x the first run's)")
        show("AWS", aws)
        show("Kubernetes", kube)
        print("  slowest tasks of the rerun:")
        for name, seconds in task_times(stdout)[:SHOWN_TASKS]:
            print(f"    {seconds:6.1f} s  {name}")
        show_largest_process(env)
        show_module_memory(state, env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
