# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Waiting for an EKS resource's status to settle, with a bound and a clear reason when it cannot."""

import time
from typing import Any, Callable, Dict, Iterable, Optional, Type

CLUSTER_TERMINAL_STATUSES = ("FAILED", "DELETING")
# An add-on in one of these is being changed by EKS; a new update is refused until it leaves them.
ADDON_IN_PROGRESS_STATUSES = ("CREATING", "UPDATING", "DELETING")


class WaitError(Exception):
    pass


class ClusterWaitError(WaitError):
    pass


class AddonWaitError(WaitError):
    pass


def wait_for_status(
    describe: Callable[[], Optional[Dict[str, Any]]],
    settled: Callable[[Optional[str]], bool],
    what: str,
    timeout: float,
    sleep: float = 5.0,
    terminal: Iterable[str] = (),
    goal: str = "settle",
    error: Type[WaitError] = WaitError,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
) -> Dict[str, Any]:
    """Poll describe() until settled(status); raise error when it is gone, terminal, or at the timeout."""
    deadline = clock() + timeout
    while True:
        resource = describe()
        if resource is None:
            raise error(f"the {what} does not exist")
        status = resource.get("status")
        if settled(status):
            return resource
        if status in terminal:
            raise error(f"the {what} is {status} and will not {goal}")
        if clock() >= deadline:
            raise error(f"the {what} was still {status} after {timeout:g} seconds")
        pause(min(sleep, max(deadline - clock(), 0)))


def wait_for_active(describe: Callable[[], Optional[Dict[str, Any]]], timeout: float, sleep: float = 5.0, **timing) -> Dict[str, Any]:
    """Wait until the cluster is ACTIVE; FAILED and DELETING fail at once."""
    return wait_for_status(describe, lambda status: status == "ACTIVE", "cluster", timeout, sleep,
                           terminal=CLUSTER_TERMINAL_STATUSES, goal="become ACTIVE", error=ClusterWaitError, **timing)


def wait_for_addon(describe: Callable[[], Optional[Dict[str, Any]]], timeout: float, sleep: float = 5.0, **timing) -> Dict[str, Any]:
    """Wait until the add-on is no longer being created, updated or deleted."""
    return wait_for_status(describe, lambda status: status not in ADDON_IN_PROGRESS_STATUSES, "add-on", timeout, sleep,
                           error=AddonWaitError, **timing)
