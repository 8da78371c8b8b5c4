"""Auto Scaling groups: launches from the group's launch-template version, and in-place CloudFormation updates.

AWS: an ASG launches each instance from the launch-template *version* it is configured with (the instance
is tagged ``aws:ec2launchtemplate:version``) and balances instances over the subnets of VPCZoneIdentifier.
A CloudFormation update of an ``AWS::AutoScaling::AutoScalingGroup`` updates the same group (no replacement
unless an immutable property changes); with ``UpdatePolicy.AutoScalingRollingUpdate`` the instances that run
an older launch configuration are replaced in batches of ``MaxBatchSize``, keeping ``MinInstancesInService``
in service (new instances are launched before old ones are terminated when that minimum requires it), waiting
``PauseTime`` after each batch while the stack is UPDATE_IN_PROGRESS.  The lab runs those batches from its
CloudFormation in a background thread (``run_roll``), the pause scaled by ``LAB_STATE.settings.rolling_pause_scale``.
moto 5.2.5: launches from the template's *default* version, puts every instance in the first subnet, and
implements the CloudFormation update as delete + create: a new group with a new name and all-new instances.

TerminateInstanceInAutoScalingGroup with ShouldDecrementDesiredCapacity refuses to take the desired capacity below
the group's minimum size (ValidationError "Currently, desiredSize equals minSize (N). Terminating instance without
replacement will violate group's min size constraint. ..."); moto terminated the instance and lowered the desired
capacity below the minimum.
"""

from __future__ import annotations

import random
import re
from typing import Any, Callable, Optional

from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.models import ASG_NAME_TAG, AutoScalingBackend, FakeAutoScalingGroup, InstanceState

from lab.aws.state import LAB_STATE
from lab.lifecycle import LIFECYCLE

UPDATE_MESSAGES_ATTRIBUTE = "lab_update_messages"  # read by the lab's CloudFormation to emit stack events
PENDING_ROLL_ATTRIBUTE = "lab_pending_roll"  # an AutoScalingRollingUpdate policy the lab's CloudFormation has yet to carry out


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


def pause_seconds(pause_time: Any) -> float:
    """An ISO 8601 duration (``PT5M``, ``PT1H30M``, ``PT45S``) in seconds; AWS's default PauseTime is PT0S."""
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", str(pause_time or "PT0S").strip())
    if not match:
        return 0.0
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return float(hours * 3600 + minutes * 60 + seconds)


def run_roll(group: FakeAutoScalingGroup, policy: dict[str, Any], emit: Callable[[str], None], pause: Callable[[float], bool]) -> None:
    """Replace the group's obsolete instances batch by batch, calling ``emit`` with each stack-event message AWS would
    emit and ``pause(seconds)`` where CloudFormation waits PauseTime (``pause`` returns False to stop).

    A batch whose termination would leave fewer than MinInstancesInService launches its replacements first (the group is
    temporarily larger), waits, then terminates; otherwise the old instances go first, their replacements are launched,
    and CloudFormation waits before the next batch."""
    obsolete = _obsolete_instances(group)
    if not obsolete:
        return
    batch_size = max(int(policy.get("MaxBatchSize", 1)), 1)
    min_in_service = int(policy.get("MinInstancesInService", 0))
    pause_time = policy.get("PauseTime", "PT0S")
    wait = pause_seconds(pause_time)
    emit(f"Rolling update initiated. Terminating {len(obsolete)} obsolete instance(s) in batches of {batch_size}, while keeping at "
         f"least {min_in_service} instance(s) in service. Waiting on resource signals with a timeout of {pause_time} when new instances "
         "are added to the autoscaling group.")
    done = 0
    for number, start in enumerate(range(0, len(obsolete), batch_size), 1):
        batch = [state for state in obsolete[start:start + batch_size] if state in group.instance_states]
        if not batch:
            continue
        ids = ", ".join(state.instance.id for state in batch)
        before = {state.instance.id for state in group.instance_states}
        launch_first = len(group.instance_states) - len(batch) < min_in_service
        if launch_first:
            launch_instances(group, len(batch), group.get_propagated_tags())
            emit(f"Temporarily setting autoscaling group MinSize and DesiredCapacity to {len(group.instance_states)}.")
            emit(f"New instance(s) added to autoscaling group - Waiting on {len(batch)} resource signal(s) with a timeout of {pause_time}.")
            if not pause(wait):
                return
            emit(f"Terminating instance(s) [{ids}]; replacing with 0 new instance(s).")
            _terminate(group, batch)
        else:
            emit(f"Terminating instance(s) [{ids}]; replacing with {len(batch)} new instance(s).")
            _terminate(group, batch)
            launch_instances(group, len(batch), group.get_propagated_tags())
            emit(f"New instance(s) added to autoscaling group - Waiting on {len(batch)} resource signal(s) with a timeout of {pause_time}.")
        launched = sorted({state.instance.id for state in group.instance_states} - before)
        LIFECYCLE.record("asg_rolling_batch", asg=group.name, batch=number, terminated=[state.instance.id for state in batch], launched=launched,
                         launched_first=launch_first, min_instances_in_service=min_in_service, pause_seconds=wait)
        if not launch_first and not pause(wait):
            return
        done += len(batch)
        emit(f"Successfully terminated instance(s) [{ids}] (Progress {round(100 * done / len(obsolete))}%).")


def roll_instances(group: FakeAutoScalingGroup, policy: dict[str, Any]) -> list[str]:
    """The whole rolling update at once, without pauses; returns the stack-event messages."""
    messages: list[str] = []
    run_roll(group, policy, messages.append, lambda _seconds: True)
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
    if rolling is not None and LAB_STATE.settings.rolling_update_async and _obsolete_instances(group):
        setattr(group, PENDING_ROLL_ATTRIBUTE, dict(rolling))  # the lab's CloudFormation rolls it in the background
        setattr(group, UPDATE_MESSAGES_ATTRIBUTE, [])
    else:
        setattr(group, UPDATE_MESSAGES_ATTRIBUTE, roll_instances(group, rolling) if rolling is not None else [])
    return group


_moto_terminate_instance = AutoScalingBackend.terminate_instance


def terminate_instance(self: AutoScalingBackend, instance_id: str, should_decrement: bool) -> Any:
    group = next((group for group in self.autoscaling_groups.values()
                  if any(state.instance.id == instance_id for state in group.instance_states)), None)
    if group is not None and should_decrement and group.desired_capacity <= group.min_size:
        raise ValidationError(f"Currently, desiredSize equals minSize ({group.min_size}). Terminating instance without replacement will "
                              "violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.")
    return _moto_terminate_instance(self, instance_id, should_decrement)


def install() -> None:
    AutoScalingBackend.terminate_instance = terminate_instance  # type: ignore[method-assign]
    FakeAutoScalingGroup.replace_autoscaling_group_instances = launch_instances  # type: ignore[method-assign,assignment]
    FakeAutoScalingGroup.update_from_cloudformation_json = classmethod(update_group_in_place)  # type: ignore[method-assign,assignment]
