"""Node simulator: plays the EC2 instances' side of joining an EKS cluster.

Every tick it looks at the instances of the Auto Scaling groups tagged
``kubernetes.io/cluster/<cluster>=owned`` through boto3 (the lab's AWS endpoint) and, for each
instance whose whole join contract holds, registers a Node through the Kubernetes API (the lab's
API server, admin token), the way kubelet would.  It has no in-process shortcut to either side, so
it sees exactly what the collection's modules left behind.  The contract is documented in
``tests/lab/README.md``; every refusal is recorded as a verdict (lab log and the test-only
``/_lab/nodesim`` endpoint), never anywhere product code reads.

It also plays the check the Kubernetes service controller (cloud-provider-aws) and the AWS Load Balancer
Controller make before they put an instance behind a load balancer: exactly one of the instance's security
groups may carry the tag ``kubernetes.io/cluster/<cluster>`` (any value). Otherwise each instance's record
says it in ``load_balancer_error``, in the service controller's words (it does not keep a node from joining:
on EKS the node is Ready and only its LoadBalancer Services and instance targets fail).

And the VPC CNI's credentials: each node's ``kube-system/aws-node`` pod runs with the role the pod
identity webhook gave it (IRSA) or with its instance profile's role; when that identity's policies do
not allow what IPAMD calls (``AmazonEKS_CNI_Policy``, or the IPv6 policy on an IPv6 cluster), the node
turns NotReady with ``aws-node: no identity with AmazonEKS_CNI_Policy: ...`` (``CniCredentials``).
"""

from __future__ import annotations

import base64
import binascii
import email
import functools
import gzip
import hashlib
import json
import logging
import re
import threading
import time
import urllib.parse
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping, Optional

import boto3
import yaml
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from kubernetes import client as kclient
from kubernetes.client.rest import ApiException

from lab import in_process
from lab.pod_credentials import (association_effective, cni_permission_gap, issuer_host_path, pod_identity_refusal, pod_role_arn,
                                 uses_pod_identity, web_identity_refusal)

LOG = logging.getLogger("lab.nodesim")


class Activity:
    """When the lab last saw a write (an AWS call that changes something, a Kubernetes object written or deleted, a
    knob set). The loops poll every ``knobs.interval`` until ``QUIET_SECONDS`` pass without one, then every
    ``IDLE_INTERVAL``; the next write wakes them. An idle lab with a few node groups otherwise spends a tenth of a core
    listing what has not changed. QUIET_SECONDS is above the default join and ready delays together, so the timers
    that follow a write still fire on the fast interval."""

    QUIET_SECONDS = 5.0
    IDLE_INTERVAL = 2.0

    def __init__(self) -> None:
        self.last = time.monotonic()
        self._wakes: list[threading.Event] = []

    def register(self, wake: threading.Event) -> None:
        self._wakes.append(wake)

    def idle(self) -> bool:
        return time.monotonic() - self.last > self.QUIET_SECONDS

    def touch(self) -> None:
        was_idle = self.idle()
        self.last = time.monotonic()
        if was_idle:
            for wake in self._wakes:
                wake.set()

    def interval(self, base: float) -> float:
        return max(base, self.IDLE_INTERVAL) if self.idle() else base


def poll_until_stopped(stop: threading.Event, wake: threading.Event, knobs: "Knobs", step: Callable[[], None],
                       record_error: Callable[[Optional[str]], None], log: logging.Logger, what: str,
                       activity: Optional[Activity] = None) -> None:
    """Run step() every knobs.interval (or when woken; less often while the lab is idle) until stopped; a failed pass
    is logged and retried."""
    while not stop.is_set():
        if not knobs.paused:
            try:
                step()
                record_error(None)
            except (ClientError, BotoCoreError, ApiException, OSError) as err:
                record_error(f"{err.__class__.__name__}: {err}")
                log.warning("%s failed (retrying): %s: %s", what, err.__class__.__name__, err)
            except Exception as err:  # the loop must outlive bugs and odd responses; the log has the trace
                record_error(f"{err.__class__.__name__}: {err}")
                log.exception("%s crashed (retrying)", what)
        wake.wait(activity.interval(knobs.interval) if activity else knobs.interval)
        wake.clear()


NODE_GROUPS = ("system:bootstrappers", "system:nodes")
KUBE_PROXY_WINDOWS_GROUP = "eks:kube-proxy-windows"
NODE_USERNAME = "system:node:{{EC2PrivateDNSName}}"
NODE_ENTRY_TYPES = ("EC2_WINDOWS", "EC2_LINUX")
CONFIG_MAP_MODES = ("CONFIG_MAP", "API_AND_CONFIG_MAP")
API_MODES = ("API", "API_AND_CONFIG_MAP")
LIVE_STATES = ("pending", "running")
SERVING_CLUSTER_STATES = ("ACTIVE", "UPDATING")  # the API server answers during cluster updates
MERGE_PATCH = "application/merge-patch+json"
LAB_USER_AGENT = "eksnodes-lab"

WINDOWS_BUILDS = {"2019": "10.0.17763", "2022": "10.0.20348", "2025": "10.0.26100"}
WINDOWS_KERNEL_PATCH = {"2019": "6532", "2022": "2849", "2025": "2605"}
KUBELET_PATCH = {"1.28": "15", "1.29": "10", "1.30": "7", "1.31": "4", "1.32": "0", "1.33": "1", "1.34": "1", "1.35": "0"}
IPAM_DISABLED_MESSAGE = 'Windows IPAM is disabled: amazon-vpc-cni enable-windows-ipam is not "true"; pods get no IP'
NOT_READY_BOOT_MESSAGE = ("container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
                          "message:Network plugin returns error: cni plugin not initialized")


# --------------------------------------------------------------------------- shared helpers


def utc_now() -> str:
    """Kubernetes timestamp for now."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


_SESSIONS: dict = {}
_SESSIONS_LOCK = threading.Lock()


def aws_client(service: str, endpoint_url: str, region: str, user_agent_extra: Optional[str] = None) -> Any:
    """A boto3 client for the lab's AWS endpoint (fake credentials, short timeouts, no retries).

    Clients come from one shared session per region because a session caches the service models:
    a second ec2 client then costs milliseconds instead of a quarter second.  Sessions are not
    thread-safe, hence the lock; the clients themselves are.
    """
    config = BotoConfig(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=20, user_agent_extra=user_agent_extra)
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(region)
        if session is None:
            session = _SESSIONS[region] = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)
        client = session.client(service, endpoint_url=endpoint_url, config=config)
    app = in_process.handler_for(endpoint_url)
    return in_process.attach_aws(client, app) if app is not None else client


def kube_api_client(url: str, ca_file: str, token: str, user_agent: str = LAB_USER_AGENT) -> kclient.ApiClient:
    """An official-client ApiClient for the lab's API server with a bearer token.

    The lab's own clients say who they are in User-Agent, so the server's logs (and, if it ever
    filters on it, its fault injection) can tell them from the collection's requests.
    """
    configuration = kclient.Configuration()
    configuration.host = url
    configuration.ssl_ca_cert = ca_file
    configuration.api_key = {"authorization": f"Bearer {token}"}
    configuration.retries = False
    api_client = kclient.ApiClient(configuration)
    api_client.user_agent = user_agent
    api = in_process.handler_for(url)
    return in_process.attach_kube(api_client, api) if api is not None else api_client


def decoded(response: Any) -> dict:
    """JSON body of a ``_preload_content=False`` call, as plain dicts (the models drop unknown fields)."""
    data = response.data
    return json.loads(data) if data else {}


def read_config_map(core: kclient.CoreV1Api, namespace: str, name: str) -> Optional[dict]:
    """A ConfigMap as a dict, or None when absent.

    It lists with a field selector instead of GETting the named path, so that fault injections a
    test aims at ``.../configmaps/<name>`` for the collection are not consumed by the lab itself.
    """
    listing = decoded(core.list_namespaced_config_map(namespace, field_selector=f"metadata.name={name}", _preload_content=False))
    items = listing.get("items") or []
    return items[0] if items else None


def windows_ipam_enabled(config_map: Optional[Mapping[str, Any]]) -> bool:
    """What the VPC resource controller reads: ``enable-windows-ipam`` must be the string "true"."""
    data = (config_map or {}).get("data") or {}
    return str(data.get("enable-windows-ipam", "")).strip().lower() == "true"


def condition(kind: str, status: str, reason: str, message: str, since: Optional[str] = None) -> dict:
    now = utc_now()
    return {"type": kind, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": now, "lastTransitionTime": since or now}


# --------------------------------------------------------------------------- knobs


@dataclass
class Knobs:
    """Run-time settings of the simulator, changed through ``POST /_lab/nodesim``."""

    join_delay: float = 3.0
    ready_delay: float = 1.0
    interval: float = 0.5
    paused: bool = False
    termination_seconds: float = 1.0   # how long a deleted pod on a node stays Terminating (at most its grace period)

    def update(self, values: Mapping[str, Any]) -> dict:
        """Apply known keys (type-checked); raise ValueError on anything else."""
        for key, value in values.items():
            if key not in self.__dataclass_fields__:
                raise ValueError(f"unknown knob {key!r}; known: {sorted(self.__dataclass_fields__)}")
            if key == "paused":
                if not isinstance(value, bool):
                    raise ValueError("paused must be a boolean")
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{key} must be a non-negative number")
            setattr(self, key, value)
        if self.interval < 0.05:
            self.interval = 0.05
        return asdict(self)


# --------------------------------------------------------------------------- user data


@dataclass
class Bootstrap:
    """What the user data would do on boot."""

    os_family: Optional[str] = None          # "windows" | "linux" | None (no bootstrap call found)
    cluster_name: Optional[str] = None
    api_server_endpoint: Optional[str] = None
    base64_ca: Optional[str] = None
    node_labels: dict = field(default_factory=dict)
    taints: list = field(default_factory=list)
    problem: Optional[str] = None


_PS_VALUE = r"""(?:"([^"]*)"|'([^']*)'|([^\s`"';]+))"""
_PS_ASSIGN = re.compile(r"""(?:\[string\]\s*)?\$(\w+)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_SH_VALUE = r"""(?:"([^"]*)"|'([^']*)'|([^\s"';]+))"""


def decode_user_data(user_data_b64: Optional[str]) -> tuple[Optional[str], Optional[str]]:
    """(text, problem) of base64 user data, transparently gunzipped."""
    if not user_data_b64:
        return None, "the launch template has no user data, so nothing runs the bootstrap script"
    try:
        raw = base64.b64decode(user_data_b64, validate=False)
    except (binascii.Error, ValueError):
        return None, "the user data is not valid base64"
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError):
            return None, "the user data is gzip-compressed but corrupt"
    return raw.decode("utf-8", errors="replace"), None


def _first_group(match: Optional[re.Match]) -> Optional[str]:
    if not match:
        return None
    return next((g for g in match.groups()[-3:] if g is not None), None)


def _resolve_ps_variable(value: Optional[str], script: str) -> Optional[str]:
    """Resolve ``$Name`` against a simple ``$Name = "value"`` assignment in the same script."""
    if value is None or not value.startswith("$"):
        return value
    wanted = value[1:].strip("{}").lower()
    for match in _PS_ASSIGN.finditer(script):
        if match.group(1).lower() == wanted:
            return match.group(2) if match.group(2) is not None else match.group(3)
    return value


def _kubelet_flags(text: str, bootstrap: Bootstrap) -> None:
    labels = re.search(r"--node-labels[= ]([^\s\"']+)", text)
    if labels:
        for pair in labels.group(1).split(","):
            key, value = (pair.split("=", 1) + [""])[:2]
            if key:
                bootstrap.node_labels[key.strip()] = value.strip()
    taints = re.search(r"--register-with-taints[= ]([^\s\"']+)", text)
    if taints:
        for spec in taints.group(1).split(","):
            key_value, effect = (spec.split(":", 1) + [""])[:2]
            key, value = (key_value.split("=", 1) + [""])[:2]
            if key and effect:
                taint = {"key": key, "effect": effect}
                if value:
                    taint["value"] = value
                bootstrap.taints.append(taint)


def _parse_windows(text: str) -> Bootstrap:
    bootstrap = Bootstrap(os_family="windows")
    block = re.search(r"<powershell>(.*?)</powershell>", text, re.IGNORECASE | re.DOTALL)
    if not block:
        bootstrap.problem = "the user data calls Start-EKSBootstrap.ps1 outside a <powershell> block, so EC2Launch never runs it"
        return bootstrap
    script = block.group(1)
    if "start-eksbootstrap.ps1" not in script.lower():
        bootstrap.problem = "the <powershell> block never calls Start-EKSBootstrap.ps1"
        return bootstrap
    name = _first_group(re.search(r"-EKSClusterName\s+" + _PS_VALUE, script, re.IGNORECASE))
    bootstrap.cluster_name = _resolve_ps_variable(name, script)
    bootstrap.api_server_endpoint = _resolve_ps_variable(_first_group(re.search(r"-APIServerEndpoint\s+" + _PS_VALUE, script, re.IGNORECASE)), script)
    bootstrap.base64_ca = _resolve_ps_variable(_first_group(re.search(r"-Base64ClusterCA\s+" + _PS_VALUE, script, re.IGNORECASE)), script)
    if not bootstrap.cluster_name:
        bootstrap.problem = "Start-EKSBootstrap.ps1 is called without -EKSClusterName (its only required parameter)"
    _kubelet_flags(script, bootstrap)
    return bootstrap


def _nodeadm_configs(text: str) -> Iterable[dict]:
    parts: list[str] = []
    if text.lstrip().lower().startswith(("mime-version", "content-type")):
        for part in email.message_from_string(text).walk():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                parts.append(payload.decode("utf-8", errors="replace"))
    else:
        parts.append(text)
    for part in parts:
        if "node.eks.aws" not in part:
            continue
        try:
            for doc in yaml.safe_load_all(part):
                if isinstance(doc, dict) and doc.get("kind") == "NodeConfig":
                    yield doc
        except yaml.YAMLError:
            continue


def _parse_linux(text: str) -> Bootstrap:
    bootstrap = Bootstrap(os_family="linux")
    call = re.search(r"/etc/eks/bootstrap\.sh\s+" + _SH_VALUE, text)
    if call:
        bootstrap.cluster_name = _first_group(call)
        bootstrap.api_server_endpoint = _first_group(re.search(r"--apiserver-endpoint[= ]" + _SH_VALUE, text))
        bootstrap.base64_ca = _first_group(re.search(r"--b64-cluster-ca[= ]" + _SH_VALUE, text))
        _kubelet_flags(text, bootstrap)
        return bootstrap
    for config in _nodeadm_configs(text):
        cluster = (config.get("spec") or {}).get("cluster") or {}
        bootstrap.cluster_name = cluster.get("name")
        bootstrap.api_server_endpoint = cluster.get("apiServerEndpoint")
        bootstrap.base64_ca = cluster.get("certificateAuthority")
        flags = " ".join(((config.get("spec") or {}).get("kubelet") or {}).get("flags") or [])
        _kubelet_flags(flags, bootstrap)
        if not bootstrap.cluster_name:
            bootstrap.problem = "the nodeadm NodeConfig has no spec.cluster.name"
        return bootstrap
    bootstrap.os_family = None
    return bootstrap


def parse_bootstrap(user_data_b64: Optional[str]) -> Bootstrap:
    """Find the EKS bootstrap call in base64 user data (Windows or Linux flavours)."""
    text, problem = decode_user_data(user_data_b64)
    if text is None:
        return Bootstrap(problem=problem)
    if re.search(r"start-eksbootstrap\.ps1|-EKSClusterName", text, re.IGNORECASE):
        return _parse_windows(text)
    bootstrap = _parse_linux(text)
    if bootstrap.os_family is None and not bootstrap.problem:
        bootstrap.problem = "the user data runs neither Start-EKSBootstrap.ps1 nor /etc/eks/bootstrap.sh nor nodeadm"
    return bootstrap


# --------------------------------------------------------------------------- aws-auth


def role_arn_without_path(arn: str) -> str:
    """``arn:aws:iam::1:role/a/b/Name`` -> ``arn:aws:iam::1:role/Name``: the form EKS matches aws-auth on."""
    prefix, sep, rest = arn.partition(":role/")
    return f"{prefix}{sep}{rest.rsplit('/', 1)[-1]}" if sep else arn


def parse_map_roles(config_map: Optional[Mapping[str, Any]]) -> tuple[list, Optional[str]]:
    """(entries, problem) from aws-auth's ``data.mapRoles`` YAML string."""
    if config_map is None:
        return [], "ConfigMap kube-system/aws-auth does not exist"
    text = ((config_map.get("data") or {}).get("mapRoles")) or ""
    try:
        entries = yaml.safe_load(text) or []
    except yaml.YAMLError as err:
        return [], f"aws-auth mapRoles is not valid YAML ({err.__class__.__name__}), so EKS maps no role from it"
    if not isinstance(entries, list):
        return [], "aws-auth mapRoles is not a YAML list"
    return [e for e in entries if isinstance(e, dict)], None


def find_role_mapping(entries: list, role_arn: str) -> Optional[dict]:
    """The aws-auth entry EKS would use for the role: path-less ARN, case-insensitive, last one wins."""
    wanted = role_arn_without_path(role_arn).lower()
    found = None
    for entry in entries:
        if str(entry.get("rolearn", "")).strip().lower() == wanted:
            found = entry
    return found


# --------------------------------------------------------------------------- instance facts


@dataclass
class Identity:
    """How the node authenticates and what that grants."""

    source: str                      # "aws-auth" | "access entry EC2_WINDOWS" | ...
    groups: tuple
    kube_proxy_windows: bool


@dataclass
class Candidate:
    """Everything the simulator learnt about one instance during a tick."""

    instance: dict
    asg_name: str
    os_family: Optional[str] = None
    windows_release: Optional[str] = None
    ami_name: str = ""
    ami_kubernetes_version: Optional[str] = None
    role_arn: Optional[str] = None
    bootstrap: Bootstrap = field(default_factory=Bootstrap)
    identity: Optional[Identity] = None

    @property
    def instance_id(self) -> str:
        return self.instance["InstanceId"]

    @property
    def node_name(self) -> str:
        return self.instance.get("PrivateDnsName") or ""

    @property
    def zone(self) -> str:
        return (self.instance.get("Placement") or {}).get("AvailabilityZone", "")


@dataclass
class InstanceRecord:
    """What the simulator remembers across ticks about an instance."""

    instance_id: str
    asg_name: str
    first_seen: float
    cluster_status_at_launch: str
    node_name: str = ""
    os_family: Optional[str] = None
    role_arn: Optional[str] = None
    profile_arn: Optional[str] = None
    joined_at: Optional[float] = None
    # When the join contract (image, bootstrap, network, authorization) first held: a kubelet refused registration
    # (Unauthorized while the role is not mapped yet) retries, and registers join_delay after it is let in.
    contract_held_at: Optional[float] = None
    verdict: str = "not evaluated yet"
    ready: Optional[str] = None
    ready_message: str = ""
    tagged_security_groups: list = field(default_factory=list)
    load_balancer_error: Optional[str] = None

    def public(self) -> dict:
        data = asdict(self)
        data["first_seen_seconds_ago"] = round(time.monotonic() - self.first_seen, 2)
        data["joined"] = self.joined_at is not None
        del data["first_seen"]
        del data["joined_at"]
        del data["contract_held_at"]
        return data


class Refusal(Exception):
    """The join contract does not hold; the message says why (the 'verdict')."""


def windows_release_of(ami_name: str) -> str:
    for release in WINDOWS_BUILDS:
        if f"-{release}-" in ami_name or f"_{release}_" in ami_name or f"Server-{release}" in ami_name:
            return release
    return "2022"


def kubernetes_version_of(ami_name: str) -> Optional[str]:
    match = re.search(r"EKS_Optimized-(\d+\.\d+)", ami_name) or re.search(r"amazon-eks-(?:node-)?(?:al2023-[a-z0-9_-]+-)?(\d+\.\d+)", ami_name)
    return match.group(1) if match else None


# --------------------------------------------------------------------------- the AWS view


class AwsView:
    """boto3 reads one tick needs (and the simulator's Kubernetes reads, through ``remember``), with caches for what
    cannot change under a running instance."""

    MEMO_SECONDS = 1.0

    def __init__(self, endpoint_url: str, region: str, last_write: Optional[Callable[[], float]] = None) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self._launch_templates: dict = {}
        self._images: dict = {}
        self._instance_types: dict = {}
        self._tick_memo: dict = {}
        self._last_write = last_write
        self._memo_since: Optional[tuple] = None  # (the last write then, when the memo was started)

    def begin_tick(self) -> None:
        """Forget what earlier ticks read (the cluster, its groups, subnets, routes, roles, access entries, and the
        nodes, ConfigMaps and aws-node pods) once the lab has seen a write since, or MEMO_SECONDS after the reads. State
        changes by writes, except in AWS for what changes with time (a cluster update) or through the lab's control
        endpoints, seen at most that much later. A busy lab ticks several times a second, mostly over state that has
        not changed."""
        now = time.monotonic()
        written = self._last_write() if self._last_write is not None else now
        if self._memo_since is None or written != self._memo_since[0] or now - self._memo_since[1] >= self.MEMO_SECONDS:
            self._tick_memo = {}
            self._memo_since = (written, now)

    def remember(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """Read once, however many instances share the subnet, profile or cluster, and as long as begin_tick keeps it
        (the simulator's Kubernetes reads are kept here too: a write to the cluster is a write the lab sees)."""
        if key not in self._tick_memo:
            try:
                self._tick_memo[key] = (compute(), None)
            except Refusal as refusal:
                self._tick_memo[key] = (None, refusal)
        value, refusal = self._tick_memo[key]
        if refusal is not None:
            raise refusal
        return value

    # Clients are made on first use: loading a service model costs up to a quarter second.
    @functools.cached_property
    def ec2(self) -> Any:
        return aws_client("ec2", self.endpoint_url, self.region, LAB_USER_AGENT)

    @functools.cached_property
    def eks(self) -> Any:
        return aws_client("eks", self.endpoint_url, self.region, LAB_USER_AGENT)

    @functools.cached_property
    def iam(self) -> Any:
        return aws_client("iam", self.endpoint_url, self.region, LAB_USER_AGENT)

    @functools.cached_property
    def autoscaling(self) -> Any:
        return aws_client("autoscaling", self.endpoint_url, self.region, LAB_USER_AGENT)

    def cluster(self, name: str) -> Optional[dict]:
        return self.remember(("cluster", name), lambda: self._cluster(name))

    def _cluster(self, name: str) -> Optional[dict]:
        try:
            return self.eks.describe_cluster(name=name)["cluster"]
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise

    def instances(self, instance_ids: Optional[Iterable[str]] = None) -> dict:
        """Instances that are not terminated (all of them, or those of ``instance_ids``), by id."""
        found: dict = {}
        filters = [{"Name": "instance-state-name", "Values": ["pending", "running", "shutting-down", "stopping", "stopped"]}]
        if instance_ids is not None:
            filters.append({"Name": "instance-id", "Values": sorted(instance_ids)})
        for page in self.ec2.get_paginator("describe_instances").paginate(Filters=filters):
            for reservation in page.get("Reservations", []):
                for instance in reservation.get("Instances", []):
                    found[instance["InstanceId"]] = instance
        return found

    def cluster_groups(self, cluster_name: str) -> list:
        return self.remember(("groups", cluster_name), lambda: self._cluster_groups(cluster_name))

    def _cluster_groups(self, cluster_name: str) -> list:
        tag = f"kubernetes.io/cluster/{cluster_name}"
        groups = []
        for page in self.autoscaling.get_paginator("describe_auto_scaling_groups").paginate():
            for group in page.get("AutoScalingGroups", []):
                if any(t.get("Key") == tag and t.get("Value") == "owned" for t in group.get("Tags", [])):
                    groups.append(group)
        return groups

    def cluster_tagged_security_groups(self, cluster_name: str) -> dict:
        """Security groups carrying the tag key kubernetes.io/cluster/<cluster> (any value): ID -> name."""
        tag = f"kubernetes.io/cluster/{cluster_name}"

        def read() -> dict:
            found = {}
            for page in self.ec2.get_paginator("describe_security_groups").paginate(Filters=[{"Name": "tag-key", "Values": [tag]}]):
                for group in page.get("SecurityGroups", []):
                    found[group["GroupId"]] = group.get("GroupName", "")
            return found

        return self.remember(("cluster-security-groups", cluster_name), read)

    def launch_template_data(self, template_id: str, version: str) -> dict:
        key = (template_id, version)
        if key not in self._launch_templates:
            versions = self.ec2.describe_launch_template_versions(LaunchTemplateId=template_id, Versions=[version])["LaunchTemplateVersions"]
            data = versions[0]["LaunchTemplateData"] if versions else {}
            if version not in ("$Latest", "$Default"):
                self._launch_templates[key] = data
            return data
        return self._launch_templates[key]

    def launch_configuration(self, name: str) -> dict:
        configs = self.autoscaling.describe_launch_configurations(LaunchConfigurationNames=[name])["LaunchConfigurations"]
        if not configs:
            return {}
        config = configs[0]
        profile = config.get("IamInstanceProfile")
        data: dict = {"UserData": config.get("UserData"), "ImageId": config.get("ImageId")}
        if profile:
            data["IamInstanceProfile"] = {"Arn": profile} if profile.startswith("arn:") else {"Name": profile}
        return data

    def image(self, image_id: str) -> Optional[dict]:
        if image_id not in self._images:
            try:
                images = self.ec2.describe_images(ImageIds=[image_id])["Images"]
            except ClientError:
                images = []
            self._images[image_id] = images[0] if images else None
        return self._images[image_id]

    def role_of_profile(self, profile: Mapping[str, str]) -> Optional[str]:
        name = profile.get("Name") or (profile.get("Arn") or "").rsplit("/", 1)[-1]
        if not name:
            return None
        return self.remember(("profile", name), lambda: self._role_of_profile(name))

    def _role_of_profile(self, name: str) -> Optional[str]:
        try:
            roles = self.iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"].get("Roles", [])
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "NoSuchEntity":
                raise Refusal(f"instance profile {name} does not exist") from err
            raise
        return roles[0]["Arn"] if roles else None

    def subnet(self, subnet_id: str) -> dict:
        return self.remember(("subnet", subnet_id), lambda: self.ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0])

    def route_table(self, subnet_id: str, vpc_id: str) -> Optional[dict]:
        return self.remember(("routes", subnet_id), lambda: self._route_table(subnet_id, vpc_id))

    def _route_table(self, subnet_id: str, vpc_id: str) -> Optional[dict]:
        tables = self.ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])["RouteTables"]
        if not tables:
            tables = self.ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                             {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
        return tables[0] if tables else None

    def nat_gateway_available(self, nat_id: str) -> bool:
        return self.remember(("nat", nat_id), lambda: self._nat_gateway_available(nat_id))

    def _nat_gateway_available(self, nat_id: str) -> bool:
        try:
            gateways = self.ec2.describe_nat_gateways(NatGatewayIds=[nat_id])["NatGateways"]
        except ClientError:
            return False
        return bool(gateways) and gateways[0].get("State") in ("available", "pending")

    def instance_type(self, name: str) -> dict:
        if name not in self._instance_types:
            try:
                types = self.ec2.describe_instance_types(InstanceTypes=[name])["InstanceTypes"]
            except ClientError:
                types = []
            self._instance_types[name] = types[0] if types else {}
        return self._instance_types[name]

    def access_entry(self, cluster_name: str, role_arn: str) -> Optional[dict]:
        """The access entry for the role (full ARN or path-less ARN), or None."""
        wanted = {role_arn.lower(), role_arn_without_path(role_arn).lower()}
        for arn in self.remember(("access-entries", cluster_name), lambda: self._access_entry_arns(cluster_name)):
            if arn.lower() in wanted:
                return self.remember(("access-entry", cluster_name, arn),
                                     lambda: self.eks.describe_access_entry(clusterName=cluster_name, principalArn=arn)["accessEntry"])
        return None

    def _access_entry_arns(self, cluster_name: str) -> list:
        arns: list = []
        for page in self.eks.get_paginator("list_access_entries").paginate(clusterName=cluster_name):
            arns.extend(page.get("accessEntries", []))
        return arns


class InstanceCache:
    """The instances a tick needs, without describing every instance every tick.

    moto renders each instance of a DescribeInstances answer at some cost, and the answer hardly
    changes between ticks: new Auto Scaling group members (and departed ones, to see them
    terminated) are described at once, everything in full every ``full_refresh`` seconds (which
    also catches instances terminated behind their group's back).
    """

    def __init__(self, view: AwsView, full_refresh: float = 3.0) -> None:
        self._view = view
        self.full_refresh = full_refresh
        self._instances: dict = {}
        self._members: set = set()
        self._refreshed_at: Optional[float] = None

    def current(self, members: set) -> dict:
        now = time.monotonic()
        if self._refreshed_at is None or now - self._refreshed_at >= self.full_refresh:
            self._instances = self._view.instances()
            self._refreshed_at = now
        else:
            changed = members ^ self._members
            if changed:
                fresh = self._view.instances(changed)
                for instance_id in changed:
                    if instance_id in fresh:
                        self._instances[instance_id] = fresh[instance_id]
                    else:
                        self._instances.pop(instance_id, None)
        self._members = set(members)
        return self._instances


# --------------------------------------------------------------------------- node object


def _kubelet_version(kubernetes_version: str) -> str:
    return f"v{kubernetes_version}.{KUBELET_PATCH.get(kubernetes_version, '0')}-eks-{hashlib.sha1(kubernetes_version.encode()).hexdigest()[:7]}"


def _capacity(instance_type: Mapping[str, Any], os_family: str) -> dict:
    cpu = (instance_type.get("VCpuInfo") or {}).get("DefaultVCpus") or 2
    memory_mib = (instance_type.get("MemoryInfo") or {}).get("SizeInMiB") or 8192
    network = instance_type.get("NetworkInfo") or {}
    ips = network.get("Ipv4AddressesPerInterface") or 10
    enis = network.get("MaximumNetworkInterfaces") or 3
    # Windows pods get secondary IPs of the primary ENI only; Linux uses every ENI (the eni-max-pods formula).
    pods = ips - 1 if os_family == "windows" else enis * (ips - 1) + 2
    return {"cpu": str(cpu), "memory": f"{memory_mib * 1024}Ki", "pods": str(pods), "ephemeral-storage": "52416492Ki"}


def _allocatable(capacity: Mapping[str, str]) -> dict:
    cpu_millis = int(capacity["cpu"]) * 1000 - 80
    memory_ki = int(capacity["memory"][:-2]) - 600 * 1024
    return {"cpu": f"{cpu_millis}m", "memory": f"{memory_ki}Ki", "pods": capacity["pods"], "ephemeral-storage": "47233297124"}


def _node_info(candidate: Candidate, kubernetes_version: str) -> dict:
    instance_id = candidate.instance_id
    version = _kubelet_version(candidate.ami_kubernetes_version or kubernetes_version)
    if candidate.os_family == "windows":
        release = candidate.windows_release or "2022"
        os_image = f"Windows Server {release} Datacenter"
        kernel = f"{WINDOWS_BUILDS[release]}.{WINDOWS_KERNEL_PATCH[release]}"
        runtime = "containerd://1.7.20"
    else:
        al2 = "al2023" not in candidate.ami_name.lower() and "amazon-eks-node-1." in candidate.ami_name
        os_image = "Amazon Linux 2" if al2 else "Amazon Linux 2023.6.20241212"
        kernel = "5.10.230-223.885.amzn2.x86_64" if al2 else "6.1.119-129.201.amzn2023.x86_64"
        runtime = "containerd://1.7.23"
    stable = uuid.uuid5(uuid.NAMESPACE_URL, instance_id)
    return {"architecture": "amd64", "operatingSystem": candidate.os_family, "osImage": os_image, "kernelVersion": kernel,
            "kubeletVersion": version, "kubeProxyVersion": version, "containerRuntimeVersion": runtime,
            "machineID": stable.hex, "systemUUID": str(stable).upper(), "bootID": str(uuid.uuid4())}


def _addresses(instance: Mapping[str, Any]) -> list:
    addresses = [{"type": "InternalIP", "address": instance.get("PrivateIpAddress", "")}]
    if instance.get("PublicIpAddress"):
        addresses.append({"type": "ExternalIP", "address": instance["PublicIpAddress"]})
    addresses += [{"type": "InternalDNS", "address": instance.get("PrivateDnsName", "")},
                  {"type": "Hostname", "address": instance.get("PrivateDnsName", "")}]
    if instance.get("PublicDnsName"):
        addresses.append({"type": "ExternalDNS", "address": instance["PublicDnsName"]})
    return addresses


def node_labels(candidate: Candidate, region: str) -> dict:
    """The labels kubelet and the cloud provider put on an EKS node, plus ``--node-labels``."""
    instance_type = candidate.instance.get("InstanceType", "")
    labels = {
        "kubernetes.io/os": candidate.os_family, "beta.kubernetes.io/os": candidate.os_family,
        "kubernetes.io/arch": "amd64", "beta.kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": candidate.node_name,
        "node.kubernetes.io/instance-type": instance_type, "beta.kubernetes.io/instance-type": instance_type,
        "topology.kubernetes.io/zone": candidate.zone, "failure-domain.beta.kubernetes.io/zone": candidate.zone,
        "topology.kubernetes.io/region": region, "failure-domain.beta.kubernetes.io/region": region,
        "k8s.io/cloud-provider-aws": hashlib.sha1(region.encode()).hexdigest()[:32],
    }
    if candidate.os_family == "windows":
        labels["node.kubernetes.io/windows-build"] = WINDOWS_BUILDS[candidate.windows_release or "2022"]
    labels.update(candidate.bootstrap.node_labels)
    return labels


def build_node(candidate: Candidate, region: str, kubernetes_version: str, instance_type: Mapping[str, Any]) -> dict:
    """The Node kubelet registers (status included; callers write status through nodes/status too)."""
    capacity = _capacity(instance_type, candidate.os_family or "linux")
    spec: dict = {"providerID": f"aws:///{candidate.zone}/{candidate.instance_id}"}
    if candidate.bootstrap.taints:
        spec["taints"] = list(candidate.bootstrap.taints)
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": candidate.node_name, "labels": node_labels(candidate, region),
                     "annotations": {"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": spec,
        "status": {"capacity": capacity, "allocatable": _allocatable(capacity), "addresses": _addresses(candidate.instance),
                   "nodeInfo": _node_info(candidate, kubernetes_version),
                   "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                   "conditions": node_conditions("False", "KubeletNotReady", NOT_READY_BOOT_MESSAGE)},
    }


def node_conditions(ready: str, reason: str, message: str, since: Optional[str] = None) -> list:
    pressure = [condition(kind, "False", f"KubeletHas{label}", f"kubelet has {text}")
                for kind, label, text in (("MemoryPressure", "SufficientMemory", "sufficient memory available"),
                                          ("DiskPressure", "NoDiskPressure", "no disk pressure"),
                                          ("PIDPressure", "SufficientPID", "sufficient PID available"))]
    return pressure + [condition("Ready", ready, reason, message, since)]


def ready_condition(node: Mapping[str, Any]) -> dict:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond
    return {}


# --------------------------------------------------------------------------- aws-node's credentials


CNI_FAULT_PREFIX = "aws-node: no identity with "
# How long credentials from the EKS Pod Identity agent stay valid: the shortest STS role session (15 minutes).
POD_IDENTITY_SESSION_SECONDS = 900.0
CNI_POLICY_NAMES = {"ipv4": "AmazonEKS_CNI_Policy", "ipv6": "AmazonEKS_CNI_IPv6_Policy"}


class CniCredentials:
    """Per tick: for each node running an aws-node pod, the identity that pod has and what it lacks (``lab.pod_credentials``)."""

    def __init__(self, view: AwsView) -> None:
        self.view = view
        self._instance_roles: dict = {}      # instance id -> its profile's role ARN: read once, as the simulator's records do
        self._aws_managed: dict = {}         # AWS managed policy documents never change
        self.last: dict = {}                 # node name -> what the last tick found (for /_lab/nodesim)
        self._sessions: dict = {}            # pod uid -> (role ARN, until when) of the credentials the agent gave it

    def evaluate(self, cluster: Mapping[str, Any], pods: Iterable[Mapping[str, Any]], nodes: Mapping[str, Any]) -> dict:
        """node name -> fault message, for the nodes whose newest aws-node pod cannot do the CNI's work."""
        newest: dict = {}
        for pod in pods:
            node_name = (pod.get("spec") or {}).get("nodeName")
            created = pod["metadata"].get("creationTimestamp", "")
            if node_name in nodes and created >= newest.get(node_name, {}).get("metadata", {}).get("creationTimestamp", ""):
                newest[node_name] = pod
        ip_family = ((cluster.get("kubernetesNetworkConfig") or {}).get("ipFamily") or "ipv4").lower()
        faults, found = {}, {}
        for node_name, pod in sorted(newest.items()):
            role_arn = pod_role_arn(pod)
            source = "web identity" if role_arn else "pod identity" if uses_pod_identity(pod) else "instance profile"
            problem = None
            if role_arn:
                problem = self._web_identity_problem(cluster, role_arn)
            elif source == "pod identity":
                role_arn, problem = self._pod_identity(cluster, pod)
            else:
                role_arn = self._node_role(nodes[node_name])
                problem = None if role_arn else "the node's instance has no instance profile role"
            missing: list = []
            if problem is None and role_arn:
                missing = self._missing_actions(role_arn, ip_family)
                if missing:
                    problem = f"role {role_arn} ({source}) is not allowed {', '.join(missing)}"
            found[node_name] = {"pod": pod["metadata"]["name"], "role_arn": role_arn, "source": source, "missing_actions": missing,
                                "problem": problem}
            if problem:
                faults[node_name] = f"{CNI_FAULT_PREFIX}{CNI_POLICY_NAMES[ip_family]}: pod {pod['metadata']['name']}: {problem}; IPAMD assigns no IP"
        self.last = found
        return faults

    def _pod_identity(self, cluster: Mapping[str, Any], pod: Mapping[str, Any]) -> tuple:
        """(role ARN, problem) of a pod that asks the EKS Pod Identity agent: the association's role, looked up now."""
        name = cluster["name"]
        account = (pod.get("spec") or {}).get("serviceAccountName") or "default"
        namespace = pod["metadata"].get("namespace") or "default"
        agent = self.view.remember(("addons", name), lambda: self.view.eks.list_addons(clusterName=name).get("addons", []))
        if "eks-pod-identity-agent" not in agent:
            return None, "no EKS Pod Identity agent answers (the eks-pod-identity-agent add-on is not installed)"
        found = self.view.remember(("pod-identity", name, namespace, account), lambda: self.view.eks.list_pod_identity_associations(
            clusterName=name, namespace=namespace, serviceAccount=account)["associations"])
        association = self.view.eks.describe_pod_identity_association(clusterName=name, associationId=found[0]["associationId"])[
            "association"] if found else None
        uid = pod["metadata"].get("uid")
        if association is None or not association_effective(association, time.time()):
            # "The temporary credentials from the previous IAM role session might still be valid until the session expiry"
            # (EKS API reference, DeletePodIdentityAssociation): a pod keeps the role it got until then.
            session = self._sessions.get(uid)
            if session and session[1] > time.monotonic():
                return session[0], None
            return None, f"the agent refuses: no EKS Pod Identity association for {namespace}/{account} (yet)"
        self._sessions.setdefault(uid, (association["roleArn"], time.monotonic() + POD_IDENTITY_SESSION_SECONDS))
        role_arn = association["roleArn"]
        role = self.view.remember(("role", role_arn.rsplit("/", 1)[-1]), lambda: self._get_role(role_arn.rsplit("/", 1)[-1]))
        if role is None:
            return role_arn, f"EKS Auth refuses {role_arn}: the role does not exist"
        trust = role.get("AssumeRolePolicyDocument") or {}
        if isinstance(trust, str):
            trust = json.loads(urllib.parse.unquote(trust))
        refusal = pod_identity_refusal(trust)
        return role_arn, (f"EKS Auth refuses {role_arn}: {refusal}" if refusal else None)

    def _node_role(self, node: Mapping[str, Any]) -> Optional[str]:
        instance_id = ((node.get("spec") or {}).get("providerID") or "").rsplit("/", 1)[-1]
        if instance_id not in self._instance_roles:
            instance = self.view.instances([instance_id]).get(instance_id) if instance_id.startswith("i-") else None
            profile = (instance or {}).get("IamInstanceProfile") or {}
            try:
                self._instance_roles[instance_id] = self.view.role_of_profile(profile) if profile else None
            except Refusal:
                self._instance_roles[instance_id] = None
        return self._instance_roles[instance_id]

    def _web_identity_problem(self, cluster: Mapping[str, Any], role_arn: str) -> Optional[str]:
        issuer = ((cluster.get("identity") or {}).get("oidc") or {}).get("issuer")
        if not issuer:
            return f"AssumeRoleWithWebIdentity of {role_arn} refused: the cluster has no OIDC issuer"
        account = role_arn.split(":")[4]
        provider_arn = f"arn:aws:iam::{account}:oidc-provider/{issuer_host_path(issuer)}"
        role_name = role_arn.rsplit("/", 1)[-1]
        role = self.view.remember(("role", role_name), lambda: self._get_role(role_name))
        if role is None:
            return f"AssumeRoleWithWebIdentity of {role_arn} refused: the role does not exist"
        provider = self.view.remember(("oidc", provider_arn), lambda: self._get_provider(provider_arn))
        trust = role.get("AssumeRolePolicyDocument") or {}
        if isinstance(trust, str):
            trust = json.loads(urllib.parse.unquote(trust))
        refusal = web_identity_refusal(trust, provider, provider_arn, issuer, "kube-system", "aws-node")
        return f"AssumeRoleWithWebIdentity of {role_arn} refused: {refusal}" if refusal else None

    def _get_role(self, name: str) -> Optional[dict]:
        try:
            return self.view.iam.get_role(RoleName=name)["Role"]
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "NoSuchEntity":
                return None
            raise

    def _get_provider(self, arn: str) -> Optional[dict]:
        try:
            return self.view.iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "NoSuchEntity":
                return None
            raise

    def _missing_actions(self, role_arn: str, ip_family: str) -> list:
        role_name = role_arn.rsplit("/", 1)[-1]
        return self.view.remember(("cni-gap", role_name, ip_family),
                                  lambda: cni_permission_gap(self._documents(role_name), ip_family))

    def _documents(self, role_name: str) -> list:
        iam = self.view.iam
        documents = []
        for attached in iam.list_attached_role_policies(RoleName=role_name).get("AttachedPolicies", []):
            arn = attached["PolicyArn"]
            if arn in self._aws_managed:
                documents.append(self._aws_managed[arn])
                continue
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
            document = json.loads(urllib.parse.unquote(document)) if isinstance(document, str) else document
            if arn.startswith("arn:aws:iam::aws:policy/"):
                self._aws_managed[arn] = document
            documents.append(document)
        for name in iam.list_role_policies(RoleName=role_name).get("PolicyNames", []):
            document = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
            documents.append(json.loads(urllib.parse.unquote(document)) if isinstance(document, str) else document)
        return documents


# --------------------------------------------------------------------------- the simulator


@dataclass
class TickContext:
    """Cluster-wide facts read once per tick."""

    cluster: dict
    auth_mode: str
    aws_auth: Optional[dict]
    vpc_cni: Optional[dict]
    kubernetes_version: str
    map_roles: list = field(default_factory=list)
    map_roles_problem: Optional[str] = None
    cni_faults: dict = field(default_factory=dict)   # node name -> why its aws-node pod cannot assign IPs

    def __post_init__(self) -> None:
        self.map_roles, self.map_roles_problem = parse_map_roles(self.aws_auth)


class NodeSimulator:
    """Runs the join loop in a thread; see the module docstring."""

    def __init__(self, *, aws_url: str, region: str, cluster_name: str, kube_client_factory: Callable[[], kclient.ApiClient],
                 knobs: Optional[Knobs] = None, activity: Optional[Activity] = None) -> None:
        self.aws_url = aws_url
        self.region = region
        self.cluster_name = cluster_name
        self.knobs = knobs or Knobs()
        self.activity = activity
        self._kube_client_factory = kube_client_factory
        self._records: dict[str, InstanceRecord] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        if activity is not None:
            activity.register(self._wake)
        self._thread: Optional[threading.Thread] = None
        self._aws: Optional[AwsView] = None
        self._instances: Optional[InstanceCache] = None
        self._core: Optional[kclient.CoreV1Api] = None
        self._cni: Optional[CniCredentials] = None
        self.ticks = 0
        self.last_error: Optional[str] = None

    # lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self._aws = AwsView(self.aws_url, self.region, (lambda: self.activity.last) if self.activity else None)
        self._instances = InstanceCache(self._aws)
        self._cni = CniCredentials(self._aws)
        self._core = kclient.CoreV1Api(self._kube_client_factory())
        self._thread = threading.Thread(target=self._run, name="lab-nodesim", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=10)

    def poke(self) -> None:
        """Run the next tick now (after a knob change)."""
        self._wake.set()

    def status(self) -> dict:
        with self._lock:
            instances = {iid: record.public() for iid, record in self._records.items()}
        return {"knobs": asdict(self.knobs), "ticks": self.ticks, "idle": bool(self.activity and self.activity.idle()),
                "last_error": self.last_error, "instances": instances,
                "aws_node": dict(self._cni.last) if self._cni else {}}

    def _run(self) -> None:
        poll_until_stopped(self._stop, self._wake, self.knobs, self.tick, self._record_error, LOG, "nodesim tick", self.activity)

    def _record_error(self, error: Optional[str]) -> None:
        self.last_error = error

    # one pass ---------------------------------------------------------------------------------
    def tick(self) -> None:
        assert self._aws is not None and self._instances is not None and self._core is not None
        self.ticks += 1
        self._aws.begin_tick()
        cluster = self._aws.cluster(self.cluster_name)
        groups = self._aws.cluster_groups(self.cluster_name)
        instances = self._instances.current({m["InstanceId"] for g in groups for m in g.get("Instances", [])})
        core = self._core
        listed = self._aws.remember(("nodes",), lambda: decoded(core.list_node(_preload_content=False)).get("items", []))
        nodes = {n["metadata"]["name"]: n for n in listed}
        self._remove_gone_nodes(nodes, instances)
        if cluster is None:
            return
        context = TickContext(
            cluster=cluster,
            auth_mode=(cluster.get("accessConfig") or {}).get("authenticationMode") or "CONFIG_MAP",
            aws_auth=self._aws.remember(("config-map", "aws-auth"), lambda: read_config_map(core, "kube-system", "aws-auth")),
            vpc_cni=self._aws.remember(("config-map", "amazon-vpc-cni"), lambda: read_config_map(core, "kube-system", "amazon-vpc-cni")),
            kubernetes_version=cluster.get("version") or "1.31",
        )
        assert self._cni is not None
        aws_node_pods = self._aws.remember(("aws-node pods",), lambda: decoded(
            core.list_namespaced_pod("kube-system", label_selector="k8s-app=aws-node", _preload_content=False)).get("items", []))
        context.cni_faults = self._cni.evaluate(cluster, aws_node_pods, nodes)
        seen = set()
        for group in groups:
            for member in group.get("Instances", []):
                instance = instances.get(member["InstanceId"])
                if not instance or instance["State"]["Name"] not in LIVE_STATES:
                    continue
                seen.add(instance["InstanceId"])
                self._handle(Candidate(instance=instance, asg_name=group["AutoScalingGroupName"]), group, context, nodes)
        with self._lock:
            for instance_id in [i for i in self._records if i not in seen]:
                del self._records[instance_id]
            managed = {record.node_name for record in self._records.values()}
        self._update_other_nodes({name: node for name, node in nodes.items() if name not in managed}, context)

    def _record_for(self, candidate: Candidate, cluster: Mapping[str, Any]) -> InstanceRecord:
        with self._lock:
            record = self._records.get(candidate.instance_id)
            if record is None:
                record = InstanceRecord(instance_id=candidate.instance_id, asg_name=candidate.asg_name, first_seen=time.monotonic(),
                                        cluster_status_at_launch=str(cluster.get("status")), node_name=candidate.node_name)
                self._records[candidate.instance_id] = record
                LOG.info("instance %s of %s seen (cluster %s)", candidate.instance_id, candidate.asg_name, record.cluster_status_at_launch)
            return record

    def _set_verdict(self, record: InstanceRecord, verdict: str) -> None:
        if verdict != record.verdict:
            LOG.info("instance %s: %s", record.instance_id, verdict)
        record.verdict = verdict

    def _handle(self, candidate: Candidate, group: Mapping[str, Any], context: TickContext, nodes: dict) -> None:
        record = self._record_for(candidate, context.cluster)
        self._check_load_balancer_groups(candidate, record)
        try:
            if record.joined_at is None:
                self._check_contract(candidate, group, context, record)
                record.os_family, record.role_arn = candidate.os_family, candidate.role_arn
                record.profile_arn = (candidate.instance.get("IamInstanceProfile") or {}).get("Arn")
            else:
                self._recheck_joined(candidate, context, record)
        except Refusal as refusal:
            record.os_family = record.os_family or candidate.os_family
            record.contract_held_at = None if record.joined_at is None else record.contract_held_at
            self._set_verdict(record, str(refusal))
            if record.joined_at is not None:
                self._mark_unknown(candidate.node_name, nodes, str(refusal), record)
            return
        node = nodes.get(candidate.node_name)
        if node is None and record.joined_at is None:
            if record.contract_held_at is None:
                record.contract_held_at = time.monotonic()
            waited = time.monotonic() - record.contract_held_at
            if waited < self.knobs.join_delay:
                self._set_verdict(record, f"join contract holds; kubelet registers in {self.knobs.join_delay - waited:.1f}s")
                return
            self._register(candidate, context)
            record.joined_at = time.monotonic()
            self._set_verdict(record, f"registered as Node {candidate.node_name} via {candidate.identity.source}")
            return
        if node is None:
            return  # deleted by someone else after joining; kubelet re-registers only on restart
        if record.joined_at is None:
            record.joined_at = time.monotonic()
        self._set_verdict(record, f"joined as Node {candidate.node_name} via {candidate.identity.source}")
        self._update_readiness(candidate, context, node, record)

    def _check_load_balancer_groups(self, candidate: Candidate, record: InstanceRecord) -> None:
        """The security group the service controller would pick for the instance (findSecurityGroupForInstance)."""
        assert self._aws is not None
        tagged_ids = self._aws.cluster_tagged_security_groups(self.cluster_name)
        groups = [(g.get("GroupId", ""), g.get("GroupName", "")) for g in candidate.instance.get("SecurityGroups") or []]
        tagged = [(group_id, name) for group_id, name in groups if group_id in tagged_ids]
        error = None
        if len(tagged) > 1:
            listed = "".join(f"{group_id}({name}) " for group_id, name in tagged)
            error = (f"Multiple tagged security groups found for instance {candidate.instance_id}; ensure only the k8s security "
                     f"group is tagged; the tagged groups were {listed}")
        elif not tagged and len(groups) > 1:
            error = f"Multiple untagged security groups found for instance {candidate.instance_id}; ensure the k8s security group is tagged"
        if error != record.load_balancer_error and error:
            LOG.warning("instance %s: load balancers cannot use it: %s", candidate.instance_id, error)
        record.tagged_security_groups = [group_id for group_id, _name in tagged]
        record.load_balancer_error = error

    def _recheck_joined(self, candidate: Candidate, context: TickContext, record: InstanceRecord) -> None:
        """A running kubelet keeps only needing its credentials: re-check who it is, not how it booted."""
        candidate.os_family = record.os_family
        profile = candidate.instance.get("IamInstanceProfile") or {}
        if profile.get("Arn") and profile["Arn"] != record.profile_arn:
            assert self._aws is not None
            record.profile_arn = profile["Arn"]
            record.role_arn = self._aws.role_of_profile(profile)
        if not record.role_arn:
            raise Refusal(f"instance profile {record.profile_arn} contains no role")
        candidate.role_arn = record.role_arn
        candidate.identity = self._authorize(candidate, context)

    # the join contract --------------------------------------------------------------------------
    def _check_contract(self, candidate: Candidate, group: Mapping[str, Any], context: TickContext, record: InstanceRecord) -> None:
        if record.cluster_status_at_launch not in SERVING_CLUSTER_STATES:
            raise Refusal(f"the instance started while cluster {self.cluster_name} was {record.cluster_status_at_launch}, "
                          "so its bootstrap failed; relaunch it after the cluster is ACTIVE")
        if not candidate.node_name:
            raise Refusal("the instance has no private DNS name (node \"\" not found)")
        tag = f"kubernetes.io/cluster/{self.cluster_name}"
        if not any(t.get("Key") == tag and t.get("Value") == "owned" for t in candidate.instance.get("Tags", [])):
            raise Refusal(f"the instance is not tagged {tag}=owned (PropagateAtLaunch off?)")
        launch = self._launch_data(candidate, group)
        self._check_image(candidate, launch)
        self._check_bootstrap(candidate, launch, context)
        self._check_network(candidate)
        candidate.role_arn = self._role_arn(candidate, launch)
        candidate.identity = self._authorize(candidate, context)

    def _launch_data(self, candidate: Candidate, group: Mapping[str, Any]) -> dict:
        assert self._aws is not None
        tags = {t["Key"]: t["Value"] for t in candidate.instance.get("Tags", [])}
        if tags.get("aws:ec2launchtemplate:id"):
            return self._aws.launch_template_data(tags["aws:ec2launchtemplate:id"], tags.get("aws:ec2launchtemplate:version", "$Default"))
        spec = group.get("LaunchTemplate") or ((group.get("MixedInstancesPolicy") or {}).get("LaunchTemplate") or {}).get("LaunchTemplateSpecification")
        if spec:
            template_id = spec.get("LaunchTemplateId")
            if not template_id:
                templates = self._aws.ec2.describe_launch_templates(LaunchTemplateNames=[spec["LaunchTemplateName"]])["LaunchTemplates"]
                template_id = templates[0]["LaunchTemplateId"]
            return self._aws.launch_template_data(template_id, str(spec.get("Version") or "$Default"))
        if group.get("LaunchConfigurationName"):
            return self._aws.launch_configuration(group["LaunchConfigurationName"])
        raise Refusal("the Auto Scaling group has neither a launch template nor a launch configuration")

    def _check_image(self, candidate: Candidate, launch: Mapping[str, Any]) -> None:
        assert self._aws is not None
        image_id = candidate.instance.get("ImageId") or launch.get("ImageId")
        image = self._aws.image(image_id) if image_id else None
        if image is None:
            raise Refusal(f"AMI {image_id} cannot be described (deregistered or private: 'Not authorized for images')")
        candidate.ami_name = image.get("Name") or ""
        windows = str(image.get("Platform", "")).lower() == "windows" or candidate.ami_name.lower().startswith("windows")
        candidate.os_family = "windows" if windows else "linux"
        candidate.windows_release = windows_release_of(candidate.ami_name) if windows else None
        candidate.ami_kubernetes_version = kubernetes_version_of(candidate.ami_name)
        # A public AWS image without "EKS" in its name is a base OS image: it has no bootstrap script.
        # Images owned by the account are custom builds and are given the benefit of the doubt.
        if image.get("ImageOwnerAlias") == "amazon" and "eks" not in candidate.ami_name.lower():
            raise Refusal(f"AMI {image_id} ({candidate.ami_name}) is not an EKS-optimized image, so it has no bootstrap script")

    def _check_bootstrap(self, candidate: Candidate, launch: Mapping[str, Any], context: TickContext) -> None:
        bootstrap = parse_bootstrap(launch.get("UserData"))
        candidate.bootstrap = bootstrap
        if bootstrap.problem:
            raise Refusal(bootstrap.problem)
        if bootstrap.os_family != candidate.os_family:
            raise Refusal(f"the user data bootstraps a {bootstrap.os_family} node but AMI {candidate.ami_name} is {candidate.os_family}")
        if bootstrap.cluster_name != self.cluster_name:
            raise Refusal(f"the user data names cluster {bootstrap.cluster_name!r}, not {self.cluster_name!r}: "
                          "Get-EKSCluster/DescribeCluster fails, so kubelet gets no kubeconfig")
        endpoint = (context.cluster.get("endpoint") or "").rstrip("/")
        if bootstrap.api_server_endpoint and bootstrap.api_server_endpoint.rstrip("/") != endpoint:
            raise Refusal(f"the user data points kubelet at {bootstrap.api_server_endpoint}, not the cluster endpoint {endpoint}")
        ca_data = ((context.cluster.get("certificateAuthority") or {}).get("data") or "").strip()
        if bootstrap.base64_ca and bootstrap.base64_ca.strip() != ca_data:
            raise Refusal("the user data passes a cluster CA that is not the cluster's: TLS to the API server fails")

    def _check_network(self, candidate: Candidate) -> None:
        assert self._aws is not None
        subnet_id = candidate.instance.get("SubnetId")
        if not subnet_id:
            raise Refusal("the instance is not in a subnet")
        subnet = self._aws.subnet(subnet_id)
        table = self._aws.route_table(subnet_id, subnet["VpcId"])
        default_routes = [r for r in (table or {}).get("Routes", []) if r.get("DestinationCidrBlock") == "0.0.0.0/0" and r.get("State", "active") == "active"]
        for route in default_routes:
            if route.get("NatGatewayId") and self._aws.nat_gateway_available(route["NatGatewayId"]):
                return
            if str(route.get("GatewayId", "")).startswith("igw-"):
                if candidate.instance.get("PublicIpAddress") or subnet.get("MapPublicIpOnLaunch"):
                    return
                raise Refusal(f"subnet {subnet_id} routes 0.0.0.0/0 to an internet gateway but the instance has no public IP "
                              "(auto-assign public IPv4 is off): it cannot reach the EKS and STS endpoints")
        raise Refusal(f"subnet {subnet_id} has no 0.0.0.0/0 route to a NAT gateway or internet gateway: "
                      "the instance cannot reach the EKS and STS endpoints")

    def _role_arn(self, candidate: Candidate, launch: Mapping[str, Any]) -> str:
        assert self._aws is not None
        profile = candidate.instance.get("IamInstanceProfile") or launch.get("IamInstanceProfile")
        if not profile:
            raise Refusal("the instance has no IAM instance profile, so it has no credentials to authenticate with")
        role_arn = self._aws.role_of_profile(profile)
        if not role_arn:
            raise Refusal(f"instance profile {profile.get('Arn') or profile.get('Name')} contains no role")
        return role_arn

    def _authorize(self, candidate: Candidate, context: TickContext) -> Identity:
        assert self._aws is not None and candidate.role_arn
        role_arn = candidate.role_arn
        if context.auth_mode in API_MODES:
            entry = self._aws.access_entry(self.cluster_name, role_arn)
            if entry is not None:
                return self._identity_from_entry(entry, role_arn)
        if context.auth_mode not in CONFIG_MAP_MODES:
            raise Refusal(f"Unauthorized: the cluster's authentication mode is {context.auth_mode} and role {role_arn} has no access entry")
        return self._identity_from_aws_auth(candidate, context)

    @staticmethod
    def _identity_from_entry(entry: Mapping[str, Any], role_arn: str) -> Identity:
        kind = entry.get("type") or "STANDARD"
        if kind not in NODE_ENTRY_TYPES:
            raise Refusal(f"Unauthorized: the {kind} access entry for {role_arn} overrides any aws-auth mapping and does not make it a node "
                          "(needs type EC2_WINDOWS or EC2_LINUX)")
        return Identity(source=f"access entry {kind}", groups=NODE_GROUPS + ((KUBE_PROXY_WINDOWS_GROUP,) if kind == "EC2_WINDOWS" else ()),
                        kube_proxy_windows=kind == "EC2_WINDOWS")

    def _identity_from_aws_auth(self, candidate: Candidate, context: TickContext) -> Identity:
        role_arn = candidate.role_arn or ""
        entries, problem = context.map_roles, context.map_roles_problem
        if problem:
            raise Refusal(f"Unauthorized: {problem}")
        mapping = find_role_mapping(entries, role_arn)
        if mapping is None:
            raise Refusal(self._unmapped_reason(entries, role_arn))
        groups = tuple(str(g) for g in mapping.get("groups") or [])
        missing = [g for g in NODE_GROUPS if g not in groups]
        if missing:
            raise Refusal(f"Unauthorized: the aws-auth mapping of {role_arn_without_path(role_arn)} lacks group(s) {', '.join(missing)}")
        username = str(mapping.get("username", ""))
        if username.replace("{{EC2PrivateDNSName}}", candidate.node_name) != f"system:node:{candidate.node_name}":
            raise Refusal(f"Forbidden: aws-auth maps the role to username {username!r}; the Node authorizer only lets "
                          f"system:node:{candidate.node_name} register that node (use {NODE_USERNAME})")
        return Identity(source="aws-auth", groups=groups, kube_proxy_windows=KUBE_PROXY_WINDOWS_GROUP in groups)

    @staticmethod
    def _unmapped_reason(entries: list, role_arn: str) -> str:
        mapped = [str(e.get("rolearn", "")) for e in entries]
        if any(":instance-profile/" in arn for arn in mapped):
            hint = " (aws-auth lists an instance-profile ARN; it must list the role ARN)"
        elif role_arn != role_arn_without_path(role_arn) and role_arn.lower() in (a.lower() for a in mapped):
            hint = f" (aws-auth lists the ARN with its path; EKS matches {role_arn_without_path(role_arn)})"
        else:
            hint = ""
        return f"Unauthorized: role {role_arn_without_path(role_arn)} is not mapped in kube-system/aws-auth mapRoles{hint}"

    # node writes ---------------------------------------------------------------------------------
    def _register(self, candidate: Candidate, context: TickContext) -> None:
        assert self._aws is not None and self._core is not None
        node = build_node(candidate, self.region, context.kubernetes_version, self._aws.instance_type(candidate.instance.get("InstanceType", "")))
        try:
            self._core.create_node(node, _preload_content=False)
        except ApiException as err:
            if err.status != 409:
                raise
        # Some API servers drop status on create, as the real one does for most kinds.
        self._core.patch_node_status(candidate.node_name, {"status": node["status"]}, _preload_content=False, _content_type=MERGE_PATCH)
        LOG.info("node %s registered for %s (%s, %s)", candidate.node_name, candidate.instance_id, candidate.os_family, candidate.identity.source)

    def _readiness_fault(self, candidate: Candidate, context: TickContext) -> Optional[str]:
        if candidate.node_name in context.cni_faults:
            return context.cni_faults[candidate.node_name]
        if candidate.os_family != "windows" or candidate.identity is None:
            return None
        if not candidate.identity.kube_proxy_windows:
            how = ("the EC2_LINUX access entry does not grant it" if candidate.identity.source == "access entry EC2_LINUX"
                   else f"the node role mapping lacks group {KUBE_PROXY_WINDOWS_GROUP}")
            return f"kube-proxy cannot reach the API as {KUBE_PROXY_WINDOWS_GROUP}: {how}"
        if not windows_ipam_enabled(context.vpc_cni):
            return IPAM_DISABLED_MESSAGE
        return None

    def _update_readiness(self, candidate: Candidate, context: TickContext, node: Mapping[str, Any], record: InstanceRecord) -> None:
        assert record.joined_at is not None
        current = ready_condition(node)
        if time.monotonic() - record.joined_at < self.knobs.ready_delay and current.get("status") != "True":
            wanted = ("False", "KubeletNotReady", NOT_READY_BOOT_MESSAGE)
        else:
            fault = self._readiness_fault(candidate, context)
            wanted = ("False", "KubeletNotReady", fault) if fault else ("True", "KubeletReady", "kubelet is posting ready status")
        self._write_ready(candidate.node_name, current, wanted, record)

    def _update_other_nodes(self, nodes: Mapping[str, Any], context: TickContext) -> None:
        """Nodes no instance record manages (the seeded Linux node): only the aws-node credentials fault and its healing."""
        for name, node in nodes.items():
            current = ready_condition(node)
            if name in context.cni_faults:
                wanted = ("False", "KubeletNotReady", context.cni_faults[name])
            elif str(current.get("message", "")).startswith(CNI_FAULT_PREFIX):
                wanted = ("True", "KubeletReady", "kubelet is posting ready status")
            else:
                continue
            self._write_ready(name, current, wanted, InstanceRecord(instance_id="", asg_name="", first_seen=0.0, cluster_status_at_launch=""))

    def _mark_unknown(self, node_name: str, nodes: dict, why: str, record: InstanceRecord) -> None:
        node = nodes.get(node_name)
        if node is None:
            return
        self._write_ready(node_name, ready_condition(node), ("Unknown", "NodeStatusUnknown", f"Kubelet stopped posting node status: {why}"), record)

    def _write_ready(self, node_name: str, current: Mapping[str, Any], wanted: tuple, record: InstanceRecord) -> None:
        assert self._core is not None
        status, reason, message = wanted
        record.ready, record.ready_message = status, message
        if (current.get("status"), current.get("reason"), current.get("message")) == wanted:
            return
        since = current.get("lastTransitionTime") if current.get("status") == status else None
        patch = {"status": {"conditions": node_conditions(status, reason, message, since)}}
        self._core.patch_node_status(node_name, patch, _preload_content=False, _content_type=MERGE_PATCH)
        LOG.info("node %s Ready=%s (%s): %s", node_name, status, reason, message)

    def _remove_gone_nodes(self, nodes: dict, instances: dict) -> None:
        """What the cloud node lifecycle controller does: delete Nodes whose instance is terminated or gone."""
        assert self._core is not None
        for name, node in list(nodes.items()):
            provider_id = (node.get("spec") or {}).get("providerID") or ""
            if not provider_id.startswith("aws:///"):
                continue
            instance = instances.get(provider_id.rsplit("/", 1)[-1])
            if instance is not None and instance["State"]["Name"] not in ("terminated", "shutting-down"):
                continue
            try:
                self._core.delete_node(name, _preload_content=False)
            except ApiException as err:
                if err.status != 404:
                    raise
            del nodes[name]
            LOG.info("node %s deleted: its instance %s is gone", name, provider_id.rsplit("/", 1)[-1])
