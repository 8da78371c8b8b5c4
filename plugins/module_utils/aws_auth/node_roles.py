# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Finding the roles Linux nodes use: EKS managed node groups, and the node mappings already in aws-auth."""

from typing import Any, Dict, Iterable, List

from .arns import arn_key, strip_role_path
from .mappings import node_mapping_os

WINDOWS_AMI_PREFIX = "WINDOWS_"


def linux_node_group_roles(nodegroups: Iterable[Dict[str, Any]]) -> List[Dict[str, str]]:
    """[{arn, source}] for the node role of every node group whose AMI type is not a Windows one.

    nodegroups are DescribeNodegroup results. The ARN is given without its path, as aws-auth needs.
    """
    found: Dict[str, Dict[str, str]] = {}
    for nodegroup in nodegroups:
        role = nodegroup.get("nodeRole")
        if not role or str(nodegroup.get("amiType") or "").startswith(WINDOWS_AMI_PREFIX):
            continue
        arn = strip_role_path(role)
        found.setdefault(arn_key(arn), {"arn": arn, "source": f"node group {nodegroup.get('nodegroupName')}"})
    return list(found.values())


def windows_node_group_roles(nodegroups: Iterable[Dict[str, Any]]) -> List[Dict[str, str]]:
    found: Dict[str, Dict[str, str]] = {}
    for nodegroup in nodegroups:
        role = nodegroup.get("nodeRole")
        if role and str(nodegroup.get("amiType") or "").startswith(WINDOWS_AMI_PREFIX):
            arn = strip_role_path(role)
            found.setdefault(arn_key(arn), {"arn": arn, "source": f"node group {nodegroup.get('nodegroupName')}"})
    return list(found.values())


def node_roles_in_mappings(map_roles: Iterable[Dict[str, Any]], os_name: str) -> List[Dict[str, str]]:
    """[{arn, source}] for the mapRoles entries that map EC2 nodes of os_name (Fargate entries are not)."""
    found: Dict[str, Dict[str, str]] = {}
    for entry in map_roles:
        if node_mapping_os(entry) == os_name:
            arn = str(entry["rolearn"])
            found.setdefault(arn_key(arn), {"arn": arn, "source": f"aws-auth {os_name} node mapping"})
    return list(found.values())


def windows_roles_mapped_as_linux(windows_arns: Iterable[str], map_roles: Iterable[Dict[str, Any]]) -> List[str]:
    """The Windows node role ARNs (as given) that map_roles maps as Linux nodes (EC2 node mapping without
    eks:kube-proxy-windows), in the order given."""
    linux = {arn_key(role["arn"]) for role in node_roles_in_mappings(map_roles, "linux")}
    return [arn for arn in windows_arns if arn_key(arn) in linux]
