# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The preflight checks, each a pure function from what was read to a list of findings."""

from typing import Any, Dict, List, Mapping, Optional, Sequence

from ..eks.names import cluster_name_problem, eks_api_cluster_name_problem, nodegroup_name_problem
from ..ipam.legacy import LegacyObject, active, describe, kubectl_delete_commands
from .findings import Finding, error, warning
from .versions import (
    OLDEST_WINDOWS_KUBERNETES,
    WINDOWS_RELEASES,
    min_platform,
    parse_kubernetes,
    parse_platform,
    release_minimum,
    show,
)

VPC_RESOURCE_CONTROLLER_POLICY = "AmazonEKSVPCResourceController"
# Families the EKS documentation listed as not supported for Windows workloads until April 2023.
HISTORIC_UNSUPPORTED_FAMILIES = ("c3", "c4", "d2", "i2", "m4", "r3")
HISTORIC_SUPPORTED_EXCEPTIONS = ("m4.16xlarge",)
MIN_RECOMMENDED_MEMORY_MIB = 4096


def partition(arn: Optional[str]) -> str:
    parts = (arn or "").split(":")
    return parts[1] if len(parts) > 1 and parts[1] else "aws"


# --------------------------------------------------------------------------- names


def check_cluster_name(name: str) -> List[Finding]:
    """EKS's own rule is the error; a name EKS accepts but a CloudFormation stack name cannot start with is a warning.

    The nodegroup role's default stack name is <cluster>-nodegroup-<name>, and CloudFormation stack names take only
    letters, digits and hyphens, starting with a letter; nodegroup_stack_name sets another one.
    """
    problem = eks_api_cluster_name_problem(name)
    if problem:
        return [error(
            "cluster_name", f"{problem}.",
            "Give the exact name of the cluster (1-100 characters, a letter or digit first, then letters, digits, hyphens and "
            "underscores); check it with: aws eks list-clusters",
        )]
    if cluster_name_problem(name):
        return [warning(
            "cluster_name", f"the cluster name {name!r} is valid for EKS, but the nodegroup role's default stack name "
            f"{name}-nodegroup-<nodegroup_name> is not a valid CloudFormation stack name (letters, digits and hyphens, "
            "starting with a letter).",
            "Set nodegroup_stack_name to a stack name of letters, digits and hyphens that starts with a letter.",
        )]
    return []


def check_nodegroup_name(name: Optional[str]) -> List[Finding]:
    if name is None:
        return []
    problem = nodegroup_name_problem(name)
    if not problem:
        return []
    return [error(
        "nodegroup_name", f"{problem}.",
        "Rename the node group: at most 63 characters, a letter or digit first, then letters, digits, hyphens and underscores.",
    )]


# --------------------------------------------------------------------------- cluster


def check_cluster_status(cluster: Mapping[str, Any]) -> List[Finding]:
    status = cluster.get("status")
    if status == "ACTIVE":
        return []
    name = cluster.get("name")
    if status in ("FAILED", "DELETING"):
        fix = (f"Cluster {name} will not become ACTIVE; see aws eks describe-cluster --name {name} --query cluster.health, "
               "and use a healthy cluster.")
    else:
        fix = (f"Wait until it is ACTIVE (eksnodes.windows.cluster_info with wait=true, or aws eks wait cluster-active --name {name}), "
               "then run the checks again.")
    return [error(
        "cluster_status", f"cluster {name} is {status}, not ACTIVE; nodes launched before the cluster is ACTIVE never register.", fix,
    )]


def check_platform_version(cluster: Mapping[str, Any]) -> List[Finding]:
    name = cluster.get("name")
    version = parse_kubernetes(cluster.get("version"))
    platform = cluster.get("platform_version")
    upgrade = f"aws eks update-cluster-version --name {name} --kubernetes-version <version>"
    if version is None:
        return [warning(
            "platform_version", f"the Kubernetes version of cluster {name} ({cluster.get('version')!r}) could not be read, "
            "so Windows support could not be confirmed.", f"Check it with: aws eks describe-cluster --name {name} --query cluster.version",
        )]
    if version < OLDEST_WINDOWS_KUBERNETES:
        return [error(
            "platform_version", f"cluster {name} runs Kubernetes {show(version)}; EKS-optimized Windows AMIs exist only for "
            f"{show(OLDEST_WINDOWS_KUBERNETES)} and later.", f"Upgrade the cluster one minor version at a time: {upgrade}",
        )]
    minimum = min_platform(version)
    if minimum is None:
        return []
    number = parse_platform(platform)
    if number is None:
        return [warning(
            "platform_version", f"cluster {name} has platform version {platform!r}, which is not of the eks.N form, so Windows "
            "support in the control plane could not be confirmed.",
            f"Check that Windows support is available for this cluster (Kubernetes {show(version)} needs eks.{minimum} or later).",
        )]
    if number < minimum:
        return [error(
            "platform_version", f"cluster {name} runs Kubernetes {show(version)} on platform version {platform}; Windows support "
            f"in the control plane needs eks.{minimum} or later.",
            f"EKS moves clusters to newer platform versions on its own; wait for eks.{minimum}, or upgrade the Kubernetes version: {upgrade}",
        )]
    return []


def check_ip_family(cluster: Mapping[str, Any]) -> List[Finding]:
    family = str(cluster.get("ip_family") or "ipv4").lower()
    if family != "ipv6":
        return []
    return [error(
        "ip_family", f"cluster {cluster.get('name')} uses IPv6; Windows nodes are not supported on IPv6 clusters.",
        "Run Windows nodes on an IPv4 cluster; a cluster's IP family cannot be changed after it is created.",
    )]


def newest_release_for(version) -> Optional[str]:
    fitting = [release for release, minimum in WINDOWS_RELEASES.items() if version >= minimum]
    return max(fitting) if fitting else None


def check_windows_release(release: Optional[str], kubernetes_version: Optional[str]) -> List[Finding]:
    if release is None:
        return []
    minimum = release_minimum(release)
    if minimum is None:
        return [error(
            "windows_release", f"Windows Server {release} is not a release of the EKS-optimized Windows AMIs.",
            f"Use one of {', '.join(sorted(WINDOWS_RELEASES))}.",
        )]
    version = parse_kubernetes(kubernetes_version)
    if version is None or version >= minimum:
        return []
    best = newest_release_for(version)
    instead = f"Use Windows Server {best}, or upgrade" if best else "Upgrade"
    return [error(
        "windows_release", f"Windows Server {release} EKS-optimized AMIs need Kubernetes {show(minimum)} or later; "
        f"the cluster runs {show(version)}.", f"{instead} the cluster to Kubernetes {show(minimum)} or later.",
    )]


def check_cluster_role_policies(cluster: Mapping[str, Any], attached: Optional[Sequence[Mapping[str, Any]]], unreadable: Optional[str] = None) -> List[Finding]:
    role_arn = cluster.get("role_arn") or ""
    role = role_arn.rsplit("/", 1)[-1]
    policy_arn = f"arn:{partition(role_arn)}:iam::aws:policy/{VPC_RESOURCE_CONTROLLER_POLICY}"
    attach = f"aws iam attach-role-policy --role-name {role} --policy-arn {policy_arn}"
    if unreadable:
        return [warning(
            "cluster_role_policy", f"the policies of the cluster role {role} could not be read ({unreadable}); whether it has "
            f"{VPC_RESOURCE_CONTROLLER_POLICY} was not checked.",
            f"Check with: aws iam list-attached-role-policies --role-name {role}; if it is missing: {attach}",
        )]
    names = {policy.get("PolicyName") for policy in attached or []}
    if VPC_RESOURCE_CONTROLLER_POLICY in names:
        return []
    return [error(
        "cluster_role_policy", f"the cluster role {role} does not have the {VPC_RESOURCE_CONTROLLER_POLICY} managed policy, "
        "which the control plane needs to give Windows pods their IP addresses.", f"Attach it: {attach}",
    )]


# --------------------------------------------------------------------------- Kubernetes


def node_os(node: Mapping[str, Any]) -> Optional[str]:
    labels = (node.get("metadata") or {}).get("labels") or {}
    return labels.get("kubernetes.io/os") or labels.get("beta.kubernetes.io/os")


def node_ready(node: Mapping[str, Any]) -> bool:
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def ready_linux_nodes(nodes: Sequence[Mapping[str, Any]]) -> List[str]:
    return sorted(node["metadata"]["name"] for node in nodes if node_os(node) == "linux" and node_ready(node))


def check_linux_nodes(nodes: Sequence[Mapping[str, Any]], cluster_name: str) -> List[Finding]:
    linux = [node for node in nodes if node_os(node) == "linux"]
    ready = ready_linux_nodes(nodes)
    if not ready:
        registered = f"{len(linux)} Linux node(s) registered, none Ready" if linux else "no Linux node is registered"
        return [error(
            "linux_nodes", f"the cluster has no Ready Linux node ({registered}); CoreDNS and the other cluster services run "
            "only on Linux, so Windows pods would have no DNS.",
            f"Add a Linux node group of two nodes (for example: eksctl create nodegroup --cluster {cluster_name} --nodes 2), "
            "or repair the NotReady Linux nodes.",
        )]
    if len(ready) == 1:
        return [warning(
            "linux_nodes", f"only one Linux node is Ready ({ready[0]}); two are recommended so that CoreDNS survives losing one.",
            "Scale the Linux node group to at least two nodes.",
        )]
    return []


def check_coredns(deployment: Optional[Mapping[str, Any]], cluster_name: str) -> List[Finding]:
    if deployment is None:
        return [error(
            "coredns", "there is no CoreDNS Deployment (kube-system/coredns), so pods, Windows ones included, cannot resolve names.",
            f"Install the CoreDNS add-on: aws eks create-addon --cluster-name {cluster_name} --addon-name coredns",
        )]
    ready = ((deployment.get("status") or {}).get("readyReplicas")) or 0
    if ready < 1:
        return [warning(
            "coredns", "CoreDNS (kube-system/coredns) has no ready replica.",
            "See why with: kubectl -n kube-system get pods -l k8s-app=kube-dns; CoreDNS needs a Ready Linux node.",
        )]
    return []


def check_legacy_controllers(found: Sequence[LegacyObject]) -> List[Finding]:
    if not found:
        return []
    listed = ", ".join(describe(obj) for obj in found)
    fix = ("Remove them: run eksnodes.windows.windows_ipam with remove_legacy_controllers=true, or: "
           + "; ".join(kubectl_delete_commands(found)))
    if active(found):
        return [error(
            "legacy_controllers", f"the legacy data-plane VPC resource controller or admission webhook is installed ({listed}); "
            "it must be removed before Windows support is enabled in the control plane.", fix,
        )]
    return [warning("legacy_controllers", f"objects left behind by the legacy data-plane Windows controllers remain ({listed}).", fix)]


# What the EKS pod identity webhook gives a pod with an identity of its own: an IAM role for its service account
# (IRSA), or an EKS Pod Identity association (the agent's credentials endpoint).
OWN_IDENTITY_ENV = ("AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI")
FINISHED_PHASES = ("Succeeded", "Failed")
LISTED_PODS = 10


def _pod_name(pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


def _has_own_identity(pod: Mapping[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    return any(env.get("name") in OWN_IDENTITY_ENV for container in containers for env in container.get("env") or [])


def _listed(pods: Sequence[Mapping[str, Any]]) -> str:
    names = sorted(_pod_name(pod) for pod in pods)
    more = len(names) - LISTED_PODS
    return ", ".join(names[:LISTED_PODS]) + (f" and {more} more" if more > 0 else "")


def check_pod_imds(pods: Sequence[Mapping[str, Any]], nodes: Sequence[Mapping[str, Any]]) -> List[Finding]:
    """What disable_pod_imds (IMDSv2 required, hop limit 1) takes from the pods on the cluster's Windows nodes.

    A pod without an identity of its own gets AWS credentials (and the region) from the node's instance metadata; with
    the hop limit at 1, it no longer reaches it. Pods with the host's network (Windows HostProcess pods) are not
    behind that extra hop and keep reaching IMDS."""
    windows = {(node.get("metadata") or {}).get("name") for node in nodes if node_os(node) == "windows"}
    running = [pod for pod in pods if (pod.get("spec") or {}).get("nodeName") in windows
               and (pod.get("status") or {}).get("phase") not in FINISHED_PHASES and not (pod.get("metadata") or {}).get("deletionTimestamp")]
    host_network = [pod for pod in running if (pod.get("spec") or {}).get("hostNetwork")]
    relying = [pod for pod in running if not (pod.get("spec") or {}).get("hostNetwork") and not _has_own_identity(pod)]
    found = []
    if relying:
        found.append(warning(
            "pod_imds", f"disable_pod_imds: {len(relying)} pod(s) on the Windows nodes have no AWS identity of their own (no IAM role for "
            f"their service account, no EKS Pod Identity association), so the AWS SDK in them uses the node role through the instance "
            f"metadata service, which they would no longer reach; nor what else they read there, such as the region: {_listed(relying)}.",
            "Give their service accounts an IAM role (IRSA: the eks.amazonaws.com/role-arn annotation; EKS Pod Identity is available on "
            "Linux nodes only) and restart them, and set AWS_REGION in their environment; or leave disable_pod_imds false.",
        ))
    if host_network:
        found.append(warning(
            "pod_imds", f"disable_pod_imds: {len(host_network)} pod(s) on the Windows nodes use the host's network (HostProcess pods), "
            f"which is not behind the extra hop, so they keep reaching the instance metadata service and the node role: {_listed(host_network)}.",
            "Allow HostProcess pods only to trusted workloads (Pod Security Standards: privileged); the hop limit does not apply to them.",
        ))
    return found


# --------------------------------------------------------------------------- EC2 and IAM inputs


def check_key_pair(key_name: Optional[str], exists: bool, region: str) -> List[Finding]:
    if key_name is None or exists:
        return []
    return [error(
        "key_pair", f"the key pair {key_name} does not exist in {region}.",
        f"Create or import it (aws ec2 create-key-pair --key-name {key_name} --query KeyMaterial --output text > {key_name}.pem), "
        "or leave the key pair out.",
    )]


def role_name(role: str) -> str:
    """A role's name from its name or ARN (the path is dropped)."""
    return role.rsplit("/", 1)[-1] if role.startswith("arn:") else role.strip("/").rsplit("/", 1)[-1]


def check_node_role(windows_role: Optional[str], linux_roles: Sequence[Mapping[str, str]], unread: Sequence[str] = ()) -> List[Finding]:
    if not windows_role:
        return []
    if ":instance-profile/" in windows_role:
        return [error(
            "node_role", f"{windows_role} is an instance profile ARN; nodes are mapped by their IAM role.",
            "Give the ARN (or name) of the role inside the instance profile: aws iam get-instance-profile "
            f"--instance-profile-name {role_name(windows_role)} --query InstanceProfile.Roles[0].Arn",
        )]
    name = role_name(windows_role)
    shared = [role for role in linux_roles if role_name(role["arn"]) == name]
    findings = []
    if shared:
        sources = "; ".join(sorted({role["source"] for role in shared}))
        findings.append(error(
            "node_role", f"the Windows node role {name} is also a Linux node role ({sources}); Windows and Linux nodes need "
            "separate roles (one access entry cannot be both EC2_LINUX and EC2_WINDOWS, and the docs ask for separate roles).",
            "Use a separate IAM role for the Windows nodes, or leave it out and let the node group stack create one.",
        ))
    if unread:
        findings.append(warning(
            "node_role", f"Linux node roles could not be read from: {', '.join(unread)}; the Windows role was compared only "
            "with the roles that could be read.", "Make sure the Windows node role is not used by any Linux node.",
        ))
    return findings


def _family(instance_type: str) -> str:
    return instance_type.split(".", 1)[0]


def check_instance_type(instance_type: Optional[str], info: Optional[Mapping[str, Any]], offered: bool, region: str) -> List[Finding]:
    if instance_type is None:
        return []
    offerings = f"aws ec2 describe-instance-type-offerings --region {region} --location-type region"
    if info is None:
        return [error(
            "instance_type", f"the instance type {instance_type} does not exist.", f"Pick an x86_64 instance type; list them with: {offerings}",
        )]
    if not offered:
        return [error(
            "instance_type", f"the instance type {instance_type} is not offered in {region}.", f"Pick one offered there; list them with: {offerings}",
        )]
    findings = []
    architectures = list((info.get("ProcessorInfo") or {}).get("SupportedArchitectures") or [])
    if "x86_64" not in architectures:
        findings.append(error(
            "instance_type", f"the instance type {instance_type} is {'/'.join(architectures) or 'of unknown architecture'}; "
            "EKS-optimized Windows AMIs run only on x86_64 instances.", "Pick an x86_64 instance type such as m5.large or m6i.large.",
        ))
    addresses = (info.get("NetworkInfo") or {}).get("Ipv4AddressesPerInterface")
    if addresses is not None and addresses < 2:
        findings.append(error(
            "instance_type", f"the instance type {instance_type} has {addresses} IPv4 address per network interface; a Windows node "
            "uses one network interface for pods, so it could run no pod.", "Pick a larger instance type.",
        ))
    memory = (info.get("MemoryInfo") or {}).get("SizeInMiB")
    if memory is not None and memory < MIN_RECOMMENDED_MEMORY_MIB and not findings:
        findings.append(warning(
            "instance_type", f"the instance type {instance_type} has {memory} MiB of memory; Windows Server itself takes about "
            "2 GiB, leaving little for pods.", "Pick an instance type with at least 4 GiB of memory (for example m5.large).",
        ))
    if _family(instance_type) in HISTORIC_UNSUPPORTED_FAMILIES and instance_type not in HISTORIC_SUPPORTED_EXCEPTIONS:
        findings.append(warning(
            "instance_type", f"the {_family(instance_type).upper()} family was listed by the EKS documentation as not supported "
            "for Windows workloads (until April 2023).", "Prefer a current Nitro instance type such as m5, m6i or c6i.",
        ))
    return findings


def linux_roles_from_aws_auth(map_roles: Sequence[Mapping[str, Any]]) -> List[Dict[str, str]]:
    """Roles that aws-auth maps as Linux nodes (system:nodes without eks:kube-proxy-windows)."""
    roles = []
    for entry in map_roles:
        if not isinstance(entry, Mapping):
            continue
        groups = entry.get("groups") or []
        if "system:nodes" in groups and "eks:kube-proxy-windows" not in groups and entry.get("rolearn"):
            roles.append({"arn": str(entry["rolearn"]), "source": "aws-auth mapRoles"})
    return roles
