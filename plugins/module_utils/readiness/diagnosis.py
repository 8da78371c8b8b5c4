# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Why an instance is not a Ready node: rules over gathered AWS and Kubernetes state (pure).

gather.py collects the facts; every rule here reads only them, so each cause of the EKS
"nodes fail to join" troubleshooting page is unit tested with a few dicts. A diagnosis names each
cause found with the fix for it; an instance can have more than one.

Facts:
- cluster: name, status, authentication_mode, not_active_windows (when it could not take nodes: a
  list of {status, start, end}, datetimes, None for an unknown start or an open end).
- auth: aws_auth ({exists, map_roles, problem} or None when unread), access_entries
  ({principal arn: type} or None when unread), vpc_cni ({exists, enable_windows_ipam} or None).
- instance: instance_id, state, state_reason, launch_time, private_dns_name, subnet_id,
  instance_profile_arn, role_arn, bootstrap ({cluster_name, problem} or None), network (see
  network_causes), windows, node (node_facts or None), unchecked (what could not be read).
"""

from typing import Any, Dict, List, Optional

from ..aws_auth.arns import is_instance_profile_arn, strip_role_path
from ..aws_auth.mappings import KUBE_PROXY_WINDOWS, LINUX_NODE_GROUPS as NODE_GROUPS, NODE_USERNAME, ROLES, MalformedMappingsError, parse_mappings

NODE_ENTRY_TYPES = ("EC2_WINDOWS", "EC2_LINUX")
API_MODES = ("API", "API_AND_CONFIG_MAP")
CONFIG_MAP_MODES = ("CONFIG_MAP", "API_AND_CONFIG_MAP")
TROUBLESHOOTING = "https://docs.aws.amazon.com/eks/latest/userguide/troubleshooting.html#worker-node-fail"


def cause(code: str, text: str, fix: str) -> Dict[str, str]:
    return {"code": code, "cause": text, "fix": fix}


# --------------------------------------------------------------------------- ARNs and aws-auth


def parse_map_roles(text: Optional[str]) -> List[Dict[str, Any]]:
    """The entries of aws-auth's mapRoles; raises ValueError saying what is wrong when EKS cannot read them."""
    try:
        return parse_mappings(text, ROLES)
    except MalformedMappingsError as error:
        raise ValueError(f"data.mapRoles {error.problem}") from error


def _same_arn(left: str, right: str) -> bool:
    return str(left or "").strip().lower() == str(right or "").strip().lower()


def find_mapping(map_roles: List[Dict[str, Any]], arn: str) -> Optional[Dict[str, Any]]:
    """The mapRoles entry for exactly this ARN (the last one wins, as in EKS), or None."""
    found = None
    for entry in map_roles:
        if _same_arn(entry.get("rolearn"), arn):
            found = entry
    return found


def find_access_entry(entries: Optional[Dict[str, str]], role_arn: str) -> Optional[Dict[str, str]]:
    """{principal_arn, type} of the access entry for the role (with or without its path), or None."""
    for principal, kind in (entries or {}).items():
        if _same_arn(principal, role_arn) or _same_arn(principal, strip_role_path(role_arn)):
            return {"principal_arn": principal, "type": kind or "STANDARD"}
    return None


def node_identity(role_arn: str, cluster: Dict[str, Any], auth: Dict[str, Any]) -> Dict[str, Any]:
    """How EKS would authenticate the role: {source: 'access entry'|'aws-auth'|None, type, mapping, groups}."""
    mode = cluster.get("authentication_mode") or "CONFIG_MAP"
    if mode in API_MODES:
        entry = find_access_entry(auth.get("access_entries"), role_arn)
        if entry is not None:
            kind = entry["type"]
            groups = list(NODE_GROUPS) + ([KUBE_PROXY_WINDOWS] if kind == "EC2_WINDOWS" else []) if kind in NODE_ENTRY_TYPES else []
            return {"source": "access entry", "type": kind, "principal_arn": entry["principal_arn"], "groups": groups}
    if mode in CONFIG_MAP_MODES:
        aws_auth = auth.get("aws_auth") or {}
        mapping = find_mapping(aws_auth.get("map_roles") or [], strip_role_path(role_arn))
        if mapping is not None:
            return {"source": "aws-auth", "mapping": mapping, "groups": [str(g) for g in mapping.get("groups") or []]}
    return {"source": None, "groups": []}


# --------------------------------------------------------------------------- the rules


def instance_causes(instance: Dict[str, Any], group_name: Optional[str]) -> List[Dict[str, str]]:
    state = instance.get("state")
    if not state or state == "running":
        return []
    reason = f" ({instance['state_reason']})" if instance.get("state_reason") else ""
    what = "is still starting" if state == "pending" else f"is {state}"
    replace = (f"aws autoscaling describe-scaling-activities --auto-scaling-group-name {group_name}" if group_name
               else "the EC2 console's instance state reason")
    return [cause("instance_not_running", f"instance {instance['instance_id']} {what}{reason}, so it cannot run kubelet",
                  f"Let the Auto Scaling group replace it (or start it), and look for launch or health-check failures with {replace}.")]


def _in_window(moment, window: Dict[str, Any]) -> bool:
    if moment is None:
        return window.get("start") is None
    start, end = window.get("start"), window.get("end")
    return (start is None or start <= moment) and (end is None or moment <= end)


def cluster_causes(instance: Dict[str, Any], cluster: Dict[str, Any], group_name: Optional[str]) -> List[Dict[str, str]]:
    launched = instance.get("launch_time")
    for window in cluster.get("not_active_windows") or []:
        if not _in_window(launched, window):
            continue
        now = " and still is" if window.get("end") is None else ""
        when = f" at {launched.isoformat()}" if hasattr(launched, "isoformat") else ""
        refresh = (f"aws autoscaling start-instance-refresh --auto-scaling-group-name {group_name}" if group_name
                   else "terminate the instance so that its group replaces it")
        return [cause(
            "cluster_not_active_at_launch",
            f"the instance launched{when} while cluster {cluster.get('name')} was {window.get('status')}{now}; "
            "its bootstrap ran before the cluster accepted nodes and is not retried",
            f"Wait until the cluster is ACTIVE, then replace the instance: {refresh}.")]
    return []


def image_causes(instance: Dict[str, Any]) -> List[Dict[str, str]]:
    """image: {image_id, exists, name, public, windows, eks_optimized}.

    A private image may be a custom one built from an EKS optimized AMI: only public images are judged by name.
    """
    image = instance.get("image")
    if not image:
        return []
    fix = ("Launch the node group from an EKS optimized Windows AMI for the cluster's Kubernetes version (leave the AMI "
           "unset and the collection finds it), then replace the instances.")
    if not image["exists"]:
        return [cause("image_not_found", f"the instance's image {image['image_id']} does not exist (deregistered, private, "
                      "or never in this region), so no instance of the group can start from it", fix)]
    if not image["windows"]:
        return [cause("image_not_windows", f"the instance's image {image['image_id']} ({image.get('name')}) is not a Windows image, "
                      "so it has no Windows bootstrap script and never joins as a Windows node", fix)]
    if image.get("public") and not image["eks_optimized"]:
        return [cause("image_not_eks_optimized", f"the instance's image {image['image_id']} ({image.get('name')}) is not an EKS "
                      "optimized Windows AMI, so it has no EKS bootstrap script, kubelet or kube-proxy", fix)]
    return []


def bootstrap_causes(instance: Dict[str, Any], cluster: Dict[str, Any]) -> List[Dict[str, str]]:
    bootstrap = instance.get("bootstrap")
    if not bootstrap:
        return []
    name = cluster.get("name")
    script = "& 'C:\\Program Files\\Amazon\\EKS\\Start-EKSBootstrap.ps1' -EKSClusterName " + str(name)
    if bootstrap.get("problem"):
        return [cause("bootstrap_missing", f"{bootstrap['problem']}, so nothing joins the instance to a cluster",
                      f"Launch the nodes from user data with a <powershell> block that runs {script}, "
                      "as the EKS Windows nodegroup template does; then replace the instances.")]
    if bootstrap.get("cluster_name") != name:
        return [cause("bootstrap_other_cluster",
                      f"the user data runs the bootstrap with -EKSClusterName {bootstrap.get('cluster_name')!r}, not {name!r}, "
                      "so kubelet gets no credentials for this cluster",
                      f"Give the nodegroup the exact cluster name {name!r} (the stack's ClusterName parameter) so its user data runs "
                      f"{script}; update the stack, then replace the instances.")]
    return []


def network_causes(instance: Dict[str, Any]) -> List[Dict[str, str]]:
    """network: {subnet_id, route_table_id, default_target ('nat'|'igw'|'other'|None), nat_gateway_id,
    nat_state, gateway_id, public_ip (bool), map_public_ip (bool)}."""
    network = instance.get("network")
    if not network:
        return []
    subnet = network.get("subnet_id")
    table = network.get("route_table_id") or "its route table"
    target = network.get("default_target")
    if target == "other":
        return []  # a transit gateway, peering or appliance: it may well lead out
    if target == "nat":
        if network.get("nat_state") in ("available", "pending", None):
            return []
        return [cause("no_route_out",
                      f"subnet {subnet} routes 0.0.0.0/0 to NAT gateway {network.get('nat_gateway_id')}, which is {network.get('nat_state')}, "
                      "so the instance cannot reach the EKS and STS endpoints",
                      f"Route 0.0.0.0/0 in {table} to an available NAT gateway in a public subnet, then replace the instances.")]
    if target == "igw":
        if network.get("public_ip") or network.get("map_public_ip"):
            return []
        return [cause("no_public_ip",
                      f"subnet {subnet} routes 0.0.0.0/0 to internet gateway {network.get('gateway_id')} but the instance has no public IPv4 "
                      "address, so it cannot reach the EKS and STS endpoints",
                      f"Turn on auto-assign public IPv4 (aws ec2 modify-subnet-attribute --subnet-id {subnet} --map-public-ip-on-launch) "
                      "and replace the instances, or use private subnets that route to a NAT gateway.")]
    return [cause("no_route_out",
                  f"subnet {subnet} has no 0.0.0.0/0 route to a NAT gateway or an internet gateway ({table}), "
                  "so the instance cannot reach the EKS and STS endpoints",
                  f"Add a default route to a NAT gateway (aws ec2 create-route --route-table-id {network.get('route_table_id')} "
                  "--destination-cidr-block 0.0.0.0/0 --nat-gateway-id <nat-id>), or launch the nodes in the cluster's private subnets "
                  "that have one; a cluster without internet access needs VPC endpoints for EKS, STS, EC2 and ECR. Then replace the instances.")]


def _map_roles_fix(role: str) -> str:
    return (f"add to kube-system/aws-auth mapRoles: {{rolearn: {role}, username: '{NODE_USERNAME}', "
            f"groups: [{', '.join(NODE_GROUPS)}, {KUBE_PROXY_WINDOWS}]}} (the eksnodes.windows.node_auth role does this)")


def authorization_causes(instance: Dict[str, Any], cluster: Dict[str, Any], auth: Dict[str, Any]) -> List[Dict[str, str]]:
    """Why the node's IAM role cannot register a node: no mapping or access entry, or a wrong one."""
    role_arn = instance.get("role_arn")
    if not role_arn:
        if instance.get("instance_profile_arn") is None and "role" not in (instance.get("unchecked") or {}):
            return [cause("no_instance_profile", "the instance has no IAM instance profile, so it has no credentials to join with",
                          "Launch the nodes with the node group's instance profile (the launch template's IamInstanceProfile).")]
        return []
    name = cluster.get("name")
    mode = cluster.get("authentication_mode") or "CONFIG_MAP"
    role = strip_role_path(role_arn)
    create_entry = f"aws eks create-access-entry --cluster-name {name} --principal-arn {role_arn} --type EC2_WINDOWS"
    identity = node_identity(role_arn, cluster, auth)
    if identity["source"] == "access entry":
        if identity["type"] in NODE_ENTRY_TYPES:
            return []
        return [cause("access_entry_not_node",
                      f"the access entry for {identity['principal_arn']} is of type {identity['type']}: it overrides any aws-auth mapping "
                      "and does not let the role register nodes",
                      f"Replace it with an EC2_WINDOWS entry (the type cannot be changed): aws eks delete-access-entry --cluster-name {name} "
                      f"--principal-arn {identity['principal_arn']}, then {create_entry}.")]
    if mode == "API":
        if auth.get("access_entries") is None:
            return []
        return [cause("no_access_entry",
                      f"the cluster's authentication mode is API and role {role_arn} has no access entry",
                      f"Create one: {create_entry}.")]
    aws_auth = auth.get("aws_auth")
    if aws_auth is None:
        return []
    also = " and has no access entry" if mode in API_MODES else ""
    alternative = f"; or {create_entry}" if mode in API_MODES else ""
    if not aws_auth.get("exists"):
        return [cause("role_not_mapped", f"ConfigMap kube-system/aws-auth does not exist, so role {role} is not mapped{also}",
                      f"Create it and {_map_roles_fix(role)}{alternative}.")]
    if aws_auth.get("problem"):
        return [cause("role_not_mapped", f"kube-system/aws-auth cannot be used: {aws_auth['problem']}, so role {role} is not mapped{also}",
                      f"Repair mapRoles and {_map_roles_fix(role)}{alternative}.")]
    map_roles = aws_auth.get("map_roles") or []
    if identity["source"] == "aws-auth":
        return _mapping_causes(identity["mapping"], role)
    if role != role_arn and find_mapping(map_roles, role_arn) is not None:
        return [cause("role_mapped_with_path",
                      f"aws-auth maps {role_arn}, with its IAM path; EKS matches the ARN without the path, {role}, so the mapping never applies",
                      f"Change that rolearn in kube-system/aws-auth mapRoles to {role}.")]
    profile = instance.get("instance_profile_arn")
    profile_name = str(profile or "").rsplit("/", 1)[-1]
    mapped = next((str(e.get("rolearn")) for e in map_roles if is_instance_profile_arn(str(e.get("rolearn", "")))
                   and str(e.get("rolearn")).rsplit("/", 1)[-1].lower() == profile_name.lower()), None) if profile else None
    if mapped:
        return [cause("instance_profile_mapped",
                      f"aws-auth maps the instance profile ARN {mapped} instead of the role ARN {role}; EKS only matches role ARNs",
                      f"Replace that rolearn in kube-system/aws-auth mapRoles with {role}.")]
    return [cause("role_not_mapped", f"role {role} (the instance's role) is not mapped in kube-system/aws-auth mapRoles{also}",
                  f"Map it: {_map_roles_fix(role)}{alternative}.")]


def _mapping_causes(mapping: Dict[str, Any], role: str) -> List[Dict[str, str]]:
    groups = [str(g) for g in mapping.get("groups") or []]
    missing = [g for g in NODE_GROUPS if g not in groups]
    if missing:
        return [cause("role_mapping_incomplete", f"the aws-auth mapping of {role} lacks group(s) {', '.join(missing)}, so it cannot register nodes",
                      f"Give the mapping the groups {', '.join(NODE_GROUPS)} and {KUBE_PROXY_WINDOWS}.")]
    username = str(mapping.get("username") or "")
    if username != NODE_USERNAME:
        return [cause("role_mapping_incomplete", f"the aws-auth mapping of {role} uses username {username!r}; "
                      "the Node authorizer lets a node register only as system:node:<its private DNS name>",
                      f"Set the mapping's username to {NODE_USERNAME}.")]
    return []


def readiness_causes(instance: Dict[str, Any], cluster: Dict[str, Any], auth: Dict[str, Any]) -> List[Dict[str, str]]:
    """Why a registered Windows node stays NotReady."""
    found = []
    name = cluster.get("name")
    if instance.get("windows") and instance.get("role_arn"):
        identity = node_identity(instance["role_arn"], cluster, auth)
        if identity["source"] and KUBE_PROXY_WINDOWS not in identity["groups"]:
            role = strip_role_path(instance["role_arn"])
            if identity["source"] == "access entry":
                found.append(cause("kube_proxy_windows_missing",
                                   f"the node's role has an {identity['type']} access entry, which does not grant {KUBE_PROXY_WINDOWS}, "
                                   "so kube-proxy on the Windows node cannot work",
                                   f"Replace it with an EC2_WINDOWS entry (the type cannot be changed): aws eks delete-access-entry --cluster-name {name} "
                                   f"--principal-arn {identity['principal_arn']}, then aws eks create-access-entry --cluster-name {name} "
                                   f"--principal-arn {identity['principal_arn']} --type EC2_WINDOWS."))
            else:
                found.append(cause("kube_proxy_windows_missing",
                                   f"the aws-auth mapping of {role} lacks group {KUBE_PROXY_WINDOWS}, so kube-proxy on the Windows node cannot work",
                                   f"Add {KUBE_PROXY_WINDOWS} to the groups of that mapping in kube-system/aws-auth mapRoles."))
    vpc_cni = auth.get("vpc_cni")
    if instance.get("windows") and vpc_cni is not None:
        value = vpc_cni.get("enable_windows_ipam")
        if str(value or "").strip().lower() != "true":
            what = ("ConfigMap kube-system/amazon-vpc-cni does not exist" if not vpc_cni.get("exists")
                    else f"kube-system/amazon-vpc-cni has enable-windows-ipam: {value!r}" if value is not None
                    else "kube-system/amazon-vpc-cni has no enable-windows-ipam key")
            found.append(cause("windows_ipam_disabled", f"Windows IPAM is off: {what}, so Windows pods get no IP address",
                               "Turn it on: kubectl patch configmap/amazon-vpc-cni -n kube-system --type merge "
                               "-p '{\"data\":{\"enable-windows-ipam\":\"true\"}}' (with the managed vpc-cni add-on, set its "
                               "configuration value enableWindowsIpam: \"true\" instead)."))
    return found


def _unexplained_not_registered() -> Dict[str, str]:
    return cause("not_registered", "no Node registered for the instance and no known cause was found",
                 "It may still be booting (Windows nodes often take 5 to 15 minutes): try a longer wait_timeout. Otherwise read "
                 "C:\\Windows\\Temp\\InvokeUserdataErrors.log on the instance and run the AWSSupport-TroubleshootEKSWorkerNode runbook; "
                 f"see {TROUBLESHOOTING}.")


def _unexplained_not_ready(node: Dict[str, Any]) -> Dict[str, str]:
    reason = ": ".join(p for p in (node.get("ready_reason"), node.get("ready_message")) if p)
    return cause("node_not_ready", f"Node {node.get('name')} is registered but not Ready" + (f" ({reason})" if reason else ""),
                 "It may still be starting: try a longer wait_timeout. Otherwise read the kubelet and kube-proxy logs in the "
                 "node's \"EKS\" Windows event log.")


def diagnose_instance(instance: Dict[str, Any], cluster: Dict[str, Any], auth: Dict[str, Any],
                      group_name: Optional[str] = None) -> Dict[str, Any]:
    """The diagnosis of one instance that is not a Ready node."""
    node = instance.get("node")
    entry = {
        "instance_id": instance.get("instance_id"),
        "node_name": (node or {}).get("name") or instance.get("private_dns_name"),
        "state": "not_registered" if node is None else "not_ready",
        "causes": [],
        "unchecked": sorted(instance.get("unchecked") or {}),
    }
    causes = instance_causes(instance, group_name)
    if causes:
        entry["state"] = "not_running"
        entry["causes"] = causes
        return entry
    if node is None:
        causes = (cluster_causes(instance, cluster, group_name) + image_causes(instance) + bootstrap_causes(instance, cluster)
                  + network_causes(instance) + authorization_causes(instance, cluster, auth))
        entry["causes"] = causes or [_unexplained_not_registered()]
        return entry
    entry["causes"] = readiness_causes(instance, cluster, auth) or [_unexplained_not_ready(node)]
    return entry


def group_causes(expected: int, instance_count: int, group_name: Optional[str], failed_activity: Optional[str]) -> List[Dict[str, str]]:
    """The group itself has fewer instances than nodes are expected."""
    if group_name is None or instance_count >= expected:
        return []
    detail = f"; its last failed scaling activity says: {failed_activity}" if failed_activity else ""
    return [cause("group_short_of_instances", f"Auto Scaling group {group_name} has {instance_count} of the {expected} instances expected{detail}",
                  f"Fix what stops the launches (aws autoscaling describe-scaling-activities --auto-scaling-group-name {group_name}), "
                  "or lower the expected count.")]


def summary(diagnosis: List[Dict[str, Any]]) -> str:
    """The diagnosis as text: each cause once, after the instances it applies to, then its fix.

    'i-0abc, i-0def (not registered): role ... is not mapped ...' / '  Fix: ...'
    """
    grouped: Dict[tuple, List[str]] = {}
    for entry in diagnosis:
        who = entry.get("instance_id") or "the group"
        state = str(entry.get("state") or "").replace("_", " ")
        for found in entry.get("causes") or []:
            grouped.setdefault((state, found["cause"], found["fix"]), []).append(who)
    lines = []
    for (state, text, fix), who in grouped.items():
        label = f"{', '.join(who)} ({state})" if state != "group" else "the group"
        lines.append(f"{label}: {text}.")
        lines.append(f"  Fix: {fix}")
    return "\n".join(lines)
