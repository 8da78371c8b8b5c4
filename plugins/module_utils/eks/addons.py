# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Thin, retrying wrappers over the EKS add-on API calls (waiting for one to settle: waiters.wait_for_addon)."""

from typing import Any, Dict, List, Optional

from ansible_collections.eksnodes.windows.plugins.module_utils.retries import aws_retry

from .common import EksErrorHandler


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
def update_addon(client, cluster_name: str, addon_name: str, configuration_values: str, resolve_conflicts: str,
                 service_account_role_arn: Optional[str] = None) -> Dict[str, Any]:
    """``service_account_role_arn``: pass the add-on's current one to keep it. An update without it puts the add-on's
    service account back on the node role (UpdateAddon has no "unchanged" value for it)."""
    role = {"serviceAccountRoleArn": service_account_role_arn} if service_account_role_arn else {}
    return client.update_addon(
        clusterName=cluster_name, addonName=addon_name, configurationValues=configuration_values, resolveConflicts=resolve_conflicts, **role
    )["update"]
