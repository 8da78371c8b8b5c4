#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: access_entry
short_description: Manage an EKS access entry for an IAM role or user
version_added: 0.1.0
description:
  - Creates, updates or deletes the EKS access entry of one IAM principal, the successor of aws-auth on clusters
    whose authentication mode is C(API) or C(API_AND_CONFIG_MAP).
  - For self-managed Windows nodes use O(type=EC2_WINDOWS) with the node role; EKS then maps the role to the node
    user and groups itself, including what Windows DNS and kube-proxy need. O(type=EC2_LINUX) is for Linux nodes.
  - V(STANDARD) entries carry O(kubernetes_groups) and access policy associations (O(access_policies)).
  - An existing entry of the requested type is left as it is, except for the fields given. An entry's type cannot
    be changed in place; an existing entry of another type is an error that explains this, unless O(replace=true),
    which deletes it and creates it again.
  - A node role given as O(type=EC2_WINDOWS) that is the role of one of the cluster's Linux managed node groups
    (or the reverse) is an error, before anything is changed. Windows and Linux nodes need separate roles.
author:
  - eksnodes.windows maintainers (@eksnodes)
options:
  cluster_name:
    description:
      - Name of the EKS cluster.
    type: str
    required: true
  principal_arn:
    description:
      - ARN of the IAM role or user. Node types take a role ARN (not an instance profile ARN).
      - Unlike aws-auth, access entries accept role ARNs with a path.
    type: str
    required: true
  state:
    description:
      - V(present) makes sure the entry exists as described; V(absent) deletes it, whatever its type.
    type: str
    choices: [present, absent]
    default: present
  type:
    description:
      - The type of the entry. Required with O(state=present).
      - V(EC2_WINDOWS) for the role of self-managed Windows nodes, V(EC2_LINUX) for Linux nodes, V(STANDARD) for
        people and tools.
    type: str
    choices: [STANDARD, EC2_LINUX, EC2_WINDOWS]
  username:
    description:
      - The Kubernetes user name of a V(STANDARD) entry. EKS picks one when not given. Not for node types.
      - It may not start with C(system:), C(eks:), C(aws:), C(amazon:) or C(iam:), prefixes EKS reserves; such a name is
        refused before any call.
    type: str
  kubernetes_groups:
    description:
      - The Kubernetes groups of a V(STANDARD) entry, none starting with C(system:). Not for node types.
      - When given, they replace the entry's groups; when not given, the groups are left as they are.
    type: list
    elements: str
  access_policies:
    description:
      - The access policies associated with a V(STANDARD) entry. Not for node types.
      - When given, this is the complete list; associations not listed are removed. When not given, the
        associations are left as they are.
    type: list
    elements: dict
    suboptions:
      policy_arn:
        description:
          - The access policy ARN, or just its name such as V(AmazonEKSViewPolicy).
        type: str
        required: true
      access_scope:
        description:
          - Where the policy applies.
        type: dict
        suboptions:
          type:
            description:
              - V(cluster) for the whole cluster, V(namespace) for O(access_policies[].access_scope.namespaces).
            type: str
            choices: [cluster, namespace]
            default: cluster
          namespaces:
            description:
              - The namespaces, with V(namespace).
            type: list
            elements: str
  replace:
    description:
      - When an entry for the principal exists with another type, delete it and create it with O(type).
      - Nodes using the role cannot authenticate between the two calls.
    type: bool
    default: false
notes:
  - Access entries are eventually consistent; EKS may take several seconds to apply a change.
  - Creating a node type entry needs C(iam:PassRole) on the role.
  - On a cluster in authentication mode C(CONFIG_MAP), O(state=present) fails with how to switch modes (or to use
    M(eksnodes.windows.aws_auth)); O(state=absent) has nothing to do.
seealso:
  - module: eksnodes.windows.aws_auth
  - name: Grant IAM users access to Kubernetes with EKS access entries
    description: The EKS documentation of access entries.
    link: https://docs.aws.amazon.com/eks/latest/userguide/access-entries.html
extends_documentation_fragment:
  - eksnodes.windows.cluster_facts
  - eksnodes.windows.attributes
  - eksnodes.windows.attributes.action
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Let the Windows nodes join
  eksnodes.windows.access_entry:
    cluster_name: prod
    principal_arn: "{{ nodegroup_stack.outputs.node_instance_role_arn }}"
    type: EC2_WINDOWS

- name: Replace an entry created with the wrong type
  eksnodes.windows.access_entry:
    cluster_name: prod
    principal_arn: arn:aws:iam::111122223333:role/eks-windows-nodes
    type: EC2_WINDOWS
    replace: true

- name: Give an operations role read access to two namespaces
  eksnodes.windows.access_entry:
    cluster_name: prod
    principal_arn: arn:aws:iam::111122223333:role/ops
    type: STANDARD
    kubernetes_groups: [ops-readers]
    access_policies:
      - policy_arn: AmazonEKSViewPolicy
        access_scope:
          type: namespace
          namespaces: [web, batch]

- name: Remove the entry
  eksnodes.windows.access_entry:
    cluster_name: prod
    principal_arn: arn:aws:iam::111122223333:role/ops
    state: absent
"""

RETURN = r"""
access_entry:
  description: The access entry after the change; in check mode, as it was. None when there is none.
  returned: always
  type: dict
  contains:
    cluster_name:
      description: The cluster.
      type: str
      sample: prod
    principal_arn:
      description: The IAM principal.
      type: str
      sample: arn:aws:iam::111122223333:role/eks-windows-nodes
    access_entry_arn:
      description: The entry's ARN.
      type: str
      sample: arn:aws:eks:us-east-1:111122223333:access-entry/prod/role/111122223333/eks-windows-nodes/6ec9c0e1-4a6b-4f3c-9d2e-1b7f5c3a2e10
    type:
      description: The entry's type.
      type: str
      sample: EC2_WINDOWS
    username:
      description: The Kubernetes user name.
      type: str
      sample: "system:node:{{EC2PrivateDNSName}}"
    kubernetes_groups:
      description: The Kubernetes groups.
      type: list
      elements: str
      sample: ["system:nodes"]
    created_at:
      description: When the entry was created.
      type: str
      sample: "2026-11-12 08:14:03.512000+00:00"
    modified_at:
      description: When the entry was last changed.
      type: str
      sample: "2026-11-12 08:14:03.512000+00:00"
    tags:
      description: The entry's tags.
      type: dict
      sample: {team: platform}
    access_policies:
      description: The associated access policies (V(STANDARD) entries).
      type: list
      elements: dict
      contains:
        policy_arn:
          description: The policy.
          type: str
          sample: arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy
        access_scope:
          description: C(type) and C(namespaces) of where it applies.
          type: dict
          sample: {type: namespace, namespaces: [eks-sample-app]}
actions:
  description: The API calls made (in check mode, the ones that would be), in order.
  returned: always
  type: list
  elements: str
  sample: ["create"]
authentication_mode:
  description: The cluster's authentication mode.
  returned: always
  type: str
  sample: API_AND_CONFIG_MAP
"""

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_module import AWSModule
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.arns import ArnError, arn_key, check_principal_arn, partition_of, strip_role_path
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.node_roles import linux_node_group_roles, windows_node_group_roles
from ansible_collections.eksnodes.windows.plugins.module_utils.eks import access_entries as api
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.clusters import describe_nodegroup, list_nodegroups
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.lookup import known_cluster
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.common import EksError
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.requests import SEPARATE_ROLES


def argument_spec():
    return {
        "cluster_name": {"type": "str", "required": True},
        "principal_arn": {"type": "str", "required": True},
        "cluster": {"type": "dict"},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "type": {"type": "str", "choices": list(api.TYPES)},
        "username": {"type": "str"},
        "kubernetes_groups": {"type": "list", "elements": "str"},
        "access_policies": {"type": "list", "elements": "dict", "options": {
            "policy_arn": {"type": "str", "required": True},
            "access_scope": {"type": "dict", "options": {
                "type": {"type": "str", "choices": ["cluster", "namespace"], "default": "cluster"},
                "namespaces": {"type": "list", "elements": "str"},
            }},
        }},
        "replace": {"type": "bool", "default": False},
    }


def node_group_conflict(eks, cluster_name, principal_arn, entry_type):
    """The message when a node role is used by managed node groups of the other OS, else None."""
    nodegroups = [describe_nodegroup(eks, cluster_name, name) for name in list_nodegroups(eks, cluster_name)]
    nodegroups = [nodegroup for nodegroup in nodegroups if nodegroup]
    other = linux_node_group_roles(nodegroups) if entry_type == "EC2_WINDOWS" else windows_node_group_roles(nodegroups)
    for role in other:
        if arn_key(role["arn"]) == arn_key(strip_role_path(principal_arn)):
            kind = "Linux" if entry_type == "EC2_WINDOWS" else "Windows"
            return f"principal_arn: {principal_arn} is the role of {kind} {role['source']}, so it cannot be {entry_type}. {SEPARATE_ROLES}"
    return None


def read_entry(eks, cluster_name, principal_arn):
    entry = api.describe_access_entry(eks, cluster_name, principal_arn)
    associations = []
    if entry is not None and entry.get("type", "STANDARD") == "STANDARD":
        associations = api.list_associated_access_policies(eks, cluster_name, principal_arn)
    return entry, associations


def create_entry(module, eks, params, args):
    """Create the entry; when someone else created it meanwhile, accept it if it has the type asked for."""
    cluster_name, principal = params["cluster_name"], params["principal_arn"]
    try:
        api.create_access_entry(eks, cluster_name, principal, args["type"], args["username"], args["kubernetes_groups"])
    except EksError as error:
        code = ((getattr(error.exception, "response", None) or {}).get("Error") or {}).get("Code")
        if code != "ResourceInUseException":
            raise
        entry = api.describe_access_entry(eks, cluster_name, principal)
        if entry is None or entry.get("type") != args["type"]:
            module.fail_json(msg=api.wrong_type_message(principal, (entry or {}).get("type"), args["type"], cluster_name))


def run(module, eks, params):
    cluster_name = params["cluster_name"]
    principal = params["principal_arn"]
    state = params["state"]
    mode = known_cluster(module, eks, cluster_name)["authentication_mode"] or "CONFIG_MAP"
    result = {"changed": False, "actions": [], "authentication_mode": mode, "access_entry": None}
    if mode not in api.ACCESS_ENTRY_MODES:
        if state == "absent":
            module.exit_json(**result)
        module.fail_json(
            msg=f"Cluster {cluster_name} is in authentication mode {mode}, which has no access entries. Either switch it to "
                f"API_AND_CONFIG_MAP (aws eks update-cluster-config --name {cluster_name} --access-config "
                f"authenticationMode=API_AND_CONFIG_MAP; this cannot be undone), or map the role in aws-auth with "
                f"eksnodes.windows.aws_auth.",
            **result,
        )

    desired = None
    if state == "present":
        try:
            desired = api.desired_entry(params["type"], params["username"], params["kubernetes_groups"], params["access_policies"],
                                        partition_of(principal))
        except api.AccessEntryRequestError as error:
            module.fail_json(msg=str(error), **result)

    entry, associations = read_entry(eks, cluster_name, principal)
    current = api.current_entry(entry, associations)
    plan = api.plan_access_entry(current, desired, state, params["replace"], principal, cluster_name)
    if plan["error"]:
        module.fail_json(msg=plan["error"], access_entry=api.entry_result(entry, associations), actions=[], authentication_mode=mode)
    if state == "present" and desired["type"] in api.NODE_TYPES and any(name == "create" for name, _args in plan["actions"]):
        conflict = node_group_conflict(eks, cluster_name, principal, desired["type"])
        if conflict:
            module.fail_json(msg=conflict, **result)

    result["actions"] = [name for name, _args in plan["actions"]]
    result["changed"] = bool(plan["actions"])
    if module._diff:
        result["diff"] = {
            "before_header": f"access entry {principal} ({cluster_name})",
            "after_header": f"access entry {principal} ({cluster_name})",
            "before": api.diff_view(current),
            "after": api.diff_view(plan["after"]),
        }
    if module.check_mode or not plan["actions"]:
        result["access_entry"] = api.entry_result(entry, associations)
        module.exit_json(**result)

    for name, args in plan["actions"]:
        if name == "delete":
            api.delete_access_entry(eks, cluster_name, principal)
        elif name == "create":
            create_entry(module, eks, params, args)
        elif name == "update":
            api.update_access_entry(eks, cluster_name, principal, args.get("username"), args.get("kubernetes_groups"))
        elif name == "associate":
            api.associate_access_policy(eks, cluster_name, principal, args["policy_arn"], args["access_scope"])
        elif name == "disassociate":
            api.disassociate_access_policy(eks, cluster_name, principal, args["policy_arn"])
    if state == "present":
        entry, associations = read_entry(eks, cluster_name, principal)
        result["access_entry"] = api.entry_result(entry, associations)
    module.exit_json(**result)


def main():
    module = AWSModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        required_if=[("state", "present", ["type"])],
    )
    params = module.params
    try:
        roles_only = params["state"] == "present" and params["type"] in api.NODE_TYPES
        params["principal_arn"] = check_principal_arn(params["principal_arn"], "principal_arn", roles_only=roles_only)
    except ArnError as error:
        module.fail_json(msg=str(error))
    eks = module.client("eks")
    try:
        run(module, eks, params)
    except EksError as error:
        module.fail_json_aws_error(error)


if __name__ == "__main__":
    main()
