# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Runs every preflight check: reads what each needs through the API wrappers and collects the findings.

The decisions are in checks.py and network.py; this only gathers their inputs, and records which
checks were skipped and why (a check whose input cannot be read is skipped with a warning).
"""

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from ansible_collections.amazon.aws.plugins.module_utils.ec2 import describe_key_pairs
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.iam import list_iam_role_attached_policies

from ..eks.addons import list_addons
from ..eks.clusters import describe_cluster, describe_nodegroup, list_nodegroups
from ..eks.names import eks_api_cluster_name_problem
from ..eks.transformations import cluster_facts
from ..ipam.kube import KubeApiError, find_legacy_objects, list_deployments, read_config_map
from ..ipam.settings import ADDON_NAME, CONFIG_MAP_NAME, CONFIG_MAP_NAMESPACE, windows_ipam_enabled
from ..kube.client import KubeClientError
from . import checks
from .aws import caller_arn, describe_access_entry, is_unauthorized, list_access_entries, short_reason, unless_unauthorized
from .findings import Finding, error, status_of, unreadable
from .kube import aws_auth_map_roles, list_nodes, list_pods, read_deployment
from .network import node_subnets
from .subnets import instance_type_findings, read_subnets, subnet_findings

CHECKS = (
    "cluster_name",
    "nodegroup_name",
    "cluster_status",
    "platform_version",
    "ip_family",
    "windows_release",
    "cluster_role_policy",
    "kubernetes_access",
    "linux_nodes",
    "coredns",
    "legacy_controllers",
    "pod_imds",
    "subnets",
    "key_pair",
    "node_role",
    "instance_type",
)
CLUSTER_CHECKS = ("cluster_status", "platform_version", "ip_family", "windows_release", "cluster_role_policy")
KUBE_CHECKS = ("kubernetes_access", "linux_nodes", "coredns", "legacy_controllers", "pod_imds")


class Preflight:
    """One run of the checks. clients maps 'eks', 'ec2', 'iam' and 'sts' to boto3 clients (it may make them on first use)."""

    def __init__(self, params: Mapping[str, Any], region: str, clients: Mapping[str, Any], kube_client_factory: Callable[[Dict[str, Any]], Any],
                 find_cluster: Optional[Callable[[str], Optional[Dict[str, Any]]]] = None):
        self.params = params
        # the DescribeCluster answer for a name, or None; the module passes one that also names unknown regions and waits
        self.find_cluster = find_cluster or (lambda name: describe_cluster(self.clients["eks"], name))
        self.region = region
        self.clients = clients
        self.kube_client_factory = kube_client_factory
        self.findings: List[Finding] = []
        self.skipped: Dict[str, str] = {}
        self.cluster: Optional[Dict[str, Any]] = None
        self.subnets: List[Dict[str, Any]] = []
        self.node_subnet_ids: List[str] = []
        self.aws_auth_roles: Optional[List[Dict[str, str]]] = None
        # What the Windows IPAM step would start from, as read here (None: not read): the prerequisites role skips that
        # step when it has nothing to do.
        self.vpc_cni: Dict[str, Any] = {"managed_addon": None, "config_map_data": None}
        for name in params.get("skip_checks") or []:
            self.skipped[name] = "skipped on request"

    # bookkeeping -------------------------------------------------------------------------------
    def wanted(self, check: str) -> bool:
        return check not in self.skipped

    def skip(self, names: Sequence[str], reason: str) -> None:
        for name in names:
            self.skipped.setdefault(name, reason)

    def add(self, found: Sequence[Finding]) -> None:
        self.findings.extend(found)

    def guarded(self, check: str, what: str, call: Callable[[], Any]) -> bool:
        """Run one check's reads and decision; an AWS refusal to let the caller read skips it with a warning."""
        read, skipped = unless_unauthorized(check, what, lambda: call() or [])
        if not read:
            self.add(skipped)
            self.skip([check], f"{what} could not be read")
        return read

    # the run ------------------------------------------------------------------------------------
    def run(self) -> Dict[str, Any]:
        name = self.params["cluster_name"]
        if self.wanted("cluster_name"):
            self.add(checks.check_cluster_name(name))
        if self.wanted("nodegroup_name"):
            self.add(checks.check_nodegroup_name(self.params.get("nodegroup_name")))
        problem = eks_api_cluster_name_problem(name)
        if problem:
            self.skip(CLUSTER_CHECKS + KUBE_CHECKS + ("subnets",), "the cluster name is not valid")
        else:
            self.describe_cluster(name)
        if self.cluster is not None:
            self.cluster_checks()
            self.read_vpc_cni_addon()
            self.kubernetes_checks()
            if self.wanted("subnets"):
                self.guarded("subnets", "the subnets and route tables", self.subnet_check)
        if self.wanted("key_pair"):
            self.guarded("key_pair", "the key pairs", self.key_pair_check)
        if self.wanted("node_role"):
            self.node_role_check()
        if self.wanted("instance_type"):
            self.guarded("instance_type", "the instance types", self.instance_type_check)
        return self.result()

    def describe_cluster(self, name: str) -> None:
        described = self.find_cluster(name)
        if described is None:
            self.add([error(
                "cluster_status", f"there is no EKS cluster named {name} in {self.region}.",
                f"Check the cluster name and the region: aws eks list-clusters --region {self.region}",
            )])
            self.skipped.pop("cluster_status", None)
            self.skip(CLUSTER_CHECKS[1:] + KUBE_CHECKS + ("subnets",), "the cluster does not exist")
            return
        self.cluster = cluster_facts(described)

    def cluster_checks(self) -> None:
        cluster = self.cluster
        if self.wanted("cluster_status"):
            self.add(checks.check_cluster_status(cluster))
        if self.wanted("platform_version"):
            self.add(checks.check_platform_version(cluster))
        if self.wanted("ip_family"):
            self.add(checks.check_ip_family(cluster))
        if self.wanted("windows_release"):
            self.add(checks.check_windows_release(self.params.get("windows_release"), cluster.get("version")))
        if self.wanted("cluster_role_policy"):
            self.cluster_role_check()

    def cluster_role_check(self) -> None:
        role = (self.cluster.get("role_arn") or "").rsplit("/", 1)[-1]
        try:
            attached = list_iam_role_attached_policies(self.clients["iam"], role)
        except AnsibleAWSError as aws_error:
            if not is_unauthorized(aws_error):
                raise
            self.add(checks.check_cluster_role_policies(self.cluster, None, unreadable=short_reason(aws_error)))
            self.skip(["cluster_role_policy"], "IAM could not be read")
            return
        self.add(checks.check_cluster_role_policies(self.cluster, attached))

    # Kubernetes ---------------------------------------------------------------------------------
    def kubernetes_checks(self) -> None:
        cluster = self.cluster
        wanted = [check for check in KUBE_CHECKS if self.wanted(check)]
        if not wanted:
            return
        if cluster.get("status") != "ACTIVE" or not cluster.get("endpoint"):
            self.skip(KUBE_CHECKS, f"the cluster is {cluster.get('status')}, so its API server cannot be asked")
            return
        try:
            api = self.kube_client_factory(cluster)
            nodes = list_nodes(api)
        except (KubeClientError, KubeApiError) as kube_error:
            # An unreachable host or a missing kubeconfig carries its own fix; a refusal gets the access fix.
            fix = getattr(kube_error, "fix", "")
            who = "" if fix else caller_arn(self.clients["sts"])
            self.add([error(
                "kubernetes_access",
                f"the Kubernetes API server of cluster {cluster['name']} could not be used: {getattr(kube_error, 'problem', kube_error)}",
                fix or f"Give {who or 'the caller'} access to the cluster (an access entry with AmazonEKSClusterAdminPolicy, "
                "or an aws-auth mapping to system:masters), or pass a kubeconfig that has it.",
            )])
            self.skip(KUBE_CHECKS[1:], "the Kubernetes API server could not be used")
            return
        if self.wanted("linux_nodes"):
            self.add(checks.check_linux_nodes(nodes, cluster["name"]))
        # CoreDNS and the legacy controllers' Deployments, in one list when RBAC allows it (else a read each).
        deployments = list_deployments(api, "kube-system") if self.wanted("coredns") or self.wanted("legacy_controllers") else None
        if self.wanted("coredns"):
            self.kube_guarded("coredns", "the CoreDNS Deployment",
                              lambda: self.add(checks.check_coredns(read_deployment(api, "kube-system", "coredns", deployments), cluster["name"])))
        if self.wanted("legacy_controllers"):
            self.kube_guarded("legacy_controllers", "the legacy controller objects", lambda: self.add(checks.check_legacy_controllers(
                find_legacy_objects(api, thorough=not self.ipam_on(api), deployments=deployments))))
        if self.wanted("pod_imds"):
            if self.params.get("disable_pod_imds"):
                self.kube_guarded("pod_imds", "the pods on the Windows nodes", lambda: self.add(checks.check_pod_imds(list_pods(api), nodes)))
            else:
                self.skip(["pod_imds"], "disable_pod_imds is false")
        if self.params.get("windows_node_role") and cluster.get("authentication_mode") != "API" and self.wanted("node_role"):
            try:
                self.aws_auth_roles = checks.linux_roles_from_aws_auth(aws_auth_map_roles(api))
            except KubeApiError as kube_error:
                if kube_error.status != 403:
                    raise
                self.aws_auth_roles = None

    def ipam_on(self, api) -> bool:
        """Whether Windows IPAM is on; False when amazon-vpc-cni may not be read (then every legacy object is looked for)."""
        try:
            config_map = read_config_map(api, CONFIG_MAP_NAMESPACE, CONFIG_MAP_NAME)
        except KubeApiError as kube_error:
            if kube_error.status != 403:
                raise
            return False
        self.vpc_cni["config_map_data"] = dict((config_map or {}).get("data") or {})
        return windows_ipam_enabled(self.vpc_cni["config_map_data"])

    def read_vpc_cni_addon(self) -> None:
        """Whether VPC CNI is a managed add-on (left None when the caller may not list add-ons)."""
        try:
            self.vpc_cni["managed_addon"] = ADDON_NAME in list_addons(self.clients["eks"], self.cluster["name"])
        except AnsibleAWSError as aws_error:
            if not is_unauthorized(aws_error):
                raise

    def kube_guarded(self, check: str, what: str, call: Callable[[], Any]) -> None:
        """Run a Kubernetes check; when RBAC forbids the caller to read its input, skip it with a warning."""
        try:
            call()
        except KubeApiError as kube_error:
            if kube_error.status != 403:
                raise
            self.add([unreadable(check, what, str(kube_error), "Run the checks as a Kubernetes user that may read it, or check it by hand.")])
            self.skip([check], f"{what} could not be read")

    # subnets ------------------------------------------------------------------------------------
    def subnet_check(self) -> None:
        cluster = self.cluster
        requested = list(self.params.get("subnets") or [])
        ids = list(dict.fromkeys(requested + cluster.get("subnet_ids", [])))
        reports, missing = read_subnets(self.clients["ec2"], ids)
        self.subnets = [reports[subnet_id] for subnet_id in ids if subnet_id in reports]
        if requested:
            checked = [reports[subnet_id] for subnet_id in requested if subnet_id in reports]
            checked_missing = [subnet_id for subnet_id in requested if subnet_id in missing]
        else:
            checked = node_subnets([reports[subnet_id] for subnet_id in cluster.get("subnet_ids", []) if subnet_id in reports])
            checked_missing = [subnet_id for subnet_id in cluster.get("subnet_ids", []) if subnet_id in missing]
        self.node_subnet_ids = [report["subnet_id"] for report in checked]
        self.add(subnet_findings(self.clients["ec2"], checked, checked_missing, cluster, self.region))

    # EC2 and IAM inputs -------------------------------------------------------------------------
    def key_pair_check(self) -> None:
        key_name = self.params.get("key_name")
        if key_name is None:
            return
        exists = bool(describe_key_pairs(self.clients["ec2"], KeyNames=[key_name]))
        self.add(checks.check_key_pair(key_name, exists, self.region))

    def instance_type_check(self) -> None:
        instance_type = self.params.get("instance_type")
        if instance_type is None:
            return
        self.add(instance_type_findings(self.clients["ec2"], instance_type, self.region))

    def node_role_check(self) -> None:
        windows_role = self.params.get("windows_node_role")
        if not windows_role:
            return
        linux_roles: List[Dict[str, str]] = []
        unread: List[str] = []
        cluster = self.cluster
        if cluster is not None:
            if not self.guarded_read(lambda: linux_roles.extend(self.nodegroup_roles())):
                unread.append("managed node groups")
            if cluster.get("authentication_mode") != "CONFIG_MAP":
                if not self.guarded_read(lambda: linux_roles.extend(self.access_entry_roles(windows_role))):
                    unread.append("access entries")
            if cluster.get("authentication_mode") != "API":
                if self.aws_auth_roles is None:
                    unread.append("aws-auth")
                else:
                    linux_roles.extend(self.aws_auth_roles)
        else:
            unread.append("the cluster (it could not be described)")
        self.add(checks.check_node_role(windows_role, linux_roles, unread))

    @staticmethod
    def guarded_read(call: Callable[[], Any]) -> bool:
        try:
            call()
        except AnsibleAWSError as aws_error:
            if not is_unauthorized(aws_error):
                raise
            return False
        return True

    def nodegroup_roles(self) -> List[Dict[str, str]]:
        eks = self.clients["eks"]
        roles = []
        for nodegroup in list_nodegroups(eks, self.cluster["name"]):
            described = describe_nodegroup(eks, self.cluster["name"], nodegroup) or {}
            if str(described.get("amiType", "")).startswith("WINDOWS") or not described.get("nodeRole"):
                continue
            roles.append({"arn": described["nodeRole"], "source": f"managed node group {nodegroup}"})
        return roles

    def access_entry_roles(self, windows_role: str) -> List[Dict[str, str]]:
        eks = self.clients["eks"]
        wanted = checks.role_name(windows_role)
        roles = []
        for principal in list_access_entries(eks, self.cluster["name"]):
            if ":role/" not in principal or checks.role_name(principal) != wanted:
                continue
            entry = describe_access_entry(eks, self.cluster["name"], principal) or {}
            if entry.get("type") == "EC2_LINUX":
                roles.append({"arn": principal, "source": "access entry of type EC2_LINUX"})
        return roles

    # the result ---------------------------------------------------------------------------------
    def result(self) -> Dict[str, Any]:
        statuses = {check: status_of(check, self.findings, self.skipped.get(check)) for check in CHECKS}
        return {
            "findings": self.findings,
            "error_count": sum(1 for item in self.findings if item["severity"] == "error"),
            "warning_count": sum(1 for item in self.findings if item["severity"] == "warning"),
            "checks": statuses,
            "skip_reasons": dict(self.skipped),
            "cluster": self.cluster or {},
            "subnets": self.subnets,
            "node_subnet_ids": self.node_subnet_ids,
            "vpc_cni": self.vpc_cni,
        }
