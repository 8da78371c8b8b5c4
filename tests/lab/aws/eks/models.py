"""EKS as the lab needs it: moto's cluster and node-group model, extended with what moto 5.2.5 lacks.

Added on top of moto's ``EKSBackend`` (registered in place of it by ``lab.aws.patches``):

* clusters point at the lab's API server (endpoint and base64 CA from the lab settings), carry a platform
  version, an ``accessConfig`` and an EKS cluster security group, and their status can be scheduled;
* UpdateClusterConfig returns an ``update`` object and follows the authentication-mode rules of AWS
  (CONFIG_MAP -> API_AND_CONFIG_MAP -> API, never back); DescribeUpdate/ListUpdates;
* access entries and access-policy associations, with the validation rules of AWS;
* add-ons with configuration values, versions and a configuration schema;
* EKS Pod Identity associations: one per namespace and service account, those an add-on owns (its
  ``podIdentityAssociations``) changed only through the add-on.

Times are evaluated lazily (``time.monotonic`` against a deadline) so nothing runs in the background.
"""

from __future__ import annotations

import importlib
import base64
import datetime as dt
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Optional

from moto.core.utils import utcnow
from moto.ec2.exceptions import InvalidSubnetIdError
from moto.ec2.models import ec2_backends
from moto.eks.models import Cluster, EKSBackend, paginated_list
from moto.iam.models import iam_backends

from lab.aws.eks import addons as catalogue
from lab.aws.patches.eks import validate_role_arn
from lab.aws.eks.errors import InvalidParameterException, InvalidRequestException, ResourceInUseException, ResourceNotFoundException
from lab.aws.state import LAB_STATE

AUTH_MODE_STEPS = {("CONFIG_MAP", "API_AND_CONFIG_MAP"), ("API_AND_CONFIG_MAP", "API")}
ACCESS_ENTRY_MODES = ("API", "API_AND_CONFIG_MAP")
ACCESS_ENTRY_TYPES = ("STANDARD", "EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX")
NODE_ENTRY_TYPES = ("EC2_LINUX", "EC2_WINDOWS")
NODE_USERNAME = "system:node:{{EC2PrivateDNSName}}"
FARGATE_USERNAME = "system:node:{{SessionName}}"
ACCESS_POLICY_PREFIX = "arn:aws:eks::aws:cluster-access-policy/"
ACCESS_POLICIES = ("AmazonEKSAdminPolicy", "AmazonEKSAdminViewPolicy", "AmazonEKSClusterAdminPolicy", "AmazonEKSEditPolicy",
                   "AmazonEKSViewPolicy", "AmazonEKSAutoNodePolicy", "AmazonEKSBlockStoragePolicy", "AmazonEKSComputePolicy",
                   "AmazonEKSLoadBalancingPolicy", "AmazonEKSNetworkingPolicy")
PRINCIPAL_ARN = re.compile(r"^arn:aws:iam::(?P<account>\d{12}):(?P<kind>role|user)/(?:[\w+=,.@-]+/)*(?P<name>[\w+=,.@-]+)$")
CLUSTER_STATUSES = ("CREATING", "ACTIVE", "DELETING", "FAILED", "UPDATING", "PENDING")
NOT_IN_API_MODE = "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation."
CLUSTER_SG_DESCRIPTION = ("EKS created security group applied to ENI that is attached to EKS Control Plane master nodes, "
                          "as well as any managed workloads.")


def _deadline(seconds: float) -> float:
    return time.monotonic() + max(seconds, 0.0)


@dataclass
class ClusterUpdate:
    """An EKS ``update`` object; InProgress until its deadline, then Successful."""

    update_type: str
    params: list[dict[str, str]]
    deadline: float
    nodegroup_name: Optional[str] = None
    addon_name: Optional[str] = None
    update_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created_at: dt.datetime = field(default_factory=utcnow)

    @property
    def status(self) -> str:
        return "InProgress" if time.monotonic() < self.deadline else "Successful"

    def to_api(self) -> dict[str, Any]:
        return {"id": self.update_id, "status": self.status, "type": self.update_type, "params": self.params,
                "createdAt": self.created_at, "errors": []}


@dataclass
class AccessEntry:
    """An access entry and the access policies associated with it."""

    cluster_name: str
    principal_arn: str
    entry_type: str
    username: str
    kubernetes_groups: list[str]
    arn: str
    tags: dict[str, str]
    created_at: dt.datetime = field(default_factory=utcnow)
    modified_at: dt.datetime = field(default_factory=utcnow)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        return {"clusterName": self.cluster_name, "principalArn": self.principal_arn, "kubernetesGroups": list(self.kubernetes_groups),
                "accessEntryArn": self.arn, "createdAt": self.created_at, "modifiedAt": self.modified_at, "tags": dict(self.tags),
                "username": self.username, "type": self.entry_type}


@dataclass
class Addon:
    """A managed add-on; CREATING/UPDATING until its deadline, then ACTIVE."""

    name: str
    cluster_name: str
    version: str
    arn: str
    configuration_values: Optional[str] = None
    service_account_role_arn: Optional[str] = None
    resolve_conflicts: Optional[str] = None
    tags: dict[str, str] = field(default_factory=dict)
    created_at: dt.datetime = field(default_factory=utcnow)
    modified_at: dt.datetime = field(default_factory=utcnow)
    pod_identity_associations: list[str] = field(default_factory=list)   # the ARNs of the associations it owns
    transition: str = "CREATING"
    deadline: float = 0.0
    deleting: bool = False

    @property
    def status(self) -> str:
        if self.deleting:
            return "DELETING"
        return self.transition if time.monotonic() < self.deadline else "ACTIVE"

    def to_api(self) -> dict[str, Any]:
        result = {"addonName": self.name, "clusterName": self.cluster_name, "status": self.status, "addonVersion": self.version,
                  "health": {"issues": []}, "addonArn": self.arn, "createdAt": self.created_at, "modifiedAt": self.modified_at,
                  "tags": dict(self.tags), "publisher": "eks", "owner": "aws", "podIdentityAssociations": list(self.pod_identity_associations)}
        optional = {"serviceAccountRoleArn": self.service_account_role_arn, "configurationValues": self.configuration_values}
        result.update({key: value for key, value in optional.items() if value is not None})
        return result


@dataclass
class PodIdentityAssociation:
    """An EKS Pod Identity association: the IAM role for one service account."""

    cluster_name: str
    namespace: str
    service_account: str
    role_arn: str
    association_id: str
    arn: str
    owner_arn: Optional[str] = None
    tags: dict[str, str] = field(default_factory=dict)
    created_at: dt.datetime = field(default_factory=utcnow)
    modified_at: dt.datetime = field(default_factory=utcnow)

    def summary(self) -> dict[str, Any]:
        result = {"clusterName": self.cluster_name, "namespace": self.namespace, "serviceAccount": self.service_account,
                  "associationArn": self.arn, "associationId": self.association_id}
        if self.owner_arn:
            result["ownerArn"] = self.owner_arn
        return result

    def to_api(self) -> dict[str, Any]:
        return {**self.summary(), "roleArn": self.role_arn, "tags": dict(self.tags), "createdAt": self.created_at,
                "modifiedAt": self.modified_at, "disableSessionTags": False}


class LabCluster(Cluster):
    """moto's cluster plus the lab's endpoint, access configuration, schedulable status and EKS sub-resources."""

    def __init__(self, *, authentication_mode: str, **kwargs: Any) -> None:
        self._status = "ACTIVE"
        self._scheduled: Optional[tuple[float, str]] = None
        super().__init__(**kwargs)
        settings = LAB_STATE.settings
        self.platformVersion = settings.platform_version  # pylint: disable=invalid-name  # the attribute moto serializes
        self.endpoint = settings.kube_endpoint
        self.certificate_authority = {"data": base64.b64encode(settings.kube_ca_pem.encode()).decode()}
        self.authentication_mode = authentication_mode
        self.health: dict[str, Any] = {"issues": []}
        self.upgrade_policy = {"supportType": "STANDARD"}
        self.access_entries: dict[str, AccessEntry] = {}
        self.addons: dict[str, Addon] = {}
        self.updates: dict[str, ClusterUpdate] = {}
        self.associations: dict[str, PodIdentityAssociation] = {}

    @property
    def status(self) -> str:  # type: ignore[override]
        if self._scheduled and time.monotonic() >= self._scheduled[0]:
            self._status, self._scheduled = self._scheduled[1], None
        return self._status

    @status.setter
    def status(self, value: str) -> None:
        self._status, self._scheduled = value, None

    def schedule_status(self, status: str, after_seconds: float) -> None:
        """Become ``status`` once ``after_seconds`` have passed."""
        self._scheduled = (_deadline(after_seconds), status)

    @property
    def access_config(self) -> dict[str, str]:
        return {"authenticationMode": self.authentication_mode}

    def require_access_entries(self) -> None:
        if self.authentication_mode not in ACCESS_ENTRY_MODES:
            raise InvalidRequestException(NOT_IN_API_MODE)

    def entry(self, principal_arn: str) -> AccessEntry:
        self.require_access_entries()
        if principal_arn not in self.access_entries:
            raise ResourceNotFoundException("The specified principalArn could not be found. "
                                            "You can view your available access entries with 'list-access-entries'.")
        return self.access_entries[principal_arn]

    def addon(self, name: str) -> Addon:
        if name not in self.addons:
            raise ResourceNotFoundException(f"No addon: {name} found in cluster: {self.name}")
        return self.addons[name]

    def association(self, association_id: str) -> PodIdentityAssociation:
        if association_id not in self.associations:
            raise ResourceNotFoundException(f"Association {association_id} not found in cluster {self.name}")
        return self.associations[association_id]

    def association_for(self, namespace: str, service_account: str) -> Optional[PodIdentityAssociation]:
        return next((a for a in self.associations.values() if (a.namespace, a.service_account) == (namespace, service_account)), None)

    def record_update(self, update: ClusterUpdate) -> ClusterUpdate:
        self.updates[update.update_id] = update
        return update


def _principal_parts(principal_arn: str, account_id: str) -> re.Match[str]:
    match = PRINCIPAL_ARN.match(principal_arn or "")
    if not match:
        raise InvalidParameterException(f"The specified principalArn is invalid: {principal_arn!r} is not the ARN of an IAM role or user")
    if match.group("account") != account_id:
        raise InvalidParameterException(f"The specified principalArn {principal_arn} does not belong to the cluster's account {account_id}")
    return match


def _principal_exists(match: re.Match[str], account_id: str) -> bool:
    iam = iam_backends[account_id]["aws"]
    if match.group("kind") == "role":
        return any(role.name == match.group("name") for role in iam.roles.values())
    return match.group("name") in iam.users


def _default_username(entry_type: str, match: re.Match[str]) -> str:
    if entry_type in NODE_ENTRY_TYPES:
        return NODE_USERNAME
    if entry_type == "FARGATE_LINUX":
        return FARGATE_USERNAME
    if match.group("kind") == "role":
        return f"arn:aws:sts::{match.group('account')}:assumed-role/{match.group('name')}/{{{{SessionName}}}}"
    return match.group(0)


# Prefixes EKS reserves for its own and AWS's identities (EKS user guide, grant-k8s-access: access entry usernames).
RESERVED_USERNAME_PREFIXES = ("system:", "eks:", "aws:", "amazon:", "iam:")


def _check_standard_identity(username: Optional[str], groups: list[str]) -> None:
    reserved = [prefix for prefix in RESERVED_USERNAME_PREFIXES if username is not None and username.startswith(prefix)]
    if reserved:
        raise InvalidParameterException(f"The username must not begin with {reserved[0]} "
                                        f"(reserved prefixes: {', '.join(RESERVED_USERNAME_PREFIXES)})")
    for group in groups:
        if group.startswith("system:"):
            raise InvalidParameterException(f"The kubernetes group name {group} is invalid, it cannot start with system:")


def _check_node_identity(entry_type: str, username: Optional[str], groups: Optional[list[str]]) -> None:
    if groups:
        raise InvalidParameterException(f"kubernetesGroups cannot be specified for an access entry of type {entry_type}")
    if username is not None:
        raise InvalidParameterException(f"username cannot be specified for an access entry of type {entry_type}")


def _check_access_scope(scope: dict[str, Any]) -> dict[str, Any]:
    scope_type = (scope or {}).get("type")
    namespaces = list((scope or {}).get("namespaces") or [])
    if scope_type not in ("cluster", "namespace"):
        raise InvalidParameterException("accessScope.type must be one of [cluster, namespace]")
    if scope_type == "namespace" and not namespaces:
        raise InvalidParameterException("accessScope.namespaces must be specified when accessScope.type is namespace")
    if scope_type == "cluster" and namespaces:
        raise InvalidParameterException("accessScope.namespaces must not be specified when accessScope.type is cluster")
    return {"type": scope_type, "namespaces": namespaces}


class LabEksBackend(EKSBackend):
    """moto's EKS backend with the lab's additions (see the module docstring)."""

    @property
    def _url_module(self) -> ModuleType:
        return importlib.import_module("lab.aws.eks.urls")  # imported late: the routes import the responses, which import this module

    # clusters --------------------------------------------------------------------------------------
    def cluster(self, name: str) -> LabCluster:
        cluster = self.clusters.get(name)
        if not isinstance(cluster, LabCluster):
            raise ResourceNotFoundException(f"No cluster found for name: {name}.")
        return cluster

    def create_cluster(  # pylint: disable=too-many-arguments
        self,
        name: str,
        role_arn: str,
        resources_vpc_config: dict[str, Any],
        version: Optional[str] = None,
        kubernetes_network_config: Optional[dict[str, str]] = None,
        logging: Optional[dict[str, Any]] = None,
        client_request_token: Optional[str] = None,
        tags: Optional[dict[str, str]] = None,
        encryption_config: Optional[list[dict[str, Any]]] = None,
        remote_network_config: Optional[dict[str, list[dict[str, list[str]]]]] = None,
        *,
        access_config: Optional[dict[str, Any]] = None,
    ) -> LabCluster:
        if name in self.clusters:
            raise ResourceInUseException(f"Cluster already exists with name: {name}")
        validate_role_arn(role_arn)
        settings = LAB_STATE.settings
        access_config = access_config or {}
        mode = access_config.get("authenticationMode") or "CONFIG_MAP"
        if mode not in ("CONFIG_MAP",) + ACCESS_ENTRY_MODES:
            raise InvalidParameterException(f"Unsupported authentication mode: {mode}")
        if mode == "CONFIG_MAP" and access_config.get("bootstrapClusterCreatorAdminPermissions") is False:
            raise InvalidParameterException("bootstrapClusterCreatorAdminPermissions must be true if cluster authentication mode is set to CONFIG_MAP")
        network = {"serviceIpv4Cidr": "172.20.0.0/16", "ipFamily": "ipv4", "elasticLoadBalancing": {"enabled": False}}
        network.update(kubernetes_network_config or {})
        if network["ipFamily"] == "ipv6":
            # EKS assigns an IPv6 service range from the unique local block (fc00::/7) instead.
            network.pop("serviceIpv4Cidr")
            network["serviceIpv6Cidr"] = "fd30:1c53:5f8a::/108"
        elif network["ipFamily"] != "ipv4":
            raise InvalidParameterException(f"Unsupported ipFamily: {network['ipFamily']}")
        cluster = LabCluster(
            authentication_mode=mode, name=name, role_arn=role_arn, resources_vpc_config=self._vpc_config(name, resources_vpc_config),
            version=version or settings.kubernetes_version, kubernetes_network_config=network, logging=logging,
            client_request_token=client_request_token, tags=tags, encryption_config=encryption_config,
            remote_network_config=remote_network_config, account_id=self.account_id, region_name=self.region_name,
            aws_partition=self.partition)
        self.clusters[name] = cluster
        self.cluster_count += 1
        return cluster

    def _vpc_config(self, cluster_name: str, requested: dict[str, Any]) -> dict[str, Any]:
        """The request's VPC config completed as EKS completes it, creating the EKS cluster security group."""
        ec2 = ec2_backends[self.account_id][self.region_name]
        subnet_ids = list(requested.get("subnetIds") or [])
        try:
            subnets = ec2.describe_subnets(subnet_ids=subnet_ids) if subnet_ids else []
        except InvalidSubnetIdError as error:
            raise InvalidParameterException(error.message) from error  # "The subnet ID 'subnet-1' does not exist", as EKS says
        if len({subnet.availability_zone for subnet in subnets}) < 2:
            raise InvalidParameterException("Subnets specified must be in at least two different AZs")
        vpc_id = subnets[0].vpc_id
        suffix = uuid.uuid4().hex[:10]
        group_name = f"eks-cluster-sg-{cluster_name}-{suffix}"
        group = ec2.create_security_group(group_name, CLUSTER_SG_DESCRIPTION, vpc_id=vpc_id, tags={
            "Name": group_name, f"kubernetes.io/cluster/{cluster_name}": "owned", "aws:eks:cluster-name": cluster_name})
        ec2.authorize_security_group_ingress(group.id, "-1", None, None, [],  # type: ignore[arg-type]  # no ports for protocol -1
                                             source_groups=[{"GroupId": group.id}], vpc_id=vpc_id)
        config = {"subnetIds": subnet_ids, "securityGroupIds": list(requested.get("securityGroupIds") or []),
                  "clusterSecurityGroupId": group.id, "vpcId": vpc_id, "endpointPublicAccess": True,
                  "endpointPrivateAccess": False, "publicAccessCidrs": ["0.0.0.0/0"]}
        config.update({key: value for key, value in requested.items() if key not in ("subnetIds", "securityGroupIds")})
        return config

    def delete_cluster(self, name: str) -> Cluster:
        cluster = super().delete_cluster(name)
        group_id = cluster.resources_vpc_config.get("clusterSecurityGroupId")
        ec2 = ec2_backends[self.account_id][self.region_name]
        if group_id and ec2.get_security_group_from_id(group_id) is not None:
            ec2.delete_security_group(group_id=group_id)
        return cluster

    def point_clusters_at_lab(self) -> None:
        """Re-read endpoint and CA from the lab settings (after ``AwsLab.configure_kube``)."""
        settings = LAB_STATE.settings
        for cluster in self.clusters.values():
            cluster.endpoint = settings.kube_endpoint
            cluster.certificate_authority = {"data": base64.b64encode(settings.kube_ca_pem.encode()).decode()}

    def set_cluster_status(self, name: str, status: str, after_seconds: Optional[float] = None, then: str = "ACTIVE") -> LabCluster:
        """Set a cluster's status now, and optionally schedule ``then`` after ``after_seconds``."""
        for value in (status, then):
            if value not in CLUSTER_STATUSES:
                raise InvalidParameterException(f"status must be one of {list(CLUSTER_STATUSES)}, not {value!r}")
        cluster = self.cluster(name)
        cluster.status = status
        if after_seconds is not None:
            cluster.schedule_status(then, after_seconds)
        return cluster

    def _begin_cluster_update(self, cluster: LabCluster, update: ClusterUpdate) -> ClusterUpdate:
        if cluster.status != "ACTIVE":
            raise ResourceInUseException(f"Cluster {cluster.name} is in {cluster.status} status; updates require ACTIVE")
        seconds = LAB_STATE.settings.transition_seconds
        if seconds > 0:
            cluster.status = "UPDATING"
            cluster.schedule_status("ACTIVE", seconds)
        return cluster.record_update(update)

    def update_cluster(self, name: str, *, access_config: Optional[dict[str, Any]] = None, logging: Optional[dict[str, Any]] = None,
                       resources_vpc_config: Optional[dict[str, Any]] = None) -> ClusterUpdate:
        """UpdateClusterConfig: one kind of change per call, as on AWS; returns the update."""
        cluster = self.cluster(name)
        changes = [key for key, value in (("accessConfig", access_config), ("logging", logging),
                                          ("resourcesVpcConfig", resources_vpc_config)) if value]
        if len(changes) != 1:
            raise InvalidParameterException("Only one type of update can be allowed." if changes else "No changes needed")
        deadline = _deadline(LAB_STATE.settings.transition_seconds)
        if access_config:
            return self._update_authentication_mode(cluster, access_config, deadline)
        if logging:
            cluster.logging = logging
            return self._begin_cluster_update(cluster, ClusterUpdate("LoggingUpdate", [{"type": "ClusterLogging", "value": json.dumps(logging)}],
                                                                     deadline))
        assert resources_vpc_config is not None
        cluster.resources_vpc_config.update(resources_vpc_config)
        params = [{"type": key[0].upper() + key[1:], "value": json.dumps(value) if not isinstance(value, str) else value}
                  for key, value in resources_vpc_config.items()]
        return self._begin_cluster_update(cluster, ClusterUpdate("EndpointAccessUpdate", params, deadline))

    def update_cluster_version(self, name: str, version: Optional[str]) -> ClusterUpdate:
        """UpdateClusterVersion: one minor version up at a time, as on AWS; the cluster's nodes keep theirs."""
        cluster = self.cluster(name)
        current = tuple(int(part) for part in str(cluster.version).split(".")[:2])
        match = re.fullmatch(r"(\d+)\.(\d+)", str(version or ""))
        if not match:
            raise InvalidParameterException(f"Unsupported Kubernetes version {version}")
        wanted = (int(match.group(1)), int(match.group(2)))
        if wanted[0] != current[0] or wanted[1] != current[1] + 1:
            raise InvalidParameterException(f"Unsupported Kubernetes minor version update from {cluster.version} to {version}")
        update = self._begin_cluster_update(cluster, ClusterUpdate(
            "VersionUpdate", [{"type": "Version", "value": str(version)}, {"type": "PlatformVersion", "value": cluster.platformVersion}],
            _deadline(LAB_STATE.settings.transition_seconds)))
        cluster.version = str(version)
        return update

    def _update_authentication_mode(self, cluster: LabCluster, access_config: dict[str, Any], deadline: float) -> ClusterUpdate:
        mode = access_config.get("authenticationMode")
        if (cluster.authentication_mode, mode) not in AUTH_MODE_STEPS:
            raise InvalidParameterException(f"Unsupported authentication mode update from {cluster.authentication_mode} to {mode}")
        update = self._begin_cluster_update(cluster, ClusterUpdate("AccessConfigUpdate", [{"type": "AuthenticationMode", "value": str(mode)}],
                                                                   deadline))
        previous, cluster.authentication_mode = cluster.authentication_mode, str(mode)
        if previous == "CONFIG_MAP":
            for nodegroup in cluster.nodegroups.values():
                self._add_nodegroup_entry(cluster, nodegroup.node_role, nodegroup.ami_type)
        return update

    def describe_update(self, name: str, update_id: str) -> ClusterUpdate:
        cluster = self.cluster(name)
        if update_id not in cluster.updates:
            raise ResourceNotFoundException(f"No update found for ID: {update_id}")
        return cluster.updates[update_id]

    def list_updates(self, name: str, nodegroup_name: Optional[str], addon_name: Optional[str], max_results: int,
                     next_token: Optional[str]) -> tuple[list[str], Optional[str]]:
        cluster = self.cluster(name)
        ids = [update.update_id for update in cluster.updates.values()
               if update.nodegroup_name == nodegroup_name and update.addon_name == addon_name]
        return paginated_list(ids, max_results, next_token)

    # node groups ----------------------------------------------------------------------------------
    def complete_nodegroup(self, cluster_name: str, nodegroup_name: str, version_given: bool, release_given: bool) -> None:
        """Default a new node group's versions to its cluster's, and give its role an access entry in API modes."""
        cluster = self.cluster(cluster_name)
        nodegroup = cluster.nodegroups[nodegroup_name]
        if not version_given:
            nodegroup.version = cluster.version
        if not release_given:
            nodegroup.release_version = f"{nodegroup.version}.2-20261112"
        if cluster.authentication_mode in ACCESS_ENTRY_MODES:
            self._add_nodegroup_entry(cluster, nodegroup.node_role, nodegroup.ami_type)

    def _add_nodegroup_entry(self, cluster: LabCluster, role_arn: str, ami_type: str) -> None:
        """EKS gives managed node-group roles an access entry (EC2_LINUX unless the AMI type is a Windows one)."""
        if role_arn in cluster.access_entries:
            return
        entry_type = "EC2_WINDOWS" if str(ami_type).startswith("WINDOWS") else "EC2_LINUX"
        match = _principal_parts(role_arn, self.account_id)
        cluster.access_entries[role_arn] = AccessEntry(cluster.name, role_arn, entry_type, NODE_USERNAME, ["system:nodes"],
                                                       self._entry_arn(cluster.name, match), {})

    # access entries -------------------------------------------------------------------------------
    def _entry_arn(self, cluster_name: str, match: re.Match[str]) -> str:
        return (f"arn:{self.partition}:eks:{self.region_name}:{self.account_id}:access-entry/{cluster_name}/"
                f"{match.group('kind')}/{match.group('account')}/{match.group('name')}/{uuid.uuid4()}")

    def create_access_entry(self, cluster_name: str, principal_arn: str, entry_type: Optional[str], username: Optional[str],
                            kubernetes_groups: Optional[list[str]], tags: Optional[dict[str, str]]) -> AccessEntry:
        cluster = self.cluster(cluster_name)
        cluster.require_access_entries()
        entry_type = entry_type or "STANDARD"
        if entry_type not in ACCESS_ENTRY_TYPES:
            raise InvalidParameterException(f"The access entry type {entry_type} is not supported; use one of {list(ACCESS_ENTRY_TYPES)}")
        match = _principal_parts(principal_arn, self.account_id)
        if not _principal_exists(match, self.account_id):
            raise InvalidParameterException(f"The specified principalArn {principal_arn} does not exist")
        if principal_arn in cluster.access_entries:
            raise ResourceInUseException("The specified access entry resource is already in use on this cluster.")
        groups = list(kubernetes_groups or [])
        if entry_type == "STANDARD":
            _check_standard_identity(username, groups)
        else:
            _check_node_identity(entry_type, username, groups)
            groups = ["system:nodes"] if entry_type in NODE_ENTRY_TYPES else ["system:node-proxier"]
        entry = AccessEntry(cluster_name, principal_arn, entry_type, username or _default_username(entry_type, match), groups,
                            self._entry_arn(cluster_name, match), dict(tags or {}))
        cluster.access_entries[principal_arn] = entry
        return entry

    def describe_access_entry(self, cluster_name: str, principal_arn: str) -> AccessEntry:
        return self.cluster(cluster_name).entry(principal_arn)

    def list_access_entries(self, cluster_name: str, associated_policy_arn: Optional[str], max_results: int,
                            next_token: Optional[str]) -> tuple[list[str], Optional[str]]:
        cluster = self.cluster(cluster_name)
        cluster.require_access_entries()
        arns = [arn for arn, entry in cluster.access_entries.items() if associated_policy_arn is None or associated_policy_arn in entry.policies]
        return paginated_list(arns, max_results, next_token)

    def update_access_entry(self, cluster_name: str, principal_arn: str, username: Optional[str],
                            kubernetes_groups: Optional[list[str]]) -> AccessEntry:
        entry = self.cluster(cluster_name).entry(principal_arn)
        if entry.entry_type != "STANDARD":
            _check_node_identity(entry.entry_type, username, kubernetes_groups)
            return entry
        _check_standard_identity(username, list(kubernetes_groups or []))
        if kubernetes_groups is not None:
            entry.kubernetes_groups = list(kubernetes_groups)
        if username is not None:
            entry.username = username
        entry.modified_at = utcnow()
        return entry

    def delete_access_entry(self, cluster_name: str, principal_arn: str) -> None:
        cluster = self.cluster(cluster_name)
        cluster.entry(principal_arn)
        del cluster.access_entries[principal_arn]

    def associate_access_policy(self, cluster_name: str, principal_arn: str, policy_arn: str, access_scope: dict[str, Any]) -> dict[str, Any]:
        entry = self.cluster(cluster_name).entry(principal_arn)
        if entry.entry_type != "STANDARD":
            raise InvalidRequestException(f"Access policies cannot be associated with an access entry of type {entry.entry_type}")
        if not policy_arn.startswith(ACCESS_POLICY_PREFIX) or policy_arn[len(ACCESS_POLICY_PREFIX):] not in ACCESS_POLICIES:
            raise ResourceNotFoundException(f"The specified policyArn {policy_arn} could not be found")
        now = utcnow()
        previous = entry.policies.get(policy_arn, {})
        entry.policies[policy_arn] = {"policyArn": policy_arn, "accessScope": _check_access_scope(access_scope),
                                      "associatedAt": previous.get("associatedAt", now), "modifiedAt": now}
        return entry.policies[policy_arn]

    def list_associated_access_policies(self, cluster_name: str, principal_arn: str) -> list[dict[str, Any]]:
        return list(self.cluster(cluster_name).entry(principal_arn).policies.values())

    def disassociate_access_policy(self, cluster_name: str, principal_arn: str, policy_arn: str) -> None:
        entry = self.cluster(cluster_name).entry(principal_arn)
        if policy_arn not in entry.policies:
            raise ResourceNotFoundException(f"The specified policyArn {policy_arn} is not associated with the access entry")
        del entry.policies[policy_arn]

    @staticmethod
    def list_access_policies() -> list[dict[str, str]]:
        return [{"name": name, "arn": ACCESS_POLICY_PREFIX + name} for name in ACCESS_POLICIES]

    # add-ons --------------------------------------------------------------------------------------
    def create_addon(self, cluster_name: str, addon_name: str, addon_version: Optional[str], configuration_values: Optional[str],
                     service_account_role_arn: Optional[str], resolve_conflicts: Optional[str], tags: Optional[dict[str, str]],
                     pod_identity_associations: Optional[list[dict[str, Any]]] = None) -> Addon:
        cluster = self.cluster(cluster_name)
        kind = catalogue.addon_kind(addon_name)
        if addon_name in cluster.addons:
            raise ResourceInUseException("Addon already exists.")
        catalogue.validate_configuration(kind, configuration_values)
        addon = Addon(name=addon_name, cluster_name=cluster_name, version=catalogue.resolve_version(kind, cluster.version, addon_version),
                      arn=f"arn:{self.partition}:eks:{self.region_name}:{self.account_id}:addon/{cluster_name}/{addon_name}/{uuid.uuid4()}",
                      configuration_values=configuration_values, service_account_role_arn=service_account_role_arn,
                      resolve_conflicts=resolve_conflicts, tags=dict(tags or {}), transition="CREATING",
                      deadline=_deadline(LAB_STATE.settings.transition_seconds))
        cluster.addons[addon_name] = addon
        if pod_identity_associations:
            self._set_addon_associations(cluster, addon, pod_identity_associations)
        return addon

    def describe_addon(self, cluster_name: str, addon_name: str) -> Addon:
        return self.cluster(cluster_name).addon(addon_name)

    def list_addons(self, cluster_name: str, max_results: int, next_token: Optional[str]) -> tuple[list[str], Optional[str]]:
        return paginated_list(list(self.cluster(cluster_name).addons), max_results, next_token)

    def update_addon(self, cluster_name: str, addon_name: str, addon_version: Optional[str], configuration_values: Optional[str],
                     service_account_role_arn: Optional[str], resolve_conflicts: Optional[str],
                     pod_identity_associations: Optional[list[dict[str, Any]]] = None) -> ClusterUpdate:
        cluster = self.cluster(cluster_name)
        addon = cluster.addon(addon_name)
        kind = catalogue.addon_kind(addon_name)
        if addon.status not in ("ACTIVE", "DEGRADED", "UPDATE_FAILED", "CREATE_FAILED"):
            raise ResourceInUseException(f"Addon {addon_name} is in {addon.status} state and cannot be updated")
        params = []
        if addon_version is not None:
            addon.version = catalogue.resolve_version(kind, cluster.version, addon_version)
            params.append({"type": "AddonVersion", "value": addon.version})
        if configuration_values is not None:
            catalogue.validate_configuration(kind, configuration_values)
            addon.configuration_values = configuration_values or None
            params.append({"type": "ConfigurationValues", "value": configuration_values})
        # An update without serviceAccountRoleArn puts the add-on back on the node role (the API has no way to say "keep it"
        # and refuses an empty value): terraform-provider-aws #19402/#19403 and #30645.
        addon.service_account_role_arn = service_account_role_arn or None
        if service_account_role_arn is not None:
            params.append({"type": "ServiceAccountRoleArn", "value": service_account_role_arn})
        if resolve_conflicts is not None:
            addon.resolve_conflicts = resolve_conflicts
            params.append({"type": "ResolveConflicts", "value": resolve_conflicts})
        # Unlike serviceAccountRoleArn, the associations stay as they are when the update leaves them out.
        if pod_identity_associations is not None:
            self._set_addon_associations(cluster, addon, pod_identity_associations)
            params.append({"type": "PodIdentityAssociations", "value": json.dumps(pod_identity_associations)})
        deadline = _deadline(LAB_STATE.settings.transition_seconds)
        addon.transition, addon.deadline, addon.modified_at = "UPDATING", deadline, utcnow()
        return cluster.record_update(ClusterUpdate("AddonUpdate", params, deadline, addon_name=addon_name))

    def delete_addon(self, cluster_name: str, addon_name: str) -> Addon:
        cluster = self.cluster(cluster_name)
        addon = cluster.addon(addon_name)
        addon.deleting = True
        for association in [a for a in cluster.associations.values() if a.owner_arn == addon.arn]:
            del cluster.associations[association.association_id]
        del cluster.addons[addon_name]
        return addon

    # EKS Pod Identity associations ------------------------------------------------------------------
    def _new_association(self, cluster: LabCluster, namespace: str, service_account: str, role_arn: str,
                         owner_arn: Optional[str] = None, tags: Optional[dict[str, str]] = None) -> PodIdentityAssociation:
        if not namespace or not service_account:
            raise InvalidParameterException("namespace and serviceAccount are required")
        validate_role_arn(role_arn)
        existing = cluster.association_for(namespace, service_account)
        if existing is not None:
            raise ResourceInUseException(f"Association already exists: {existing.association_id}")
        association_id = "a-" + uuid.uuid4().hex[:17]
        association = PodIdentityAssociation(
            cluster_name=cluster.name, namespace=namespace, service_account=service_account, role_arn=role_arn,
            association_id=association_id, owner_arn=owner_arn, tags=dict(tags or {}),
            arn=f"arn:{self.partition}:eks:{self.region_name}:{self.account_id}:podidentityassociation/{cluster.name}/{association_id}")
        cluster.associations[association_id] = association
        return association

    def create_pod_identity_association(self, cluster_name: str, namespace: str, service_account: str, role_arn: str,
                                        tags: Optional[dict[str, str]]) -> PodIdentityAssociation:
        return self._new_association(self.cluster(cluster_name), namespace, service_account, role_arn, tags=tags)

    def describe_pod_identity_association(self, cluster_name: str, association_id: str) -> PodIdentityAssociation:
        return self.cluster(cluster_name).association(association_id)

    def list_pod_identity_associations(self, cluster_name: str, namespace: Optional[str], service_account: Optional[str],
                                       max_results: int, next_token: Optional[str]) -> tuple[list[dict[str, Any]], Optional[str]]:
        found = [a.summary() for a in self.cluster(cluster_name).associations.values()
                 if namespace in (None, a.namespace) and service_account in (None, a.service_account)]
        return paginated_list(found, max_results, next_token)

    def update_pod_identity_association(self, cluster_name: str, association_id: str, role_arn: Optional[str]) -> PodIdentityAssociation:
        association = self._own_association(self.cluster(cluster_name), association_id)
        if role_arn is not None:
            validate_role_arn(role_arn)
            association.role_arn, association.modified_at = role_arn, utcnow()
        return association

    def delete_pod_identity_association(self, cluster_name: str, association_id: str) -> PodIdentityAssociation:
        cluster = self.cluster(cluster_name)
        association = self._own_association(cluster, association_id)
        return cluster.associations.pop(association.association_id)

    @staticmethod
    def _own_association(cluster: LabCluster, association_id: str) -> PodIdentityAssociation:
        """An association the caller may change: one an add-on owns changes only through UpdateAddon."""
        association = cluster.association(association_id)
        if association.owner_arn:
            raise InvalidRequestException(f"Association {association_id} is owned by {association.owner_arn}; "
                                          "change it with the add-on's podIdentityAssociations (UpdateAddon)")
        return association

    def _set_addon_associations(self, cluster: LabCluster, addon: Addon, wanted: list[dict[str, Any]]) -> None:
        """The add-on's podIdentityAssociations become ``wanted`` (service account -> role): EKS creates, updates and deletes
        the associations it owns in the add-on's namespace; an empty list removes them all."""
        owned = {a.service_account: a for a in cluster.associations.values() if a.owner_arn == addon.arn}
        wanted_roles = {item.get("serviceAccount"): item.get("roleArn") for item in wanted}
        for account, association in owned.items():
            if account not in wanted_roles:
                del cluster.associations[association.association_id]
        for account, role_arn in wanted_roles.items():
            if account in owned:
                validate_role_arn(role_arn)
                owned[account].role_arn, owned[account].modified_at = role_arn, utcnow()
            else:
                self._new_association(cluster, "kube-system", account, role_arn, owner_arn=addon.arn)
        addon.pod_identity_associations = sorted(a.arn for a in cluster.associations.values() if a.owner_arn == addon.arn)

    def describe_addon_versions(self, kubernetes_version: Optional[str], addon_name: Optional[str]) -> list[dict[str, Any]]:
        return catalogue.describe_versions(kubernetes_version, LAB_STATE.settings.kubernetes_version, [addon_name] if addon_name else None)

    @staticmethod
    def describe_addon_configuration(addon_name: str, addon_version: str) -> dict[str, Any]:
        kind = catalogue.addon_kind(addon_name)
        if not any(addon_version in kind.versions_for(version) for version in ("1.29", "1.30", "1.31", "1.32", "1.33", "1.34", "1.35")):
            raise ResourceNotFoundException(f"Addon version {addon_version} not found for addon {addon_name}")
        return {"addonName": addon_name, "addonVersion": addon_version, "configurationSchema": json.dumps(kind.schema),
                "podIdentityConfiguration": []}
