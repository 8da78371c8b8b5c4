"""Labs forked from the zygote (lab/zygote.py) are labs as `python -m lab serve` starts them: a session and a world of
their own each, stopped by SIGTERM like any lab, and a lab that cannot start is reported with its log."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from lab.pytest_plugin import start_lab
from lab.runtime import LAB_PID, LabError, pid_alive
from lab.zygote import ZYGOTE


def ignored_signals(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("SigIgn:"):
            return int(line.split()[1], 16)
    raise AssertionError(f"no SigIgn line for pid {pid}")


def test_two_forked_labs_are_separate_labs_and_stop_on_sigterm(tmp_path):
    first = start_lab(tmp_path / "first")
    second = start_lab(tmp_path / "second", auth_mode="API")
    try:
        zygote = ZYGOTE.pid()
        assert zygote is not None and pid_alive(zygote)
        for lab in (first, second):
            assert lab.info["pid"] == lab.process.pid != os.getpid()
            assert os.getsid(lab.process.pid) == lab.process.pid  # a session of its own, as start_new_session gives
            assert not ignored_signals(lab.process.pid) & (1 << (signal.SIGCHLD - 1))  # the zygote's SIG_IGN is not inherited
        # moto's generator is reseeded in each child: otherwise both worlds would have the same ids.
        assert first.facts["vpc_id"] != second.facts["vpc_id"]
        eks = second.aws_client("eks")
        assert eks.describe_cluster(name="lab")["cluster"]["accessConfig"]["authenticationMode"] == "API"
        assert first.aws_client("eks").describe_cluster(name="lab")["cluster"]["accessConfig"]["authenticationMode"] == "CONFIG_MAP"
        assert [vpc["VpcId"] for vpc in first.aws_client("ec2").describe_vpcs()["Vpcs"]].count(second.facts["vpc_id"]) == 0
    finally:
        first.stop()
        second.stop()
    for lab in (first, second):
        assert not pid_alive(lab.process.pid)
        assert not (lab.state_dir / LAB_PID).exists()
        assert lab.log_tail().splitlines()[-1].endswith("lab stopped")
    assert ZYGOTE.pid() == zygote and pid_alive(zygote)  # one zygote for the whole test process


def test_a_lab_that_cannot_start_is_reported_with_its_log(tmp_path):
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: the lab's servers cannot bind it, and the forked lab exits.
    with pytest.raises(LabError) as raised:
        start_lab(tmp_path / "unbound", host="192.0.2.1")
    message = str(raised.value)
    assert "before it was ready" in message and "lab failed" in message, message
    assert "Cannot assign requested address" in message, message
