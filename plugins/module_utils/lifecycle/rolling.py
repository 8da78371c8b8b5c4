# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The decisions of a rolling replacement, one batch at a time, from what AWS and the cluster show now.

Nothing is remembered between runs: each decision is made again from the group's instances and
their Nodes, so a run stopped anywhere (a node that will not drain, a replacement that is not
Ready, an interrupted play) is continued by the next one.

1. Which instances are old: launched from another launch template, another version of it, or
   another AMI than the group's launch template version names now.
2. If old nodes are cordoned, a batch was started: finish draining it, then terminate it.
3. Else, while the group has fewer instances than desired or a new instance's Node is not Ready,
   wait for the replacements.
4. Else, with no old instance left: done.
5. Else the next batch: at most batch_size old instances, and no more than keeps min_in_service
   Ready, schedulable nodes in the group while the batch is out (the capacity floor).
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from ..readiness.nodes import LEAVING_STATES

DONE = "done"
WAIT = "wait"
DRAIN = "drain"
FLOOR = "floor"


@dataclass
class LaunchTarget:
    """What the group launches now: its launch template, the version number it resolves to, and that version's AMI."""

    template_id: Optional[str]
    version: Optional[str]
    image_id: Optional[str]


def why_old(instance: Dict[str, Any], target: LaunchTarget) -> Optional[str]:
    """Why an instance differs from what the group launches now (None: it does not)."""
    template = instance.get("launch_template_id")
    if target.template_id and template and template != target.template_id:
        return f"launch template {template}, the group's is {target.template_id}"
    version = instance.get("launch_template_version")
    if target.version and version and str(version) != str(target.version):
        return f"launch template version {version}, the group's is {target.version}"
    image = instance.get("image_id")
    if target.image_id and image and image != target.image_id and not str(target.image_id).startswith("resolve:ssm:"):
        return f"AMI {image}, the group's is {target.image_id}"
    return None


def live(instances: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The instances the group keeps (not on their way out)."""
    return [i for i in instances if i.get("lifecycle_state") not in LEAVING_STATES]


def old_instances(instances: List[Dict[str, Any]], target: LaunchTarget) -> List[Dict[str, Any]]:
    return [dict(i, old_because=why_old(i, target)) for i in live(instances) if why_old(i, target)]


def serving(instances: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Instances whose Node is Ready and schedulable: the capacity that runs pods."""
    return [i for i in live(instances) if i.get("node_ready") and not i.get("cordoned")]


def batch_room(serving_count: int, min_in_service: int, batch_size: int) -> int:
    """How many instances may leave together without going under min_in_service."""
    return max(min(batch_size, serving_count - min_in_service), 0)


@dataclass
class Decision:
    action: str
    instances: List[Dict[str, Any]] = field(default_factory=list)
    reason: str = ""


def decide(instances: List[Dict[str, Any]], desired: int, target: LaunchTarget, batch_size: int, min_in_service: int,
           replacing: bool = False) -> Decision:
    """The next thing to do (see the module docstring for the order).

    replacing: this run has terminated instances, whose replacements it waits for before it is done.
    """
    current = live(instances)
    old = old_instances(instances, target)
    started = [i for i in old if i.get("cordoned")]
    if started:
        return Decision(DRAIN, started, "finishing the batch that was started")
    if not old and not replacing and len(live(instances)) == len(instances):
        # Nothing to replace and nothing leaving: nodes still joining (a new group, a scale-out) are the readiness
        # wait's business, not this one's.
        return Decision(DONE)
    old_ids = {i["instance_id"] for i in old}
    waiting = [i for i in current if i["instance_id"] not in old_ids and not i.get("node_ready")]
    if len(current) < desired or waiting:
        missing = desired - len(current)
        reason = f"{missing} instance(s) to be launched" if missing > 0 else f"{len(waiting)} new node(s) not Ready"
        return Decision(WAIT, waiting, reason)
    if not old:
        return Decision(DONE)
    # Old instances without a Ready node serve nothing: they leave first and cost no capacity.
    idle = [i for i in old if not i.get("node_ready")]
    if idle:
        return Decision(DRAIN, idle[:batch_size], "old instances whose node is not Ready")
    room = batch_room(len(serving(instances)), min_in_service, batch_size)
    if room == 0:
        return Decision(FLOOR, old, f"{len(serving(instances))} Ready node(s) in the group and min_in_service is {min_in_service}")
    return Decision(DRAIN, sorted(old, key=lambda i: i["instance_id"])[:room], "next batch")


def default_min_in_service(desired: int, batch_size: int) -> int:
    """Without a setting, a batch may take the group down by batch_size nodes, never to zero unless it has one node."""
    return max(desired - batch_size, 0)


def floor_message(decision: Decision, desired: int, min_in_service: int) -> str:
    names = ", ".join(i.get("node_name") or i["instance_id"] for i in decision.instances)
    return (f"no old node can leave without going under min_in_service={min_in_service} ({decision.reason}; desired capacity {desired}); "
            f"old: {names}. Lower min_in_service, or raise the group's desired capacity (NodeAutoScalingGroupDesiredCapacity) "
            "so that a node can be spared, then run again")
