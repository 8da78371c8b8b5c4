#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: upgrade_plan
short_description: Plan the upgrade of a self-managed Windows node group, and refuse a bad one before any change
version_added: 0.1.0
description:
  - Reads a Windows node group (its CloudFormation stack, its instances and their Nodes), the cluster's
    Kubernetes version and the newest EKS optimized Windows AMI of the target, and returns the plan of an
    upgrade; changes nothing.
  - The target is the newest AMI of O(node_ami_family) (by default the group's current family) for
    O(kubernetes_version) (by default the control plane's version).
  - Refuses, naming the option, a node Kubernetes version newer than the control plane's, a Windows
    Server release EKS does not publish for the target version, an unknown strategy, a batch size of 0
    or larger than the group, a group that has no stack, and a stack under the group's name that belongs to
    another node group (its marker tags, or the parameters of an unmarked stack, name another group). Warns when the target is older than the
    control plane by more than the Kubernetes version skew policy supports (3 minor versions since
    Kubernetes 1.28, 2 before).
  - With O(strategy=blue_green), finds the replacement group a previous run created (its stack carries
    the tag C(eksnodes.windows.upgrade/replaces-nodegroup)), so that a rerun after an interruption continues.
  - The C(eksnodes.windows.upgrade) playbook runs it first.
author:
  - eksnodes.windows maintainers (@eksnodes)
options:
  cluster_name:
    description:
      - Name of the EKS cluster.
    type: str
    required: true
  nodegroup_name:
    description:
      - The node group to upgrade, as the C(eksnodes.windows.launch) playbook named it.
    type: str
    required: true
  stack_name:
    description:
      - The group's CloudFormation stack; C(<cluster_name>-nodegroup-<nodegroup_name>) by default, as the
        nodegroup role names it.
    type: str
  strategy:
    description:
      - V(blue_green) launches a new node group beside the old one, moves the pods over and deletes the old group.
      - V(rolling) updates the group's own stack and replaces its instances a batch at a time.
    type: str
    default: blue_green
    choices: [blue_green, rolling]
  new_nodegroup_name:
    description:
      - The name of the new group with O(strategy=blue_green). By default the old name with C(-v2) appended
        (C(-v3) after C(-v2), and so on). Refer to the group by this name afterwards.
    type: str
  new_stack_name:
    description:
      - The stack of the new group; C(<cluster_name>-nodegroup-<new_nodegroup_name>) by default.
    type: str
  batch_size:
    description:
      - How many nodes are drained and replaced at a time; from 1 to the group's desired capacity.
    type: int
    default: 1
  min_in_service:
    description:
      - With O(strategy=rolling), the fewest Ready nodes the group keeps while a batch is replaced; by default the
        group's desired capacity minus O(batch_size). An old node leaves before its replacement is launched, so it
        must be below the desired capacity.
    type: int
  node_ami_family:
    description:
      - The Windows Server release and edition to move to, under eksctl's name; the group's current one by default.
    type: str
    choices:
      - WindowsServer2019CoreContainer
      - WindowsServer2019FullContainer
      - WindowsServer2022CoreContainer
      - WindowsServer2022FullContainer
      - WindowsServer2025CoreContainer
      - WindowsServer2025FullContainer
  kubernetes_version:
    description:
      - The Kubernetes version of the new nodes' AMI; the control plane's version by default.
    type: str
  fail_on_error:
    description:
      - Fail when the plan has errors. With V(false), the errors are returned in RV(plan.errors).
    type: bool
    default: true
notes:
  - Needs C(eks:DescribeCluster), C(eks:ListNodegroups), C(eks:DescribeNodegroup), C(cloudformation:DescribeStacks),
    C(autoscaling:DescribeAutoScalingGroups), C(ec2:DescribeInstances), C(ec2:DescribeImages), C(ssm:GetParameter),
    and permission to list Nodes.
extends_documentation_fragment:
  - eksnodes.windows.kubernetes
  - eksnodes.windows.attributes.info_module
  - eksnodes.windows.attributes.action
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Plan moving node group windows to the newest AMI of the control plane's version
  eksnodes.windows.upgrade_plan:
    cluster_name: prod
    nodegroup_name: windows
  register: plan

- name: Show it
  ansible.builtin.debug:
    msg: "{{ plan.plan.summary }}"

- name: Plan a move to Windows Server 2025, one node at a time in the same group
  eksnodes.windows.upgrade_plan:
    cluster_name: prod
    nodegroup_name: windows
    strategy: rolling
    node_ami_family: WindowsServer2025CoreContainer
    batch_size: 1
"""

RETURN = r"""
plan:
  description: The upgrade's plan.
  returned: always
  type: dict
  contains:
    phase:
      description:
        - Where a run starts. V(refused) (errors), V(up_to_date) (nothing to do), V(replace) (launch, or continue
          with, the new nodes, then drain and remove the old ones), V(cleanup) (the old group is already deleted;
          only its role's authorization is left).
      type: str
      sample: replace
    summary:
      description: One line saying what the upgrade does.
      type: str
      sample: "blue/green: launch node group windows-v2, then drain and delete the 1 node(s) of windows: ami-0123456789abcdef0
        (Windows_Server-2022-English-Core-EKS_Optimized-1.31-2026.10.14, Kubernetes 1.31) -> ami-0fedcba9876543210
        (Windows_Server-2022-English-Core-EKS_Optimized-1.32-2026.11.12, Kubernetes 1.32)"
    strategy:
      description: The strategy.
      type: str
      sample: blue_green
    cluster_name:
      description: The cluster.
      type: str
      sample: prod
    control_plane_version:
      description: The cluster's Kubernetes version.
      type: str
      sample: "1.32"
    authentication_mode:
      description: The cluster's authentication mode.
      type: str
      sample: CONFIG_MAP
    nodegroup_name:
      description: The group upgraded.
      type: str
      sample: windows
    stack_name:
      description: Its stack.
      type: str
      sample: prod-nodegroup-windows
    stack_exists:
      description: Whether its stack exists.
      type: bool
      sample: true
    new_nodegroup_name:
      description: The group the nodes end up in (the old one with V(rolling)).
      type: str
      sample: windows-v2
    new_stack_name:
      description: Its stack.
      type: str
      sample: prod-nodegroup-windows-v2
    new_stack_exists:
      description: Whether the new group's stack exists already (a run was interrupted).
      type: bool
      sample: false
    current:
      description: What the group runs now.
      type: dict
      sample: {image_id: ami-0123456789abcdef0, image_name: Windows_Server-2022-English-Core-EKS_Optimized-1.31-2026.10.14,
               ami_family: WindowsServer2022CoreContainer, kubernetes_version: "1.31", node_versions: [v1.31.4-eks-1a2b3c4]}
    target:
      description: What the nodes will run.
      type: dict
      sample: {image_id: ami-0fedcba9876543210, image_name: Windows_Server-2022-English-Core-EKS_Optimized-1.32-2026.11.12,
               ami_family: WindowsServer2022CoreContainer, kubernetes_version: "1.32",
               ssm_parameter: /aws/service/ami-windows-latest/Windows_Server-2022-English-Core-EKS_Optimized-1.32/image_id}
    settings:
      description: The group's settings the new group (or the updated stack) keeps, under the launch playbook's variable names.
      type: dict
      sample: {node_type: m5.large, nodes: 2, nodes_min: 2, nodes_max: 3, node_volume_size: 50, subnets: [subnet-0123456789abcdef0]}
    nodes:
      description: The group's instances, their AMI and Node, and whether the upgrade replaces them.
      type: list
      elements: dict
      sample: [{instance_id: i-0123456789abcdef0, image_id: ami-0123456789abcdef0, node_name: ip-10-0-0-5.ec2.internal,
                kubelet_version: v1.31.4-eks-1a2b3c4, ready: true, replace: true}]
    replace_instance_ids:
      description: The instances the upgrade replaces.
      type: list
      elements: str
      sample: [i-0123456789abcdef0]
    autoscaling_group_name:
      description:
        - The old node group's Auto Scaling group; null without a stack.
        - The blue/green upgrade drains every node of it, as it is when the drain starts, not only RV(plan.replace_instance_ids).
      type: str
      sample: lab-nodegroup-win-NodeGroup-ABCDEF123456
    replace_node_names:
      description: Their Nodes.
      type: list
      elements: str
      sample: [ip-10-0-0-5.ec2.internal]
    batches:
      description: The instances, in the batches they are replaced in.
      type: list
      elements: list
      sample: [[i-0123456789abcdef0]]
    batch_size:
      description: Nodes per batch.
      type: int
      sample: 1
    min_in_service:
      description: Nodes kept in service during a rolling batch.
      type: int
      sample: 2
    old_role_arn:
      description: The old group's node role (blue/green); its authorization is removed once the old group is gone.
      type: str
      sample: arn:aws:iam::123456789012:role/prod-nodegroup-windows-NodeInstanceRole-1A2B3C
    old_role_users:
      description: Other node groups that use the old role; when any does, its authorization stays.
      type: list
      elements: str
      sample: []
    remove_old_role:
      description: Whether the old role's aws-auth entry or access entry is removed at the end.
      type: bool
      sample: true
    new_stack_tags:
      description: The tags the new group's stack gets, tying it to the group it replaces.
      type: dict
      sample: {eksnodes.windows.upgrade/replaces-nodegroup: windows}
    errors:
      description: Why the upgrade is refused, each with the variable to change (check) and the fix.
      type: list
      elements: dict
      sample: [{check: kubernetes_version, severity: error,
                message: "kubernetes_version 1.33 is newer than the control plane's 1.32: a kubelet may never be newer than kube-apiserver.",
                fix: "upgrade the control plane first (aws eks update-cluster-version --kubernetes-version 1.33), then run the upgrade again;
                  or leave kubernetes_version unset to follow the control plane."}]
    warnings:
      description: Findings that do not stop the upgrade.
      type: list
      elements: dict
      sample: []
"""

from ansible.module_utils.common.warnings import warn

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_module import AWSModule
from ansible_collections.eksnodes.windows.plugins.module_utils.ami import families
from ansible_collections.eksnodes.windows.plugins.module_utils.ami.lookup import AmiLookupError, describe_images, resolve
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.clusters import describe_cluster
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.transformations import cluster_facts
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import KUBE_AUTH_ARG_SPEC, KubeClientError, api_client, has_explicit_kube_auth
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle import upgrade
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle import upgrade_reads as reads
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup import ownership, stacks
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup.operations import NodegroupStack
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup.waiters import Deadline
from ansible_collections.eksnodes.windows.plugins.module_utils.preflight import findings as finding_logic


def read_stack(module, name):
    raw = stacks.describe_stack(module.client("cloudformation"), name)
    facts = NodegroupStack(module.client("cloudformation"), module.client("autoscaling"), name, Deadline(0)).facts(raw)
    return raw, facts


def current_image(module, facts):
    image_id = facts["outputs"].get("node_image_id") or facts["resolved_parameters"].get("NodeImageIdSSMParam")
    images = describe_images(module.client("ec2"), image_ids=[image_id]) if image_id else []
    image = images[0] if images else {}
    return {"image_id": image_id, "image_name": image.get("Name"), **upgrade.image_family(image.get("Name"))}


def read_nodes(module, cluster):
    from kubernetes.client import CoreV1Api  # pylint: disable=import-outside-toplevel

    params = module.params
    sts = None if has_explicit_kube_auth(params) else module.client("sts")
    return reads.windows_nodes(CoreV1Api(api_client(params, cluster, sts)))


def resolve_target(module, release, edition, version, found):
    try:
        resolved = resolve(module.client("ssm"), module.client("ec2"), release, edition, version)
    except AmiLookupError as error:
        found.append(finding_logic.error("node_ami_family", f"no AMI to upgrade to: {error.message}.",
                                         "choose a family and kubernetes_version EKS publishes."))
        return {}
    image = resolved["image"]
    return {"image_id": image.get("ImageId"), "image_name": image.get("Name"), "ssm_parameter": resolved["ssm_parameter"]}


def plan_for(module):
    params = module.params
    found = upgrade.request_findings(params["strategy"], params["batch_size"], params["min_in_service"], params["nodegroup_name"],
                                     params["new_nodegroup_name"], params["node_ami_family"], params["kubernetes_version"])
    raw_cluster = describe_cluster(module.client("eks"), params["cluster_name"])
    if raw_cluster is None:
        module.fail_json(msg=f"cluster_name: cluster {params['cluster_name']} does not exist in {module.region}. "
                             "Fix: check cluster_name and region.")
    cluster = cluster_facts(raw_cluster)
    control_plane = upgrade.parse_version(cluster["version"])
    blue_green = params["strategy"] == upgrade.BLUE_GREEN
    stack_name = params["stack_name"] or upgrade.stack_name(cluster["name"], params["nodegroup_name"])
    new_name = (params["new_nodegroup_name"] or upgrade.default_new_name(params["nodegroup_name"])) if blue_green else params["nodegroup_name"]
    new_stack_name = (params["new_stack_name"] or upgrade.stack_name(cluster["name"], new_name)) if blue_green else stack_name

    raw_old, old = read_stack(module, stack_name)
    found += upgrade.ownership_findings(stack_name, params["nodegroup_name"], ownership.stack_ownership(raw_old, cluster["name"], params["nodegroup_name"]))
    raw_new = stacks.describe_stack(module.client("cloudformation"), new_stack_name) if blue_green else None
    new_tags = reads.tags_of(raw_new)
    found += upgrade.replacement_findings({"tags": new_tags} if raw_new else None, params["nodegroup_name"], new_name)

    desired = upgrade.group_size(old["parameters"])
    if raw_old is not None or not (raw_new and new_tags.get(upgrade.REPLACES_TAG) == params["nodegroup_name"]):
        found += upgrade.group_findings(stack_name, params["nodegroup_name"], desired if raw_old is not None else None,
                                        params["batch_size"], params["min_in_service"], params["strategy"])

    current = current_image(module, old) if raw_old is not None else {}
    release, edition = (families.AMI_FAMILIES[params["node_ami_family"]] if params["node_ami_family"]
                        else (current.get("release"), current.get("edition")))
    if raw_old is not None and not release:
        found.append(finding_logic.error("node_ami_family", f"the AMI of {params['nodegroup_name']} ({current.get('image_name')}) is "
                                         "not an EKS optimized Windows AMI, so its family is unknown.", "set node_ami_family."))
    target_version = upgrade.target_version(params["kubernetes_version"], control_plane)

    instances = reads.instance_images(module.client("ec2"), old["instance_ids"]) if raw_old is not None else {}
    nodes = read_nodes(module, cluster) if instances else {}
    node_versions = [upgrade.parse_version(node["kubelet_version"]) for node in nodes.values() if node["instance_id"] in instances]
    found += upgrade.version_findings(control_plane, target_version, release, bool(params["node_ami_family"]),
                                      [version for version in node_versions if version])
    target = {}
    if release and not finding_logic.errors(found):
        target = resolve_target(module, release, edition, upgrade.show(target_version), found)
    target.update({"ami_family": upgrade.family_of(release, edition), "kubernetes_version": upgrade.show(target_version)})

    images = {instance_id: facts.get("image_id") for instance_id, facts in instances.items()}
    errors = finding_logic.errors(found)
    phase = upgrade.phase(params["strategy"], errors, raw_old is not None, raw_new,
                          upgrade.up_to_date(current.get("image_id"), images, target.get("image_id")))
    replaced = upgrade.replaced_instances(params["strategy"], images, target.get("image_id")) if phase == upgrade.REPLACE else []
    old_role = old["outputs"].get("node_instance_role_arn") or new_tags.get(upgrade.REPLACES_ROLE_TAG)
    users = []
    if blue_green and old_role and phase in (upgrade.REPLACE, upgrade.CLEANUP):
        users = upgrade.role_users(old_role, old.get("stack_id"), reads.node_stacks(module.client("cloudformation")),
                                   reads.managed_nodegroup_roles(module.client("eks"), cluster["name"]))
    plan = {
        "phase": phase,
        "strategy": params["strategy"],
        "cluster_name": cluster["name"],
        "control_plane_version": upgrade.show(control_plane),
        "authentication_mode": cluster.get("authentication_mode"),
        "nodegroup_name": params["nodegroup_name"],
        "stack_name": stack_name,
        "stack_exists": raw_old is not None,
        "new_nodegroup_name": new_name,
        "new_stack_name": new_stack_name,
        "new_stack_exists": raw_new is not None,
        "current": {**current, "node_versions": sorted({node["kubelet_version"] for node in nodes.values() if node["instance_id"] in instances})},
        "target": target,
        "settings": upgrade.carried_settings(old["parameters"]) if raw_old is not None else {},
        "nodes": [{"instance_id": instance_id, "image_id": facts.get("image_id"),
                   "node_name": (nodes.get(instance_id) or {}).get("node_name") or facts.get("private_dns_name"),
                   "kubelet_version": (nodes.get(instance_id) or {}).get("kubelet_version"),
                   "ready": (nodes.get(instance_id) or {}).get("ready", False), "replace": instance_id in replaced}
                  for instance_id, facts in sorted(instances.items())],
        "replace_instance_ids": replaced,
        "autoscaling_group_name": old["outputs"].get("node_autoscaling_group") if raw_old is not None else None,
        "batches": upgrade.batches(replaced, params["batch_size"] or 1),
        "batch_size": params["batch_size"],
        "min_in_service": (params["min_in_service"] if params["min_in_service"] is not None
                           else upgrade.default_min_in_service(desired or 0, params["batch_size"])),
        "old_role_arn": old_role if blue_green else None,
        "old_role_users": users,
        "remove_old_role": bool(blue_green and old_role and not users and phase in (upgrade.REPLACE, upgrade.CLEANUP)),
        "new_stack_tags": {upgrade.REPLACES_TAG: params["nodegroup_name"], upgrade.REPLACES_ROLE_TAG: old_role or ""} if blue_green else {},
        "errors": errors,
        "warnings": finding_logic.warnings(found),
    }
    plan["replace_node_names"] = [node["node_name"] for node in plan["nodes"] if node["replace"] and node["node_name"]]
    plan["summary"] = upgrade.summary(plan)
    return plan


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        nodegroup_name=dict(type="str", required=True),
        stack_name=dict(type="str"),
        strategy=dict(type="str", default=upgrade.BLUE_GREEN, choices=list(upgrade.STRATEGIES)),
        new_nodegroup_name=dict(type="str"),
        new_stack_name=dict(type="str"),
        batch_size=dict(type="int", default=1),
        min_in_service=dict(type="int"),
        node_ami_family=dict(type="str", choices=list(families.AMI_FAMILIES)),
        kubernetes_version=dict(type="str"),
        fail_on_error=dict(type="bool", default=True),
    )
    argument_spec.update(KUBE_AUTH_ARG_SPEC)
    module = AWSModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        plan = plan_for(module)
    except AnsibleAWSError as error:
        module.fail_json_aws_error(error)
    except KubeClientError as error:
        module.fail_json(msg=f"Cannot read the Nodes of cluster {module.params['cluster_name']}: {error}")
    for item in plan["warnings"]:
        warn(f"[{item['check']}] {item['message']} Fix: {item['fix']}")
    if plan["errors"] and module.params["fail_on_error"]:
        module.fail_json(msg=upgrade.failure_message(plan["errors"]), plan=plan)
    module.exit_json(changed=False, plan=plan)


if __name__ == "__main__":
    main()
