# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Waiting for a cluster to become ACTIVE, with a bound and a clear reason when it cannot."""

import time
from typing import Any, Callable, Dict, Optional

TERMINAL_STATUSES = ("FAILED", "DELETING")


class ClusterWaitError(Exception):
    pass


def wait_for_active(
    describe: Callable[[], Optional[Dict[str, Any]]],
    timeout: float,
    sleep: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
) -> Dict[str, Any]:
    """Poll describe() until the cluster is ACTIVE; raise ClusterWaitError on a terminal status or the timeout."""
    deadline = clock() + timeout
    while True:
        cluster = describe()
        if cluster is None:
            raise ClusterWaitError("the cluster does not exist")
        status = cluster.get("status")
        if status == "ACTIVE":
            return cluster
        if status in TERMINAL_STATUSES:
            raise ClusterWaitError(f"the cluster is {status} and will not become ACTIVE")
        if clock() >= deadline:
            raise ClusterWaitError(f"the cluster was still {status} after {timeout:g} seconds")
        pause(min(sleep, max(deadline - clock(), 0)))
