#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: aws_auth
short_description: Merge role, user and account mappings into the aws-auth ConfigMap of an EKS cluster
version_added: 0.1.0
description:
  - Manages entries of C(mapRoles), C(mapUsers) and C(mapAccounts) in the ConfigMap C(kube-system/aws-auth), which
    maps IAM principals to Kubernetes users and groups on clusters whose authentication mode includes C(CONFIG_MAP).
  - With O(state=present) it merges. It adds the missing entries, updates the named entries matched by ARN (or account
    ID), and leaves every other entry, every other key of the ConfigMap, its labels and its annotations as they were.
    It creates the ConfigMap when there is none.
  - With O(state=absent) it removes only the entries named.
  - It never writes a second entry for an ARN. Entries present more than once already are reported in RV(duplicates)
    and a warning; when such an ARN is named, its entries become one.
  - Each write carries the C(resourceVersion) it read. When another writer changed the ConfigMap in between, the
    module reads it again, merges again and retries, up to O(conflict_retries) times with jittered exponential
    backoff, so concurrent writers never lose each other's entries.
  - If C(mapRoles), C(mapUsers) or C(mapAccounts) already holds something that is not YAML of the expected shape, the
    module fails and changes nothing.
  - If the ConfigMap would hold more than 1 MiB of data after the change, the limit kube-apiserver accepts, the module
    fails before writing and changes nothing.
  - Entries are written in block style with the keys in the order C(rolearn) (or C(userarn)), C(username),
    C(groups). Keys the module does not change keep their exact text.
  - Role ARNs are checked before anything is read. An instance profile ARN is an error that names the role ARN to use.
    A role ARN with a path is written without it, with a warning, because aws-auth matches roles only without a
    path. The same role given as a Windows and a Linux node role is an error.
  - To connect, the module uses the Kubernetes options (O(kubeconfig), O(context), O(host), ... or their
    E(K8S_AUTH_*) variables) when any is set. Otherwise, when O(cluster_name) is given, it connects to that EKS
    cluster's endpoint with a token minted from the AWS credentials. Otherwise it uses the default kubeconfig.
author:
  - eksnodes.windows maintainers (@eksnodes)
options:
  cluster_name:
    description:
      - Name of the EKS cluster.
      - Needed to connect without a kubeconfig, and for O(discover_linux_node_roles=true).
    type: str
  state:
    description:
      - V(present) merges the entries given into the ConfigMap.
      - V(absent) removes the entries with the ARNs (or account IDs) given; their other fields are ignored.
    type: str
    choices: [present, absent]
    default: present
  node_roles:
    description:
      - IAM roles of EC2 nodes, as a shorthand for their C(mapRoles) entries.
      - Each becomes C(username=system:node:{{EC2PrivateDNSName}}) with the groups C(system:bootstrappers) and
        C(system:nodes), plus C(eks:kube-proxy-windows) for Windows nodes, without which DNS and kube-proxy fail on
        Windows nodes that still report Ready.
      - An existing entry for the role gets the node user name and the missing node groups. If it has further groups
        (such as C(system:masters)), every node using the role would get them too, so the module fails and changes
        nothing, unless O(allow_extra_groups=true), which keeps them with a warning.
    type: list
    elements: dict
    suboptions:
      arn:
        description:
          - The ARN of the IAM role the nodes' instance profile holds (not the instance profile ARN).
        type: str
        required: true
      os:
        description:
          - The operating system of the nodes using the role.
        type: str
        choices: [windows, linux]
        required: true
  map_roles:
    description:
      - C(mapRoles) entries for IAM roles.
      - An existing entry for the same role gets the O(map_roles[].username) and O(map_roles[].groups) given;
        any other keys it has are kept.
    type: list
    elements: dict
    suboptions:
      rolearn:
        description:
          - The role ARN. A path is removed, with a warning.
        type: str
        required: true
      username:
        description:
          - The Kubernetes user name the role acts as. Required with O(state=present).
        type: str
      groups:
        description:
          - The Kubernetes groups of the role. When not given, an existing entry keeps its groups and a new entry has none.
          - Compared without regard to order.
        type: list
        elements: str
  map_users:
    description:
      - C(mapUsers) entries for IAM users, matched and updated as O(map_roles) are.
    type: list
    elements: dict
    suboptions:
      userarn:
        description:
          - The IAM user ARN.
        type: str
        required: true
      username:
        description:
          - The Kubernetes user name. Required with O(state=present).
        type: str
      groups:
        description:
          - The Kubernetes groups of the user. When not given, an existing entry keeps its groups.
        type: list
        elements: str
  map_accounts:
    description:
      - AWS account IDs for C(mapAccounts) (12 digits; quote them in YAML).
    type: list
    elements: str
  discover_linux_node_roles:
    description:
      - Also keep mapped, as Linux node roles, the node roles of the O(cluster_name) cluster's managed node groups
        whose AMI type is not a Windows one.
      - With it, a Windows node role that is a Linux node group's role, or that aws-auth maps as a Linux node (without
        C(eks:kube-proxy-windows)), is an error before anything is written. Without it, such an aws-auth mapping of a
        Windows node role is re-mapped for Windows with a warning (the repair of a role mapped without
        C(eks:kube-proxy-windows) by mistake).
      - Only with O(state=present). Needs C(eks:ListNodegroups) and C(eks:DescribeNodegroup).
    type: bool
    default: false
  allow_extra_groups:
    description:
      - Keep the groups an existing entry of a O(node_roles) role has besides the node groups, with a warning.
      - Without it, such groups are an error before anything is written, since every node using the role gets them.
    type: bool
    default: false
  backup:
    description:
      - Return the ConfigMap as it was before the change in RV(backup), as a manifest C(kubectl apply -f) accepts.
      - With O(backup_path), also write it to a file when the ConfigMap is changed.
    type: bool
    default: false
  backup_path:
    description:
      - A file, or an existing directory to create a time-stamped file in, for the previous ConfigMap.
      - Written only with O(backup=true), outside check mode, when the ConfigMap is changed, right before the
        ConfigMap is written. Its mode is C(0600).
      - A file whose directory does not exist, or a place that cannot be written, is an error before anything is read
        or written (in check mode too).
    type: path
  conflict_retries:
    description:
      - How many times to read, merge and write again when the ConfigMap changed between read and write.
    type: int
    default: 10
notes:
  - aws-auth user name templates such as C({{SessionName}}) look like Jinja to Ansible; mark such values C(!unsafe).
  - On clusters in authentication mode C(API) the ConfigMap is ignored by EKS; use M(eksnodes.windows.access_entry)
    there. The P(eksnodes.windows.node_auth#role) role picks the mechanism from the cluster's authentication mode.
seealso:
  - module: eksnodes.windows.access_entry
  - name: Grant IAM users and roles access to Kubernetes APIs
    description: The EKS documentation of aws-auth and access entries.
    link: https://docs.aws.amazon.com/eks/latest/userguide/grant-k8s-access.html
extends_documentation_fragment:
  - eksnodes.windows.cluster_facts
  - eksnodes.windows.kubernetes
  - eksnodes.windows.attributes
  - eksnodes.windows.attributes.action
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Map the Windows node role, keeping the Linux node group roles mapped
  eksnodes.windows.aws_auth:
    cluster_name: prod
    node_roles:
      - arn: "{{ nodegroup_stack.outputs.node_instance_role_arn }}"
        os: windows
    discover_linux_node_roles: true
    backup: true
    backup_path: /var/backups/eks/

- name: Map a Linux and a Windows node role with an explicit kubeconfig
  eksnodes.windows.aws_auth:
    kubeconfig: ~/.kube/prod
    node_roles:
      - arn: arn:aws:iam::111122223333:role/eks-linux-nodes
        os: linux
      - arn: arn:aws:iam::111122223333:role/eks-windows-nodes
        os: windows

- name: Give an operations role and user read access, and trust an account
  eksnodes.windows.aws_auth:
    cluster_name: prod
    map_roles:
      - rolearn: arn:aws:iam::111122223333:role/ops
        username: !unsafe "ops:{{SessionName}}"
        groups: [ops-readers]
    map_users:
      - userarn: arn:aws:iam::111122223333:user/alice
        username: alice
        groups: [ops-readers]
    map_accounts:
      - "444455556666"

- name: Remove the Windows node role's mapping
  eksnodes.windows.aws_auth:
    cluster_name: prod
    state: absent
    node_roles:
      - arn: arn:aws:iam::111122223333:role/eks-windows-nodes
        os: windows
"""

RETURN = r"""
map_roles:
  description: The C(mapRoles) entries after the change (in check mode, as they would be).
  returned: always
  type: list
  elements: dict
  sample:
    - rolearn: arn:aws:iam::111122223333:role/eks-windows-nodes
      username: "system:node:{{EC2PrivateDNSName}}"
      groups: ["system:bootstrappers", "system:nodes", "eks:kube-proxy-windows"]
map_users:
  description: The C(mapUsers) entries after the change.
  returned: always
  type: list
  elements: dict
  sample: []
map_accounts:
  description: The C(mapAccounts) entries after the change.
  returned: always
  type: list
  elements: str
  sample: ["444455556666"]
added:
  description: The entries added, by key.
  returned: always
  type: dict
  contains:
    map_roles:
      description: C(mapRoles) entries added.
      type: list
      sample:
        - rolearn: arn:aws:iam::111122223333:role/eks-windows-nodes
          username: system:node:{{EC2PrivateDNSName}}
          groups:
            - eks:kube-proxy-windows
            - system:bootstrappers
            - system:nodes
      elements: dict
    map_users:
      description: C(mapUsers) entries added.
      type: list
      sample: []
      elements: dict
    map_accounts:
      description: Account IDs added.
      type: list
      sample: []
      elements: str
  sample: {"map_roles": [{"rolearn": "arn:aws:iam::111122223333:role/eks-windows-nodes"}], "map_users": [], "map_accounts": []}
updated:
  description: The entries changed, by key, each as C(before) and C(after).
  returned: always
  type: dict
  contains:
    map_roles:
      description: C(mapRoles) entries changed.
      type: list
      sample: []
      elements: dict
    map_users:
      description: C(mapUsers) entries changed.
      type: list
      sample: []
      elements: dict
    map_accounts:
      description: Always empty; account IDs are only added or removed.
      type: list
      sample: []
      elements: dict
  sample: {"map_roles": [], "map_users": [], "map_accounts": []}
removed:
  description:
    - The entries removed, by key. With O(state=present) these are only further entries for a named ARN, merged into its first entry.
  returned: always
  type: dict
  contains:
    map_roles:
      description: C(mapRoles) entries removed.
      type: list
      sample: []
      elements: dict
    map_users:
      description: C(mapUsers) entries removed.
      type: list
      sample: []
      elements: dict
    map_accounts:
      description: Account IDs removed.
      type: list
      sample: []
      elements: str
  sample: {"map_roles": [], "map_users": [], "map_accounts": []}
duplicates:
  description: ARNs or account IDs the ConfigMap held more than once before the change.
  returned: always
  type: list
  elements: dict
  contains:
    key:
      description: C(mapRoles), C(mapUsers) or C(mapAccounts).
      type: str
      sample: "mapRoles"
    identity:
      description: The ARN or account ID.
      type: str
      sample: "arn:aws:iam::111122223333:role/ops"
    count:
      description: How many entries it had.
      type: int
      sample: 2
  sample: [{"key": "mapRoles", "identity": "arn:aws:iam::111122223333:role/ops", "count": 2}]
linux_node_roles:
  description:
    - The Linux node roles considered, each with where it came from (O(node_roles), a node group, or an existing
      aws-auth Linux node mapping).
  returned: always
  type: list
  elements: dict
  sample: [{"arn": "arn:aws:iam::111122223333:role/eks-linux-nodes", "source": "node group linux"}]
attempts:
  description: How many read-merge-write rounds it took (more than 1 when another writer got in between).
  returned: always
  type: int
  sample: 1
resource_version:
  description: The C(resourceVersion) of the ConfigMap after the change, or as read when nothing changed.
  returned: when the ConfigMap exists
  type: str
  sample: "48213"
backup:
  description: The ConfigMap as it was before, as a manifest. None when there was none.
  returned: when O(backup=true)
  type: dict
  sample: {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "aws-auth", "namespace": "kube-system"}, "data": {}}
backup_file:
  description:
    - The file the previous ConfigMap was written to, before the ConfigMap was written.
    - Also returned when the write itself then failed.
  returned: when O(backup_path) is given and the ConfigMap was changed (or a write was attempted)
  type: str
  sample: /var/backups/eks/aws-auth.48212.20250101T120000Z.yaml
"""

try:
    # First, so that kubernetes is then imported name by name (module_utils/kube/lazy.py).
    from ansible_collections.eksnodes.windows.plugins.module_utils.kube import lazy  # noqa: F401  pylint: disable=unused-import
    from kubernetes.client import CoreV1Api
except ImportError:
    pass  # api_client() reports the missing library

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.warnings import warn

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_module import AWSModule
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.arns import ArnError, arn_key, strip_role_path
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.backup import Backup, BackupFailed, backup_path_problem
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.configmap import (
    NAME,
    NAMESPACE,
    ConfigMapTooLarge,
    ConflictRetriesExhausted,
    ExtraGroupsRefused,
    WriteConflict,
    check_size,
    converge,
    diff_document,
    duplicate_warnings,
    extra_groups_message,
    manifest,
    plan_change,
    snake_entries,
)
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.mappings import (
    HAS_YAML,
    KUBE_PROXY_WINDOWS,
    NODE,
    ROLES,
    MalformedMappingsError,
    extra_node_groups,
)
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.node_roles import (
    linux_node_group_roles,
    node_roles_in_mappings,
    windows_roles_mapped_as_linux,
)
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.requests import (
    SEPARATE_ROLES,
    RequestError,
    build_request,
    check_node_role_conflicts,
)
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.clusters import describe_nodegroup, list_nodegroups
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.lookup import known_cluster
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.common import EksError
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import (
    KUBE_AUTH_ARG_SPEC,
    ApiException,
    KubeClientError,
    api_client,
    api_error_message,
    has_explicit_kube_auth,
    is_status,
)

ENTRY_OPTIONS = {"username": {"type": "str"}, "groups": {"type": "list", "elements": "str"}}


def argument_spec():
    spec = {
        "cluster_name": {"type": "str"},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "node_roles": {"type": "list", "elements": "dict", "options": {
            "arn": {"type": "str", "required": True},
            "os": {"type": "str", "choices": ["windows", "linux"], "required": True},
        }},
        "map_roles": {"type": "list", "elements": "dict", "options": dict(rolearn={"type": "str", "required": True}, **ENTRY_OPTIONS)},
        "map_users": {"type": "list", "elements": "dict", "options": dict(userarn={"type": "str", "required": True}, **ENTRY_OPTIONS)},
        "map_accounts": {"type": "list", "elements": "str"},
        "discover_linux_node_roles": {"type": "bool", "default": False},
        "allow_extra_groups": {"type": "bool", "default": False},
        "backup": {"type": "bool", "default": False},
        "backup_path": {"type": "path"},
        "conflict_retries": {"type": "int", "default": 10},
        "cluster": {"type": "dict"},
    }
    spec.update(KUBE_AUTH_ARG_SPEC)
    return spec


class ConfigMapStore:
    """kube-system/aws-auth through the typed CoreV1Api, as plain dicts; conflicts raise WriteConflict."""

    def __init__(self, client):
        self.client = client
        self.core = CoreV1Api(client)

    def _plain(self, obj):
        return self.client.sanitize_for_serialization(obj)

    def read(self):
        try:
            return self._plain(self.core.read_namespaced_config_map(NAME, NAMESPACE))
        except ApiException as error:
            if is_status(error, 404):
                return None
            raise

    def write(self, current, data):
        body = dict(current)
        body["metadata"] = {k: v for k, v in (current.get("metadata") or {}).items() if k != "managedFields"}
        body["data"] = data
        try:
            return self._plain(self.core.replace_namespaced_config_map(NAME, NAMESPACE, body))
        except ApiException as error:
            if is_status(error, 409):
                raise WriteConflict(api_error_message(error)) from error
            raise

    def create(self, data):
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": NAME, "namespace": NAMESPACE}, "data": data}
        try:
            return self._plain(self.core.create_namespaced_config_map(NAMESPACE, body))
        except ApiException as error:
            if is_status(error, 409):
                raise WriteConflict(api_error_message(error)) from error
            raise


def discover_node_group_roles(eks, cluster_name):
    nodegroups = []
    for name in list_nodegroups(eks, cluster_name):
        nodegroup = describe_nodegroup(eks, cluster_name, name)
        if nodegroup:
            nodegroups.append(nodegroup)
    return linux_node_group_roles(nodegroups)


def node_role_arns(request, os_name):
    """The ARNs of the node roles of os_name in a request."""
    return [entry["arn"] for entry in request[ROLES]
            if entry["mode"] == NODE and (KUBE_PROXY_WINDOWS in entry["groups"]) == (os_name == "windows")]


def prepare(module, params):
    """Check the options, look the cluster up when needed and discover node group roles.

    Returns (request, warnings, linux_roles, cluster facts or None). Fails the module on any problem,
    before anything is read from or written to Kubernetes.
    """
    state = params["state"]
    if params["discover_linux_node_roles"] and state == "absent":
        module.fail_json(msg="discover_linux_node_roles: only with state=present; remove it to delete entries.")
    if params["conflict_retries"] < 0:
        module.fail_json(msg="conflict_retries: must be 0 or more.")
    if params["backup"] and params["backup_path"]:
        problem = backup_path_problem(params["backup_path"])
        if problem:
            module.fail_json(msg=f"{problem} Nothing was read or written.")
    node_roles = list(params["node_roles"] or [])
    try:
        request, warnings = build_request(state, params["map_roles"], params["map_users"], params["map_accounts"], node_roles)
        linux_roles = [{"arn": arn, "source": "node_roles"} for arn in node_role_arns(request, "linux")]
        cluster = None
        if params["cluster_name"] and (params["discover_linux_node_roles"] or not has_explicit_kube_auth(params)):
            eks = module.client("eks")
            cluster = known_cluster(module, eks, params["cluster_name"])
            if params["discover_linux_node_roles"]:
                discovered = discover_node_group_roles(eks, params["cluster_name"])
                check_node_role_conflicts(node_role_arns(request, "windows"), discovered)
                known = {arn_key(role["arn"]) for role in linux_roles}
                extra = [role for role in discovered if arn_key(role["arn"]) not in known]
                linux_roles += extra
                node_roles += [{"arn": role["arn"], "os": "linux"} for role in extra]
                request, warnings = build_request(state, params["map_roles"], params["map_users"], params["map_accounts"], node_roles)
    except EksError as error:
        module.fail_json_aws_error(error)
    except (ArnError, RequestError) as error:
        module.fail_json(msg=str(error))
    return request, warnings, linux_roles, cluster


def node_role_labels(params, linux_roles):
    """The option each node role came from, by ARN compared regardless of case, for messages."""
    labels = {}
    for role in linux_roles:
        if role["source"] != "node_roles":
            labels[arn_key(role["arn"])] = f"the Linux node role of {role['source']} (discover_linux_node_roles)"
    for index, node in enumerate(params["node_roles"] or []):
        labels[arn_key(strip_role_path(str(node.get("arn") or "").strip()))] = f"node_roles[{index}].arn"
    return labels


def make_guard(params, request, labels):
    """Refuses, before any write and in check mode too: with discover_linux_node_roles, a Windows node role that aws-auth
    maps as a Linux node; extra groups on node roles (unless allowed); oversized data."""
    def guard(current, plan):
        if params["state"] == "present" and params["discover_linux_node_roles"]:
            for arn in windows_roles_mapped_as_linux(node_role_arns(request, "windows"), plan["before_entries"][ROLES]):
                raise RequestError(
                    f"{labels.get(arn_key(arn), 'node_roles')}: {arn} is also a Linux node role (aws-auth linux node mapping, "
                    f"without eks:kube-proxy-windows). {SEPARATE_ROLES} Nothing was changed. If no Linux node uses it (it was "
                    f"mapped without eks:kube-proxy-windows by mistake), run once without discover_linux_node_roles, which maps "
                    f"it for Windows with a warning."
                )
        if params["state"] == "present" and not params["allow_extra_groups"]:
            found = extra_node_groups(plan["entries"][ROLES], request[ROLES])
            if found:
                raise ExtraGroupsRefused(extra_groups_message(found, labels, allowed=False))
        check_size(current, plan)
    return guard


def merge_into_configmap(module, params, request, cluster, labels):
    """Read, merge and write aws-auth (retrying on conflicts); returns (converge()'s outcome, the backup file or None)."""
    backup = Backup(params["backup_path"]) if params["backup"] and params["backup_path"] else None
    try:
        sts = module.client("sts") if cluster and not has_explicit_kube_auth(params) else None
        store = ConfigMapStore(api_client(params, cluster=cluster, sts_client=sts))
        outcome = converge(store.read, store.write, store.create, lambda data: plan_change(data, request, params["state"], show_before=module._diff),
                           check_mode=module.check_mode, retries=params["conflict_retries"],
                           guard=make_guard(params, request, labels), before_write=backup)
        return outcome, backup.written if backup else None
    except (KubeClientError, MalformedMappingsError, ConflictRetriesExhausted, ExtraGroupsRefused, ConfigMapTooLarge, BackupFailed,
            RequestError) as error:
        module.fail_json(msg=str(error), **({"backup_file": backup.written} if backup and backup.written else {}))
    except ApiException as error:
        module.fail_json(msg=f"{NAMESPACE}/{NAME}: {api_error_message(error)}", status=getattr(error, "status", None),
                         **({"backup_file": backup.written} if backup and backup.written else {}))
    return None, None


def mapping_warnings(request, before_entries, linux_roles):
    """Warnings about Windows roles that were mapped as Linux nodes; adds the Linux node mappings found to linux_roles."""
    warnings = []
    windows = {arn_key(arn) for arn in node_role_arns(request, "windows")}
    for role in node_roles_in_mappings(before_entries, "linux"):
        if arn_key(role["arn"]) in windows:
            warnings.append(
                f"{role['arn']} was mapped as a Linux node (without eks:kube-proxy-windows); it is now mapped for Windows "
                f"nodes. If Linux nodes use this role too, give the Windows nodes a role of their own."
            )
        elif arn_key(role["arn"]) not in {arn_key(known["arn"]) for known in linux_roles}:
            linux_roles.append(role)
    return warnings


def main():
    module = AWSModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        required_if=[("discover_linux_node_roles", True, ["cluster_name"])],
        required_by={"cluster": "cluster_name"},
    )
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"))
    params = module.params
    request, warnings, linux_roles, cluster = prepare(module, params)
    outcome, backup_file = merge_into_configmap(module, params, request, cluster, node_role_labels(params, linux_roles))

    plan, before = outcome["plan"], outcome["before"]
    changed = plan["changed"]
    warnings += mapping_warnings(request, plan["before_entries"][ROLES], linux_roles)
    warnings += duplicate_warnings(plan["duplicates"])
    extra = extra_node_groups(plan["entries"][ROLES], request[ROLES]) if params["state"] == "present" else []
    if extra:
        warnings.append(extra_groups_message(extra, node_role_labels(params, linux_roles), allowed=True))
    if params["backup_path"] and not params["backup"]:
        warnings.append("backup_path is ignored without backup=true; set backup: true to write the previous ConfigMap there.")
    if cluster and cluster["authentication_mode"] == "API" and changed and not module.check_mode:
        warnings.append(f"Cluster {cluster['name']} is in authentication mode API, where EKS ignores aws-auth; "
                        f"authorize roles there with eksnodes.windows.access_entry.")
    for warning in warnings:
        # What AnsibleModule.warn() does; AnsibleAWSModule.warn() would also pass them to exit_json, which
        # ansible-core 2.19 reports as deprecated.
        warn(warning)

    result = {
        "changed": changed,
        "attempts": outcome["attempts"],
        "duplicates": plan["duplicates"],
        "linux_node_roles": linux_roles,
        "added": snake_entries(plan["added"]),
        "updated": snake_entries(plan["changed_entries"]),
        "removed": snake_entries(plan["removed"]),
    }
    result.update(snake_entries(plan["entries"]))
    if outcome["after"] is not None:
        result["resource_version"] = (outcome["after"].get("metadata") or {}).get("resourceVersion")
    if params["backup"]:
        result["backup"] = manifest(before)
    if backup_file:
        result["backup_file"] = backup_file
    if module._diff:
        result["diff"] = {
            "before_header": f"{NAMESPACE}/{NAME}",
            "after_header": f"{NAMESPACE}/{NAME}",
            "before": diff_document(None if before is None else plan["shown_before"]),
            "after": diff_document(plan["data"] if (changed or before is not None) else None),
            "prepared": plan["summary"],
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
