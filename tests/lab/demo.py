"""``python -m lab.demo``: the README's demo, from nothing to Ready Windows nodes on the local lab.

It starts a lab, runs ``ansible-playbook eksnodes.windows.launch`` as a user would (with the lab's
environment only), prints the nodes, runs the playbook a second time to show that nothing changes,
and always stops the lab. Exit status 0 only when both runs succeed and the second changes nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
DEMO_VARS = {
    "cluster_name": "lab",
    "region": "us-east-1",
    "nodegroup_name": "windows",
    "node_type": "m5.large",
    "nodes": "2",
    "nodes_min": "2",
    "nodes_max": "3",
    "node_ami_family": "WindowsServer2022CoreContainer",
}
RECAP = re.compile(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def read_env(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^export (\w+)=(.*)$", line.strip())
        if match:
            env[match.group(1)] = match.group(2).strip("'\"")
    return env


def run_playbook(env: dict[str, str], title: str) -> tuple[int, Optional[tuple[int, ...]], float]:
    print(f"\n=== {title}: ansible-playbook eksnodes.windows.launch", flush=True)
    command = [str(VENV_BIN / "ansible-playbook"), "eksnodes.windows.launch", "-i", "localhost,", "-c", "local"]
    for name, value in DEMO_VARS.items():
        command += ["-e", f"{name}={value}"]
    started = time.monotonic()
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        recap = None
        for line in process.stdout:
            print(line, end="", flush=True)
            match = RECAP.search(line)
            if match:
                recap = tuple(int(group) for group in match.groups())
        code = process.wait()
    return code, recap, time.monotonic() - started


def print_nodes(env: dict[str, str]) -> Optional[datetime]:
    """Print the nodes and return when the last Windows node turned Ready."""
    from kubernetes import client, config  # pylint: disable=import-outside-toplevel

    api = client.CoreV1Api(config.new_client_from_config(config_file=env["KUBECONFIG"]))
    print("\n=== nodes")
    last_ready = None
    for node in api.list_node().items:
        labels = node.metadata.labels or {}
        ready = next((c for c in node.status.conditions or [] if c.type == "Ready"), None)
        print(f"  {node.metadata.name:<32} {labels.get('kubernetes.io/os', '?'):<8} {labels.get('node.kubernetes.io/windows-build', ''):<12} "
              f"{labels.get('node.kubernetes.io/instance-type', ''):<10} Ready={ready.status if ready else '?'}")
        if labels.get("kubernetes.io/os") == "windows" and ready is not None and ready.status == "True":
            moment = ready.last_transition_time
            last_ready = moment if last_ready is None or moment > last_ready else last_ready
    return last_ready


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.demo")
    parser.add_argument("--state-dir", type=Path, default=REPO / ".lab")
    parser.add_argument("--join-delay", default="5", help="seconds a simulated Windows instance takes to register (default 5)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    lab = [sys.executable, "-m", "lab"]
    subprocess.run([*lab, "down", "--state-dir", str(args.state_dir)], check=False, capture_output=True)
    subprocess.run([*lab, "up", "--state-dir", str(args.state_dir), "--join-delay", args.join_delay], check=True)
    try:
        env = dict(os.environ)
        env.update(read_env(args.state_dir / "env"))
        first_code, _first_recap, first_seconds = run_playbook(env, "first run")
        first_end = datetime.now(timezone.utc)
        last_ready = print_nodes(env) if first_code == 0 else None
        second_code, second_recap, second_seconds = run_playbook(env, "second run (should change nothing)")
    finally:
        subprocess.run([*lab, "down", "--state-dir", str(args.state_dir)], check=False)
    unchanged = second_recap is not None and second_recap[1] == 0 and second_recap[3] == 0
    print("\n=== demo summary")
    print(f"  first run: exit {first_code} in {first_seconds:.1f}s; second run: exit {second_code} in {second_seconds:.1f}s, "
          f"{'changed=0' if unchanged else f'recap {second_recap}'}")
    if last_ready is not None:
        print(f"  last Windows node Ready -> end of first run: {(first_end - last_ready).total_seconds():.1f}s")
    print(f"  demo wall time: {time.monotonic() - started:.1f}s")
    return 0 if first_code == 0 and second_code == 0 and unchanged else 1


if __name__ == "__main__":
    sys.exit(main())
