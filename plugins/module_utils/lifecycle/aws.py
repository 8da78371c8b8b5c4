# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The AWS side of a rolling replacement and a scale-in: what the group launches now, its instances, and terminating
them in it.

The group read is readiness.aws's and the launch template reads amazon.aws's; amazon.aws has no
wrapper for TerminateInstanceInAutoScalingGroup, so it is here.
"""

from typing import Any, Dict, List, Optional

from ansible_collections.amazon.aws.plugins.module_utils._autoscaling.common import AutoScalingErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.ec2 import describe_instances
from ansible_collections.amazon.aws.plugins.module_utils.ec2 import describe_launch_template_versions
from ansible_collections.eksnodes.windows.plugins.module_utils.retries import aws_retry

from ..readiness.nodes import group_target, instance_id_of, is_ready
from .rolling import LaunchTarget

TEMPLATE_ID_TAG = "aws:ec2launchtemplate:id"
TEMPLATE_VERSION_TAG = "aws:ec2launchtemplate:version"


@AutoScalingErrorHandler.common_error_handler("terminate an instance in its Auto Scaling group")
@aws_retry()
def terminate_in_group(client, instance_id: str, decrement: bool = False) -> Dict[str, Any]:
    """Terminate the instance; the group keeps its desired capacity and launches a replacement, unless decrement."""
    return client.terminate_instance_in_auto_scaling_group(InstanceId=instance_id, ShouldDecrementDesiredCapacity=decrement)["Activity"]


@AutoScalingErrorHandler.common_error_handler("lower the minimum size of an Auto Scaling group")
@aws_retry()
def lower_min_size(client, group_name: str, min_size: int) -> None:
    client.update_auto_scaling_group(AutoScalingGroupName=group_name, MinSize=min_size)


def live_members(group: Dict[str, Any]) -> List[str]:
    return [instance["instance_id"] for instance in group_target(group).instances]


def remove_from_group(client, group: Dict[str, Any], instance_ids: List[str]) -> List[str]:
    """Terminate the instances that are still live members of the group, each lowering its desired capacity by one; the
    minimum size first comes down to what the desired capacity will be, when it is above (AWS refuses otherwise)."""
    leaving = [instance_id for instance_id in instance_ids if instance_id in live_members(group)]
    if not leaving:
        return []
    remaining = int(group.get("DesiredCapacity") or 0) - len(leaving)
    if int(group.get("MinSize") or 0) > remaining:
        lower_min_size(client, group["AutoScalingGroupName"], max(remaining, 0))
    for instance_id in leaving:
        terminate_in_group(client, instance_id, decrement=True)
    return leaving


def group_template_spec(group: Dict[str, Any]) -> Dict[str, Any]:
    spec = group.get("LaunchTemplate") or {}
    if not spec:
        spec = ((group.get("MixedInstancesPolicy") or {}).get("LaunchTemplate") or {}).get("LaunchTemplateSpecification") or {}
    return spec


def launch_target(ec2, group: Dict[str, Any]) -> LaunchTarget:
    """The launch template, version number and AMI the group launches now ($Latest and $Default resolved)."""
    spec = group_template_spec(group)
    if not spec:
        return LaunchTarget(template_id=None, version=None, image_id=None)
    selector = {"LaunchTemplateId": spec["LaunchTemplateId"]} if spec.get("LaunchTemplateId") else {"LaunchTemplateName": spec.get("LaunchTemplateName")}
    versions = describe_launch_template_versions(ec2, Versions=[str(spec.get("Version") or "$Default")], **selector)
    version = versions[0] if versions else {}
    return LaunchTarget(template_id=version.get("LaunchTemplateId") or spec.get("LaunchTemplateId"),
                        version=str(version["VersionNumber"]) if version.get("VersionNumber") is not None else None,
                        image_id=(version.get("LaunchTemplateData") or {}).get("ImageId"))


def instance_facts(group: Dict[str, Any], reservations: List[Dict[str, Any]], nodes: Dict[str, Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The group's instances with what decides their fate: template and AMI they launched from, their Node."""
    described = {i["InstanceId"]: i for r in reservations for i in r.get("Instances") or []}
    by_instance = {instance_id_of((n.get("spec") or {}).get("providerID")): n for n in nodes.values()}
    facts = []
    for member in sorted(group.get("Instances") or [], key=lambda i: i["InstanceId"]):
        instance_id = member["InstanceId"]
        ec2 = described.get(instance_id) or {}
        tags = {t.get("Key"): t.get("Value") for t in ec2.get("Tags") or []}
        member_spec = member.get("LaunchTemplate") or {}
        node = by_instance.get(instance_id)
        facts.append({
            "instance_id": instance_id,
            "lifecycle_state": member.get("LifecycleState"),
            "health_status": member.get("HealthStatus"),
            "launch_template_id": tags.get(TEMPLATE_ID_TAG) or member_spec.get("LaunchTemplateId"),
            "launch_template_version": tags.get(TEMPLATE_VERSION_TAG) or _number(member_spec.get("Version")),
            "image_id": ec2.get("ImageId"),
            "node_name": (node or {}).get("metadata", {}).get("name"),
            "node_ready": bool(node) and is_ready(node),
            "cordoned": bool(((node or {}).get("spec") or {}).get("unschedulable")),
        })
    return facts


def describe_group_instances(ec2, group: Dict[str, Any]) -> List[Dict[str, Any]]:
    ids = [i["InstanceId"] for i in group.get("Instances") or []]
    return describe_instances(ec2, InstanceIds=ids) if ids else []


def _number(version: Optional[str]) -> Optional[str]:
    return version if version and str(version).isdigit() else None
