# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Which pods of a node a drain evicts, which it leaves, and which stop it.

The rules are kubectl drain's (and kubernetes.core.k8s_drain's ``filter_pods``), on the API
server's JSON: mirror (static) pods cannot be evicted and are skipped; DaemonSet pods would come
back at once and are ignored; finished pods are evicted; pods without a controller and pods with
emptyDir data stop the drain unless ``force`` / ``delete_emptydir_data`` say otherwise.
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
FINISHED_PHASES = ("Succeeded", "Failed")
# kubelet's default when a pod does not set terminationGracePeriodSeconds.
DEFAULT_GRACE_SECONDS = 30

EVICT = "evict"
DAEMONSET = "daemonset"
MIRROR = "mirror"
UNMANAGED = "unmanaged"
LOCAL_STORAGE = "local_storage"


def pod_key(pod: Dict[str, Any]) -> str:
    metadata = pod.get("metadata") or {}
    return f"{metadata.get('namespace')}/{metadata.get('name')}"


def is_terminating(pod: Dict[str, Any]) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def controller_kind(pod: Dict[str, Any]) -> Optional[str]:
    owners = (pod.get("metadata") or {}).get("ownerReferences") or []
    controller = next((o for o in owners if o.get("controller")), owners[0] if owners else None)
    return (controller or {}).get("kind")


def category(pod: Dict[str, Any]) -> str:
    """EVICT, DAEMONSET, MIRROR, UNMANAGED or LOCAL_STORAGE (the last two stop a drain unless allowed)."""
    metadata = pod.get("metadata") or {}
    if MIRROR_ANNOTATION in (metadata.get("annotations") or {}):
        return MIRROR
    kind = controller_kind(pod)
    if kind == "DaemonSet":
        return DAEMONSET
    if (pod.get("status") or {}).get("phase") in FINISHED_PHASES:
        return EVICT
    if any("emptyDir" in volume for volume in (pod.get("spec") or {}).get("volumes") or []):
        return LOCAL_STORAGE
    if kind is None:
        return UNMANAGED
    return EVICT


def grace_seconds(pod: Dict[str, Any], max_grace_period: Optional[int]) -> Optional[int]:
    """The grace period to evict with: the pod's own, capped at max_grace_period (None: the pod's own, unchanged)."""
    if max_grace_period is None:
        return None
    own = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    own = DEFAULT_GRACE_SECONDS if own is None else int(own)
    return min(own, max_grace_period)


@dataclass
class NodePods:
    """The pods of one node sorted for a drain."""

    evict: List[Dict[str, Any]] = field(default_factory=list)
    ignored: List[Dict[str, Any]] = field(default_factory=list)
    refused: Dict[str, List[str]] = field(default_factory=dict)

    @property
    def evict_keys(self) -> List[str]:
        return [pod_key(p) for p in self.evict]


def sort_pods(pods: List[Dict[str, Any]], force: bool = False, delete_emptydir_data: bool = False) -> NodePods:
    result = NodePods()
    for pod in sorted(pods, key=pod_key):
        kind = category(pod)
        if kind in (DAEMONSET, MIRROR):
            result.ignored.append(pod)
        elif kind == EVICT or (kind == UNMANAGED and force) or (kind == LOCAL_STORAGE and delete_emptydir_data):
            result.evict.append(pod)
        else:
            result.refused.setdefault(kind, []).append(pod_key(pod))
    return result


def refusal_message(node: str, refused: Dict[str, List[str]]) -> str:
    """Why a node cannot be drained as asked, naming the option that allows it."""
    parts = []
    if refused.get(UNMANAGED):
        parts.append(f"pods not managed by a controller ({', '.join(refused[UNMANAGED])}) would be lost for good: "
                     "move them to a Deployment or StatefulSet, or set force=true to evict them anyway")
    if refused.get(LOCAL_STORAGE):
        parts.append(f"pods with emptyDir data ({', '.join(refused[LOCAL_STORAGE])}) would lose it: "
                     "set delete_emptydir_data=true to evict them anyway")
    return f"node {node} was not drained (nothing was changed on it): " + "; ".join(parts)
