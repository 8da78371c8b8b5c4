# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What an upgrade plan reads: every node group stack's role, the instances' AMIs and the Windows Nodes.

Thin wrappers and pure shaping only; the decisions are in upgrade.py. Everything here only reads.
"""

import json
from typing import Any, Dict, Iterable, List, Mapping, Optional

from ansible_collections.amazon.aws.plugins.module_utils.ec2 import describe_instances

from ansible_collections.eksnodes.windows.plugins.module_utils.eks.clusters import describe_nodegroup, list_nodegroups
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup.common import CloudFormationErrorHandler
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup.transformations import outputs
from ansible_collections.eksnodes.windows.plugins.module_utils.retries import aws_retry

from ..readiness.nodes import instance_id_of

WINDOWS_NODES = "kubernetes.io/os=windows"


@CloudFormationErrorHandler.list_error_handler("describe stacks", default_value=[])
@aws_retry()
def describe_all_stacks(client) -> List[Dict[str, Any]]:
    # nodegroup.stacks.describe_stack reads one stack by name; here every stack's outputs are needed.
    return client.get_paginator("describe_stacks").paginate().build_full_result().get("Stacks") or []


def stack_summary(stack: Mapping[str, Any]) -> Dict[str, Any]:
    return {
        "stack_name": stack.get("StackName"),
        "stack_id": stack.get("StackId"),
        "stack_status": stack.get("StackStatus"),
        "node_instance_role_arn": outputs(stack).get("node_instance_role_arn"),
        "tags": tags_of(stack),
    }


def tags_of(stack: Optional[Mapping[str, Any]]) -> Dict[str, str]:
    return {tag["Key"]: tag.get("Value", "") for tag in (stack or {}).get("Tags") or []}


def node_stacks(cloudformation) -> List[Dict[str, Any]]:
    """The stacks that have a node role output (ours and the AWS node group templates')."""
    return [stack_summary(stack) for stack in describe_all_stacks(cloudformation)
            if stack.get("StackStatus") != "DELETE_COMPLETE" and outputs(stack).get("node_instance_role_arn")]


def managed_nodegroup_roles(eks, cluster_name: str) -> Dict[str, str]:
    roles = {}
    for name in list_nodegroups(eks, cluster_name):
        nodegroup = describe_nodegroup(eks, cluster_name, name) or {}
        if nodegroup.get("nodeRole"):
            roles[name] = nodegroup["nodeRole"]
    return roles


def instance_images(ec2, instance_ids: Iterable[str]) -> Dict[str, Dict[str, Any]]:
    """Instance ID -> its AMI and private DNS name (the Node's name)."""
    ids = sorted(set(instance_ids))
    if not ids:
        return {}
    found = {}
    for reservation in describe_instances(ec2, InstanceIds=ids):
        for instance in reservation.get("Instances") or []:
            found[instance["InstanceId"]] = {"image_id": instance.get("ImageId"), "private_dns_name": instance.get("PrivateDnsName")}
    return found


def node_facts(node: Mapping[str, Any]) -> Dict[str, Any]:
    """A Node (the API server's JSON) as the plan shows it."""
    metadata = node.get("metadata") or {}
    status = node.get("status") or {}
    conditions = {item.get("type"): item.get("status") for item in status.get("conditions") or []}
    return {
        "node_name": metadata.get("name"),
        "instance_id": instance_id_of((node.get("spec") or {}).get("providerID")),
        "kubelet_version": (status.get("nodeInfo") or {}).get("kubeletVersion"),
        "ready": conditions.get("Ready") == "True",
        "unschedulable": bool((node.get("spec") or {}).get("unschedulable")),
    }


def windows_nodes(core) -> Dict[str, Dict[str, Any]]:
    """Instance ID -> facts of its Windows Node, from a kubernetes CoreV1Api."""
    response = core.list_node(label_selector=WINDOWS_NODES, _preload_content=False)
    items = json.loads(response.data or b"{}").get("items") or []
    facts = [node_facts(item) for item in items]
    return {item["instance_id"]: item for item in facts if item["instance_id"]}
