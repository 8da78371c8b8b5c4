# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Thin, retrying wrappers over the EKS add-on API calls, and waiting for an add-on to settle."""

import time
from typing import Any, Callable, Dict, List, Optional

from ansible_collections.eksnodes.windows.plugins.module_utils.retries import aws_retry

from .common import EksErrorHandler

# An add-on in one of these is being changed by EKS; a new update is refused until it leaves them.
IN_PROGRESS_STATUSES = ("CREATING", "UPDATING", "DELETING")


class AddonWaitError(Exception):
    pass


@EksErrorHandler.list_error_handler("list add-ons", default_value=[])
@aws_retry()
def list_addons(client, cluster_name: str) -> List[str]:
    paginator = client.get_paginator("list_addons")
    return paginator.paginate(clusterName=cluster_name).build_full_result()["addons"]


@EksErrorHandler.list_error_handler("describe add-on")
@aws_retry()
def describe_addon(client, cluster_name: str, addon_name: str) -> Optional[Dict[str, Any]]:
    """The add-on, or None when the cluster has no add-on of that name."""
    return client.describe_addon(clusterName=cluster_name, addonName=addon_name)["addon"]


@EksErrorHandler.common_error_handler("update add-on")
@aws_retry()
def update_addon(client, cluster_name: str, addon_name: str, configuration_values: str, resolve_conflicts: str) -> Dict[str, Any]:
    return client.update_addon(
        clusterName=cluster_name, addonName=addon_name, configurationValues=configuration_values, resolveConflicts=resolve_conflicts
    )["update"]


def wait_for_addon(
    describe: Callable[[], Optional[Dict[str, Any]]],
    timeout: float,
    sleep: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
) -> Dict[str, Any]:
    """Poll describe() until the add-on is no longer being created, updated or deleted; return it.

    Raises AddonWaitError when the add-on disappears or is still in progress at the timeout.
    """
    deadline = clock() + timeout
    while True:
        addon = describe()
        if addon is None:
            raise AddonWaitError("the add-on no longer exists")
        status = addon.get("status")
        if status not in IN_PROGRESS_STATUSES:
            return addon
        if clock() >= deadline:
            raise AddonWaitError(f"the add-on was still {status} after {timeout:g} seconds")
        pause(min(sleep, max(deadline - clock(), 0)))
