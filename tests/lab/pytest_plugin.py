"""pytest fixtures for tests that need the lab.  Enable with ``pytest_plugins = ["lab.pytest_plugin"]``.

* ``lab`` (session): one lab per test session (per xdist worker), a separate ``python -m lab serve``
  process (forked from the test process's zygote: lab/zygote.py) in a temporary state directory.
* ``lab_factory`` (function): ``lab_factory(auth_mode="API", ...)`` starts extra labs with other
  options (any ``LabOptions`` field); they are stopped after the test.
* ``fresh_lab`` (function): ``lab_factory()`` with the defaults, for tests that must not share state.
  A lab starts in a couple of seconds, so use it only where state really cannot be shared.

On a failed test that used one of these fixtures, the end of the lab's log is added to the report.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from lab.control import LabControl
from lab.runtime import LabOptions, lab_env, log_tail, start_detached, stop_process

LAB_FIXTURES = ("lab", "fresh_lab")


@dataclass
class Lab:
    """A running lab: its endpoints, files, seeded facts and control client."""

    state_dir: Path
    info: dict
    process: Any  # subprocess.Popen or lab.zygote.ForkedProcess
    startup_seconds: float
    control: LabControl = field(init=False)
    _clients: dict = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.control = LabControl(self.info)

    @property
    def env(self) -> dict:
        """Environment variables for clients (boto3, kubectl, Ansible): the ``env`` file as a dict."""
        return lab_env(self.info)

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def facts(self) -> dict:
        """What the AWS side seeded (VPC, subnets, cluster, Linux node group, Windows AMIs, ...)."""
        return self.info["facts"]

    @property
    def cluster_name(self) -> str:
        return self.info["cluster_name"]

    @property
    def region(self) -> str:
        return self.info["region"]

    def aws_client(self, service: str) -> Any:
        """A boto3 client for the lab's AWS endpoint (cached per service)."""
        if service not in self._clients:
            from lab.nodesim import aws_client  # pylint: disable=import-outside-toplevel
            self._clients[service] = aws_client(service, self.info["aws"]["url"], self.region)
        return self._clients[service]

    def kube_api_client(self) -> Any:
        """An official-client ApiClient built from the lab's kubeconfig."""
        from kubernetes import config  # pylint: disable=import-outside-toplevel
        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def log_tail(self, lines: int = 60) -> str:
        return log_tail(self.state_dir, lines)

    def stop(self) -> None:
        stop_process(self.process)


def start_lab(state_dir: Path, **options: Any) -> Lab:
    """Start a lab process serving ``state_dir`` and wait until it is ready."""
    options.setdefault("parent_pid", os.getpid())
    process, info, seconds = start_detached(LabOptions(state_dir=state_dir, **options), forked=True)
    return Lab(state_dir=Path(info["state_dir"]), info=info, process=process, startup_seconds=seconds)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """One lab for the whole session (per xdist worker)."""
    handle = start_lab(tmp_path_factory.mktemp("lab"))
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def lab_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Lab]]:
    """Start labs with other options for one test: ``lab_factory(auth_mode="API", managed_vpc_cni=True)``."""
    started: list = []

    def factory(**options: Any) -> Lab:
        handle = start_lab(tmp_path_factory.mktemp("lab"), **options)
        started.append(handle)
        return handle

    try:
        yield factory
    finally:
        for handle in started:
            handle.stop()


@pytest.fixture
def fresh_lab(lab_factory: Callable[..., Lab]) -> Lab:  # pylint: disable=redefined-outer-name
    """A lab of its own for one test, with the default options."""
    return lab_factory()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[Any]:  # pylint: disable=unused-argument
    report = yield
    if report.failed:
        for name in LAB_FIXTURES:
            handle = getattr(item, "funcargs", {}).get(name)
            if isinstance(handle, Lab):
                report.sections.append((f"{name} lab.log (end)", handle.log_tail()))
    return report
