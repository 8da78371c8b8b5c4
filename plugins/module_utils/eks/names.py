# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Name rules for clusters and node groups, as pure functions returning a problem or None."""

import re
from typing import Optional

CLUSTER_NAME_MAX = 100
NODEGROUP_NAME_MAX = 63

# What the EKS API accepts for an existing cluster's name (DescribeCluster rejects anything else).
_EKS_API_CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]*$")
# What a cluster that gets Windows node groups should be named: letters, digits and hyphens, starting with a letter.
_CLUSTER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
# The Windows node group template's NodeGroupName: a letter or digit, then letters, digits, hyphens and underscores.
_NODEGROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def eks_api_cluster_name_problem(name: Optional[str]) -> Optional[str]:
    """Why EKS would refuse this as a cluster name in an API call, or None."""
    if not name:
        return "the cluster name is empty"
    if len(name) > CLUSTER_NAME_MAX:
        return f"the cluster name is {len(name)} characters long; EKS allows at most {CLUSTER_NAME_MAX}"
    if not _EKS_API_CLUSTER_NAME.match(name):
        return (f"the cluster name {name!r} is not a valid EKS cluster name: it must start with a letter or digit and "
                "contain only letters, digits, hyphens and underscores")
    return None


def cluster_name_problem(name: Optional[str]) -> Optional[str]:
    """Why this cluster name does not suit Windows node groups, or None."""
    if not name:
        return "the cluster name is empty"
    if len(name) > CLUSTER_NAME_MAX:
        return f"the cluster name is {len(name)} characters long; at most {CLUSTER_NAME_MAX} are allowed"
    if not _CLUSTER_NAME.match(name):
        return (f"the cluster name {name!r} must contain only letters, digits and hyphens, and start with a letter "
                f"(at most {CLUSTER_NAME_MAX} characters)")
    return None


def nodegroup_name_problem(name: Optional[str]) -> Optional[str]:
    """Why this node group name would be refused, or None."""
    if not name:
        return "the node group name is empty"
    if len(name) > NODEGROUP_NAME_MAX:
        return f"the node group name is {len(name)} characters long; at most {NODEGROUP_NAME_MAX} are allowed"
    if not _NODEGROUP_NAME.match(name):
        return (f"the node group name {name!r} must start with a letter or digit and contain only letters, digits, "
                f"hyphens and underscores (at most {NODEGROUP_NAME_MAX} characters)")
    return None
