# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure decisions of a node group upgrade: the request, version skew, the target, the phase, the batches.

The upgrade playbook runs, in order (the module upgrade_plan reads AWS and the cluster, this file decides):

1. check the request without any API call: request_findings() (strategy, batch size, names, versions);
2. read the node group's stack, its AMI, instances and Nodes, the control plane's version, the
   replacement stack if a run already created it, and the target AMI;
3. check the group against the request: group_findings() (the group exists, the batch fits in it);
4. check the versions: version_findings() (no kubelet newer than the control plane, the skew policy,
   the Windows Server release the target version is published for);
5. decide where this run starts: phase(); a rerun after an interruption continues from there;
6. which instances are replaced, and in which batches: replaced_instances(), batches().

Every finding names the variable the user sets (the check key) and says how to fix it.
"""

import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..ami import families
from ..preflight import findings as finding_logic
from ..preflight import versions

BLUE_GREEN = "blue_green"
ROLLING = "rolling"
STRATEGIES = (BLUE_GREEN, ROLLING)

# Phases of a run, in the order a blue/green upgrade goes through them.
REFUSED = "refused"
UP_TO_DATE = "up_to_date"
REPLACE = "replace"
CLEANUP = "cleanup"

# Stack tags that tie a replacement node group to the one it replaces, so that a rerun finds it.
REPLACES_TAG = "eksnodes.windows.upgrade/replaces-nodegroup"
# (Not under eksnodes.windows/: nodegroup_stack reserves that prefix for its own ownership markers.)
REPLACES_ROLE_TAG = "eksnodes.windows.upgrade/replaces-role"

# Kubernetes version skew policy: kubelet may be up to three minor versions older than kube-apiserver
# since 1.28 (KEP-3935), two before.
SKEW_SINCE_1_28 = 3
SKEW_BEFORE_1_28 = 2
WIDER_SKEW_SINCE = (1, 28)

# EKS node group names: at most 63 characters (CloudFormation template NodeGroupName).
MAX_NODEGROUP_NAME = 63
GENERATION = re.compile(r"^(?P<base>.+?)-v(?P<number>\d+)$")
# As the launch playbook checks nodegroup_name: the name goes into the stack's name, which takes no underscore.
NODEGROUP_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9-]{0,62}$")

Finding = Dict[str, str]
Version = Tuple[int, int]


def show(version: Optional[Version]) -> str:
    return versions.show(version) if version else "unknown"


def parse_version(value: Any) -> Optional[Version]:
    """'1.31', 'v1.31.2-eks-1a2b3c4' -> (1, 31); None for anything else."""
    return versions.parse_kubernetes(str(value or "").strip())


def supported_skew(control_plane: Version) -> int:
    return SKEW_SINCE_1_28 if control_plane >= WIDER_SKEW_SINCE else SKEW_BEFORE_1_28


def minor_distance(newer: Version, older: Version) -> int:
    """How many minor versions older is behind newer (same major version, as in Kubernetes 1.x)."""
    return (newer[0] - older[0]) * 100 + newer[1] - older[1]


def default_new_name(nodegroup_name: str) -> str:
    """The replacement's name: win -> win-v2, win-v2 -> win-v3 (eksctl also gives the new group a new name).

    It depends only on the old name, so a rerun after an interruption names the same replacement
    even when AWS published another AMI in between.
    """
    match = GENERATION.match(nodegroup_name)
    base, number = (match.group("base"), int(match.group("number"))) if match else (nodegroup_name, 1)
    suffix = f"-v{number + 1}"
    return base[:MAX_NODEGROUP_NAME - len(suffix)] + suffix


def stack_name(cluster_name: str, nodegroup_name: str) -> str:
    """The nodegroup role's default stack name."""
    return f"{cluster_name}-nodegroup-{nodegroup_name}"


def family_of(release: Optional[str], edition: Optional[str]) -> Optional[str]:
    if release in families.RELEASES and edition in families.EDITIONS:
        return families.family_name(release, edition)
    return None


def image_family(image_name: Optional[str]) -> Dict[str, Any]:
    """release, edition, ami_family and kubernetes_version of an EKS optimized Windows AMI name (None when unknown)."""
    parsed = families.parse_image_name(image_name)
    if parsed is None:
        return {"release": None, "edition": None, "ami_family": None, "kubernetes_version": None}
    release, edition, minor = parsed
    return {"release": release, "edition": edition, "ami_family": family_of(release, edition), "kubernetes_version": minor}


# 1. the request ------------------------------------------------------------------------------------------
def request_findings(strategy: str, batch_size: int, min_in_service: Optional[int], nodegroup_name: str,
                     new_nodegroup_name: Optional[str], node_ami_family: Optional[str], kubernetes_version: Optional[str]) -> List[Finding]:
    """What is wrong with the request itself; nothing here needs AWS."""
    found: List[Finding] = []
    if strategy not in STRATEGIES:
        found.append(finding_logic.error(
            "strategy", f"strategy {strategy!r} is not a known upgrade strategy.",
            f"set strategy to {BLUE_GREEN} (a new node group beside the old one, the default) or {ROLLING} (the same group, batch by batch)."))
    if batch_size is None or batch_size < 1:
        found.append(finding_logic.error(
            "batch_size", f"batch_size {batch_size} replaces no node at a time.", "set batch_size to 1 or more (1 is the default)."))
    if min_in_service is not None and min_in_service < 0:
        found.append(finding_logic.error(
            "min_in_service", f"min_in_service {min_in_service} is negative.", "set min_in_service to 0 or more, or leave it unset."))
    if node_ami_family and node_ami_family not in families.AMI_FAMILIES:
        found.append(finding_logic.error(
            "node_ami_family", f"node_ami_family {node_ami_family!r} is not an EKS optimized Windows AMI family.",
            f"set node_ami_family to one of {', '.join(families.AMI_FAMILIES)}, or leave it unset to keep the group's."))
    if kubernetes_version and parse_version(kubernetes_version) is None:
        found.append(finding_logic.error(
            "kubernetes_version", f"kubernetes_version {kubernetes_version!r} is not a Kubernetes version.",
            "set kubernetes_version like 1.31, or leave it unset to follow the control plane."))
    if new_nodegroup_name is not None and new_nodegroup_name != "":
        if not NODEGROUP_NAME.match(new_nodegroup_name):
            found.append(finding_logic.error(
                "new_nodegroup_name", f"new_nodegroup_name {new_nodegroup_name!r} is not a node group name.",
                "use at most 63 letters, digits and hyphens, starting with a letter or a digit (the name goes into the new "
                "stack's name, <cluster>-nodegroup-<name>, which takes no underscore)."))
        elif new_nodegroup_name == nodegroup_name and strategy == BLUE_GREEN:
            found.append(finding_logic.error(
                "new_nodegroup_name", f"new_nodegroup_name is the old group's name {nodegroup_name!r}: a blue/green upgrade "
                "launches the new group beside the old one.",
                f"choose another name, or leave new_nodegroup_name unset for {default_new_name(nodegroup_name)!r}."))
    return found


# 3. the group ---------------------------------------------------------------------------------------------
def default_min_in_service(group_size: int, batch_size: int) -> int:
    """nodes_replace's default: the desired capacity minus a batch."""
    return max(group_size - max(batch_size or 1, 1), 0)


def group_findings(stack_name_: str, nodegroup_name: str, group_size: Optional[int], batch_size: int,
                   min_in_service: Optional[int], strategy: str) -> List[Finding]:
    """The group must exist (it has a stack), and the batch must fit in it."""
    if group_size is None:
        return [finding_logic.error(
            "nodegroup_name", f"node group {nodegroup_name!r} has no stack {stack_name_}: there is nothing to upgrade.",
            "set nodegroup_name (and stack_name if the stack is not named <cluster>-nodegroup-<name>) to an existing "
            "Windows node group, or launch it with eksnodes.windows.launch.")]
    found: List[Finding] = []
    if batch_size and batch_size > max(group_size, 1):
        found.append(finding_logic.error(
            "batch_size", f"batch_size {batch_size} is larger than node group {nodegroup_name!r}, which has {group_size} node(s).",
            f"set batch_size between 1 and {max(group_size, 1)}."))
    if min_in_service is not None and min_in_service > group_size:
        found.append(finding_logic.error(
            "min_in_service", f"min_in_service {min_in_service} is more than the {group_size} node(s) of {nodegroup_name!r}.",
            f"set min_in_service between 0 and {group_size}."))
    elif strategy == ROLLING and min_in_service is not None and group_size > 0 and min_in_service >= group_size:
        # nodes_replace terminates an old node before its replacement joins: one node at least must be able to leave.
        found.append(finding_logic.error(
            "min_in_service", f"min_in_service {min_in_service} keeps every node of {nodegroup_name!r} ({group_size}) in service, "
            "so no node could ever be replaced.",
            f"set min_in_service between 0 and {group_size - 1}, or leave it unset for {default_min_in_service(group_size, batch_size)}."))
    return found


# 4. versions ----------------------------------------------------------------------------------------------
def target_version(kubernetes_version: Optional[str], control_plane: Version) -> Version:
    return parse_version(kubernetes_version) or control_plane


def version_findings(control_plane: Version, target: Version, release: Optional[str], release_from_request: bool,
                     current_versions: Sequence[Version]) -> List[Finding]:
    """Refuse a kubelet newer than the control plane or a release the target has no AMI of; warn past the skew."""
    found: List[Finding] = []
    if target > control_plane:
        found.append(finding_logic.error(
            "kubernetes_version",
            f"kubernetes_version {show(target)} is newer than the control plane's {show(control_plane)}: a kubelet may never be "
            "newer than kube-apiserver.",
            f"upgrade the control plane first (aws eks update-cluster-version --kubernetes-version {show(target)}), then run the "
            "upgrade again; or leave kubernetes_version unset to follow the control plane."))
    elif minor_distance(control_plane, target) > supported_skew(control_plane):
        found.append(finding_logic.warning(
            "kubernetes_version",
            f"kubernetes_version {show(target)} is {minor_distance(control_plane, target)} minor versions older than the control "
            f"plane's {show(control_plane)}; the Kubernetes version skew policy supports kubelets at most "
            f"{supported_skew(control_plane)} older.",
            "leave kubernetes_version unset to follow the control plane."))
    if target < versions.OLDEST_WINDOWS_KUBERNETES:
        found.append(finding_logic.error(
            "kubernetes_version", f"EKS publishes no Windows AMI for Kubernetes {show(target)} any more.",
            f"upgrade to {show(versions.OLDEST_WINDOWS_KUBERNETES)} or later."))
    if release:
        try:
            families.check_supported(release, show(target))
        except families.AmiSelectionError as error:
            source = "node_ami_family" if release_from_request else "node_ami_family (unset: the group's current release)"
            found.append(finding_logic.error(source, f"{error}.", "set node_ami_family to a release EKS publishes for that version."))
    for current in sorted(set(current_versions)):
        if current > control_plane:
            found.append(finding_logic.warning(
                "kubernetes_version", f"nodes of the group run Kubernetes {show(current)}, newer than the control plane's "
                f"{show(control_plane)}.", "the upgrade replaces them with nodes of a supported version."))
        elif minor_distance(control_plane, current) > supported_skew(control_plane):
            found.append(finding_logic.warning(
                "kubernetes_version", f"nodes of the group run Kubernetes {show(current)}, {minor_distance(control_plane, current)} "
                f"minor versions behind the control plane's {show(control_plane)}, past the supported skew.",
                "the upgrade replaces them; upgrade nodes after each control-plane upgrade."))
        if target < current:
            found.append(finding_logic.warning(
                "kubernetes_version", f"the target {show(target)} is older than the {show(current)} the nodes run: this is a downgrade.",
                "leave kubernetes_version unset to follow the control plane."))
    return found


# 5. where a run starts ------------------------------------------------------------------------------------
def ownership_findings(stack_name_: str, nodegroup_name: str, ownership: Mapping[str, Any]) -> List[Finding]:
    """The stack under the group's name must be the group's (nodegroup/ownership.py): the upgrade would drain its nodes."""
    if ownership.get("owned", True):
        return []
    return [finding_logic.error(
        "nodegroup_name",
        f"stack {stack_name_} is not that of node group {nodegroup_name!r}: {ownership.get('reason')}. Its nodes are not this "
        "upgrade's to drain.",
        "set nodegroup_name to the node group the stack belongs to, or upgrade that group by its own name.")]


def replacement_findings(new_stack: Optional[Mapping[str, Any]], nodegroup_name: str, new_nodegroup_name: str) -> List[Finding]:
    """A stack under the new name that was not made by an upgrade of this group is not ours to take over."""
    if not new_stack:
        return []
    replaces = (new_stack.get("tags") or {}).get(REPLACES_TAG)
    if replaces == nodegroup_name:
        return []
    return [finding_logic.error(
        "new_nodegroup_name",
        f"node group {new_nodegroup_name!r} already exists and is not a replacement of {nodegroup_name!r} "
        f"(its stack's tag {REPLACES_TAG} is {replaces!r}).",
        "set new_nodegroup_name to a name no node group uses.")]


def up_to_date(stack_image_id: Optional[str], instance_images: Mapping[str, Optional[str]], target_image_id: Optional[str]) -> bool:
    """The stack launches the target AMI and every instance runs it."""
    return bool(target_image_id) and stack_image_id == target_image_id and all(
        image == target_image_id for image in instance_images.values())


def phase(strategy: str, errors: Sequence[Finding], old_exists: bool, new_stack: Optional[Mapping[str, Any]],
          is_up_to_date: bool) -> str:
    """Where this run starts: refused, up_to_date, replace (launch or continue) or cleanup (old group already deleted)."""
    if errors:
        return REFUSED
    if strategy == BLUE_GREEN:
        if not old_exists and new_stack:
            return CLEANUP
        if new_stack:
            return REPLACE
    return UP_TO_DATE if is_up_to_date else REPLACE


# 6. which instances, in which batches ---------------------------------------------------------------------
def replaced_instances(strategy: str, instance_images: Mapping[str, Optional[str]], target_image_id: Optional[str]) -> List[str]:
    """Blue/green replaces every instance of the old group; rolling only those not on the target AMI."""
    if strategy == BLUE_GREEN:
        return sorted(instance_images)
    return sorted(instance for instance, image in instance_images.items() if image != target_image_id)


def batches(instance_ids: Sequence[str], batch_size: int) -> List[List[str]]:
    size = max(1, batch_size)
    ordered = list(instance_ids)
    return [ordered[index:index + size] for index in range(0, len(ordered), size)]


def role_users(role_arn: Optional[str], own_stack_id: Optional[str], stacks: Sequence[Mapping[str, Any]],
               managed_nodegroup_roles: Mapping[str, str]) -> List[str]:
    """The other node groups (stacks or EKS managed node groups) whose nodes use this IAM role."""
    if not role_arn:
        return []
    users = [f"stack {stack.get('stack_name')}" for stack in stacks
             if stack.get("stack_id") != own_stack_id and stack.get("node_instance_role_arn") == role_arn]
    users += [f"managed node group {name}" for name, role in sorted(managed_nodegroup_roles.items()) if role == role_arn]
    return users


def failure_message(found: Sequence[Finding]) -> str:
    """One message for fail_json: every error, each naming its variable and its fix."""
    errors = finding_logic.errors(found)
    lines = [f"The upgrade was refused before any change ({len(errors)} error(s)):"]
    lines += [f"[{item['check']}] {item['message']} Fix: {item['fix']}" for item in errors]
    return "\n".join(lines)


# the plan --------------------------------------------------------------------------------------------------
# Old stack parameter -> the nodegroup role's variable that carries it to the replacement (or back to the stack).
CARRIED_PARAMETERS = {
    "NodeInstanceType": "node_type",
    "NodeAutoScalingGroupDesiredCapacity": "nodes",
    "NodeAutoScalingGroupMinSize": "nodes_min",
    "NodeAutoScalingGroupMaxSize": "nodes_max",
    "NodeVolumeSize": "node_volume_size",
    "KeyName": "key_name",
    "BootstrapArguments": "bootstrap_arguments",
    "NodeInstanceRolePermissionsBoundary": "permissions_boundary",
}
INTEGER_SETTINGS = ("nodes", "nodes_min", "nodes_max", "node_volume_size")


def carried_settings(parameters: Mapping[str, str]) -> Dict[str, Any]:
    """The old group's settings the new one (or the updated stack) keeps, under the playbook's variable names."""
    settings: Dict[str, Any] = {}
    for parameter, name in CARRIED_PARAMETERS.items():
        if parameter in parameters:
            value = parameters[parameter]
            settings[name] = int(value) if name in INTEGER_SETTINGS and str(value).isdigit() else value
    settings["subnets"] = [item for item in (parameters.get("Subnets") or "").split(",") if item]
    settings["security_groups"] = [item for item in (parameters.get("NodeSecurityGroups") or "").split(",") if item]
    settings["disable_imdsv1"] = str(parameters.get("DisableIMDSv1", "true")).lower() == "true"
    settings["attach_cni_policy"] = str(parameters.get("AttachCNIPolicy", "false")).lower() == "true"
    settings["disable_pod_imds"] = str(parameters.get("HttpPutResponseHopLimit", "2")) == "1"
    return settings


def group_size(parameters: Mapping[str, str]) -> Optional[int]:
    """The desired capacity in the stack parameters."""
    value = str(parameters.get("NodeAutoScalingGroupDesiredCapacity", ""))
    return int(value) if value.isdigit() else None


def summary(plan: Mapping[str, Any]) -> str:
    """One line a person reads before anything changes."""
    current, target = plan["current"], plan["target"]
    if plan["phase"] == REFUSED:
        return "refused: " + "; ".join(item["message"] for item in plan["errors"])
    if plan["phase"] == UP_TO_DATE:
        return (f"node group {plan['nodegroup_name']} already runs {target['image_id']} ({target['image_name']}), "
                f"Kubernetes {target['kubernetes_version']}: nothing to do")
    if plan["phase"] == CLEANUP:
        return (f"node group {plan['nodegroup_name']} was already replaced by {plan['new_nodegroup_name']}: only its node role's "
                "authorization is left to remove")
    moving = (f"{current.get('image_id')} ({current.get('image_name')}, Kubernetes {current.get('kubernetes_version')}) -> "
              f"{target['image_id']} ({target['image_name']}, Kubernetes {target['kubernetes_version']})")
    count = len(plan["replace_instance_ids"])
    if plan["strategy"] == BLUE_GREEN:
        resumed = " (continuing: it exists)" if plan["new_stack_exists"] else ""
        return (f"blue/green: launch node group {plan['new_nodegroup_name']}{resumed}, then drain and delete the {count} node(s) "
                f"of {plan['nodegroup_name']}: {moving}")
    return f"rolling: replace {count} node(s) of {plan['nodegroup_name']} in {len(plan['batches'])} batch(es): {moving}"
