#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: nodegroup_stack_info
short_description: Read the CloudFormation stack of a self-managed Windows node group, with its recent events
version_added: 0.1.0
description:
  - Reads the stack that M(eksnodes.windows.nodegroup_stack) manages; its status, outputs, parameters,
    the Auto Scaling group's instances, and stack events.
  - Without O(after_event_id), returns the events of the stack's last operation (since its last create,
    update or delete began); with it, only the newer events, so that a caller polling the stack sees each
    event once.
  - When the stack is in a failed state, names the root cause found in the events it returns.
  - The action plugin of M(eksnodes.windows.nodegroup_stack) calls it to print the events of an operation
    as they happen.
  - With O(cluster_name) and O(nodegroup_name), says whether the stack is that node group's (RV(owned)), by
    the rules M(eksnodes.windows.nodegroup_stack) applies before any change, so a playbook can stop before
    its first change.
  - With O(mapped_role_arns) or O(search_access_entries), finds the node roles that deleted stacks of this
    name left mapped (RV(leftover_role_arns)), so that a removal interrupted after the stack deletion can
    still take them out of C(aws-auth) or delete their access entries.
author:
  - eksnodes.windows maintainers (@eksnodes)
options:
  stack_name:
    description:
      - The name or the ID of the stack. A deleted stack answers only by its ID.
    type: str
    required: true
  after_event_id:
    description:
      - Return only the events newer than the event of this ID, as RV(last_event_id) of an earlier call
        or RV(eksnodes.windows.nodegroup_stack#module:started.after_event_id) give it.
    type: str
  client_request_token:
    description:
      - Return only the events of the stack operation requested with this token (events that carry no
        token are kept).
    type: str
  events:
    description:
      - Whether to read the stack events. V(false) reads none (no C(DescribeStackEvents)) when only the stack,
        its ownership, outputs and instances matter; RV(events) is then empty, RV(last_event_id) is
        O(after_event_id), and a failed stack has no RV(failure_events) or RV(root_cause).
    type: bool
    default: true
  cluster_name:
    description:
      - The EKS cluster the stack must belong to, for RV(owned).
      - Needed with O(search_access_entries=true).
    type: str
  nodegroup_name:
    description:
      - The node group the stack must belong to, for RV(owned).
    type: str
  mapped_role_arns:
    description:
      - Role ARNs the cluster maps (the C(rolearn) of the C(aws-auth) C(mapRoles) entries, for example), to
        search for the node roles of deleted stacks of this name, see RV(leftover_role_arns).
    type: list
    elements: str
    default: []
  search_access_entries:
    description:
      - Also search the principals of the access entries of O(cluster_name), see RV(leftover_role_arns).
      - Only for clusters whose authentication mode is V(API) or V(API_AND_CONFIG_MAP).
    type: bool
    default: false
notes:
  - Needs C(cloudformation:DescribeStacks), C(DescribeStackEvents), C(DescribeStackResources) and
    C(autoscaling:DescribeAutoScalingGroups); with O(mapped_role_arns) or O(search_access_entries) also
    C(iam:GetRole) and C(sts:GetCallerIdentity), and C(eks:ListAccessEntries) for the latter.
  - A role is a leftover of this stack name only when its name is the one CloudFormation generates for
    the stack's node role (C(<stack_name>-NodeInstanceRole-<12 or 13 letters and digits>)), in this
    account, without a path, and no role of that name exists any more. Stack names longer than 34
    characters give generated names that CloudFormation shortens in an undocumented way; no leftover is
    claimed for them.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - eksnodes.windows.attributes.info_module
  - eksnodes.windows.attributes.action
"""

EXAMPLES = r"""
- name: Read the node group stack and the events of its last operation
  eksnodes.windows.nodegroup_stack_info:
    stack_name: my-cluster-nodegroup-windows
  register: stack

- name: Why it failed
  ansible.builtin.debug:
    msg: "{{ stack.root_cause }}"
  when: stack.root_cause is defined

- name: Stop before any change when the stack of this name is not the node group's
  eksnodes.windows.nodegroup_stack_info:
    stack_name: my-cluster-nodegroup-windows
    cluster_name: my-cluster
    nodegroup_name: windows
  register: stack
  failed_when: not stack.owned

- name: Only the events after the ones already seen
  eksnodes.windows.nodegroup_stack_info:
    stack_name: "{{ stack.stack_id }}"
    after_event_id: "{{ stack.last_event_id }}"
  register: later
"""

RETURN = r"""
exists:
  description: Whether the stack exists (a stack read by ID after its deletion exists, in C(DELETE_COMPLETE)).
  returned: always
  type: bool
  sample: true
stack_name:
  description: The stack name, as O(stack_name) gave it.
  returned: always
  type: str
  sample: my-cluster-nodegroup-windows
stack_id:
  description: The stack ID.
  returned: always
  type: str
  sample: arn:aws:cloudformation:us-east-1:123456789012:stack/my-cluster-nodegroup-windows/0a1b2c3d
stack_status:
  description: The stack status.
  returned: always
  type: str
  sample: CREATE_COMPLETE
stack_status_reason:
  description: The reason CloudFormation gives for the status, if any.
  returned: always
  type: str
  sample: "The following resource(s) failed to create: [NodeGroup]. Rollback requested by user."
settled:
  description: Whether no operation is running on the stack (also true when it does not exist).
  returned: always
  type: bool
  sample: true
outputs:
  description:
    - The stack outputs under snake_case keys, as RV(eksnodes.windows.nodegroup_stack#module:outputs).
  returned: always
  type: dict
  sample:
    node_instance_role_arn: arn:aws:iam::123456789012:role/my-cluster-nodegroup-windows-NodeInstanceRole-1A2B3C
    node_autoscaling_group: my-cluster-nodegroup-windows-NodeGroup-4D5E6F
parameters:
  description: The stack's parameter values as deployed (SSM parameters by name).
  returned: always
  type: dict
  sample:
    ClusterName: my-cluster
resolved_parameters:
  description:
    - The values CloudFormation resolved for SSM-typed parameters; empty with the collection's template, which has
      none (stacks of collection 0.1.0 report C(NodeImageIdSSMParam) until their next update).
  returned: always
  type: dict
  sample:
    NodeImageIdSSMParam: ami-0123456789abcdef0
instance_ids:
  description: The IDs of the Auto Scaling group's instances, leaving ones excepted; empty until the stack is complete.
  returned: always
  type: list
  elements: str
  sample: [i-0123456789abcdef0]
outdated_instance_ids:
  description:
    - The instances to replace, as RV(eksnodes.windows.nodegroup_stack#module:outdated_instance_ids) describes them;
      empty until the stack is complete.
  returned: always
  type: list
  elements: str
  sample: [i-0123456789abcdef0]
instances:
  description:
    - The Auto Scaling group's instances, shaped as RV(eksnodes.windows.nodegroup_stack#module:instances);
      empty until the stack is complete.
  returned: always
  type: list
  sample:
    - instance_id: i-0123456789abcdef0
      lifecycle_state: InService
      health_status: Healthy
      availability_zone: us-east-1a
      instance_type: m5.large
      launch_template_id: lt-0123456789abcdef0
      launch_template_version: '2'
  elements: dict
events:
  description:
    - The stack events newer than O(after_event_id), or those of the last operation, oldest first.
  returned: always
  type: list
  sample:
    - timestamp: '2026-11-24T10:02:11.512000+00:00'
      logical_resource_id: NodeGroup
      physical_resource_id: my-cluster-nodegroup-windows-NodeGroup-4D5E6F
      resource_type: AWS::AutoScaling::AutoScalingGroup
      resource_status: CREATE_FAILED
      resource_status_reason: You have requested more instances than your current instance limit allows
      event_id: NodeGroup-CREATE_FAILED-2026-11-24T10:02:11.512Z
  elements: dict
  contains:
    timestamp:
      description: When the event happened.
      type: str
      sample: "2026-11-24T10:02:11.512000+00:00"
    logical_resource_id:
      description: The resource's logical ID, or the stack name for the stack itself.
      type: str
      sample: "NodeGroup"
    physical_resource_id:
      description: The resource's physical ID.
      type: str
      sample: "my-cluster-nodegroup-windows-NodeGroup-4D5E6F"
    resource_type:
      description: The resource type.
      type: str
      sample: "AWS::AutoScaling::AutoScalingGroup"
    resource_status:
      description: The status the resource reached.
      type: str
      sample: "CREATE_FAILED"
    resource_status_reason:
      description: Why, when CloudFormation says.
      type: str
      sample: "You have requested more instances than your current instance limit allows"
    event_id:
      description: The event ID.
      type: str
      sample: "NodeGroup-CREATE_FAILED-2026-11-24T10:02:11.512Z"
last_event_id:
  description:
    - The ID of the newest event seen, to pass as O(after_event_id) next time; O(after_event_id) when no
      event is newer.
  returned: always
  type: str
  sample: "NodeGroup-CREATE_FAILED-2026-11-24T10:02:11.512Z"
failure_events:
  description: In a failed state, the failed resources' events among RV(events) (then the stack's), oldest first.
  returned: when the stack is in a failed state
  type: list
  sample:
    - timestamp: '2026-11-24T10:02:11.512000+00:00'
      logical_resource_id: NodeGroup
      physical_resource_id: my-cluster-nodegroup-windows-NodeGroup-4D5E6F
      resource_type: AWS::AutoScaling::AutoScalingGroup
      resource_status: CREATE_FAILED
      resource_status_reason: You have requested more instances than your current instance limit allows
      event_id: NodeGroup-CREATE_FAILED-2026-11-24T10:02:11.512Z
  elements: dict
owned:
  description:
    - Whether the stack is the node group's (true when there is no stack of the name), by its marker tags,
      or, for stacks created before them, its node group parameters and outputs; with O(cluster_name) and
      O(nodegroup_name) their values are compared, otherwise only the marker or the shape.
  returned: always
  type: bool
  sample: false
ownership:
  description: Why the stack is or is not the node group's, and what was found.
  returned: always
  type: dict
  contains:
    owned:
      description: As RV(owned).
      type: bool
      sample: false
    marked:
      description: Whether the stack carries the marker tags.
      type: bool
      sample: false
    reason:
      description: Why.
      type: str
      sample: "it has no marker tags and lacks the node group parameters ClusterName, NodeGroupName"
    found:
      description: The stack's name, ID, status, description, tags, C(ClusterName) and C(NodeGroupName), parameter and output names; null without a stack.
      type: dict
      sample: {"stack_name": "lab-nodegroup-windows", "stack_status": "CREATE_COMPLETE"}
  sample:
    owned: false
    marked: false
    reason: it has no marker tags and lacks the node group parameters ClusterName, NodeGroupName
    found: {stack_name: lab-nodegroup-windows, stack_status: CREATE_COMPLETE, tags: {team: data}, output_names: [TopicArn]}
leftover_role_arns:
  description:
    - Among O(mapped_role_arns) and the access entries' principals, the node roles that deleted stacks of
      this name left behind (see the notes); empty when neither option is set.
  returned: always
  type: list
  elements: str
  sample: [arn:aws:iam::123456789012:role/my-cluster-nodegroup-windows-NodeInstanceRole-1A2B3C4D5E6F]
root_cause:
  description: In a failed state, the first failed resource event among RV(events) that was not a consequence of another failure.
  returned: when the stack is in a failed state
  type: dict
  sample:
    logical_resource_id: NodeGroup
    resource_type: AWS::AutoScaling::AutoScalingGroup
    resource_status: CREATE_FAILED
    resource_status_reason: "You have requested more instances than your current instance limit allows"
"""

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.iam import get_aws_account_id, get_iam_role

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_module import AWSModule
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup import events as event_logic
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup import ownership as ownership_logic
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup import stacks
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.aws import list_access_entries
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup.operations import NodegroupStack
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup.waiters import FAILURE_STATUSES, Deadline, is_settled

# Without after_event_id, how many of the newest events are searched for the last operation's start.
LAST_OPERATION_EVENTS = 500


def stack_info(cloudformation, autoscaling, stack_name, after_event_id=None, client_request_token=None, cluster_name=None, nodegroup_name=None,
               read_events=True):
    """The module's result, RV(leftover_role_arns) left empty."""
    stack = stacks.describe_stack(cloudformation, stack_name)
    manager = NodegroupStack(cloudformation, autoscaling, stack_name, Deadline(0))
    result = {"exists": stack is not None, "stack_name": stack_name, **manager.facts(stack)}
    result["settled"] = is_settled(result["stack_status"])
    events = []
    if stack is not None and read_events:
        if after_event_id:
            raw = stacks.stack_events_since(cloudformation, stack["StackId"], after_event_id)
        else:
            raw = stacks.stack_events_since(cloudformation, stack["StackId"], None, limit=LAST_OPERATION_EVENTS)
        events = [event_logic.event_facts(event) for event in event_logic.of_request(raw, client_request_token)]
        if not after_event_id:
            events = event_logic.last_operation(events)
        if raw:
            after_event_id = raw[-1].get("EventId")
    result["events"] = events
    result["last_event_id"] = after_event_id
    if result["stack_status"] in FAILURE_STATUSES and read_events:
        result["failure_events"] = event_logic.failed_events(events)
        result["root_cause"] = event_logic.root_cause(events)
    result["ownership"] = ownership_logic.stack_ownership(stack, cluster_name, nodegroup_name)
    result["owned"] = result["ownership"]["owned"]
    result["leftover_role_arns"] = []
    return result


def leftover_role_arns(module, stack_name, stack_id):
    """The mapped roles that deleted stacks of this name left: the generated node role name, and gone from IAM."""
    params = module.params
    mapped = list(params["mapped_role_arns"] or [])
    if params["search_access_entries"]:
        mapped += list_access_entries(module.client("eks"), params["cluster_name"])
    if not mapped:
        return []
    # The stack ID names the account; without a stack, the caller's account.
    account_id = stack_id.split(":")[4] if stack_id else get_aws_account_id(module)
    iam = module.client("iam")
    return [item["arn"] for item in ownership_logic.leftover_role_candidates(stack_name, account_id, mapped)
            if get_iam_role(iam, item["name"]) is None]


def main():
    module = AWSModule(
        argument_spec=dict(
            stack_name=dict(type="str", required=True),
            after_event_id=dict(type="str"),
            client_request_token=dict(type="str", no_log=False),
            events=dict(type="bool", default=True),
            cluster_name=dict(type="str"),
            nodegroup_name=dict(type="str"),
            mapped_role_arns=dict(type="list", elements="str", default=[]),
            search_access_entries=dict(type="bool", default=False),
        ),
        required_if=[("search_access_entries", True, ("cluster_name",))],
        supports_check_mode=True,
    )
    params = module.params
    try:
        result = stack_info(
            module.client("cloudformation"),
            module.client("autoscaling"),
            params["stack_name"],
            params["after_event_id"],
            params["client_request_token"],
            params["cluster_name"],
            params["nodegroup_name"],
            params["events"],
        )
        result["leftover_role_arns"] = leftover_role_arns(module, params["stack_name"], result["stack_id"])
    except AnsibleAWSError as error:
        module.fail_json_aws_error(error)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
