# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Which Nodes a task means: named, or the Nodes of instances (by spec.providerID)."""

from typing import Any, Dict, List, Tuple

from ..readiness.nodes import instance_id_of


def nodes_of_instances(nodes: Dict[str, Dict[str, Any]], instance_ids: List[str]) -> Tuple[List[str], List[str]]:
    """(the Node names of the instances, in the instances' order; the instances that have no Node)."""
    by_instance = {instance_id_of((n.get("spec") or {}).get("providerID")): name for name, n in nodes.items()}
    names = [by_instance[i] for i in instance_ids if i in by_instance]
    return names, [i for i in instance_ids if i not in by_instance]


def group_instance_ids(group: Dict[str, Any]) -> List[str]:
    """Every instance of the group, those on their way out included: their pods still need a home."""
    return sorted(i["InstanceId"] for i in group.get("Instances") or [])
