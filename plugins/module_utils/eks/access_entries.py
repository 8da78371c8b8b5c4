# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""EKS access entries: thin retrying wrappers over the API, and the pure decision of what to call.

An access entry's type (STANDARD, EC2_LINUX, EC2_WINDOWS, ...) is fixed when it is created. Node types
take no username, Kubernetes groups or access policies: EKS sets them. STANDARD entries carry
Kubernetes groups (none starting with system:) and access policy associations.
"""

from typing import Any, Dict, List, Optional

from ansible_collections.eksnodes.windows.plugins.module_utils.retries import aws_retry

from .common import EksErrorHandler

NODE_TYPES = ("EC2_LINUX", "EC2_WINDOWS")
TYPES = ("STANDARD",) + NODE_TYPES
ACCESS_ENTRY_MODES = ("API", "API_AND_CONFIG_MAP")
# Username prefixes EKS refuses for access entries [EKS user guide, grant-k8s-access.adoc].
RESERVED_USERNAME_PREFIXES = ("system:", "eks:", "aws:", "amazon:", "iam:")
POLICY_ARN_FORMAT = "arn:{partition}:eks::aws:cluster-access-policy/{name}"


class AccessEntryRequestError(ValueError):
    """Options that cannot make a valid access entry; the message names the option and the fix."""


# --- API wrappers ----------------------------------------------------------------------------------

@EksErrorHandler.list_error_handler("describe access entry")
@aws_retry()
def describe_access_entry(client, cluster_name: str, principal_arn: str) -> Optional[Dict[str, Any]]:
    return client.describe_access_entry(clusterName=cluster_name, principalArn=principal_arn)["accessEntry"]


@EksErrorHandler.list_error_handler("list associated access policies", default_value=[])
@aws_retry()
def list_associated_access_policies(client, cluster_name: str, principal_arn: str) -> List[Dict[str, Any]]:
    paginator = client.get_paginator("list_associated_access_policies")
    pages = paginator.paginate(clusterName=cluster_name, principalArn=principal_arn)
    return pages.build_full_result().get("associatedAccessPolicies", [])


@EksErrorHandler.common_error_handler("create access entry")
@aws_retry()
def create_access_entry(client, cluster_name: str, principal_arn: str, entry_type: str, username: Optional[str] = None,
                        kubernetes_groups: Optional[List[str]] = None) -> Dict[str, Any]:
    kwargs = {"clusterName": cluster_name, "principalArn": principal_arn, "type": entry_type}
    if username is not None:
        kwargs["username"] = username
    if kubernetes_groups:
        kwargs["kubernetesGroups"] = list(kubernetes_groups)
    return client.create_access_entry(**kwargs)["accessEntry"]


@EksErrorHandler.common_error_handler("update access entry")
@aws_retry()
def update_access_entry(client, cluster_name: str, principal_arn: str, username: Optional[str] = None,
                        kubernetes_groups: Optional[List[str]] = None) -> Dict[str, Any]:
    kwargs = {"clusterName": cluster_name, "principalArn": principal_arn}
    if username is not None:
        kwargs["username"] = username
    if kubernetes_groups is not None:
        kwargs["kubernetesGroups"] = list(kubernetes_groups)
    return client.update_access_entry(**kwargs)["accessEntry"]


@EksErrorHandler.deletion_error_handler("delete access entry")
@aws_retry()
def delete_access_entry(client, cluster_name: str, principal_arn: str) -> bool:
    client.delete_access_entry(clusterName=cluster_name, principalArn=principal_arn)
    return True


@EksErrorHandler.common_error_handler("associate access policy")
@aws_retry()
def associate_access_policy(client, cluster_name: str, principal_arn: str, policy_arn: str, access_scope: Dict[str, Any]) -> Dict[str, Any]:
    scope = {"type": access_scope["type"]}
    if access_scope.get("namespaces"):
        scope["namespaces"] = list(access_scope["namespaces"])
    return client.associate_access_policy(clusterName=cluster_name, principalArn=principal_arn, policyArn=policy_arn,
                                          accessScope=scope)["associatedAccessPolicy"]


@EksErrorHandler.deletion_error_handler("disassociate access policy")
@aws_retry()
def disassociate_access_policy(client, cluster_name: str, principal_arn: str, policy_arn: str) -> bool:
    client.disassociate_access_policy(clusterName=cluster_name, principalArn=principal_arn, policyArn=policy_arn)
    return True


# --- pure decisions --------------------------------------------------------------------------------

def policy_arn(name_or_arn: str, partition: str = "aws") -> str:
    """AmazonEKSViewPolicy -> arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy; ARNs unchanged."""
    text = str(name_or_arn).strip()
    return text if text.startswith("arn:") else POLICY_ARN_FORMAT.format(partition=partition, name=text)


def normalize_scope(scope: Optional[Dict[str, Any]], field: str) -> Dict[str, Any]:
    scope = scope or {}
    scope_type = scope.get("type") or "cluster"
    namespaces = sorted(set(scope.get("namespaces") or []))
    if scope_type not in ("cluster", "namespace"):
        raise AccessEntryRequestError(f"{field}.type: {scope_type!r} is not one of cluster, namespace.")
    if scope_type == "namespace" and not namespaces:
        raise AccessEntryRequestError(f"{field}.namespaces: list the namespaces the policy applies to when type is namespace.")
    if scope_type == "cluster" and namespaces:
        raise AccessEntryRequestError(f"{field}.namespaces: only for type namespace; remove them or set type: namespace.")
    return {"type": scope_type, "namespaces": namespaces}


def username_problem(username: Optional[str]) -> Optional[str]:
    """Why EKS would refuse this STANDARD entry username (a prefix it reserves), or None."""
    if username is None:
        return None
    reserved = next((prefix for prefix in RESERVED_USERNAME_PREFIXES if str(username).startswith(prefix)), None)
    if reserved is None:
        return None
    return (f"username: {username!r} starts with {reserved}, a prefix EKS reserves ({', '.join(RESERVED_USERNAME_PREFIXES)}) and "
            "refuses for access entries. Choose another username, or leave it unset for EKS to pick one; node roles use type "
            "EC2_LINUX or EC2_WINDOWS.")


def desired_entry(entry_type: str, username: Optional[str], kubernetes_groups: Optional[List[str]],
                  access_policies: Optional[List[Dict[str, Any]]], partition: str = "aws") -> Dict[str, Any]:
    """The entry the options ask for; None in a field means 'leave it as it is'.

    Raises AccessEntryRequestError for what EKS would refuse: node types with a username, groups or
    policies; STANDARD groups starting with system:, usernames with a prefix EKS reserves.
    """
    if entry_type not in TYPES:
        raise AccessEntryRequestError(f"type: {entry_type!r} is not one of {', '.join(TYPES)}.")
    if entry_type in NODE_TYPES:
        for option, value in (("username", username), ("kubernetes_groups", kubernetes_groups), ("access_policies", access_policies)):
            if value:
                raise AccessEntryRequestError(
                    f"{option}: an access entry of type {entry_type} takes none; EKS sets the node user name "
                    f"and permissions itself. Remove {option}, or use type STANDARD for a principal that is not a node role."
                )
        return {"type": entry_type, "username": None, "kubernetes_groups": None, "access_policies": None}
    problem = username_problem(username)
    if problem:
        raise AccessEntryRequestError(problem)
    groups = None
    if kubernetes_groups is not None:
        groups = sorted(set(str(group) for group in kubernetes_groups))
        for group in groups:
            if group.startswith("system:"):
                raise AccessEntryRequestError(
                    f"kubernetes_groups: {group} starts with system:, which EKS refuses for access entries; "
                    f"node roles use type EC2_LINUX or EC2_WINDOWS, and admin access is the AmazonEKSClusterAdminPolicy access policy."
                )
    policies = None
    if access_policies is not None:
        policies = {}
        for index, item in enumerate(access_policies):
            arn = policy_arn(item.get("policy_arn") or item.get("policy") or "", partition)
            if arn.endswith("/") or not arn.strip():
                raise AccessEntryRequestError(f"access_policies[{index}].policy_arn: required, like AmazonEKSViewPolicy.")
            scope = normalize_scope(item.get("access_scope"), f"access_policies[{index}].access_scope")
            if arn in policies and policies[arn] != scope:
                raise AccessEntryRequestError(f"access_policies[{index}]: {arn} is given twice with different scopes; give it once.")
            policies[arn] = scope
    return {"type": entry_type, "username": username, "kubernetes_groups": groups, "access_policies": policies}


def current_entry(entry: Optional[Dict[str, Any]], associations: Optional[List[Dict[str, Any]]]) -> Optional[Dict[str, Any]]:
    """A DescribeAccessEntry result and its associations in the shape desired_entry() gives."""
    if entry is None:
        return None
    return {
        "type": entry.get("type", "STANDARD"),
        "username": entry.get("username"),
        "kubernetes_groups": sorted(set(entry.get("kubernetesGroups") or [])),
        "access_policies": {
            item["policyArn"]: normalize_scope(item.get("accessScope"), "accessScope") for item in (associations or [])
        },
    }


def wrong_type_message(principal_arn: str, current_type: str, wanted_type: str, cluster_name: str = "<cluster>") -> str:
    return (
        f"The access entry for {principal_arn} has type {current_type}, not {wanted_type}. An access entry's type cannot be "
        f"changed in place: it has to be deleted and created again, which this module does with replace: true "
        f"(or: aws eks delete-access-entry --cluster-name {cluster_name} --principal-arn {principal_arn}, then run again). "
        f"Nodes using the role cannot authenticate between the two calls."
    )


def plan_access_entry(current: Optional[Dict[str, Any]], desired: Optional[Dict[str, Any]], state: str,
                      replace: bool = False, principal_arn: str = "the principal", cluster_name: str = "<cluster>") -> Dict[str, Any]:
    """The calls that make current into desired: {actions: [(name, args)], error, after}.

    current and desired are in the shape of current_entry()/desired_entry(); desired is ignored for
    state absent. actions are among create, update, associate, disassociate, delete, in order.
    """
    actions: List[Any] = []
    if state == "absent":
        if current is not None:
            actions.append(("delete", {}))
        return {"actions": actions, "error": None, "after": None}

    if current is not None and current["type"] != desired["type"]:
        if not replace:
            return {"actions": [], "error": wrong_type_message(principal_arn, current["type"], desired["type"], cluster_name), "after": current}
        actions.append(("delete", {}))
        current = None

    after = dict(current) if current is not None else {
        "type": desired["type"],
        "username": desired["username"],
        "kubernetes_groups": list(desired["kubernetes_groups"] or []),
        "access_policies": {},
    }
    if current is None:
        actions.append(("create", {"type": desired["type"], "username": desired["username"],
                                   "kubernetes_groups": list(desired["kubernetes_groups"] or [])}))
    else:
        update = {}
        if desired["username"] is not None and desired["username"] != current["username"]:
            update["username"] = desired["username"]
        if desired["kubernetes_groups"] is not None and desired["kubernetes_groups"] != current["kubernetes_groups"]:
            update["kubernetes_groups"] = list(desired["kubernetes_groups"])
        if update:
            actions.append(("update", update))
            after.update(update)

    if desired["type"] == "STANDARD" and desired["access_policies"] is not None:
        have = dict(after["access_policies"])
        for arn, scope in desired["access_policies"].items():
            if have.get(arn) != scope:
                actions.append(("associate", {"policy_arn": arn, "access_scope": scope}))
        for arn in have:
            if arn not in desired["access_policies"]:
                actions.append(("disassociate", {"policy_arn": arn}))
        after["access_policies"] = dict(desired["access_policies"])
    return {"actions": actions, "error": None, "after": after}


def entry_result(entry: Optional[Dict[str, Any]], associations: Optional[List[Dict[str, Any]]] = None) -> Optional[Dict[str, Any]]:
    """The access entry as the module returns it (snake_case)."""
    if entry is None:
        return None
    result = {
        "cluster_name": entry.get("clusterName"),
        "principal_arn": entry.get("principalArn"),
        "access_entry_arn": entry.get("accessEntryArn"),
        "type": entry.get("type"),
        "username": entry.get("username"),
        "kubernetes_groups": list(entry.get("kubernetesGroups") or []),
        "created_at": str(entry["createdAt"]) if entry.get("createdAt") is not None else None,
        "modified_at": str(entry["modifiedAt"]) if entry.get("modifiedAt") is not None else None,
        "tags": dict(entry.get("tags") or {}),
        "access_policies": [_association_result(item) for item in (associations or [])],
    }
    return result


def _association_result(item: Dict[str, Any]) -> Dict[str, Any]:
    scope = item.get("accessScope") or {}
    return {"policy_arn": item.get("policyArn"), "access_scope": {"type": scope.get("type"), "namespaces": list(scope.get("namespaces") or [])}}


def diff_view(state: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """An entry in the shape of current_entry() as shown in --diff ({} when there is none)."""
    if state is None:
        return {}
    view = {"type": state["type"]}
    if state.get("username") is not None:
        view["username"] = state["username"]
    if state["type"] == "STANDARD":
        view["kubernetes_groups"] = list(state.get("kubernetes_groups") or [])
        view["access_policies"] = [
            {"policy_arn": arn, "access_scope": scope} for arn, scope in sorted((state.get("access_policies") or {}).items())
        ]
    return view
