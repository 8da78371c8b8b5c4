#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: nodes_ready
short_description: Wait until the Windows nodes of a self-managed node group are Ready
version_added: 0.1.0
description:
  - Waits until the Kubernetes Nodes of a node group are Ready. The nodes are the instances of an
    Auto Scaling group (O(autoscaling_group_name)) or a list of instances (O(instance_ids)), matched
    to Nodes by C(spec.providerID); or the Nodes that O(label_selectors) pick.
  - It expects as many Ready nodes as the group's desired capacity, unless O(expected) says otherwise.
  - It follows the Nodes with a Kubernetes watch, not by listing them again and again, so it returns
    within about a second of the last node turning Ready. O(wait_timeout) bounds the wait.
  - "While it waits, a line like V(2/3 Windows nodes Ready (ready: ip-10-0-1-4, ip-10-0-2-9; not registered: i-0abc))
    is printed at normal verbosity whenever a node registers or turns Ready, and at least every
    O(progress_interval) seconds, so both C(ansible-playbook) and AWX job output show the progress."
  - A real Windows node takes about five minutes to join, often fifteen. Waits that outlive an EKS
    token (15 minutes) keep working. A token is renewed before it expires and, if the API server
    still answers C(401 Unauthorized), the module connects again with a fresh one.
  - When the wait times out, the module fails with a diagnosis of each instance that is not a Ready
    node, read from AWS and Kubernetes, naming each cause it finds with the fix for it.
  - "The causes it knows: the instance is not running; it never registered because the cluster was
    not ACTIVE when it launched, its user data bootstraps another cluster, its subnet has no way
    out, or its IAM role is not mapped in C(aws-auth) (or is mapped with its path, or as an instance
    profile) or has no access entry; it registered but stays NotReady because its role lacks
    C(eks:kube-proxy-windows) or Windows IPAM is off."
  - This module only reads. It makes no change and supports check mode.
author:
  - eksnodes.windows maintainers (@eksnodes)
options:
  cluster_name:
    description:
      - Name of the EKS cluster the nodes join.
      - Used to connect to the cluster when no Kubernetes connection option is set, and to diagnose
        nodes that do not join.
    type: str
    required: true
  autoscaling_group_name:
    description:
      - The Auto Scaling group of the node group, for example the C(node_autoscaling_group) output
        of M(eksnodes.windows.nodegroup_stack).
      - Its instances are matched to Nodes by C(spec.providerID). The group is read again while
        waiting, so instances it launches or replaces are followed.
      - Mutually exclusive with O(instance_ids).
    type: str
    aliases: [node_autoscaling_group]
  instance_ids:
    description:
      - The EC2 instances whose Nodes to wait for, matched by C(spec.providerID).
      - Mutually exclusive with O(autoscaling_group_name).
    type: list
    elements: str
  label_selectors:
    description:
      - Label selectors, as C(kubectl get nodes -l) takes them, for example V(kubernetes.io/os=windows).
      - With O(autoscaling_group_name) or O(instance_ids), only Nodes that match count.
      - On their own, every Node that matches counts, and O(expected) is required.
    type: list
    elements: str
  expected:
    description:
      - How many Ready nodes to wait for.
      - Defaults to the desired capacity of the Auto Scaling group, or to the number of O(instance_ids).
    type: int
  wait_timeout:
    description:
      - How many seconds to wait at most. V(0) reports the state at once.
      - eksctl waits 25 minutes by default; Windows nodes without fast launch often need 15.
    type: int
    default: 1500
  progress_interval:
    description:
      - The longest time in seconds between two progress lines while nothing changes.
    type: int
    default: 30
  diagnose:
    description:
      - Whether to diagnose the instances that are not Ready nodes when the wait times out.
    type: bool
    default: true
  _step:
    description:
      - Internal use only, set by the action plugin that prints the progress.
    type: dict
extends_documentation_fragment:
  - eksnodes.windows.cluster_facts
  - eksnodes.windows.kubernetes
  - eksnodes.windows.attributes.info_module
  - eksnodes.windows.attributes.action
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - The progress lines come from the action plugin of the same name, which runs the module in short
    steps. It does not support C(async).
  - "IAM permissions: C(eks:DescribeCluster), C(autoscaling:DescribeAutoScalingGroups),
    C(ec2:DescribeInstances); for the diagnosis also C(autoscaling:DescribeScalingActivities),
    C(ec2:DescribeLaunchTemplateVersions), C(ec2:DescribeSubnets), C(ec2:DescribeRouteTables),
    C(ec2:DescribeNatGateways), C(iam:GetInstanceProfile), C(eks:ListAccessEntries) and C(eks:DescribeAccessEntry). A check that is not allowed is listed
    under RV(diagnosis[].unchecked) instead of failing the task."
  - "Kubernetes permissions: C(list) and C(watch) on nodes; for the diagnosis C(get) on the ConfigMaps
    C(kube-system/aws-auth) and C(kube-system/amazon-vpc-cni)."
seealso:
  - name: Nodes fail to join cluster
    description: The EKS troubleshooting page whose causes the diagnosis checks.
    link: https://docs.aws.amazon.com/eks/latest/userguide/troubleshooting.html#worker-node-fail
  - module: kubernetes.core.k8s_info
"""

EXAMPLES = r"""
- name: Wait for the Windows nodes of the node group (stack registered from eksnodes.windows.nodegroup_stack)
  eksnodes.windows.nodes_ready:
    cluster_name: my-cluster
    autoscaling_group_name: "{{ stack.outputs.node_autoscaling_group }}"
    wait_timeout: 1800
  register: windows_nodes

- name: Show where the nodes run
  ansible.builtin.debug:
    msg: "{{ windows_nodes.nodes | map(attribute='name') | zip(windows_nodes.nodes | map(attribute='windows_build')) }}"

- name: Wait for any three Windows nodes, with a kubeconfig
  eksnodes.windows.nodes_ready:
    cluster_name: my-cluster
    label_selectors:
      - kubernetes.io/os=windows
    expected: 3
    kubeconfig: ~/.kube/config

- name: Report the state at once, without failing, and show why nodes are missing
  eksnodes.windows.nodes_ready:
    cluster_name: my-cluster
    autoscaling_group_name: my-cluster-windows-NodeGroup-1ABC
    wait_timeout: 0
  register: now
  ignore_errors: true

- name: List each cause with its fix
  ansible.builtin.debug:
    msg: "{{ item.0.instance_id }}: {{ item.1.cause }}. Fix: {{ item.1.fix }}"
  loop: "{{ now.diagnosis | default([]) | subelements('causes') }}"
"""

RETURN = r"""
done:
  description: Whether the expected number of nodes are Ready.
  returned: always
  type: bool
  sample: true
expected:
  description: How many Ready nodes were waited for.
  returned: always
  type: int
  sample: 3
ready_count:
  description: How many of the nodes are Ready.
  returned: always
  type: int
  sample: 3
elapsed:
  description: Seconds spent waiting.
  returned: always
  type: float
  sample: 312.4
summary:
  description: The last progress line.
  returned: always
  type: str
  sample: "3/3 Windows nodes Ready (ready: ip-10-0-1-4, ip-10-0-2-9, ip-10-0-3-17)"
instance_ids:
  description: The instances waited for (not with O(label_selectors) alone).
  returned: always
  type: list
  elements: str
  sample: ["i-0123456789abcdef0"]
unregistered:
  description: The instances that have no Node yet.
  returned: always
  type: list
  elements: str
  sample: []
signature:
  description: A digest of the state that changes whenever the progress line would; the action plugin compares it between steps.
  returned: always
  type: str
  sample: "3|ip-10-0-1-4.ec2.internal=R|"
cluster_history:
  description:
    - The cluster statuses seen during the wait, oldest first; a run of the same status is one entry.
    - The diagnosis uses it to tell whether an instance launched while the cluster was not ACTIVE.
  returned: always
  type: list
  sample:
    - status: ACTIVE
      first: '2026-11-24T10:00:00.123456+00:00'
      last: '2026-11-24T10:05:00.123456+00:00'
  elements: dict
  contains:
    status:
      description: The cluster status.
      type: str
      sample: ACTIVE
    first:
      description: When it was first seen (ISO 8601).
      type: str
      sample: "2026-11-24T10:00:00.123456+00:00"
    last:
      description: When it was last seen (ISO 8601).
      type: str
      sample: "2026-11-24T10:05:00.123456+00:00"
reconnects:
  description: How many times the wait connected again with fresh credentials after an expired token.
  returned: always
  type: int
  sample: 0
nodes:
  description: The Nodes of the instances (or that the selectors pick), Ready or not.
  returned: always
  type: list
  sample:
    - name: ip-10-0-1-4.ec2.internal
      instance_id: i-0123456789abcdef0
      ready: true
      os: windows
      windows_build: 10.0.20348
  elements: dict
  contains:
    name:
      description: The Node name, the instance's private DNS name on EKS.
      type: str
      sample: ip-10-0-1-4.ec2.internal
    instance_id:
      description: The EC2 instance id from C(spec.providerID).
      type: str
      sample: i-0123456789abcdef0
    provider_id:
      description: C(spec.providerID).
      type: str
      sample: aws:///us-east-1a/i-0123456789abcdef0
    ready:
      description: Whether the Ready condition is C(True).
      type: bool
      sample: true
    ready_reason:
      description: The reason of the Ready condition.
      type: str
      sample: KubeletReady
    ready_message:
      description: The message of the Ready condition.
      type: str
      sample: kubelet is posting ready status
    os:
      description: The C(kubernetes.io/os) label.
      type: str
      sample: windows
    windows_build:
      description: The C(node.kubernetes.io/windows-build) label, for example V(10.0.17763) for Windows Server 2019
        and V(10.0.20348) for 2022. Container images must match it.
      type: str
      sample: "10.0.20348"
    instance_type:
      description: The C(node.kubernetes.io/instance-type) label.
      type: str
      sample: m5.large
    zone:
      description: The C(topology.kubernetes.io/zone) label.
      type: str
      sample: us-east-1a
    kubelet_version:
      description: The kubelet version the node reports.
      type: str
      sample: v1.31.4-eks-1a2b3c4
    os_image:
      description: The operating system image the node reports.
      type: str
      sample: Windows Server 2022 Datacenter
    internal_ip:
      description: The node's InternalIP address.
      type: str
      sample: 10.0.1.4
    created:
      description: When the Node registered.
      type: str
      sample: "2026-11-24T10:00:00Z"
    labels:
      description: All labels of the Node.
      type: dict
      sample: {"kubernetes.io/os": "windows"}
    conditions:
      description: The Node's conditions.
      type: list
      sample:
        - type: Ready
          status: 'True'
          reason: KubeletReady
          message: kubelet is posting ready status
          last_transition_time: '2026-11-24T10:04:12Z'
      elements: dict
      contains:
        type:
          description: Condition type, for example V(Ready) or V(MemoryPressure).
          type: str
          sample: "Ready"
        status:
          description: V(True), V(False) or V(Unknown).
          type: str
          sample: "True"
        reason:
          description: Machine-readable reason.
          type: str
          sample: "KubeletReady"
        message:
          description: Human-readable message.
          type: str
          sample: "kubelet is posting ready status"
        last_transition_time:
          description: When the status last changed.
          type: str
          sample: "2026-11-24T10:04:12Z"
diagnosis:
  description:
    - Why each instance is not a Ready node, when the wait timed out and O(diagnose=true).
    - An entry without RV(diagnosis[].instance_id) is about the group (fewer instances than expected).
  returned: when the wait timed out
  type: list
  sample:
    - instance_id: i-0123456789abcdef0
      node_name: ip-10-0-1-4.ec2.internal
      state: not_registered
      unchecked: []
      causes:
        - code: role_not_mapped
          cause: role arn:aws:iam::123456789012:role/windows-nodes (the instance's role) is not mapped in
            kube-system/aws-auth mapRoles
          fix: Run the eksnodes.windows.node_auth role for this node group.
  elements: dict
  contains:
    instance_id:
      description: The instance.
      type: str
      sample: i-0123456789abcdef0
    node_name:
      description: Its Node name, or its private DNS name when it has no Node.
      type: str
      sample: ip-10-0-1-4.ec2.internal
    state:
      description: V(not_running), V(not_registered), V(not_ready), or V(group) for the group itself.
      type: str
      sample: not_registered
    causes:
      description: Each cause found, with its fix.
      type: list
      sample:
        - code: role_not_mapped
          cause: role arn:aws:iam::123456789012:role/windows-nodes (the instance's role) is not mapped in kube-system/aws-auth
            mapRoles
          fix: Run the eksnodes.windows.node_auth role for this node group.
      elements: dict
      contains:
        code:
          description:
            - A stable identifier of the cause, one of V(instance_not_running), V(cluster_not_active_at_launch),
              V(bootstrap_missing), V(bootstrap_other_cluster), V(no_route_out), V(no_public_ip), V(no_instance_profile),
              V(role_not_mapped), V(role_mapped_with_path), V(instance_profile_mapped), V(role_mapping_incomplete),
              V(no_access_entry), V(access_entry_not_node), V(kube_proxy_windows_missing), V(windows_ipam_disabled),
              V(node_not_ready), V(not_registered), V(group_short_of_instances).
          type: str
          sample: role_not_mapped
        cause:
          description: What is wrong.
          type: str
          sample: role arn:aws:iam::123456789012:role/windows-nodes (the instance's role) is not mapped in kube-system/aws-auth mapRoles
        fix:
          description: How to fix it.
          type: str
          sample: "Run the eksnodes.windows.node_auth role for this node group."
    unchecked:
      description: The checks that could not be made (a read was refused or failed).
      type: list
      elements: str
      sample: []
"""

import time
from datetime import datetime, timezone

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_module import AWSModule
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.clusters import describe_cluster
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.lookup import given_cluster
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.transformations import cluster_facts
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import KUBE_AUTH_ARG_SPEC
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import KubeClientError
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import api_client
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import has_explicit_kube_auth
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.diagnosis import summary as diagnosis_summary
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.gather import Gatherer
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.gather import MissingGroupError
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.gather import TargetLoader
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.gather import diagnose
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.gather import observe
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.kube import KubeNodeSource
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.kube import KubeReadError
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.nodes import format_duration
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.nodes import progress_line
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.waiter import Unauthorized
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.waiter import wait_for_nodes


def validate(module):
    params = module.params
    for name in ("wait_timeout", "expected"):
        if params[name] is not None and params[name] < 0:
            module.fail_json(msg=f"{name} must be 0 or more, not {params[name]}")
    if params["progress_interval"] < 1:
        module.fail_json(msg=f"progress_interval must be at least 1 second, not {params['progress_interval']}")
    if not params["autoscaling_group_name"] and not params["instance_ids"] and params["expected"] is None:
        module.fail_json(msg="expected is required when label_selectors alone pick the nodes: how many Ready nodes make the wait done?")
    step = params["_step"] or {}
    unknown = sorted(set(step) - {"seconds", "since", "final", "history"})
    if unknown:
        module.fail_json(msg=f"_step has unknown keys: {', '.join(unknown)}")


def run(module):
    params = module.params
    step = params["_step"] or {}
    started = time.monotonic()
    gatherer = Gatherer(module.client)
    # Given facts stand in for the first look only: the steps after it describe the cluster, so that its status
    # history (for the diagnosis) holds what was seen during the wait, not when the facts were read.
    # The action plugin's first step has no since (nor has a direct run).
    cluster = given_cluster(module, params["cluster_name"]) if not step.get("since") else None
    if cluster is None:
        raw = describe_cluster(gatherer.eks, params["cluster_name"])
        if raw is None:
            module.fail_json(msg=f"cluster {params['cluster_name']} does not exist")
        cluster = cluster_facts(raw)
        history = observe(step.get("history"), cluster.get("status"), datetime.now(timezone.utc))
    else:
        history = []
    sts = None if has_explicit_kube_auth(params) else gatherer.client("sts")
    gatherer.cluster = cluster
    gatherer.core_factory = lambda: _core(params, cluster, sts)
    loader = TargetLoader(gatherer, params["autoscaling_group_name"], params["instance_ids"], params["expected"])
    source = KubeNodeSource(lambda: api_client(params, cluster, sts), ",".join(params["label_selectors"] or []) or None)
    final = step.get("final", True)
    timeout = float(step["seconds"]) if "seconds" in step else float(params["wait_timeout"])
    outcome = wait_for_nodes(source, loader, timeout=max(timeout, 0.0), since=step.get("since"), return_on_change="seconds" in step)
    state = outcome.state
    result = dict(
        changed=False,
        done=state.done,
        expected=state.expected,
        ready_count=state.ready_count,
        elapsed=round(time.monotonic() - started, 2),
        summary=progress_line(state),
        signature=state.signature(),
        instance_ids=outcome.target.instance_ids,
        unregistered=[i["instance_id"] for i in state.unregistered],
        reconnects=outcome.reconnects,
        nodes=state.nodes,
        cluster_history=history,
    )
    if state.done or not final or not outcome.timed_out:
        module.exit_json(**result)
    waited = params["wait_timeout"] if "seconds" in step else timeout
    message = f"Timed out after {format_duration(waited)}: {result['summary']}"
    if params["diagnose"]:
        result["diagnosis"] = diagnose(gatherer, outcome, params["autoscaling_group_name"], loader.group, history)
        if result["diagnosis"]:
            message += ":\n" + diagnosis_summary(result["diagnosis"])
    module.fail_json(msg=message, **result)


def _core(params, cluster, sts):
    from kubernetes.client import CoreV1Api  # pylint: disable=import-outside-toplevel

    return CoreV1Api(api_client(params, cluster, sts))


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        autoscaling_group_name=dict(type="str", aliases=["node_autoscaling_group"]),
        instance_ids=dict(type="list", elements="str"),
        label_selectors=dict(type="list", elements="str"),
        expected=dict(type="int"),
        wait_timeout=dict(type="int", default=1500),
        progress_interval=dict(type="int", default=30),
        diagnose=dict(type="bool", default=True),
        _step=dict(type="dict"),
        cluster=dict(type="dict"),
    )
    argument_spec.update(KUBE_AUTH_ARG_SPEC)
    module = AWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("autoscaling_group_name", "instance_ids")],
        required_one_of=[("autoscaling_group_name", "instance_ids", "label_selectors")],
    )
    validate(module)
    try:
        run(module)
    except AnsibleAWSError as error:
        module.fail_json_aws_error(error)
    except Unauthorized as error:
        module.fail_json(msg=f"the Kubernetes API server rejected the credentials twice in a row, even fresh ones: {error}")
    except (KubeClientError, KubeReadError, MissingGroupError) as error:
        module.fail_json(msg=str(error))


if __name__ == "__main__":
    main()
