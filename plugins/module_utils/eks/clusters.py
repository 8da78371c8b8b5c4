# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Thin, retrying wrappers over the EKS cluster API calls."""

from typing import Any, Dict, Optional

from ansible_collections.eksnodes.windows.plugins.module_utils.retries import aws_retry

from .common import EksErrorHandler


@EksErrorHandler.list_error_handler("describe cluster")
@aws_retry()
def describe_cluster(client, name: str) -> Optional[Dict[str, Any]]:
    """The raw cluster description, or None when no cluster has that name."""
    return client.describe_cluster(name=name)["cluster"]


@EksErrorHandler.list_error_handler("list node groups", default_value=[])
@aws_retry()
def list_nodegroups(client, cluster_name: str) -> list:
    paginator = client.get_paginator("list_nodegroups")
    return paginator.paginate(clusterName=cluster_name).build_full_result()["nodegroups"]


@EksErrorHandler.list_error_handler("describe node group")
@aws_retry()
def describe_nodegroup(client, cluster_name: str, nodegroup_name: str) -> Optional[Dict[str, Any]]:
    return client.describe_nodegroup(clusterName=cluster_name, nodegroupName=nodegroup_name)["nodegroup"]
