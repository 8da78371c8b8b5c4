"""Labs forked from a process that has imported the lab already.

``python -m lab serve`` spends about half of its start-up (two CPU-seconds of four) importing moto, the
Kubernetes client and boto3, and loading the JSON data they read at import; a test session starts some thirty
labs. ``Zygote`` starts ``python -m lab zygote`` once per test process. That process imports all of it, then,
for each lab asked of it, forks a child that runs ``serve`` exactly as ``python -m lab serve`` does: in a session
of its own, in the state directory, with the given environment, its output appended to lab.log.

The zygote stays single-threaded, so forking it is safe. The kernel reaps its children: a lab is watched by its
pid (``pid_alive``), as ``python -m lab down`` watches one. It exits when its parent closes the pipe (a lab started
for a test session stops by itself when that session's process is gone: ``parent_pid``).
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any, Callable, Optional

# What LabRuntime.start imports (lazily, so that `python -m lab down` and the control client stay light).
# And cfn-lint's resource schemas, which the lab's CloudFormation imports on a lab's first change set (0.3 s each time).
PRELOAD = ("lab.aws.server", "lab.kubeapi", "lab.kubeapi.auth", "lab.kubeapi.resources", "lab.controllers", "lab.nodesim",
           "lab.in_process", "lab.least_privilege", "lab.lifecycle", "cfnlint.schema")


def run(serve_argv: Callable[[list], int]) -> int:
    """The zygote's loop: one JSON request per line on stdin, the forked lab's pid as one JSON line on stdout."""
    for name in PRELOAD:
        importlib.import_module(name)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request, serve_argv)
        sys.stdout.write(json.dumps({"pid": pid}) + "\n")
        sys.stdout.flush()
    return 0


def _child(request: dict, serve_argv: Callable[[list], int]) -> None:
    """Become the lab ``python -m lab serve <args>`` would be; never returns."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        stdin = os.open(os.devnull, os.O_RDONLY)
        log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(stdin, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(stdin)
        os.close(log)
        # random reseeds itself in a forked child; moto's own generator (every id it makes) does not.
        from moto.moto_api._internal import mock_random  # pylint: disable=import-outside-toplevel
        mock_random.seed()
        code = serve_argv(request["args"])
    finally:
        os._exit(code)  # pylint: disable=protected-access


class ForkedProcess:
    """A lab forked by the zygote, with the part of ``subprocess.Popen`` that start_detached and stop_process use.

    It is not this process's child, so its exit code is not known: 1 once it is gone."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: Optional[int] = None

    def poll(self) -> Optional[int]:
        from lab.runtime import pid_alive  # pylint: disable=import-outside-toplevel
        if self.returncode is None and not pid_alive(self.pid):
            self.returncode = 1
        return self.returncode

    def send_signal(self, signum: int) -> None:
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: Optional[float] = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"lab pid {self.pid}", timeout)
            time.sleep(0.02)
        return self.returncode


class Zygote:
    """The client side: starts ``python -m lab zygote`` on first use, then asks it for labs."""

    def __init__(self) -> None:
        self._process: Optional[subprocess.Popen] = None

    def fork(self, args: list, cwd: str, log: str, env: dict) -> ForkedProcess:
        request = json.dumps({"args": args, "cwd": cwd, "log": log, "env": env}) + "\n"
        process = self._started(env)
        process.stdin.write(request)
        process.stdin.flush()
        answer = process.stdout.readline()
        if not answer:
            raise RuntimeError(f"the lab zygote exited with code {process.wait()}")
        return ForkedProcess(json.loads(answer)["pid"])

    def _started(self, env: dict) -> subprocess.Popen:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen([sys.executable, "-m", "lab", "zygote"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             env=env, text=True)
        return self._process

    def pid(self) -> Optional[int]:
        return self._process.pid if self._process is not None else None


ZYGOTE = Zygote()


def fork_lab(args: list, cwd: str, log: str, env: dict) -> Any:
    return ZYGOTE.fork(args, cwd, log, env)
