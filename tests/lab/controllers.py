"""Lab controllers: the parts of a real EKS control plane the collection's outcome depends on.

* ``AddonManager``: the EKS add-on manager for ``vpc-cni``.  When the managed add-on exists, its
  ``configurationValues`` are rendered into ``kube-system/amazon-vpc-cni`` the way the aws-vpc-cni
  chart renders them, each time the add-on is created or updated: an update with ``resolveConflicts``
  OVERWRITE (or none given, or a creation) puts back keys edited by hand; PRESERVE and NONE keep them.
* ``WorkloadController``: a small deployment controller and scheduler for the lab's data plane.
  It keeps Pods for each Deployment on Ready nodes that match the pod's node selector, affinity and
  tolerations, marks them Running/Ready, and fills Deployment and DaemonSet status.  Windows pods
  only get an IP, and so only run, while Windows IPAM is enabled.  The ``kube-system/aws-node``
  DaemonSet (only it) gets one pod per matching node, replaced when its pod template changes (a
  rollout restart), each created through the pod identity webhook's mutation (``lab.pod_credentials``).

Both are plain API clients (boto3 against the lab's AWS endpoint, the official Kubernetes client with
the admin token), like the node simulator.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping, Optional

import yaml
from botocore.exceptions import ClientError
from kubernetes import client as kclient
from kubernetes.client.rest import ApiException

from lab.kubeapi.eviction import pdb_selects
from lab.pod_credentials import ROLE_ARN_ANNOTATION, association_effective, webhook_env
from lab.nodesim import (LAB_USER_AGENT, MERGE_PATCH, Activity, Knobs, aws_client, decoded, poll_until_stopped, read_config_map, ready_condition, utc_now,
                         windows_ipam_enabled)

LOG = logging.getLogger("lab.controllers")

# The aws-vpc-cni chart (v1.16-v1.23) renders these keys into amazon-vpc-cni from these values.
VPC_CNI_DEFAULTS = {
    "enable-windows-ipam": "false",
    "enable-network-policy-controller": "false",
    "enable-windows-prefix-delegation": "false",
    "warm-prefix-target": "0",
    "warm-ip-target": "1",
    "minimum-ip-target": "3",
    "branch-eni-cooldown": "60",
}
VPC_CNI_VALUE_KEYS = {
    "enableWindowsIpam": "enable-windows-ipam",
    "enableNetworkPolicy": "enable-network-policy-controller",
    "enableWindowsPrefixDelegation": "enable-windows-prefix-delegation",
    "warmWindowsPrefixTarget": "warm-prefix-target",
    "warmWindowsIPTarget": "warm-ip-target",
    "minimumWindowsIPTarget": "minimum-ip-target",
    "branchENICooldown": "branch-eni-cooldown",
}
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"   # what Kubernetes uses for generated name suffixes
AWS_NODE = ("kube-system", "aws-node")
IPAM_POD_MESSAGE = ('Failed to create pod sandbox: Windows IPAM is disabled (kube-system/amazon-vpc-cni enable-windows-ipam is not "true"), '
                    "so the VPC resource controller assigns the pod no IPv4 address")


def vpc_cni_config_map(values: Optional[Mapping[str, Any]] = None) -> dict:
    """The ``amazon-vpc-cni`` data the chart renders for the given add-on configuration values."""
    data = dict(VPC_CNI_DEFAULTS)
    for value_key, data_key in VPC_CNI_VALUE_KEYS.items():
        if values and value_key in values:
            value = values[value_key]
            data[data_key] = str(value).lower() if isinstance(value, bool) else str(value)
    return data


def parse_configuration_values(text: Optional[str]) -> dict:
    """Add-on configurationValues are JSON or YAML; an unparsable string counts as empty."""
    if not text:
        return {}
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError:
        LOG.warning("vpc-cni configurationValues are neither JSON nor YAML; ignored")
        return {}
    return values if isinstance(values, dict) else {}


def generated_suffix(seed: str, length: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(NAME_ALPHABET[b % len(NAME_ALPHABET)] for b in digest[:length])


def template_hash(template: Mapping[str, Any]) -> str:
    return generated_suffix(yaml.safe_dump(dict(template), sort_keys=True), 10)


# --------------------------------------------------------------------------- scheduling predicates


def _expression_matches(labels: Mapping[str, str], expression: Mapping[str, Any]) -> bool:
    key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
    if operator == "In":
        return labels.get(key) in values
    if operator == "NotIn":
        return labels.get(key) not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    return False


def node_matches(pod_spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """nodeSelector, required node affinity and NoSchedule/NoExecute taints."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    if any(labels.get(k) != v for k, v in (pod_spec.get("nodeSelector") or {}).items()):
        return False
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms") or []
    if terms and not any(all(_expression_matches(labels, e) for e in term.get("matchExpressions") or []) for term in terms):
        return False
    return all(_tolerated(taint, pod_spec.get("tolerations") or []) for taint in (node.get("spec") or {}).get("taints") or []
               if taint.get("effect") in ("NoSchedule", "NoExecute"))


def untolerated_no_execute(pod_spec: Mapping[str, Any], node: Mapping[str, Any]) -> Optional[dict]:
    """A NoExecute taint of the node that the pod does not tolerate: the taint manager evicts such pods."""
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") == "NoExecute" and not _tolerated(taint, pod_spec.get("tolerations") or []):
            return dict(taint)
    return None


def _tolerated(taint: Mapping[str, Any], tolerations: Iterable[Mapping[str, Any]]) -> bool:
    for toleration in tolerations:
        if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
            continue
        if toleration.get("operator") == "Exists" and (not toleration.get("key") or toleration.get("key") == taint.get("key")):
            return True
        if toleration.get("key") == taint.get("key") and toleration.get("value", "") == taint.get("value", ""):
            return True
    return False


def node_ready(node: Mapping[str, Any]) -> bool:
    return ready_condition(node).get("status") == "True"


def node_schedulable(node: Mapping[str, Any]) -> bool:
    """Ready and not cordoned. A cordon keeps new pods away; the pods already there stay Ready (node_ready)."""
    return node_ready(node) and not node_cordoned(node)


def node_cordoned(node: Mapping[str, Any]) -> bool:
    return bool((node.get("spec") or {}).get("unschedulable"))


def unschedulable_message(total: int, matching: list) -> str:
    """The scheduler's FailedScheduling message; the lab appends why the matching nodes are not ready."""
    parts = []
    cordoned = [n for n in matching if node_cordoned(n)]
    not_ready = [n for n in matching if not node_cordoned(n)]
    if cordoned:
        parts.append(f"{len(cordoned)} node(s) were unschedulable")
    if not_ready:
        reasons = sorted({ready_condition(n).get("message") or "unknown" for n in not_ready})
        parts.append(f"{len(not_ready)} node(s) had untolerated taint {{node.kubernetes.io/not-ready: }} (not ready: {'; '.join(reasons)})")
    if total - len(matching):
        parts.append(f"{total - len(matching)} node(s) didn't match Pod's node affinity/selector")
    return f"0/{total} nodes are available: {', '.join(parts) or 'no nodes registered'}."


def node_ip(node: Mapping[str, Any]) -> str:
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") == "InternalIP":
            return address.get("address", "")
    return ""


# --------------------------------------------------------------------------- pod status


def _pod_conditions(scheduled: bool, ready: bool, scheduling_message: str = "", ready_reason: str = "ContainersNotReady") -> list:
    now = utc_now()
    if not scheduled:
        return [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": scheduling_message, "lastTransitionTime": now}]
    state = "True" if ready else "False"
    conditions = [{"type": "PodReadyToStartContainers", "status": state, "lastTransitionTime": now},
                  {"type": "Initialized", "status": "True", "lastTransitionTime": now},
                  {"type": "Ready", "status": state, "lastTransitionTime": now},
                  {"type": "ContainersReady", "status": state, "lastTransitionTime": now},
                  {"type": "PodScheduled", "status": "True", "lastTransitionTime": now}]
    if not ready:
        for cond in conditions[2:4]:
            cond["reason"] = ready_reason
    return conditions


def pod_status(pod: Mapping[str, Any], node: Optional[Mapping[str, Any]], ipam_enabled: bool, scheduling_message: str = "") -> dict:
    """The status kubelet (or the scheduler) would report for the pod on that node."""
    containers = (pod.get("spec") or {}).get("containers") or []
    if node is None:
        return {"phase": "Pending", "conditions": _pod_conditions(False, False, scheduling_message), "qosClass": "BestEffort"}
    windows = ((node.get("metadata") or {}).get("labels") or {}).get("kubernetes.io/os") == "windows"
    host_ip = node_ip(node)
    status: dict = {"hostIP": host_ip, "hostIPs": [{"ip": host_ip}], "qosClass": "BestEffort",
                    "startTime": (pod.get("status") or {}).get("startTime") or utc_now()}
    if windows and not ipam_enabled and (pod.get("status") or {}).get("phase") != "Running":
        waiting = {"waiting": {"reason": "ContainerCreating", "message": IPAM_POD_MESSAGE}}
        status.update(phase="Pending", conditions=_pod_conditions(True, False), podIPs=[],
                      containerStatuses=[{"name": c.get("name"), "image": c.get("image"), "imageID": "", "ready": False, "started": False,
                                          "restartCount": 0, "state": waiting} for c in containers])
        return status
    ready = node_ready(node)
    pod_ip = (pod.get("status") or {}).get("podIP") or _pod_ip(host_ip, pod["metadata"]["name"])
    running = {"running": {"startedAt": status["startTime"]}}
    status.update(phase="Running", conditions=_pod_conditions(True, ready, ready_reason="NodeNotReady"), podIP=pod_ip, podIPs=[{"ip": pod_ip}],
                  containerStatuses=[{"name": c.get("name"), "image": c.get("image"), "imageID": f"{c.get('image')}@sha256:{'0' * 64}",
                                      "containerID": f"containerd://{generated_suffix(pod['metadata']['name'] + str(c.get('name')), 32)}",
                                      "ready": ready, "started": True, "restartCount": 0, "state": running} for c in containers])
    return status


def _pod_ip(host_ip: str, pod_name: str) -> str:
    prefix = host_ip.rsplit(".", 1)[0] if host_ip.count(".") == 3 else "10.0.0"
    return f"{prefix}.{int(hashlib.sha256(pod_name.encode()).hexdigest(), 16) % 200 + 20}"


def status_summary(status: Mapping[str, Any]) -> tuple:
    """The parts of a pod status worth a write when they change."""
    conditions = {c.get("type"): (c.get("status"), c.get("reason")) for c in status.get("conditions") or []}
    waiting = [(c.get("state") or {}).get("waiting", {}).get("reason") for c in status.get("containerStatuses") or []]
    return status.get("phase"), tuple(sorted(conditions.items())), tuple(waiting), status.get("hostIP"), status.get("podIP")


# --------------------------------------------------------------------------- the add-on manager


class AddonManager:
    """Renders the managed vpc-cni add-on's configuration into ``kube-system/amazon-vpc-cni``."""

    def __init__(self, *, aws_url: str, region: str, cluster_name: str, core: kclient.CoreV1Api) -> None:
        self.cluster_name = cluster_name
        self.eks = aws_client("eks", aws_url, region, LAB_USER_AGENT)
        self.core = core
        self._applied: Optional[tuple] = None
        self._rendered: Optional[dict] = None   # what the add-on last rendered: a key that differs from it was changed by hand

    def reconcile(self) -> None:
        try:
            names = self.eks.list_addons(clusterName=self.cluster_name).get("addons", [])
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return
            raise
        if "vpc-cni" not in names:
            self._applied = self._rendered = None
            return
        addon = self.eks.describe_addon(clusterName=self.cluster_name, addonName="vpc-cni")["addon"]
        if addon.get("status") == "DELETING":
            return
        fingerprint = (addon.get("addonVersion"), addon.get("configurationValues") or "", str(addon.get("modifiedAt")),
                       addon.get("serviceAccountRoleArn") or "")
        if fingerprint == self._applied:
            return
        self._apply_service_account_role(addon.get("serviceAccountRoleArn"))
        rendered = vpc_cni_config_map(parse_configuration_values(addon.get("configurationValues")))
        self._apply(rendered, keep_hand_changes=self._last_resolve_conflicts(addon) in ("PRESERVE", "NONE"))
        self._rendered = rendered
        self._applied = fingerprint

    def _apply_service_account_role(self, role_arn: Optional[str]) -> None:
        """EKS applies the add-on's ServiceAccount with ``serviceAccountRoleArn`` as its role annotation (none without it), so a
        hand-set annotation does not survive an add-on creation or update."""
        try:
            account = decoded(self.core.read_namespaced_service_account("aws-node", "kube-system", _preload_content=False))
        except ApiException as err:
            if err.status != 404:
                raise
            body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "aws-node", "namespace": "kube-system"}}
            account = decoded(self.core.create_namespaced_service_account("kube-system", body, _preload_content=False))
        current = ((account.get("metadata") or {}).get("annotations") or {}).get(ROLE_ARN_ANNOTATION)
        if current == (role_arn or None):
            return
        patch = {"metadata": {"annotations": {ROLE_ARN_ANNOTATION: role_arn or None}}}
        self.core.patch_namespaced_service_account("aws-node", "kube-system", patch, _preload_content=False, _content_type=MERGE_PATCH)
        LOG.info("vpc-cni add-on: kube-system/aws-node %s=%s", ROLE_ARN_ANNOTATION, role_arn or "(none)")

    def _last_resolve_conflicts(self, addon: Mapping[str, Any]) -> Optional[str]:
        """The resolveConflicts of the add-on's latest update (None for a creation, or an update without it)."""
        ids = self.eks.list_updates(name=self.cluster_name, addonName="vpc-cni", maxResults=100).get("updateIds", [])
        updates = [self.eks.describe_update(name=self.cluster_name, updateId=update_id, addonName="vpc-cni")["update"] for update_id in ids]
        created = addon.get("createdAt")
        updates = [update for update in updates if created is None or update.get("createdAt") is None or update["createdAt"] >= created]
        if not updates:
            return None
        latest = max(enumerate(updates), key=lambda item: (item[1].get("createdAt") or 0, item[0]))[1]
        return next((param.get("value") for param in latest.get("params") or [] if param.get("type") == "ResolveConflicts"), None)

    def _apply(self, data: Mapping[str, str], keep_hand_changes: bool = False) -> None:
        """OVERWRITE puts every rendered key back; PRESERVE (and NONE, whose failure on a conflict is not modelled) keeps
        the keys changed by hand since the add-on last rendered them, as EKS keeps fields changed outside the add-on."""
        current = read_config_map(self.core, "kube-system", "amazon-vpc-cni")
        if current is not None and keep_hand_changes:
            baseline, existing = self._rendered or VPC_CNI_DEFAULTS, current.get("data") or {}
            data = {key: existing[key] if key in existing and existing[key] != baseline.get(key) else value for key, value in data.items()}
        if current is None:
            body = {"apiVersion": "v1", "kind": "ConfigMap", "data": dict(data),
                    "metadata": {"name": "amazon-vpc-cni", "namespace": "kube-system", "labels": {"app.kubernetes.io/name": "aws-node"}}}
            self.core.create_namespaced_config_map("kube-system", body, _preload_content=False)
        elif any((current.get("data") or {}).get(k) != v for k, v in data.items()):
            self.core.patch_namespaced_config_map("amazon-vpc-cni", "kube-system", {"data": dict(data)},
                                                  _preload_content=False, _content_type=MERGE_PATCH)
        LOG.info("vpc-cni add-on configuration rendered into kube-system/amazon-vpc-cni: %s", dict(data))


# --------------------------------------------------------------------------- workloads


class WorkloadController:
    """Deployment controller, scheduler, kubelet pod status and DaemonSet status, all in one pass."""

    def __init__(self, core: kclient.CoreV1Api, apps: kclient.AppsV1Api, knobs: Optional[Knobs] = None, region: str = "us-east-1",
                 associated: Optional[Callable[[str, str], bool]] = None) -> None:
        self.core = core
        self.apps = apps
        self.region = region
        # Whether an EKS Pod Identity association exists for (namespace, service account): EKS's answer, asked at pod creation.
        self.associated = associated or (lambda namespace, service_account: False)
        self.knobs = knobs or Knobs()
        self._binding_supported = True
        self._terminating_since: dict[str, float] = {}   # pod uid -> when the kubelet saw its deletion

    def reconcile(self) -> None:
        nodes = decoded(self.core.list_node(_preload_content=False)).get("items", [])
        pods = decoded(self.core.list_pod_for_all_namespaces(_preload_content=False)).get("items", [])
        ipam = windows_ipam_enabled(read_config_map(self.core, "kube-system", "amazon-vpc-cni"))
        deployments = decoded(self.apps.list_deployment_for_all_namespaces(_preload_content=False)).get("items", [])
        live_uids = {d["metadata"]["uid"] for d in deployments}
        nodes_by_name = {n["metadata"]["name"]: n for n in nodes}
        pods = self._collect_garbage(pods, live_uids, nodes_by_name)
        pods = self._finish_terminating(pods)
        pods = self._evict_for_no_execute(pods, nodes_by_name)
        for deployment in deployments:
            self._reconcile_deployment(deployment, pods, nodes_by_name, ipam)
        for daemonset in decoded(self.apps.list_daemon_set_for_all_namespaces(_preload_content=False)).get("items", []):
            if (daemonset["metadata"]["namespace"], daemonset["metadata"]["name"]) == AWS_NODE:
                self._reconcile_daemon_pods(daemonset, pods, nodes_by_name, ipam)
            self._reconcile_daemonset(daemonset, nodes)

    # garbage collection ------------------------------------------------------------------------------
    def _collect_garbage(self, pods: list, live_uids: set, nodes: Mapping[str, Any]) -> list:
        """Delete pods whose owning Deployment is gone, or whose node is gone (pod GC)."""
        kept = []
        for pod in pods:
            owner = _deployment_owner(pod)
            node_name = (pod.get("spec") or {}).get("nodeName")
            orphan = owner is not None and owner.get("uid") not in live_uids
            if orphan or (owner is not None and node_name and node_name not in nodes):
                self._delete_pod(pod)
            else:
                kept.append(pod)
        return kept

    def _delete_pod(self, pod: Mapping[str, Any], grace_seconds: Optional[int] = 0) -> None:
        """Controllers' deletions are immediate (grace 0) unless a grace period is given (None: the pod's own)."""
        meta = pod["metadata"]
        body = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if grace_seconds is not None:
            body["gracePeriodSeconds"] = grace_seconds
        try:
            self.core.delete_namespaced_pod(meta["name"], meta["namespace"], body=body, _preload_content=False)
        except ApiException as err:
            if err.status != 404:
                raise

    # kubelet: terminating pods -------------------------------------------------------------------------
    def _finish_terminating(self, pods: list) -> list:
        """The kubelet stops a deleted pod's containers and removes it: after its grace period, or after the
        ``termination_seconds`` knob when that is shorter (containers usually stop well before the deadline)."""
        now = time.monotonic()
        terminating = {p["metadata"]["uid"]: p for p in pods if p["metadata"].get("deletionTimestamp")}
        for uid in [uid for uid in self._terminating_since if uid not in terminating]:
            del self._terminating_since[uid]
        for uid, pod in terminating.items():
            since = self._terminating_since.setdefault(uid, now)
            grace = pod["metadata"].get("deletionGracePeriodSeconds") or 0
            if now - since >= min(float(grace), self.knobs.termination_seconds):
                self._delete_pod(pod, 0)
                LOG.info("pod %s/%s stopped and removed by its kubelet", pod["metadata"]["namespace"], pod["metadata"]["name"])
        return [p for p in pods if p["metadata"]["uid"] not in terminating]

    def _evict_for_no_execute(self, pods: list, nodes: Mapping[str, Any]) -> list:
        """The taint manager: pods on a node with a NoExecute taint they do not tolerate are deleted (no budget applies)."""
        kept = []
        for pod in pods:
            node = nodes.get((pod.get("spec") or {}).get("nodeName") or "")
            taint = untolerated_no_execute(pod.get("spec") or {}, node) if node else None
            if taint is None:
                kept.append(pod)
                continue
            LOG.info("pod %s/%s deleted: node %s has taint %s:NoExecute", pod["metadata"]["namespace"], pod["metadata"]["name"],
                     node["metadata"]["name"], taint.get("key"))
            self._delete_pod(pod, None)
        return kept

    # deployments ---------------------------------------------------------------------------------------
    def _reconcile_deployment(self, deployment: Mapping[str, Any], pods: list, nodes: Mapping[str, Any], ipam: bool) -> None:
        meta, spec = deployment["metadata"], deployment.get("spec") or {}
        template = spec.get("template") or {}
        current_hash = template_hash(template)
        owned = [p for p in pods if (_deployment_owner(p) or {}).get("uid") == meta["uid"]]
        stale = [p for p in owned if ((p["metadata"].get("labels") or {}).get("pod-template-hash")) != current_hash]
        for pod in stale:
            self._delete_pod(pod)
        current = [p for p in owned if p not in stale]
        desired = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        current.sort(key=lambda p: (bool((p.get("spec") or {}).get("nodeName")), p["metadata"].get("creationTimestamp", "")), reverse=True)
        for pod in current[desired:]:
            self._delete_pod(pod)
        current = current[:desired]
        while len(current) < desired:
            current.append(self._create_pod(deployment, template, current_hash, pods, nodes, ipam))
        for pod in current:
            self._sync_pod(pod, pods, nodes, ipam)
        self._write_deployment_status(deployment, current, desired)

    def _create_pod(self, deployment: Mapping[str, Any], template: Mapping[str, Any], hash_: str, pods: list,
                    nodes: Mapping[str, Any], ipam: bool) -> dict:
        meta = deployment["metadata"]
        name = f"{meta['name']}-{hash_}-{''.join(random.choices(NAME_ALPHABET, k=5))}"
        template_meta = template.get("metadata") or {}
        pod_spec = self._with_webhook_env(meta["namespace"], dict(template.get("spec") or {}))
        node, message = self._schedule(pod_spec, pods, nodes)
        if node is not None:
            pod_spec["nodeName"] = node["metadata"]["name"]
        body = {"apiVersion": "v1", "kind": "Pod", "spec": pod_spec,
                "metadata": {"name": name, "namespace": meta["namespace"],
                             "labels": {**(template_meta.get("labels") or {}), "pod-template-hash": hash_},
                             "annotations": dict(template_meta.get("annotations") or {}),
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": meta["name"], "uid": meta["uid"],
                                                  "controller": True, "blockOwnerDeletion": True}]}}
        pod = decoded(self.core.create_namespaced_pod(meta["namespace"], body, _preload_content=False))
        pods.append(pod)
        LOG.info("pod %s/%s created on %s", meta["namespace"], name, pod_spec.get("nodeName") or f"no node: {message}")
        return pod

    def _schedule(self, pod_spec: Mapping[str, Any], pods: list, nodes: Mapping[str, Any]) -> tuple:
        """(node, message): the least-loaded Ready node that fits, or None and the scheduler's message."""
        matching = [n for n in nodes.values() if node_matches(pod_spec, n)]
        fitting = [n for n in matching if node_schedulable(n)]
        if not fitting:
            return None, unschedulable_message(len(nodes), matching)
        load = {name: 0 for name in nodes}
        for pod in pods:
            node_name = (pod.get("spec") or {}).get("nodeName")
            if node_name in load:
                load[node_name] += 1
        return min(fitting, key=lambda n: (load[n["metadata"]["name"]], n["metadata"]["name"])), ""

    def _bind(self, pod: dict, node_name: str) -> None:
        meta = pod["metadata"]
        if self._binding_supported:
            binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": meta["name"]}, "target": {"kind": "Node", "name": node_name}}
            try:
                self.core.create_namespaced_pod_binding(meta["name"], meta["namespace"], binding, _preload_content=False)
                pod.setdefault("spec", {})["nodeName"] = node_name
                return
            except ApiException as err:
                if err.status not in (404, 405):
                    raise
                self._binding_supported = False
        self.core.patch_namespaced_pod(meta["name"], meta["namespace"], {"spec": {"nodeName": node_name}},
                                       _preload_content=False, _content_type=MERGE_PATCH)
        pod.setdefault("spec", {})["nodeName"] = node_name

    def _sync_pod(self, pod: dict, pods: list, nodes: Mapping[str, Any], ipam: bool) -> None:
        spec = pod.get("spec") or {}
        node = nodes.get(spec.get("nodeName") or "")
        message = ""
        if node is None:
            node, message = self._schedule(spec, pods, nodes)
            if node is not None:
                self._bind(pod, node["metadata"]["name"])
        wanted = pod_status(pod, node, ipam, message)
        if status_summary(wanted) == status_summary(pod.get("status") or {}):
            return
        meta = pod["metadata"]
        try:
            updated = decoded(self.core.patch_namespaced_pod_status(meta["name"], meta["namespace"], {"status": wanted},
                                                                    _preload_content=False, _content_type=MERGE_PATCH))
        except ApiException as err:
            if err.status == 404:
                return
            raise
        pod["status"] = updated.get("status") or wanted

    def _write_deployment_status(self, deployment: Mapping[str, Any], pods: list, desired: int) -> None:
        ready = sum(1 for p in pods if _pod_ready(p))
        status = deployment.get("status") or {}
        now = utc_now()
        available = ready >= desired
        wanted = {
            "observedGeneration": deployment["metadata"].get("generation", 1),
            "replicas": len(pods), "updatedReplicas": len(pods), "readyReplicas": ready, "availableReplicas": ready,
            "unavailableReplicas": max(desired - ready, 0),
            "conditions": [
                {"type": "Available", "status": "True" if available else "False",
                 "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                 "message": "Deployment has minimum availability." if available else "Deployment does not have minimum availability.",
                 "lastUpdateTime": now, "lastTransitionTime": now},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable" if available else "ReplicaSetUpdated",
                 "message": f"Deployment \"{deployment['metadata']['name']}\" has {'successfully progressed' if available else 'is progressing'}.",
                 "lastUpdateTime": now, "lastTransitionTime": now},
            ],
        }
        if _same_status(status, wanted):
            return
        meta = deployment["metadata"]
        try:
            self.apps.patch_namespaced_deployment_status(meta["name"], meta["namespace"], {"status": wanted},
                                                         _preload_content=False, _content_type=MERGE_PATCH)
        except ApiException as err:
            if err.status != 404:
                raise

    # daemonsets ----------------------------------------------------------------------------------------
    def _reconcile_daemon_pods(self, daemonset: Mapping[str, Any], pods: list, nodes: Mapping[str, Any], ipam: bool) -> None:
        """One pod per matching node; a pod of an older template (a rollout restart) or on a node that no longer fits is
        replaced at once (the lab's rolling update has no maxUnavailable pacing)."""
        meta, template = daemonset["metadata"], (daemonset.get("spec") or {}).get("template") or {}
        current_hash = template_hash(template)
        owned = [p for p in pods if (_controller_owner(p) or {}).get("uid") == meta["uid"] and not p["metadata"].get("deletionTimestamp")]
        wanted_nodes = {name for name, node in nodes.items() if node_matches(template.get("spec") or {}, node)}
        kept: dict = {}
        for pod in owned:
            node_name = (pod.get("spec") or {}).get("nodeName")
            stale = (pod["metadata"].get("labels") or {}).get("controller-revision-hash") != current_hash
            if stale or node_name not in wanted_nodes or node_name in kept:
                self._delete_pod(pod)
                LOG.info("daemon pod %s/%s deleted (%s)", meta["namespace"], pod["metadata"]["name"], "old template" if stale else "node")
            else:
                kept[node_name] = pod
        for node_name in sorted(wanted_nodes - set(kept)):
            kept[node_name] = self._create_daemon_pod(daemonset, template, current_hash, node_name)
        for pod in kept.values():
            self._sync_pod(pod, pods, nodes, ipam)

    def _create_daemon_pod(self, daemonset: Mapping[str, Any], template: Mapping[str, Any], hash_: str, node_name: str) -> dict:
        meta = daemonset["metadata"]
        template_meta = template.get("metadata") or {}
        pod_spec = self._with_webhook_env(meta["namespace"], dict(template.get("spec") or {}, nodeName=node_name))
        body = {"apiVersion": "v1", "kind": "Pod", "spec": pod_spec,
                "metadata": {"name": f"{meta['name']}-{''.join(random.choices(NAME_ALPHABET, k=5))}", "namespace": meta["namespace"],
                             "labels": {**(template_meta.get("labels") or {}), "controller-revision-hash": hash_},
                             "annotations": dict(template_meta.get("annotations") or {}),
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": meta["name"], "uid": meta["uid"],
                                                  "controller": True, "blockOwnerDeletion": True}]}}
        pod = decoded(self.core.create_namespaced_pod(meta["namespace"], body, _preload_content=False))
        LOG.info("daemon pod %s/%s created on %s", meta["namespace"], pod["metadata"]["name"], node_name)
        return pod

    def _with_webhook_env(self, namespace: str, pod_spec: dict) -> dict:
        """The pod spec as the EKS pod identity webhook (a mutating admission webhook on every new pod) leaves it."""
        account = pod_spec.get("serviceAccountName") or "default"
        env = webhook_env(self._service_account(namespace, account), self.region, associated=self.associated(namespace, account))
        if env:
            pod_spec["containers"] = [dict(c, env=[*(c.get("env") or []), *env]) for c in pod_spec.get("containers") or []]
        return pod_spec

    def _service_account(self, namespace: str, name: str) -> Optional[dict]:
        try:
            return decoded(self.core.read_namespaced_service_account(name, namespace, _preload_content=False))
        except ApiException as err:
            if err.status != 404:
                raise
            return None

    def _reconcile_daemonset(self, daemonset: Mapping[str, Any], nodes: list) -> None:
        pod_spec = ((daemonset.get("spec") or {}).get("template") or {}).get("spec") or {}
        matching = [n for n in nodes if node_matches(pod_spec, n)]
        ready = sum(1 for n in matching if ready_condition(n).get("status") == "True")  # daemon pods tolerate cordons
        wanted = {"observedGeneration": daemonset["metadata"].get("generation", 1), "desiredNumberScheduled": len(matching),
                  "currentNumberScheduled": len(matching), "updatedNumberScheduled": len(matching), "numberMisscheduled": 0,
                  "numberReady": ready, "numberAvailable": ready, "numberUnavailable": len(matching) - ready}
        if _same_status(daemonset.get("status") or {}, wanted):
            return
        meta = daemonset["metadata"]
        try:
            self.apps.patch_namespaced_daemon_set_status(meta["name"], meta["namespace"], {"status": wanted},
                                                         _preload_content=False, _content_type=MERGE_PATCH)
        except ApiException as err:
            if err.status != 404:
                raise


def _controller_owner(pod: Mapping[str, Any]) -> Optional[dict]:
    return next((ref for ref in (pod.get("metadata") or {}).get("ownerReferences") or [] if ref.get("controller")), None)


def _deployment_owner(pod: Mapping[str, Any]) -> Optional[dict]:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("kind") == "Deployment" and ref.get("controller"):
            return ref
    return None


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in (pod.get("status") or {}).get("conditions") or [])


def _same_status(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    for key, value in wanted.items():
        if key == "conditions":
            have = {c.get("type"): (c.get("status"), c.get("reason")) for c in current.get("conditions") or []}
            if have != {c["type"]: (c["status"], c["reason"]) for c in value}:
                return False
        elif current.get(key) != value:
            return False
    return True


# --------------------------------------------------------------------------- disruption budgets

DISRUPTED_POD_TIMEOUT_SECONDS = 120  # an eviction the controller never saw carried out stops counting after this


def _scaled(value: Any, total: int) -> int:
    """intstr.GetScaledValueFromIntOrPercent with rounding up, as the disruption controller uses it."""
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(int(value[:-1]) * total / 100)
    return int(value)


def _parse_time(text: str) -> float:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    except (TypeError, ValueError):
        return 0.0


def budget_status(pdb: Mapping[str, Any], pods: list, deployments: Mapping[str, Any], now: float) -> dict:
    """What the disruption controller writes: expectedPods, desiredHealthy, currentHealthy, disruptionsAllowed, disruptedPods."""
    namespace = pdb["metadata"]["namespace"]
    spec, status = pdb.get("spec") or {}, pdb.get("status") or {}
    selected = [p for p in pods if p["metadata"].get("namespace") == namespace and pdb_selects(dict(pdb), p)]
    by_name = {p["metadata"]["name"]: p for p in selected}
    disrupted = {name: when for name, when in (status.get("disruptedPods") or {}).items()
                 if name in by_name and not by_name[name]["metadata"].get("deletionTimestamp")
                 and now - _parse_time(when) < DISRUPTED_POD_TIMEOUT_SECONDS}
    min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
    if isinstance(min_available, int):
        expected, desired = len(selected), min_available
    else:
        # Percentages and maxUnavailable count from the owning controllers' scale; a pod without one counts once.
        owners = {(_deployment_owner(p) or {}).get("uid") or p["metadata"]["uid"] for p in selected}
        expected = sum(int(((deployments.get(uid) or {}).get("spec") or {}).get("replicas", 1) or 0) if uid in deployments else 1 for uid in owners)
        if max_unavailable is not None:
            desired = max(expected - _scaled(max_unavailable, expected), 0)
        else:
            desired = _scaled(min_available, expected) if min_available is not None else 0
    healthy = sum(1 for p in selected if not p["metadata"].get("deletionTimestamp") and p["metadata"]["name"] not in disrupted and _pod_ready(p))
    allowed = healthy - desired if expected > 0 else 0
    allowed = max(allowed, 0)
    condition = {"type": "DisruptionAllowed", "status": "True" if allowed > 0 else "False",
                 "reason": "SufficientPods" if allowed > 0 else "InsufficientPods", "message": "",
                 "observedGeneration": pdb["metadata"].get("generation", 1)}
    previous = next((c for c in status.get("conditions") or [] if c.get("type") == "DisruptionAllowed"), None)
    same = previous and (previous.get("status"), previous.get("reason")) == (condition["status"], condition["reason"])
    condition["lastTransitionTime"] = previous.get("lastTransitionTime") if same and previous else utc_now()
    result = {"observedGeneration": pdb["metadata"].get("generation", 1), "disruptionsAllowed": allowed, "currentHealthy": healthy,
              "desiredHealthy": desired, "expectedPods": expected, "conditions": [condition]}
    if disrupted:
        result["disruptedPods"] = disrupted
    return result


class DisruptionController:
    """Keeps each PodDisruptionBudget's status current, as kube-controller-manager's disruption controller does.

    Status is written with the resourceVersion it was computed from, so an eviction that took a disruption
    meanwhile makes the write conflict instead of being overwritten."""

    def __init__(self, policy: kclient.PolicyV1Api, core: kclient.CoreV1Api, apps: kclient.AppsV1Api) -> None:
        self.policy = policy
        self.core = core
        self.apps = apps

    def reconcile(self) -> None:
        pdbs = decoded(self.policy.list_pod_disruption_budget_for_all_namespaces(_preload_content=False)).get("items", [])
        if not pdbs:
            return
        pods = decoded(self.core.list_pod_for_all_namespaces(_preload_content=False)).get("items", [])
        deployments = {d["metadata"]["uid"]: d for d in decoded(self.apps.list_deployment_for_all_namespaces(_preload_content=False)).get("items", [])}
        now = time.time()
        for pdb in pdbs:
            wanted = budget_status(pdb, pods, deployments, now)
            if _same_budget_status(pdb.get("status") or {}, wanted):
                continue
            body = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": pdb["metadata"], "spec": pdb.get("spec"), "status": wanted}
            meta = pdb["metadata"]
            try:
                self.policy.replace_namespaced_pod_disruption_budget_status(meta["name"], meta["namespace"], body, _preload_content=False)
            except ApiException as err:
                if err.status not in (404, 409):  # gone, or changed since read (an eviction): next pass
                    raise


def _same_budget_status(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    keys = ("observedGeneration", "disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods")
    if any(current.get(k) != wanted.get(k) for k in keys) or (current.get("disruptedPods") or {}) != (wanted.get("disruptedPods") or {}):
        return False
    return _same_status({"conditions": current.get("conditions") or []}, {"conditions": wanted["conditions"]})


# --------------------------------------------------------------------------- the controllers thread


class LabControllers:
    """Runs the add-on manager and the workload controller in one thread."""

    def __init__(self, *, aws_url: str, region: str, cluster_name: str, kube_client_factory: Callable[[], kclient.ApiClient],
                 knobs: Optional[Knobs] = None, activity: Optional[Activity] = None) -> None:
        self.aws_url = aws_url
        self.region = region
        self.cluster_name = cluster_name
        self.knobs = knobs or Knobs()
        self.activity = activity
        self._kube_client_factory = kube_client_factory
        self._stop = threading.Event()
        self._wake = threading.Event()
        if activity is not None:
            activity.register(self._wake)
        self._thread: Optional[threading.Thread] = None
        self.addons: Optional[AddonManager] = None
        self.workloads: Optional[WorkloadController] = None
        self.disruption: Optional[DisruptionController] = None
        self.last_error: Optional[str] = None
        self.passes = 0  # completed passes: a test that waits for two after its change knows a whole pass saw it

    def start(self) -> None:
        api_client = self._kube_client_factory()
        core = kclient.CoreV1Api(api_client)
        self.addons = AddonManager(aws_url=self.aws_url, region=self.region, cluster_name=self.cluster_name, core=core)
        self.workloads = WorkloadController(core, kclient.AppsV1Api(api_client), self.knobs, region=self.region,
                                            associated=self._associated)
        self.disruption = DisruptionController(kclient.PolicyV1Api(api_client), core, kclient.AppsV1Api(api_client))
        self._thread = threading.Thread(target=self._run, name="lab-controllers", daemon=True)
        self._thread.start()

    def _associated(self, namespace: str, service_account: str) -> bool:
        """Whether EKS's webhook sees an association for the service account (an eventually consistent one: not at once)."""
        assert self.addons is not None
        eks = self.addons.eks
        found = eks.list_pod_identity_associations(clusterName=self.cluster_name, namespace=namespace, serviceAccount=service_account)["associations"]
        return any(association_effective(eks.describe_pod_identity_association(clusterName=self.cluster_name, associationId=item["associationId"])[
            "association"], time.time()) for item in found)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=10)

    def poke(self) -> None:
        self._wake.set()

    def reconcile_once(self) -> None:
        if self.addons is None or self.workloads is None:
            raise RuntimeError("LabControllers.start() was not called")
        self.addons.reconcile()
        self.workloads.reconcile()
        if self.disruption is not None:
            self.disruption.reconcile()
        self.passes += 1

    def _run(self) -> None:
        poll_until_stopped(self._stop, self._wake, self.knobs, self.reconcile_once, self._record_error, LOG, "controllers pass", self.activity)

    def _record_error(self, error: Optional[str]) -> None:
        self.last_error = error
