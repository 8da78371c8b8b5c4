# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure functions: is a stack of the node group's name ours, and which node roles did our stacks leave behind.

A stack name (``<cluster>-nodegroup-<nodegroup_name>`` by default) can be taken by anything. A stack is
this node group's only when:

1. it carries the marker tags nodegroup_stack writes on every create and update
   (``eksnodes.windows/cluster-name`` and ``eksnodes.windows/nodegroup-name``) with the expected cluster and
   node group; or
2. it has no marker (created before the marker existed) and runs the collection's template: its Description
   (every version's starts with TEMPLATE_DESCRIPTION), the node group parameters (ClusterName, NodeGroupName, the
   Auto Scaling sizes, the image, VPC and subnets) with the expected cluster and node group, and, once created, the
   outputs NodeInstanceRole and NodeAutoScalingGroup. AWS's amazon-eks-windows-nodegroup.yaml has the same
   parameters and outputs: its stacks are not ours.

A stack with a marker of another node group is never ours, whatever its parameters say.

The node role that CloudFormation names for the stack is ``<stack name>-NodeInstanceRole-<random>``; a
mapping to a role of that name that no longer exists in IAM was left by a deleted stack of this name.
"""

import re
from typing import Any, Dict, Iterable, List, Mapping, Optional

MARKER_PREFIX = "eksnodes.windows/"
CLUSTER_TAG = MARKER_PREFIX + "cluster-name"
NODEGROUP_TAG = MARKER_PREFIX + "nodegroup-name"
# Tag values cannot be empty, and no cluster or node group name starts with a hyphen.
UNKNOWN = "-"

# Parameters that both the collection's template and AWS's amazon-eks-windows-nodegroup.yaml declare.
NODEGROUP_PARAMETERS = (
    "ClusterName",
    "ClusterControlPlaneSecurityGroup",
    "NodeGroupName",
    "NodeAutoScalingGroupMinSize",
    "NodeAutoScalingGroupDesiredCapacity",
    "NodeAutoScalingGroupMaxSize",
    "NodeInstanceType",
    "NodeImageIdSSMParam",
    "VpcId",
    "Subnets",
)
NODEGROUP_OUTPUTS = ("NodeInstanceRole", "NodeAutoScalingGroup")
# Statuses of a stack whose creation never completed: it has no outputs.
NEVER_CREATED_STATUSES = ("REVIEW_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_FAILED", "ROLLBACK_IN_PROGRESS",
                          "ROLLBACK_FAILED", "ROLLBACK_COMPLETE")

# How the Description of every version of the collection's template begins (template.TEMPLATE_MARK).
TEMPLATE_DESCRIPTION = "eksnodes.windows self-managed Windows node group"

ROLE_LOGICAL_ID = "NodeInstanceRole"
# CloudFormation's random suffix of generated names: 12 or 13 letters and digits.
GENERATED_SUFFIX = "[A-Za-z0-9]{12,13}"
IAM_NAME_MAX = 64
ROLE_ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):role/(?P<name>[^/]+)$")


def marker_tags(cluster_name: Optional[str], nodegroup_name: Optional[str]) -> Dict[str, str]:
    """The tags that mark a stack as ours; UNKNOWN for a name another template does not take."""
    return {CLUSTER_TAG: cluster_name or UNKNOWN, NODEGROUP_TAG: nodegroup_name or UNKNOWN}


def reserved_tag_errors(tags: Optional[Mapping[str, Any]]) -> List[str]:
    """Errors for user tags that would forge or change the marker."""
    reserved = sorted(str(key) for key in (tags or {}) if str(key).startswith(MARKER_PREFIX))
    if not reserved:
        return []
    return [f"tags: {', '.join(reserved)}: keys starting with {MARKER_PREFIX} are written by the collection to mark its stacks; remove them"]


def _tags(stack: Mapping[str, Any]) -> Dict[str, str]:
    return {item.get("Key"): item.get("Value") for item in stack.get("Tags") or []}


def _parameters(stack: Mapping[str, Any]) -> Dict[str, str]:
    return {item.get("ParameterKey"): item.get("ParameterValue") for item in stack.get("Parameters") or []}


def _outputs(stack: Mapping[str, Any]) -> List[str]:
    return [item.get("OutputKey") for item in stack.get("Outputs") or []]


def summary(stack: Mapping[str, Any]) -> Dict[str, Any]:
    """What identifies a stack, for a message and the result: status, description, tags, some parameters, outputs."""
    parameters = _parameters(stack)
    return {
        "stack_name": stack.get("StackName"),
        "stack_id": stack.get("StackId"),
        "stack_status": stack.get("StackStatus"),
        "description": stack.get("Description"),
        "tags": _tags(stack),
        "parameters": {key: parameters[key] for key in ("ClusterName", "NodeGroupName") if key in parameters},
        "parameter_names": sorted(parameters),
        "output_names": sorted(_outputs(stack)),
    }


def _expected_mismatch(found: Mapping[str, Optional[str]], cluster_name: Optional[str], nodegroup_name: Optional[str]) -> Optional[str]:
    """What differs from the expected names (None: not compared; UNKNOWN expects a stack made without the name)."""
    wrong = []
    if cluster_name is not None and found["cluster"] != cluster_name:
        wrong.append(f"cluster {found['cluster']!r}, not {cluster_name!r}")
    if nodegroup_name is not None and found["nodegroup"] != nodegroup_name:
        wrong.append(f"node group {found['nodegroup']!r}, not {nodegroup_name!r}")
    return " and ".join(wrong) or None


def _legacy_shape_problem(stack: Mapping[str, Any]) -> Optional[str]:
    parameters = _parameters(stack)
    missing = [name for name in NODEGROUP_PARAMETERS if name not in parameters]
    if missing:
        return f"it has no marker tags and lacks the node group parameters {', '.join(missing)}"
    description = str(stack.get("Description") or "")
    if not description.startswith(TEMPLATE_DESCRIPTION):
        return f"it has no marker tags and does not run the collection's template (its description is {description!r})"
    outputs = _outputs(stack)
    if stack.get("StackStatus") in NEVER_CREATED_STATUSES and not outputs:
        return None
    missing = [name for name in NODEGROUP_OUTPUTS if name not in outputs]
    if missing:
        return f"it has no marker tags and lacks the node group outputs {', '.join(missing)}"
    return None


def stack_ownership(stack: Optional[Mapping[str, Any]], cluster_name: Optional[str], nodegroup_name: Optional[str]) -> Dict[str, Any]:
    """Whether the stack is the node group's: {owned, reason, marked, found}.

    cluster_name or nodegroup_name None: that name is not compared (the stack's shape and marker still are).
    No stack: owned, nothing can be taken over.
    """
    if not stack:
        return {"owned": True, "marked": False, "reason": "no stack of this name exists", "found": None}
    found = summary(stack)
    tags = found["tags"]
    if CLUSTER_TAG in tags or NODEGROUP_TAG in tags:
        marked = {"cluster": tags.get(CLUSTER_TAG), "nodegroup": tags.get(NODEGROUP_TAG)}
        mismatch = _expected_mismatch(marked, cluster_name, nodegroup_name)
        if mismatch:
            return {"owned": False, "marked": True, "found": found,
                    "reason": f"its marker tags say it belongs to {mismatch}"}
        return {"owned": True, "marked": True, "found": found,
                "reason": f"its marker tags name cluster {marked['cluster']!r} and node group {marked['nodegroup']!r}"}
    problem = _legacy_shape_problem(stack)
    if problem:
        return {"owned": False, "marked": False, "found": found, "reason": problem}
    parameters = _parameters(stack)
    mismatch = _expected_mismatch({"cluster": parameters.get("ClusterName"), "nodegroup": parameters.get("NodeGroupName")},
                                  cluster_name, nodegroup_name)
    if mismatch:
        return {"owned": False, "marked": False, "found": found,
                "reason": f"it is a node group stack without marker tags whose parameters say {mismatch}"}
    return {"owned": True, "marked": False, "found": found,
            "reason": "a node group stack created before the marker tags existed, with the expected ClusterName and NodeGroupName"}


def refusal_message(stack_name: str, ownership: Mapping[str, Any], action: str) -> str:
    """The message of a task that refuses to act on a stack that is not ours; it says what was found and the fix."""
    found = ownership.get("found") or {}
    tags = ", ".join(f"{key}={value}" for key, value in sorted((found.get("tags") or {}).items())) or "none"
    parameters = ", ".join(f"{key}={value}" for key, value in sorted((found.get("parameters") or {}).items())) or "none of ClusterName, NodeGroupName"
    return (
        f"Stack {stack_name} exists and is not this node group's stack: {ownership.get('reason')}. "
        f"Found: status {found.get('stack_status')}, description {found.get('description')!r}, tags {tags}, "
        f"parameters {parameters} (of {len(found.get('parameter_names') or [])}), outputs {', '.join(found.get('output_names') or []) or 'none'}. "
        f"Nothing was {action}. Choose another nodegroup_name, or set stack_name to a name no other stack uses"
    )


def generated_role_name_pattern(stack_name: str) -> Optional["re.Pattern[str]"]:
    """The name CloudFormation gives the stack's NodeInstanceRole, as a pattern; None when it cannot be known exactly.

    CloudFormation shortens generated names that would exceed IAM's 64 characters in a way it does not
    document, so for such long stack names no name is claimed.
    """
    if len(f"{stack_name}-{ROLE_LOGICAL_ID}-") + 13 > IAM_NAME_MAX:
        return None
    return re.compile(f"^{re.escape(stack_name)}-{ROLE_LOGICAL_ID}-{GENERATED_SUFFIX}$")


def leftover_role_candidates(stack_name: str, account_id: Optional[str], role_arns: Iterable[str]) -> List[Dict[str, str]]:
    """The ARNs among role_arns that name this stack's generated node role in account_id: {arn, name}, once each.

    Whether each still exists in IAM is for the caller to ask; only a role that no longer exists is a leftover.
    """
    pattern = generated_role_name_pattern(stack_name)
    if pattern is None:
        return []
    found: Dict[str, Dict[str, str]] = {}
    for arn in role_arns:
        match = ROLE_ARN.match(str(arn or ""))
        if not match or (account_id and match.group("account") != account_id):
            continue
        if pattern.match(match.group("name")):
            found.setdefault(arn, {"arn": arn, "name": match.group("name")})
    return list(found.values())
