# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Which Nodes belong to the node group, which of them are Ready, and how to say so in one line.

Everything here is pure: Node objects come in as the API server's JSON (dicts), instances as the
collection's own small dicts, so the rules are unit tested without any client library.
"""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

PROVIDER_ID_SCHEME = "aws://"
OS_LABEL = "kubernetes.io/os"
WINDOWS_BUILD_LABEL = "node.kubernetes.io/windows-build"
INSTANCE_TYPE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
# Auto Scaling lifecycle states of instances that are on their way out; the group replaces them.
LEAVING_STATES = ("Terminating", "Terminating:Wait", "Terminating:Proceed", "Terminated", "Detaching", "Detached")
NAMES_SHOWN = 4


def instance_id_of(provider_id: Optional[str]) -> Optional[str]:
    """The EC2 instance id in a Node's spec.providerID (aws:///us-east-1a/i-0abc...), or None."""
    if not provider_id or not provider_id.startswith(PROVIDER_ID_SCHEME):
        return None
    last = provider_id.rstrip("/").rsplit("/", 1)[-1]
    return last if last.startswith("i-") else None


def zone_of(provider_id: Optional[str]) -> Optional[str]:
    """The availability zone in a providerID, or None."""
    if not provider_id or not provider_id.startswith(PROVIDER_ID_SCHEME):
        return None
    parts = provider_id[len(PROVIDER_ID_SCHEME):].strip("/").split("/")
    return parts[-2] if len(parts) >= 2 and parts[-2] else None


def ready_condition(node: Dict[str, Any]) -> Dict[str, Any]:
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition
    return {}


def is_ready(node: Dict[str, Any]) -> bool:
    return ready_condition(node).get("status") == "True"


def _first_label(labels: Dict[str, str], names) -> Optional[str]:
    for name in names:
        if labels.get(name):
            return labels[name]
    return None


def node_facts(node: Dict[str, Any]) -> Dict[str, Any]:
    """The module's return shape for one Node."""
    metadata = node.get("metadata") or {}
    labels = metadata.get("labels") or {}
    status = node.get("status") or {}
    info = status.get("nodeInfo") or {}
    provider_id = (node.get("spec") or {}).get("providerID")
    ready = ready_condition(node)
    internal_ip = next((a.get("address") for a in status.get("addresses") or [] if a.get("type") == "InternalIP"), None)
    return {
        "name": metadata.get("name"),
        "instance_id": instance_id_of(provider_id),
        "provider_id": provider_id,
        "ready": ready.get("status") == "True",
        "ready_reason": ready.get("reason"),
        "ready_message": ready.get("message"),
        "os": labels.get(OS_LABEL),
        "windows_build": labels.get(WINDOWS_BUILD_LABEL),
        "instance_type": _first_label(labels, INSTANCE_TYPE_LABELS),
        "zone": _first_label(labels, ZONE_LABELS) or zone_of(provider_id),
        "kubelet_version": info.get("kubeletVersion"),
        "os_image": info.get("osImage"),
        "internal_ip": internal_ip,
        "created": metadata.get("creationTimestamp"),
        "labels": dict(labels),
        "conditions": [
            {
                "type": c.get("type"),
                "status": c.get("status"),
                "reason": c.get("reason"),
                "message": c.get("message"),
                "last_transition_time": c.get("lastTransitionTime"),
            }
            for c in status.get("conditions") or []
        ],
    }


@dataclass
class Target:
    """What is waited for: the instances of a group (matched by providerID) or any Node the selector picks.

    instances are dicts with instance_id and, for a group, lifecycle_state and zone.
    """

    expected: int
    instances: List[Dict[str, Any]] = field(default_factory=list)
    by_instance: bool = True
    description: str = ""

    @property
    def instance_ids(self) -> List[str]:
        return [i["instance_id"] for i in self.instances]

    def knows(self, instance_id: Optional[str]) -> bool:
        return any(instance["instance_id"] == instance_id for instance in self.instances)


def group_target(group: Dict[str, Any], expected: Optional[int] = None) -> Target:
    """The target for an Auto Scaling group (boto3 DescribeAutoScalingGroups shape)."""
    instances = [
        {"instance_id": i["InstanceId"], "lifecycle_state": i.get("LifecycleState"), "zone": i.get("AvailabilityZone")}
        for i in sorted(group.get("Instances") or [], key=lambda i: i["InstanceId"])
        if i.get("LifecycleState") not in LEAVING_STATES
    ]
    wanted = group.get("DesiredCapacity", len(instances)) if expected is None else expected
    return Target(expected=wanted, instances=instances, by_instance=True,
                  description=f"Auto Scaling group {group.get('AutoScalingGroupName')}")


def match_nodes(target: Target, nodes: Dict[str, Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """instance id -> Node for the target's instances, by spec.providerID."""
    wanted = set(target.instance_ids)
    matched = {}
    for node in nodes.values():
        instance_id = instance_id_of((node.get("spec") or {}).get("providerID"))
        if instance_id in wanted:
            matched[instance_id] = node
    return matched


@dataclass
class Readiness:
    """The state of the wait at one moment."""

    expected: int
    nodes: List[Dict[str, Any]]
    unregistered: List[Dict[str, Any]]

    @property
    def ready(self) -> List[Dict[str, Any]]:
        return [n for n in self.nodes if n["ready"]]

    @property
    def not_ready(self) -> List[Dict[str, Any]]:
        return [n for n in self.nodes if not n["ready"]]

    @property
    def ready_count(self) -> int:
        return len(self.ready)

    @property
    def done(self) -> bool:
        return self.ready_count >= self.expected

    def signature(self) -> str:
        """Changes whenever a line of progress would: counts, registrations, readiness."""
        nodes = ",".join(sorted(f"{n['name']}={'R' if n['ready'] else 'N'}" for n in self.nodes))
        waiting = ",".join(sorted(i["instance_id"] for i in self.unregistered))
        return f"{self.expected}|{nodes}|{waiting}"

    @property
    def noun(self) -> str:
        systems = {n.get("os") for n in self.nodes}
        return "nodes" if systems - {"windows"} else "Windows nodes"


def evaluate(target: Target, nodes: Dict[str, Dict[str, Any]]) -> Readiness:
    """Readiness of the target given the Nodes currently seen (name -> Node)."""
    if not target.by_instance:
        facts = [node_facts(nodes[name]) for name in sorted(nodes)]
        return Readiness(expected=target.expected, nodes=facts, unregistered=[])
    matched = match_nodes(target, nodes)
    facts = []
    unregistered = []
    for instance in target.instances:
        node = matched.get(instance["instance_id"])
        if node is None:
            unregistered.append(dict(instance))
        else:
            facts.append(node_facts(node))
    return Readiness(expected=target.expected, nodes=facts, unregistered=unregistered)


class Tracker:
    """The target's readiness kept up to date one Node event at a time, for the watch loop.

    evaluate() builds the facts of every Node, which made a watch quadratic: 1,000 Nodes turning Ready are
    1,000 events, each re-evaluating 1,000 Nodes. Here an event costs one Node: which instance (or, for a
    selector, which Node) it is and whether it is Ready. done and signature() answer what evaluate(target,
    nodes) would; state() is evaluate() itself, for the moments the loop returns or reports.
    """

    def __init__(self, target: Target, nodes: Dict[str, Dict[str, Any]]):
        self.target = target
        self.nodes = nodes
        self._wanted = set(target.instance_ids)
        self._names_of: Dict[str, List[str]] = {}  # instance id (or, for a selector, Node name) -> Node names
        self._ready: Dict[str, bool] = {}  # Node name -> Ready
        self._chosen: Dict[str, Tuple[str, bool]] = {}  # instance id (or Node name) -> (its Node's name, Ready)
        self._ready_keys: set = set()  # instance ids (or Node names) whose Node is Ready
        self._weight = Counter(target.instance_ids)  # evaluate() counts an instance listed twice twice
        self._ready_count = 0
        self._revision = 0
        self._signature: Optional[Tuple[int, str]] = None
        for name, node in nodes.items():
            self._index(name, node)
        for key in self._names_of:
            self._settle(key)

    def knows(self, instance_id: Optional[str]) -> bool:
        return instance_id in self._wanted

    @property
    def done(self) -> bool:
        return self._ready_count >= self.target.expected

    def state(self) -> Readiness:
        return evaluate(self.target, self.nodes)

    def signature(self) -> str:
        if self._signature is None or self._signature[0] != self._revision:
            self._signature = (self._revision, self.state().signature())
        return self._signature[1]

    def apply(self, kind: Optional[str], obj: Dict[str, Any]) -> None:
        """A watch event (ADDED, MODIFIED, DELETED) applied to nodes and to what is known of them."""
        name = (obj.get("metadata") or {}).get("name")
        if not name or kind not in ("ADDED", "MODIFIED", "DELETED"):
            return
        keys = set()
        old = self.nodes.get(name)
        if old is not None:
            keys.add(self._unindex(name, old))
        if kind == "DELETED":
            self.nodes.pop(name, None)
        else:
            self.nodes[name] = obj
            keys.add(self._index(name, obj))
        for key in keys - {None}:
            self._settle(key)

    def _key(self, node: Dict[str, Any]) -> Optional[str]:
        if not self.target.by_instance:
            return (node.get("metadata") or {}).get("name")
        instance_id = instance_id_of((node.get("spec") or {}).get("providerID"))
        return instance_id if instance_id in self._wanted else None

    def _index(self, name: str, node: Dict[str, Any]) -> Optional[str]:
        key = self._key(node)
        if key is not None:
            self._names_of.setdefault(key, []).append(name)
            self._ready[name] = is_ready(node)
        return key

    def _unindex(self, name: str, node: Dict[str, Any]) -> Optional[str]:
        key = self._key(node)
        if key is not None:
            names = self._names_of.get(key, [])
            if name in names:
                names.remove(name)
            if not names:
                self._names_of.pop(key, None)
            self._ready.pop(name, None)
        return key

    def _settle(self, key: str) -> None:
        """key's Node (the last of its Nodes in nodes' order, as match_nodes() takes it) and whether it is Ready."""
        names = self._names_of.get(key) or []
        if len(names) > 1:  # two Nodes of one instance: rare, worth a scan of the names
            names = [name for name in self.nodes if name in names]
        chosen = (names[-1], self._ready.get(names[-1], False)) if names else None
        if self._chosen.get(key) == chosen:
            return
        if chosen is None:
            self._chosen.pop(key, None)
        else:
            self._chosen[key] = chosen
        ready = chosen is not None and chosen[1]
        if ready and key not in self._ready_keys:
            self._ready_keys.add(key)
            self._ready_count += self._weight.get(key, 1)
        elif not ready and key in self._ready_keys:
            self._ready_keys.discard(key)
            self._ready_count -= self._weight.get(key, 1)
        self._revision += 1  # a line of progress changes: a Node came or went, or turned Ready or NotReady


def short_name(name: Optional[str]) -> str:
    """ip-10-0-1-4.ec2.internal -> ip-10-0-1-4."""
    return (name or "").split(".", 1)[0]


def _names(names: List[str]) -> str:
    shown = names[:NAMES_SHOWN]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def progress_line(state: Readiness) -> str:
    """'2/3 Windows nodes Ready (ready: ip-10-0-1-4, ip-10-0-2-9; NotReady: ip-10-0-3-1; not registered: i-0abc)'."""
    parts = []
    if state.ready:
        parts.append("ready: " + _names([short_name(n["name"]) for n in state.ready]))
    if state.not_ready:
        parts.append("NotReady: " + _names([short_name(n["name"]) for n in state.not_ready]))
    if state.unregistered:
        parts.append("not registered: " + _names([i["instance_id"] for i in state.unregistered]))
    detail = f" ({'; '.join(parts)})" if parts else ""
    return f"{state.ready_count}/{state.expected} {state.noun} Ready{detail}"


def format_duration(seconds: float) -> str:
    seconds = int(round(max(seconds, 0)))
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"
