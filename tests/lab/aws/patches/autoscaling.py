"""Auto Scaling groups: launches from the group's launch-template version, and in-place CloudFormation updates.

AWS: an ASG launches each instance from the launch-template *version* it is configured with (the instance
is tagged ``aws:ec2launchtemplate:version``) and balances instances over the subnets of VPCZoneIdentifier.
A CloudFormation update of an ``AWS::AutoScaling::AutoScalingGroup`` updates the same group (no replacement
unless an immutable property changes); with ``UpdatePolicy.AutoScalingRollingUpdate`` the instances that run
an older launch configuration are replaced in batches of ``MaxBatchSize``, keeping ``MinInstancesInService``
in service (new instances are launched before old ones are terminated when that minimum requires it).
moto 5.2.5: launches from the template's *default* version, puts every instance in the first subnet, and
implements the CloudFormation update as delete + create: a new group with a new name and all-new instances.
"""

from __future__ import annotations

import random
from typing import Any, Optional

from moto.autoscaling.models import ASG_NAME_TAG, FakeAutoScalingGroup, InstanceState

UPDATE_MESSAGES_ATTRIBUTE = "lab_update_messages"  # read by the lab's CloudFormation to emit stack events


def _subnet_with_fewest_instances(group: FakeAutoScalingGroup) -> Optional[str]:
    subnets = group.vpc_zone_identifier.split(",") if group.vpc_zone_identifier else []
    if not subnets:
        return None
    counts = {subnet: 0 for subnet in subnets}
    for state in group.instance_states:
        subnet = getattr(state.instance, "subnet_id", None)
        if subnet in counts:
            counts[subnet] += 1
    return min(subnets, key=lambda subnet: counts[subnet])


def launch_instances(group: FakeAutoScalingGroup, count_needed: int, propagated_tags: dict[str, str]) -> None:
    """Replacement for ``FakeAutoScalingGroup.replace_autoscaling_group_instances``."""
    propagated_tags[ASG_NAME_TAG] = group.name
    propagated_tags.update(group.instance_tags)
    launch_template = None
    if group.ec2_launch_template:
        version = group.ec2_launch_template.get_version(group.launch_template_version).number
        launch_template = {"LaunchTemplateId": group.ec2_launch_template.id, "Version": str(version)}
    associate_public_ip = group.launch_config.associate_public_ip_address if group.launch_config else None
    for _launch in range(count_needed):
        subnet_id = _subnet_with_fewest_instances(group)
        reservation = group.autoscaling_backend.ec2_backend.run_instances(
            group.image_id, 1, group.user_data, group.security_groups, instance_type=group.instance_type,
            tags={"instance": dict(propagated_tags)}, placement=None if subnet_id else random.choice(group.availability_zones),
            launch_config=group.launch_config, launch_template=launch_template, is_instance_type_default=False,
            associate_public_ip=associate_public_ip, subnet_id=subnet_id)
        for instance in reservation.instances:
            setattr(instance, "autoscaling_group", group)  # what moto's own launcher sets
            group.instance_states.append(InstanceState(instance, protected_from_scale_in=group.new_instances_protected_from_scale_in))


def _optional_int(value: Any) -> Optional[int]:
    return None if value is None or value == "" else int(value)


def _current_version(group: FakeAutoScalingGroup) -> Optional[str]:
    if not group.ec2_launch_template:
        return None
    return str(group.ec2_launch_template.get_version(group.launch_template_version).number)


def _obsolete_instances(group: FakeAutoScalingGroup) -> list[InstanceState]:
    version = _current_version(group)
    return [state for state in group.instance_states
            if state.instance.image_id != group.image_id
            or (version is not None and _tags_of(state.instance).get("aws:ec2launchtemplate:version", version) != version)]


def _tags_of(instance: Any) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in instance.get_tags()}


def _terminate(group: FakeAutoScalingGroup, states: list[InstanceState]) -> None:
    group.autoscaling_backend.ec2_backend.terminate_instances([state.instance.id for state in states])
    group.instance_states = [state for state in group.instance_states if state not in states]


def roll_instances(group: FakeAutoScalingGroup, policy: dict[str, Any]) -> list[str]:
    """Replace the group's obsolete instances batch by batch; returns the stack-event messages AWS would emit."""
    obsolete = _obsolete_instances(group)
    if not obsolete:
        return []
    batch_size = max(int(policy.get("MaxBatchSize", 1)), 1)
    min_in_service = int(policy.get("MinInstancesInService", 0))
    pause = policy.get("PauseTime", "PT0S")
    messages = [f"Rolling update initiated. Terminating {len(obsolete)} obsolete instance(s) in batches of {batch_size}, while keeping at "
                f"least {min_in_service} instance(s) in service. Waiting on resource signals with a timeout of {pause} when new instances "
                "are added to the autoscaling group."]
    done = 0
    for start in range(0, len(obsolete), batch_size):
        batch = obsolete[start:start + batch_size]
        ids = ", ".join(state.instance.id for state in batch)
        launch_first = len(group.instance_states) - len(batch) < min_in_service
        if launch_first:
            launch_instances(group, len(batch), group.get_propagated_tags())
            messages.append(f"Temporarily setting autoscaling group MinSize and DesiredCapacity to {len(group.instance_states)}.")
        messages.append(f"Terminating instance(s) [{ids}]; replacing with {len(batch)} new instance(s).")
        _terminate(group, batch)
        if not launch_first:
            launch_instances(group, len(batch), group.get_propagated_tags())
        messages.append(f"New instance(s) added to autoscaling group - Waiting on {len(batch)} resource signal(s) with a timeout of {pause}.")
        done += len(batch)
        messages.append(f"Successfully terminated instance(s) [{ids}] (Progress {round(100 * done / len(obsolete))}%).")
    return messages


def update_group_in_place(cls: type, original_resource: FakeAutoScalingGroup, new_resource_name: str, cloudformation_json: dict[str, Any],
                          account_id: str, region_name: str) -> FakeAutoScalingGroup:
    """Replacement for ``FakeAutoScalingGroup.update_from_cloudformation_json``: update the same group, then roll."""
    del cls, new_resource_name, account_id, region_name  # the group itself is updated: no new name, no backend lookup
    group = original_resource
    properties = cloudformation_json["Properties"]
    optional: dict[str, Any] = {  # moto's signature says str/int, but None means "unchanged" there
        "vpc_zone_identifier": ",".join(properties.get("VPCZoneIdentifier", [])) or None,
        "health_check_period": _optional_int(properties.get("HealthCheckGracePeriod")),
    }
    group.update(
        availability_zones=properties.get("AvailabilityZones", []), desired_capacity=_optional_int(properties.get("DesiredCapacity")),
        max_size=_optional_int(properties.get("MaxSize")), min_size=_optional_int(properties.get("MinSize")),
        launch_config_name=properties.get("LaunchConfigurationName"), launch_template=properties.get("LaunchTemplate", {}),
        health_check_type=properties.get("HealthCheckType"), new_instances_protected_from_scale_in=properties.get("NewInstancesProtectedFromScaleIn"),
        mixed_instances_policy=properties.get("MixedInstancesPolicy") or None, **optional)
    if "Tags" in properties:
        group.tags = [dict(tag) for tag in properties["Tags"]]
    rolling = (cloudformation_json.get("UpdatePolicy") or {}).get("AutoScalingRollingUpdate")
    setattr(group, UPDATE_MESSAGES_ATTRIBUTE, roll_instances(group, rolling) if rolling is not None else [])
    return group


def install() -> None:
    FakeAutoScalingGroup.replace_autoscaling_group_instances = launch_instances  # type: ignore[method-assign,assignment]
    FakeAutoScalingGroup.update_from_cloudformation_json = classmethod(update_group_in_place)  # type: ignore[method-assign,assignment]
