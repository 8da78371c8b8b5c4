"""``python -m lab serve|up|down|status``: run the local lab (see tests/lab/README.md)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from http.client import HTTPConnection
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

from lab.runtime import AUTH_MODES, LabError, LabOptions, pid_alive, read_info, serve, start_detached, stop_pid


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lab", description="Local EKS-like lab: AWS (moto), a Kubernetes API server, a node simulator.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("serve", "run the lab in the foreground until SIGTERM"), ("up", "start the lab in the background and wait until it is ready")):
        command = commands.add_parser(name, help=text)
        _common(command)
        command.add_argument("--kubernetes-version", default="1.31", help="cluster version (default 1.31)")
        command.add_argument("--auth-mode", default="CONFIG_MAP", choices=AUTH_MODES, help="cluster accessConfig.authenticationMode")
        command.add_argument("--join-delay", type=float, default=3.0,
                             help="seconds from the moment an instance may join (its role mapped) to its Node (default 3)")
        command.add_argument("--ready-delay", type=float, default=1.0, help="seconds a new Node stays NotReady before its readiness is judged")
        command.add_argument("--managed-vpc-cni", action="store_true", help="install vpc-cni as a managed EKS add-on")
        command.add_argument("--eks-token-ttl", type=int, default=900, help="seconds an EKS (aws eks get-token) token is accepted")
        command.add_argument("--enforce-iam", action="store_true",
                             help="clients get IAM users holding only docs/iam's policies; AWS IAM and Kubernetes RBAC are enforced")
        command.add_argument("--ip-family", default="ipv4", choices=("ipv4", "ipv6"),
                             help="the cluster's IP family; ipv6 gives the Linux node role the IPv6 CNI permissions (default ipv4)")
        command.add_argument("--region", default="us-east-1", help=argparse.SUPPRESS)
        command.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
        command.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
        if name == "up":
            command.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the lab to get ready")
    _common(commands.add_parser("down", help="stop the lab (SIGTERM) and wait"))
    _common(commands.add_parser("status", help="print the endpoints of the running lab"))
    commands.add_parser("zygote", help="fork a lab for each request read on stdin (the pytest plugin's; see lab/zygote.py)")
    return parser


def _common(command: argparse.ArgumentParser) -> None:
    command.add_argument("--state-dir", type=Path, default=Path(".lab"), help="state directory (default .lab)")


def _options(args: argparse.Namespace) -> LabOptions:
    return LabOptions(state_dir=args.state_dir, kubernetes_version=args.kubernetes_version, auth_mode=args.auth_mode, join_delay=args.join_delay,
                      ready_delay=args.ready_delay, managed_vpc_cni=args.managed_vpc_cni, eks_token_ttl=args.eks_token_ttl,
                      region=args.region, host=args.host, parent_pid=args.parent_pid, enforce_iam=args.enforce_iam, ip_family=args.ip_family)


def _up(args: argparse.Namespace) -> int:
    options = _options(args)
    try:
        process, info, seconds = start_detached(options, timeout=args.timeout)
    except LabError as err:
        print(f"lab up failed: {err}", file=sys.stderr)
        return 1
    print(f"lab up in {seconds:.2f}s (server start-up {info['startup_seconds']:.2f}s), pid {process.pid}")
    _print_endpoints(info)
    print(f"use it: source {options.state_dir / 'env'}")
    return 0


def _down(args: argparse.Namespace) -> int:
    try:
        pid = stop_pid(args.state_dir.resolve())
    except LabError as err:
        print(f"lab down failed: {err}", file=sys.stderr)
        return 1
    print(f"lab (pid {pid}) stopped" if pid else f"no lab running from {args.state_dir}")
    return 0


def _nodesim_status(control_url: str) -> Optional[dict]:
    parts = urlsplit(control_url)
    connection = HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=3)
    try:
        connection.request("GET", "/_lab/nodesim")
        return json.loads(connection.getresponse().read())
    except (OSError, ValueError):
        return None
    finally:
        connection.close()


def _status(args: argparse.Namespace) -> int:
    info = read_info(args.state_dir.resolve())
    if not info or not pid_alive(int(info.get("pid", 0))):
        print(f"no lab running from {args.state_dir}")
        return 3
    print(f"lab running, pid {info['pid']}, up {time.time() - info['started_at']:.0f}s, started in {info['startup_seconds']:.2f}s")
    _print_endpoints(info)
    nodesim = _nodesim_status(info["control"]["url"])
    if nodesim is not None:
        print(f"knobs: {json.dumps(nodesim['knobs'])}")
        for instance_id, record in sorted(nodesim["instances"].items()):
            print(f"  {instance_id} ({record['asg_name']}): {record['verdict']}")
    return 0


def _print_endpoints(info: dict) -> None:
    print(f"  kubernetes  {info['kube']['url']}  (kubeconfig {info['kubeconfig']})")
    print(f"  aws         {info['aws']['url']}  (cluster {info['cluster_name']}, {info['region']}, auth {info['auth_mode']})")
    print(f"  control     {info['control']['url']}/_lab/nodesim")
    print(f"  env         {info['env_file']}   log {info['log']}")


def _serve(args: argparse.Namespace) -> int:
    code = serve(_options(args))
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def main(argv: Optional[list] = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        # Every part is stopped and the state files are cleaned up by now; skip the interpreter's
        # teardown, which spends seconds freeing moto's in-memory AWS world.
        os._exit(_serve(args))
    if args.command == "zygote":
        from lab import zygote  # pylint: disable=import-outside-toplevel
        return zygote.run(lambda serve_argv: _serve(_parser().parse_args(serve_argv)))
    return {"up": _up, "down": _down, "status": _status}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
