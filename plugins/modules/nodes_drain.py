#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: nodes_drain
short_description: Cordon and drain the nodes of a self-managed Windows node group, respecting PodDisruptionBudgets
version_added: 0.1.0
description:
  - Takes the Nodes of an Auto Scaling group (O(autoscaling_group_name)), of instances (O(instance_ids)), or named
    (O(node_names)), optionally taints them C(eksnodes.windows/retiring=true:NoSchedule) (O(taint), the AWS blue/green
    procedure), cordons them and evicts their pods through the Eviction API, so PodDisruptionBudgets are respected.
  - DaemonSet pods are left alone and mirror (static) pods are skipped, as with C(kubectl drain --ignore-daemonsets).
    Pods without a controller and pods with C(emptyDir) data stop the drain before any change to their node, unless
    O(force) or O(delete_emptydir_data) allow them.
  - An eviction a budget refuses (C(429 Too Many Requests)) is tried again with a growing backoff (1 s up to 10 s);
    a pod still refused, or still terminating, after O(eviction_timeout) seconds stops the task with the node, the pod,
    the budget that blocks and what to do. Nodes already drained stay cordoned; running the task again continues.
  - O(parallel) nodes are drained at a time; the nodes already cordoned come first.
  - "While it works, lines like V(draining ip-10-0-1-4: 2 pod(s) left; shop/web-7d9f blocked by PodDisruptionBudget
    shop/web (minAvailable 2; 2 healthy of 2 desired, 0 disruptions allowed)) are printed at normal verbosity."
  - In check mode nothing changes; the result lists, per node, the pods that would be evicted, and C(--diff) shows them.
  - A node that is cordoned and has no pod left to evict needs nothing; the task then reports no change.
author:
  - eksnodes.windows maintainers (@eksnodes)
options:
  cluster_name:
    description:
      - Name of the EKS cluster. Used to connect to it when no Kubernetes connection option is set.
    type: str
    required: true
  autoscaling_group_name:
    description:
      - Drain the Nodes of every instance of this Auto Scaling group (matched by C(spec.providerID)).
    type: str
    aliases: [node_autoscaling_group]
  instance_ids:
    description:
      - Drain the Nodes of these EC2 instances.
    type: list
    elements: str
  node_names:
    description:
      - Drain these Nodes.
    type: list
    elements: str
  terminate_in_group:
    description:
      - Once every node is drained, terminate the instances of O(instance_ids) in this Auto Scaling group, lowering its
        desired capacity by one for each (C(TerminateInstanceInAutoScalingGroup) with C(ShouldDecrementDesiredCapacity)),
        and its minimum size first when it is above what the desired capacity will be. This is how nodes leave a
        smaller node group drained; the C(eksnodes.windows.nodegroup) role does it before a stack update that lowers
        the group's size.
      - Only the instances that are live members of the group are terminated; the others are left alone.
      - Only with O(instance_ids).
    type: str
    version_added: 0.2.0
  taint:
    description:
      - Add the taint C(eksnodes.windows/retiring=true:NoSchedule) before cordoning, as the AWS procedure
        "Migrate applications to a new node group" does before it drains the old nodes.
    type: bool
    default: false
  force:
    description:
      - Evict pods that no controller manages as well (they are not recreated anywhere).
    type: bool
    default: false
  delete_emptydir_data:
    description:
      - Evict pods with C(emptyDir) volumes as well (their data is lost).
    type: bool
    default: false
  max_grace_period:
    description:
      - The longest grace period in seconds an evicted pod gets; a pod that asks for more gets this.
      - By default each pod gets its own C(terminationGracePeriodSeconds).
    type: int
  eviction_timeout:
    description:
      - How many seconds a pod may stay refused by its PodDisruptionBudget, or terminating, before the task stops.
    type: int
    default: 600
  parallel:
    description:
      - How many nodes are drained at the same time.
    type: int
    default: 1
  wait_timeout:
    description:
      - How many seconds the whole task may take.
    type: int
    default: 3600
  progress_interval:
    description:
      - The longest time in seconds between two progress lines while nothing changes.
    type: int
    default: 30
  _step:
    description:
      - Internal use only, set by the action plugin that prints the progress.
    type: dict
extends_documentation_fragment:
  - eksnodes.windows.kubernetes
  - eksnodes.windows.attributes
  - eksnodes.windows.attributes.action
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - The progress lines come from the action plugin of the same name, which runs the module in short steps.
    It does not support C(async).
  - Why not M(kubernetes.core.k8s_drain) in a loop; it fails at the first eviction a budget refuses, has no check mode,
    and drains one node per task; see C(docs/lifecycle.md).
  - "IAM permissions: C(eks:DescribeCluster); with O(autoscaling_group_name) C(autoscaling:DescribeAutoScalingGroups); with
    O(terminate_in_group) also C(autoscaling:TerminateInstanceInAutoScalingGroup) and C(autoscaling:UpdateAutoScalingGroup)."
  - "Kubernetes permissions: C(get), C(list) and C(patch) on nodes, C(list) on pods in all namespaces, C(create) on
    C(pods/eviction), C(list) on C(poddisruptionbudgets)."
seealso:
  - module: kubernetes.core.k8s_drain
  - module: eksnodes.windows.nodes_replace
  - name: Migrate applications to a new node group
    description: The AWS procedure this module automates the drain of.
    link: https://docs.aws.amazon.com/eks/latest/userguide/migrate-stack.html
"""

EXAMPLES = r"""
- name: Drain the old node group before deleting its stack
  eksnodes.windows.nodes_drain:
    cluster_name: my-cluster
    autoscaling_group_name: "{{ old_stack.outputs.node_autoscaling_group }}"
    taint: true
    max_grace_period: 120
    parallel: 2

- name: Show which pods a drain would evict
  eksnodes.windows.nodes_drain:
    cluster_name: my-cluster
    node_names: [ip-10-0-1-4.ec2.internal]
  check_mode: true
  diff: true
  register: would

- name: List them
  ansible.builtin.debug:
    msg: "{{ item.name }}: {{ item.evict | join(', ') }}"
  loop: "{{ would.nodes }}"
"""

RETURN = r"""
done:
  description: Whether every node is drained (in check mode, always V(true)).
  returned: always
  type: bool
  sample: true
summary:
  description: One line that says what was done or would be done.
  returned: always
  type: str
  sample: "2 node(s) drained, 3 pod(s) evicted"
nodes:
  description: The nodes of the task, with what a drain does or would do to each.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The Node name.
      type: str
      sample: ip-10-0-1-4.ec2.internal
    exists:
      description: Whether the Node exists.
      type: bool
      sample: true
    cordon:
      description: Whether it is not cordoned (or tainted, with O(taint)) yet.
      type: bool
      sample: true
    evict:
      description: The pods (C(namespace/name)) on it to evict.
      type: list
      elements: str
      sample: ["eks-sample-app/eks-sample-windows-deployment-7c5b8d9f6d-x2x7k"]
    ignored:
      description: The DaemonSet and mirror pods on it, left alone.
      type: list
      elements: str
      sample: ["kube-system/kube-proxy-windows-x1y2z"]
unregistered:
  description: The instances that have no Node (nothing to drain on them).
  returned: always
  type: list
  elements: str
  sample: ["i-0123456789abcdef0"]
cordoned:
  description: The nodes this task cordoned (or tainted).
  returned: always
  type: list
  elements: str
  sample: ["ip-10-0-1-4.ec2.internal"]
evicted:
  description: The pods this task evicted, in order.
  returned: always
  type: list
  elements: dict
  contains:
    pod:
      description: C(namespace/name) of the pod.
      type: str
      sample: eks-sample-app/eks-sample-windows-deployment-7c5b8d9f6d-x2x7k
    node:
      description: The node it ran on.
      type: str
      sample: ip-10-0-1-4.ec2.internal
terminated:
  description: The instances this task terminated in O(terminate_in_group) (in check mode, those it would).
  returned: always
  type: list
  elements: str
  sample: ["i-0fedcba9876543210"]
drained:
  description: The nodes that have no pod left to evict.
  returned: always
  type: list
  elements: str
  sample: ["ip-10-0-1-4.ec2.internal"]
blocked:
  description: When a node will not drain, which node, which pod and which PodDisruptionBudget (by name) blocks it.
  returned: when the task stopped on a node that will not drain
  type: dict
  sample: {"node": "ip-10-0-1-4.ec2.internal", "pod": "shop/web-7d9f", "budget": "web"}
lines:
  description: The progress lines of the last step.
  returned: always
  type: list
  elements: str
  sample: ["ip-10-0-1-4: cordoned, 2 pod(s) to evict", "ip-10-0-1-4: evicted shop/web-7d9f"]
memo:
  description: What the next step needs to know (since when a pod is blocked); the action plugin passes it on.
  returned: always
  type: dict
  sample: {}
"""

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_module import AWSModule
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import KUBE_AUTH_ARG_SPEC
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import KubeClientError
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle import aws
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.drain import DrainStopped
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.drain import Drainer
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.drain import preview
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.kube import KubeLifecycleError
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.session import Session
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.session import TargetError
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.session import drain_options
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.session import step_of
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.session import validate_common
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.nodes import short_name


def plan_entries(plan):
    return [dict(name=name, exists=entry["exists"], cordon=entry["cordon"], evict=entry["evict"], ignored=entry["ignored"])
            for name, entry in plan.items()]


def diff_of(plan):
    before = {name: {"cordoned": not e["cordon"], "pods": e["evict"]} for name, e in plan.items() if e["exists"]}
    after = {name: {"cordoned": True, "pods": []} for name in before}
    return {"before": {"nodes": before}, "after": {"nodes": after}}


def run(module):
    params = module.params
    deadline, final, memo = step_of(params)
    session = Session(module)
    names, unregistered = session.node_names()
    options = drain_options(params)
    plan = preview(session.kube, names, options)
    result = dict(unregistered=unregistered, nodes=plan_entries(plan), cordoned=[], evicted=[], drained=[], terminated=[], lines=[], memo=memo)
    to_do = [n for n, e in plan.items() if e["exists"] and (e["cordon"] or e["evict"])]
    group_name = params["terminate_in_group"]
    leaving = [i for i in params["instance_ids"] or [] if i in aws.live_members(session.group(group_name))] if group_name else []
    if module.check_mode:
        pods = sum(len(e["evict"]) for e in plan.values())
        result["lines"] = [f"{short_name(n)}: would {'cordon and ' if plan[n]['cordon'] else ''}evict "
                           f"{', '.join(plan[n]['evict']) or 'no pod'}" for n in to_do]
        result["lines"] += [f"{instance_id}: would be terminated in {group_name}, lowering its desired capacity" for instance_id in leaving]
        result.update(changed=bool(to_do or leaving), done=True, terminated=leaving,
                      summary=f"{len(to_do)} node(s) would be drained, {pods} pod(s) evicted"
                              + (f", {len(leaving)} instance(s) terminated in {group_name}" if group_name else ""))
        if module._diff:
            result["diff"] = diff_of(plan)
        module.exit_json(**result)
    drainer = Drainer(session.kube, options, memo)
    try:
        done = drainer.run(names, deadline)
    except DrainStopped as stopped:
        report = drainer.report
        result.update(changed=report.changed, done=False, cordoned=report.cordoned, evicted=report.evicted, drained=report.drained,
                      lines=report.lines, memo=drainer.memo, blocked={k: stopped.facts.get(k) for k in ("node", "pod", "budget")},
                      summary=str(stopped))
        module.fail_json(msg=str(stopped), **result)
    report = drainer.report
    # Only drained nodes leave: an instance is terminated once the drain of every node is done.
    terminated = aws.remove_from_group(session.gatherer.autoscaling, session.group(group_name), leaving) if group_name and done else []
    result.update(changed=report.changed or bool(terminated), done=done, cordoned=report.cordoned, evicted=report.evicted, drained=report.drained,
                  terminated=terminated, lines=report.lines, memo=drainer.memo,
                  summary=f"{len(report.drained)} of {len(names)} node(s) drained, {len(report.evicted)} pod(s) evicted"
                          + (f", {len(terminated)} instance(s) terminated in {group_name}" if group_name else ""))
    if module._diff and report.changed:
        result["diff"] = diff_of(plan)
    if not done and final:
        module.fail_json(msg=f"the nodes are not drained after wait_timeout={params['wait_timeout']}s: {result['summary']}; "
                             "raise wait_timeout, or run again to continue", **result)
    module.exit_json(**result)


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        autoscaling_group_name=dict(type="str", aliases=["node_autoscaling_group"]),
        instance_ids=dict(type="list", elements="str"),
        node_names=dict(type="list", elements="str"),
        taint=dict(type="bool", default=False),
        force=dict(type="bool", default=False),
        delete_emptydir_data=dict(type="bool", default=False),
        max_grace_period=dict(type="int"),
        eviction_timeout=dict(type="int", default=600),
        parallel=dict(type="int", default=1),
        wait_timeout=dict(type="int", default=3600),
        progress_interval=dict(type="int", default=30),
        terminate_in_group=dict(type="str"),
        _step=dict(type="dict"),
    )
    argument_spec.update(KUBE_AUTH_ARG_SPEC)
    module = AWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("autoscaling_group_name", "instance_ids", "node_names")],
        required_one_of=[("autoscaling_group_name", "instance_ids", "node_names")],
        required_by={"terminate_in_group": "instance_ids"},
    )
    problem = validate_common(module.params)
    if problem:
        module.fail_json(msg=problem)
    try:
        run(module)
    except AnsibleAWSError as error:
        module.fail_json_aws_error(error)
    except (KubeClientError, KubeLifecycleError, TargetError) as error:
        module.fail_json(msg=str(error))


if __name__ == "__main__":
    main()
