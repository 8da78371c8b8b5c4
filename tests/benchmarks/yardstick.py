"""Benchmark: ``eksnodes.windows.launch`` against the same launch written with stock modules (``stock-launch.yml``:
amazon.aws.cloudformation, the SSM lookup, kubernetes.core.k8s / k8s_info with an until loop, aws-auth rebuilt with
Jinja), each on a fresh lab, one Windows node: first run and no-op rerun, wall and CPU (the ansible-playbook process
tree), and the AWS and Kubernetes calls of the rerun. Issue 14's goals: rerun wall ratio <= 1.0 (aim 0.5), first run
<= 0.7x the stock playbook's.

During each first run, the lab's aws-auth and Windows Nodes are read every 50 ms (for both playbooks alike): when the
Windows node role was mapped and when the node was Ready. The lab's node registers join_delay seconds after its role
is mapped and is Ready ready_delay seconds later (and at the simulator's next tick), so no first run ends before the
mapping plus both delays: printed is by when the role would have to be mapped for a first run of 0.7x the stock
playbook's.

Also measured: the first run of the same roles in a play of their own (``roles-launch.yml``, as the README shows),
without the launch playbook's plan of every step before the first change.

Run on its own with ``python tests/benchmarks/yardstick.py [--collections DIR]``. No pass/fail.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Optional

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(HERE))

from lab.control import LabControl  # noqa: E402  pylint: disable=wrong-import-position
from lab.runtime import read_info  # noqa: E402  pylint: disable=wrong-import-position

from rerun import count_calls, counted  # noqa: E402  pylint: disable=wrong-import-position
from upgrade import ansible_env, aws_auth_roles, fresh_lab, lab_core, playbook, ready_windows_nodes  # noqa: E402  pylint: disable=wrong-import-position

NODES = 1


def launch_vars(which: str, facts: dict[str, Any], template: Path) -> tuple[str, dict[str, Any]]:
    ours = {"cluster_name": "lab", "nodegroup_name": "bench", "nodes": NODES, "nodes_min": NODES, "nodes_max": NODES + 1}
    if which == "eksnodes.windows":
        return "eksnodes.windows.launch", ours
    if which == "roles":
        return str(HERE / "roles-launch.yml"), ours
    return str(HERE / "stock-launch.yml"), {
        "cluster_name": "lab", "nodegroup_name": "bench", "nodes": NODES, "template_path": str(template),
        "control_plane_sg_id": facts["control_plane_sg_id"], "cluster_sg_id": facts["cluster_sg_id"], "vpc_id": facts["vpc_id"],
        "subnets": facts["private_subnet_ids"]}


class Milestones(threading.Thread):
    """Seconds from its start to the Windows node role's mapping in aws-auth, and to the first Ready Windows Node."""

    def __init__(self, lab_state: Path) -> None:
        super().__init__(daemon=True)
        self.core = lab_core(lab_state)
        self.stopped = threading.Event()
        self.started = time.perf_counter()
        self.mapped: Optional[float] = None
        self.ready: Optional[float] = None

    def run(self) -> None:
        while self.ready is None and not self.stopped.wait(0.05):
            now = time.perf_counter() - self.started
            if self.mapped is None and any("eks:kube-proxy-windows" in (entry.get("groups") or []) for entry in aws_auth_roles(self.core)):
                self.mapped = now
            if self.mapped is not None and ready_windows_nodes(self.core):
                self.ready = now


def measure(which: str, collections: str, template: Path) -> dict[str, Any]:
    with fresh_lab() as state:
        env = dict(ansible_env(state), ANSIBLE_COLLECTIONS_PATH=collections)
        name, extra_vars = launch_vars(which, read_info(state)["facts"], template)
        milestones = Milestones(state)
        milestones.start()
        try:
            _out, first_wall, first_cpu = playbook(name, extra_vars, env)
        finally:
            milestones.stopped.set()
            milestones.join()
        control = LabControl.from_state_dir(state)
        knobs = control.nodesim()["knobs"]
        count_calls(control)
        _out, wall, cpu = playbook(name, extra_vars, env)
        aws, kube = counted(control)
    return {"first_wall": first_wall, "first_cpu": first_cpu, "wall": wall, "cpu": cpu, "aws": sum(aws.values()),
            "kube": sum(kube.values()), "mapped": milestones.mapped, "ready": milestones.ready,
            "node_delays": knobs["join_delay"] + knobs["ready_delay"]}


def seconds(value: Optional[float]) -> str:
    return "never" if value is None else f"{value:.1f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collections", default=str(REPO / ".collections"))
    args = parser.parse_args(argv)
    sys.path.insert(0, args.collections)
    from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup.template import TEMPLATE  # pylint: disable=import-outside-toplevel
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as template:
        template.write(TEMPLATE)
        template.flush()
        ours = measure("eksnodes.windows", args.collections, Path(template.name))
        stock = measure("stock", args.collections, Path(template.name))
        roles = measure("roles", args.collections, Path(template.name))
    print(f"launch of {NODES} Windows node, eksnodes.windows vs stock modules (fresh lab each):")
    print(f"  {'':<18}{'eksnodes.windows':>20}{'stock playbook':>20}{'ratio':>8}")
    for label, key in (("first run, wall", "first_wall"), ("first run, CPU", "first_cpu"), ("no-op rerun, wall", "wall"),
                       ("no-op rerun, CPU", "cpu")):
        print(f"  {label:<18}{ours[key]:>18.1f} s{stock[key]:>18.1f} s{ours[key] / stock[key]:>8.2f}")
    print(f"  {'rerun AWS calls':<18}{ours['aws']:>20}{stock['aws']:>20}")
    print(f"  {'rerun kube calls':<18}{ours['kube']:>20}{stock['kube']:>20}")
    print(f"  our no-op rerun / our first run, wall: {ours['wall'] / ours['first_wall']:.2f}")
    print("  first run, from its start:")
    for label, key in (("node role mapped", "mapped"), ("Windows node Ready", "ready")):
        print(f"    {label:<22}{seconds(ours[key]):>16}{seconds(stock[key]):>20}")
    if ours["mapped"] is not None and ours["ready"] is not None:
        target = 0.7 * stock["first_wall"]
        after_mapping = ours["first_wall"] - ours["mapped"]
        print(f"  our first run ends {after_mapping:.1f} s after the mapping: the lab's node is Ready {ours['ready'] - ours['mapped']:.1f} s"
              f" after it (join_delay + ready_delay = {ours['node_delays']:.1f} s, and the simulator's ticks); a first run of 0.7x the"
              f" stock playbook's ({target:.1f} s) would map the role by {target - after_mapping:.1f} s")
    print(f"  our roles in a play of their own (roles-launch.yml: no plan of every step before the first change), first run:"
          f" {roles['first_wall']:.1f} s, {roles['first_wall'] / stock['first_wall']:.2f}x the stock playbook's, the role mapped at"
          f" {seconds(roles['mapped'])}, the node Ready at {seconds(roles['ready'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
