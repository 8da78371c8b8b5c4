#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: nodes_replace
short_description: Replace the old instances of a Windows node group one batch at a time, draining each node first
version_added: 0.1.0
description:
  - Replaces every instance of an Auto Scaling group that does not run what the group launches now (another launch
    template, an older version of it, or another AMI than that version's), for example after a node group stack update
    changed the AMI or the instance type.
  - "For each batch of at most O(batch_size) old instances: cordon and drain their nodes (as M(eksnodes.windows.nodes_drain)
    does: Eviction API, PodDisruptionBudgets respected, DaemonSet pods ignored), terminate them in the group without
    decrementing its desired capacity (C(TerminateInstanceInAutoScalingGroup)), and wait until the replacements' nodes
    are Ready before the next batch."
  - The group never has fewer than O(min_in_service) Ready, schedulable nodes because of this module; a batch is made
    smaller to keep that, and the task stops if no node can leave.
  - The task stops at the first node that will not drain (naming the pod and the PodDisruptionBudget) and at a replacement
    not Ready after O(replacement_timeout) seconds. Nothing is remembered on the side; running it again continues from
    what AWS and the cluster show (a cordoned old node is the batch that was started).
  - "In check mode nothing changes; the result says V(N nodes will be replaced) with their names, and C(--diff) shows
    the instances before and after."
  - Progress lines (which batch, pods evicted, who blocks, replacements waited for) are printed at normal verbosity.
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
      - The Auto Scaling group of the node group, for example the C(node_autoscaling_group) output of
        M(eksnodes.windows.nodegroup_stack).
    type: str
    required: true
    aliases: [node_autoscaling_group]
  batch_size:
    description:
      - How many instances are replaced at a time.
    type: int
    default: 1
  min_in_service:
    description:
      - The fewest Ready, schedulable nodes the group keeps while a batch is replaced.
      - Defaults to the desired capacity minus O(batch_size) (at least 0).
    type: int
  replacement_timeout:
    description:
      - How many seconds the replacements of a batch may take to be Ready nodes. A real Windows node takes about
        five minutes to join, often fifteen.
    type: int
    default: 1800
  taint:
    description:
      - Taint the old nodes C(eksnodes.windows/retiring=true:NoSchedule) before cordoning them.
    type: bool
    default: false
  force:
    description:
      - Evict pods that no controller manages as well.
    type: bool
    default: false
  delete_emptydir_data:
    description:
      - Evict pods with C(emptyDir) volumes as well.
    type: bool
    default: false
  max_grace_period:
    description:
      - The longest grace period in seconds an evicted pod gets.
    type: int
  eviction_timeout:
    description:
      - How many seconds a pod may stay refused by its PodDisruptionBudget, or terminating, before the task stops.
    type: int
    default: 600
  wait_timeout:
    description:
      - How many seconds the whole task may take.
    type: int
    default: 7200
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
  - The node group stack must not replace instances itself when its launch template changes; the collection's template
    has no C(AutoScalingRollingUpdate) policy for that reason.
  - The progress lines come from the action plugin of the same name. It does not support C(async).
  - "IAM permissions: C(eks:DescribeCluster), C(autoscaling:DescribeAutoScalingGroups),
    C(autoscaling:TerminateInstanceInAutoScalingGroup), C(ec2:DescribeInstances), C(ec2:DescribeLaunchTemplateVersions)."
  - "Kubernetes permissions: those of M(eksnodes.windows.nodes_drain), and C(watch) on nodes."
seealso:
  - module: eksnodes.windows.nodes_drain
  - module: eksnodes.windows.nodes_ready
  - name: Update an existing self-managed node group
    description: The AWS procedure, whose rolling update does not drain.
    link: https://docs.aws.amazon.com/eks/latest/userguide/update-stack.html
"""

EXAMPLES = r"""
- name: Roll the node group onto the AMI the stack update set, one node at a time
  eksnodes.windows.nodes_replace:
    cluster_name: my-cluster
    autoscaling_group_name: "{{ stack.outputs.node_autoscaling_group }}"
    batch_size: 1
    min_in_service: 2
    max_grace_period: 300

- name: Say which nodes would be replaced
  eksnodes.windows.nodes_replace:
    cluster_name: my-cluster
    autoscaling_group_name: my-cluster-windows-NodeGroup-1ABC
  check_mode: true
  register: plan
"""

RETURN = r"""
done:
  description: Whether every instance runs what the group launches now (in check mode, always V(true)).
  returned: always
  type: bool
  sample: true
summary:
  description: One line that says what was done or would be done.
  returned: always
  type: str
  sample: "2 node(s) will be replaced: ip-10-0-1-4, ip-10-0-2-9"
old:
  description: The instances that were old when the task started, and why.
  returned: always
  type: list
  elements: dict
  contains:
    instance_id:
      description: The instance.
      type: str
      sample: i-0123456789abcdef0
    node_name:
      description: Its Node, if it has one.
      type: str
      sample: ip-10-0-1-4.ec2.internal
    reason:
      description: What differs from what the group launches now.
      type: str
      sample: launch template version 1, the group's is 2
target:
  description: What the group launches now.
  returned: always
  type: dict
  sample: {"launch_template_id": "lt-0123456789abcdef0", "version": "2", "image_id": "ami-0123456789abcdef0"}
terminated:
  description: The instances this task terminated, in order.
  returned: always
  type: list
  elements: dict
  contains:
    instance_id:
      description: The instance.
      type: str
      sample: i-0123456789abcdef0
    node:
      description: Its Node.
      type: str
      sample: ip-10-0-1-4.ec2.internal
    reason:
      description: Why it was replaced.
      type: str
      sample: AMI ami-0123456789abcdef0, the group's is ami-0fedcba9876543210
cordoned:
  description: The nodes this task cordoned.
  returned: always
  type: list
  elements: str
  sample: ["ip-10-0-1-4.ec2.internal"]
evicted:
  description: The pods this task evicted, in order, each with C(pod) (C(namespace/name)) and C(node).
  returned: always
  type: list
  elements: dict
  sample: [{"pod": "eks-sample-app/eks-sample-windows-deployment-7c5b8d9f6d-x2x7k", "node": "ip-10-0-1-4.ec2.internal"}]
blocked:
  description: When a node will not drain, which node, pod and PodDisruptionBudget block.
  returned: when the task stopped on a node that will not drain
  type: dict
  sample: {"node": "ip-10-0-1-4.ec2.internal", "pod": "shop/web-7d9f", "budget": "web"}
lines:
  description: The progress lines of the last step.
  returned: always
  type: list
  elements: str
  sample: ["replacing ip-10-0-1-4 (AMI ami-0123456789abcdef0, the group's is ami-0fedcba9876543210)"]
memo:
  description: What the next step needs to know; the action plugin passes it on.
  returned: always
  type: dict
  sample: {}
"""

import time

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_module import AWSModule
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import KUBE_AUTH_ARG_SPEC
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import KubeClientError
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle import aws
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.drain import DrainStopped
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.drain import Drainer
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.kube import KubeLifecycleError
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.replace import ReplaceOps
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.replace import ReplaceOptions
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.replace import Replacer
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.replace import ReplaceStopped
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.replace import node_label
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.rolling import old_instances
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.session import Session
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.session import TargetError
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.session import drain_options
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.session import step_of
from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.session import validate_common
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.gather import TargetLoader
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.kube import KubeNodeSource
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.nodes import progress_line
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.waiter import wait_for_nodes

# After a readiness wait that ended at once, look again no sooner than this.
MIN_LOOK_SECONDS = 1.0


class GroupOps(ReplaceOps):
    def __init__(self, session, group_name):
        self.session = session
        self.group_name = group_name

    def observe(self):
        group = self.session.group(self.group_name)
        ec2 = self.session.gatherer.ec2
        reservations = aws.describe_group_instances(ec2, group)
        instances = aws.instance_facts(group, reservations, self.session.kube.nodes())
        return instances, int(group.get("DesiredCapacity") or 0), aws.launch_target(ec2, group)

    def terminate(self, instance_id):
        aws.terminate_in_group(self.session.gatherer.autoscaling, instance_id)

    def wait_ready(self, seconds):
        started = time.time()
        source = KubeNodeSource(self.session.connect)
        loader = TargetLoader(self.session.gatherer, self.group_name, None, None)
        outcome = wait_for_nodes(source, loader, timeout=max(seconds, 0.0))
        rest = min(MIN_LOOK_SECONDS - (time.time() - started), seconds - (time.time() - started))
        if rest > 0:
            time.sleep(rest)
        return progress_line(outcome.state)


def old_entries(instances, target):
    return [dict(instance_id=i["instance_id"], node_name=i.get("node_name"), reason=i["old_because"]) for i in old_instances(instances, target)]


def run(module):
    params = module.params
    deadline, final, memo = step_of(params)
    session = Session(module)
    ops = GroupOps(session, params["autoscaling_group_name"])
    instances, desired, target = ops.observe()
    old = old_entries(instances, target)
    result = dict(old=old, target=dict(launch_template_id=target.template_id, version=target.version, image_id=target.image_id),
                  terminated=[], cordoned=[], evicted=[], lines=[], memo=memo)
    names = ", ".join(node_label(dict(o, node_name=o["node_name"])) for o in old)
    if module.check_mode:
        result.update(changed=bool(old), done=True, summary=f"{len(old)} node(s) will be replaced" + (f": {names}" if old else ""))
        result["lines"] = [result["summary"]]
        if module._diff:
            result["diff"] = dict(before={"instances": {o["instance_id"]: o["reason"] for o in old}},
                                  after={"instances": {o["instance_id"]: "replaced" for o in old}})
        module.exit_json(**result)
    drainer = Drainer(session.kube, drain_options(params), memo.setdefault("drain", {}))
    replacer = Replacer(ops, drainer, ReplaceOptions(batch_size=params["batch_size"], min_in_service=params["min_in_service"],
                                                     replacement_timeout=float(params["replacement_timeout"])), memo)
    stopped = None
    try:
        done = replacer.run(deadline)
    except (DrainStopped, ReplaceStopped) as error:
        done, stopped = False, error
    report = drainer.report
    result.update(changed=bool(report.changed or replacer.report.terminated), done=done, cordoned=report.cordoned, evicted=report.evicted,
                  drained=report.drained, terminated=replacer.report.terminated, lines=report.lines, memo=memo,
                  summary=f"{len(replacer.report.terminated)} instance(s) replaced in this step, {len(report.evicted)} pod(s) evicted")
    if done:
        result["summary"] = "every instance runs what the group launches now"
    if stopped is not None:
        if isinstance(stopped, DrainStopped):
            result["blocked"] = {k: stopped.facts.get(k) for k in ("node", "pod", "budget")}
        module.fail_json(msg=str(stopped), **result)
    if not done and final:
        module.fail_json(msg=f"the replacement is not finished after wait_timeout={params['wait_timeout']}s; run again to continue", **result)
    module.exit_json(**result)


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        autoscaling_group_name=dict(type="str", required=True, aliases=["node_autoscaling_group"]),
        batch_size=dict(type="int", default=1),
        min_in_service=dict(type="int"),
        replacement_timeout=dict(type="int", default=1800),
        taint=dict(type="bool", default=False),
        force=dict(type="bool", default=False),
        delete_emptydir_data=dict(type="bool", default=False),
        max_grace_period=dict(type="int"),
        eviction_timeout=dict(type="int", default=600),
        wait_timeout=dict(type="int", default=7200),
        progress_interval=dict(type="int", default=30),
        _step=dict(type="dict"),
    )
    argument_spec.update(KUBE_AUTH_ARG_SPEC)
    module = AWSModule(argument_spec=argument_spec, supports_check_mode=True)
    problem = validate_common(module.params)
    if not problem and module.params["min_in_service"] is not None and module.params["min_in_service"] < 0:
        problem = f"min_in_service must be 0 or more, not {module.params['min_in_service']}"
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
