# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure functions: stack outputs and Auto Scaling group instances as the module returns them."""

import re
from typing import Any, Dict, List, Mapping, Optional

# Outputs with a name of their own; the others are converted from CamelCase.
OUTPUT_NAMES = {
    "NodeInstanceRole": "node_instance_role_arn",
    "NodeInstanceRoleName": "node_instance_role_name",
    "NodeInstanceProfile": "node_instance_profile_arn",
    "NodeSecurityGroup": "node_security_group",
    "NodeSecurityGroups": "node_security_groups",
    "NodeAutoScalingGroup": "node_autoscaling_group",
    "NodeLaunchTemplate": "node_launch_template",
    "NodeLaunchTemplateVersion": "node_launch_template_version",
    "NodeImageId": "node_image_id",
}
LIST_OUTPUTS = ("node_security_groups",)
AUTOSCALING_GROUP_OUTPUT = "NodeAutoScalingGroup"
# Lifecycle states (and their prefixes, as in Terminating:Wait) of instances on their way out of a group.
LEAVING_STATES = ("Terminating", "Terminated", "Detaching", "Detached")


def snake_case(name: str) -> str:
    """NodeInstanceProfileArn -> node_instance_profile_arn; AMIId -> ami_id."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return name.replace("-", "_").lower()


def raw_outputs(stack: Optional[Mapping[str, Any]]) -> Dict[str, str]:
    if not stack:
        return {}
    return {item["OutputKey"]: item.get("OutputValue", "") for item in stack.get("Outputs") or []}


def outputs(stack: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The stack outputs under snake_case keys; NodeSecurityGroups becomes a list."""
    converted: Dict[str, Any] = {}
    for key, value in raw_outputs(stack).items():
        name = OUTPUT_NAMES.get(key) or snake_case(key)
        if name in LIST_OUTPUTS:
            converted[name] = [item for item in (value or "").split(",") if item]
        else:
            converted[name] = value
    return converted


def autoscaling_group_name(stack: Optional[Mapping[str, Any]], resources: Optional[List[Mapping[str, Any]]] = None) -> Optional[str]:
    """The nodes' Auto Scaling group: the NodeAutoScalingGroup output, else the stack's only ASG resource."""
    name = raw_outputs(stack).get(AUTOSCALING_GROUP_OUTPUT)
    if name:
        return name
    groups = [item.get("PhysicalResourceId") for item in resources or [] if item.get("ResourceType") == "AWS::AutoScaling::AutoScalingGroup"]
    groups = [group for group in groups if group]
    return groups[0] if len(groups) == 1 else None


def instances(group: Optional[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """The group's instances in snake_case, sorted by ID."""
    found = []
    for instance in (group or {}).get("Instances") or []:
        template = instance.get("LaunchTemplate") or {}
        found.append({
            "instance_id": instance.get("InstanceId"),
            "lifecycle_state": instance.get("LifecycleState"),
            "health_status": instance.get("HealthStatus"),
            "availability_zone": instance.get("AvailabilityZone"),
            "instance_type": instance.get("InstanceType"),
            "launch_template_id": template.get("LaunchTemplateId"),
            "launch_template_version": template.get("Version"),
        })
    return sorted(found, key=lambda item: item["instance_id"] or "")


def outdated_instance_ids(instances: List[Mapping[str, Any]], stack_outputs: Mapping[str, Any]) -> Optional[List[str]]:
    """The live instances launched from another launch template, or version of it, than the one the stack's group
    launches now (its NodeLaunchTemplate and NodeLaunchTemplateVersion outputs). None when that is not known: the
    stack has no such outputs, or an instance's version is not a number (then only nodes_replace, which also reads
    the instances' tags, can tell)."""
    template, version = stack_outputs.get("node_launch_template"), str(stack_outputs.get("node_launch_template_version") or "")
    if not template or not version.isdigit():
        return None
    outdated = []
    for item in instances:
        if str(item.get("lifecycle_state") or "").startswith(LEAVING_STATES):
            continue
        launched = str(item.get("launch_template_version") or "")
        if not launched.isdigit() or not item.get("launch_template_id"):
            return None
        if item["launch_template_id"] != template or launched != version:
            outdated.append(item["instance_id"])
    return outdated


def live_instance_ids(items: List[Mapping[str, Any]]) -> List[str]:
    """IDs of the instances (as instances() gives them) that are in service or on their way (not leaving)."""
    return [item["instance_id"] for item in items if not str(item.get("lifecycle_state") or "").startswith(LEAVING_STATES)]


def instance_ids(group: Optional[Mapping[str, Any]]) -> List[str]:
    """IDs of the group's instances that are in service or on their way (not leaving)."""
    return live_instance_ids(instances(group))


def stack_facts(stack: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The stack's identity and status in snake_case."""
    if not stack:
        return {"stack_id": None, "stack_status": None, "stack_status_reason": None}
    return {
        "stack_id": stack.get("StackId"),
        "stack_status": stack.get("StackStatus"),
        "stack_status_reason": stack.get("StackStatusReason"),
    }


def leaving_instance_ids(instances: List[Mapping[str, Any]], outdated: Optional[List[str]], capacity: int) -> List[str]:
    """The live instances an Auto Scaling group of capacity would have no room for, in the order they should leave:
    those on an older launch template first (outdated), then by instance ID, highest first."""
    live = sorted(live_instance_ids(instances), reverse=True)
    extra = len(live) - max(capacity, 0)
    if extra <= 0:
        return []
    older = set(outdated or [])
    return sorted(live, key=lambda instance_id: instance_id not in older)[:extra]
