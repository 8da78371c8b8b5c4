# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the drain and replace modules share: the cluster, the clients, and the step they run in.

The modules run in steps of at most progress_interval seconds under their action plugins (see
plugins/action/nodes_drain.py); a step gets the memo of the previous one and returns its own.
"""

import time
from typing import Any, Dict, List, Optional, Tuple

from ..eks.clusters import describe_cluster
from ..eks.transformations import cluster_facts
from ..kube.client import api_client, has_explicit_kube_auth
from ..readiness.aws import describe_group
from ..readiness.gather import Gatherer
from .drain import DEFAULT_TAINT, DrainOptions
from .kube import KubeDrainApi
from .targets import group_instance_ids, nodes_of_instances

STEP_KEYS = {"seconds", "final", "memo"}


class TargetError(Exception):
    pass


class Session:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.gatherer = Gatherer(module.client)
        raw = describe_cluster(self.gatherer.eks, self.params["cluster_name"])
        if raw is None:
            raise TargetError(f"cluster {self.params['cluster_name']} does not exist (cluster_name)")
        self.cluster = cluster_facts(raw)
        self.gatherer.cluster = self.cluster
        self.sts = None if has_explicit_kube_auth(self.params) else self.gatherer.client("sts")
        self.kube = KubeDrainApi(self.connect())

    def connect(self):
        """A Kubernetes ApiClient (a fresh EKS token each time when no kubeconfig is given)."""
        return api_client(self.params, self.cluster, self.sts)

    def group(self, name: str) -> Dict[str, Any]:
        group = describe_group(self.gatherer.autoscaling, name)
        if group is None:
            raise TargetError(f"Auto Scaling group {name} does not exist (autoscaling_group_name)")
        return group

    def node_names(self) -> Tuple[List[str], List[str]]:
        """(the Nodes the task names, the instances without a Node)."""
        if self.params.get("node_names"):
            return list(dict.fromkeys(self.params["node_names"])), []
        if self.params.get("autoscaling_group_name"):
            ids = group_instance_ids(self.group(self.params["autoscaling_group_name"]))
        else:
            ids = list(dict.fromkeys(self.params.get("instance_ids") or []))
        return nodes_of_instances(self.kube.nodes(), ids)


def drain_options(params: Dict[str, Any]) -> DrainOptions:
    return DrainOptions(taint=dict(DEFAULT_TAINT) if params.get("taint") else None, force=params["force"],
                        delete_emptydir_data=params["delete_emptydir_data"], max_grace_period=params.get("max_grace_period"),
                        eviction_timeout=float(params["eviction_timeout"]), parallel=params.get("parallel") or 1)


def step_of(params: Dict[str, Any]) -> Tuple[float, bool, Dict[str, Any]]:
    """(the deadline of this run, whether it is the last step, the memo of the previous step)."""
    step = params.get("_step") or {}
    unknown = sorted(set(step) - STEP_KEYS)
    if unknown:
        raise TargetError(f"_step has unknown keys: {', '.join(unknown)}")
    seconds = float(step["seconds"]) if "seconds" in step else float(params["wait_timeout"])
    return time.time() + max(seconds, 0.0), bool(step.get("final", True)), dict(step.get("memo") or {})


def validate_common(params: Dict[str, Any]) -> Optional[str]:
    for name in ("wait_timeout", "eviction_timeout", "max_grace_period"):
        if params.get(name) is not None and params[name] < 0:
            return f"{name} must be 0 or more, not {params[name]}"
    for name in ("progress_interval", "parallel", "batch_size"):
        if params.get(name) is not None and params[name] < 1:
            return f"{name} must be at least 1, not {params[name]}"
    return None
