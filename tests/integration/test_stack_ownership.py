"""nodegroup_stack and nodegroup_stack_info never take over or delete a stack of the node group's name that is not ours.

Refusals are checked on the whole state: the stack's template body, parameters, tags, outputs, resources and
events, and the list of stacks, before and after.
"""

import json
import uuid

import pytest

MODULE = "eksnodes.windows.nodegroup_stack"
INFO = "eksnodes.windows.nodegroup_stack_info"
MARKER = {"eksnodes.windows/cluster-name", "eksnodes.windows/nodegroup-name"}
TOPIC_TEMPLATE = json.dumps({
    "Description": "Order notifications of the data team",
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "orders"}}},
    "Outputs": {"TopicArn": {"Value": {"Ref": "Topic"}}},
})


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def stack_args(lab, nodegroup, **extra):
    facts = lab.facts
    args = {
        "stack_name": f"lab-nodegroup-{nodegroup}",
        "cluster_name": lab.cluster_name,
        "nodegroup_name": nodegroup,
        "control_plane_security_group": facts["control_plane_sg_id"],
        "vpc_id": facts["vpc_id"],
        "security_groups": [facts["linux_node_sg_id"]],
        "subnets": facts["private_subnet_ids"],
        "api_server_endpoint": facts["cluster_endpoint"],
        "certificate_authority_data": "Y2E=",
        "service_cidr": "10.100.0.0/16",
        "image_id": facts["windows_amis"]["Windows_Server-2022-English-Core-EKS_Optimized-1.31"]["image_id"],
        "min_size": 0,
        "desired_capacity": 0,
        "max_size": 1,
        "wait_timeout": 300,
    }
    args.update(extra)
    return args


def make_legacy_stack(lab, ansible, args, tags):
    """The stack today's nodegroup_stack makes for args: created by the module, then its marker tags taken off."""
    created = ansible.task(MODULE, dict(args, tags=tags))
    assert created.get("changed") and not created.get("failed"), created
    client = lab.aws_client("cloudformation")
    stack = client.describe_stacks(StackName=args["stack_name"])["Stacks"][0]
    client.update_stack(StackName=args["stack_name"], UsePreviousTemplate=True, Capabilities=["CAPABILITY_IAM"],
                        Parameters=[{"ParameterKey": item["ParameterKey"], "UsePreviousValue": True} for item in stack["Parameters"]],
                        Tags=[{"Key": key, "Value": value} for key, value in tags.items()])
    stack = client.describe_stacks(StackName=args["stack_name"])["Stacks"][0]
    assert {item["Key"] for item in stack["Tags"]} == set(tags)
    return stack


@pytest.fixture
def cleanup(lab):
    names = []
    yield names
    client = lab.aws_client("cloudformation")
    for name in names:
        client.delete_stack(StackName=name)


def create_topic_stack(lab, name):
    client = lab.aws_client("cloudformation")
    client.create_stack(StackName=name, TemplateBody=TOPIC_TEMPLATE.replace("orders", unique("orders")),
                        Tags=[{"Key": "team", "Value": "data"}])
    return client.describe_stacks(StackName=name)["Stacks"][0]["StackId"]


def taken_stack(lab, cleanup):
    """A node group name whose stack name an unrelated stack already holds: (the node group name, the stack name)."""
    nodegroup = unique("taken")
    name = f"lab-nodegroup-{nodegroup}"
    cleanup.append(name)
    create_topic_stack(lab, name)
    return nodegroup, name


def stack_state(lab, name):
    """Everything CloudFormation says about one stack, and the list of stacks."""
    client = lab.aws_client("cloudformation")
    stack = client.describe_stacks(StackName=name)["Stacks"][0]
    return {
        "stack": stack,
        "template": client.get_template(StackName=name, TemplateStage="Original")["TemplateBody"],
        "resources": client.describe_stack_resources(StackName=name)["StackResources"],
        "events": client.describe_stack_events(StackName=name)["StackEvents"],
        "change_sets": client.list_change_sets(StackName=name)["Summaries"],
        "stacks": sorted((item["StackId"], item["StackStatus"]) for item in client.list_stacks()["StackSummaries"]),
        "topics": lab.aws_client("sns").list_topics()["Topics"],
    }


def test_launch_onto_an_unrelated_stack_of_the_same_name_is_refused_and_changes_nothing(lab, ansible, cleanup):
    nodegroup = unique("taken")
    args = stack_args(lab, nodegroup)
    cleanup.append(args["stack_name"])
    create_topic_stack(lab, args["stack_name"])
    before = stack_state(lab, args["stack_name"])

    info = ansible.task(INFO, {"stack_name": args["stack_name"], "cluster_name": "lab", "nodegroup_name": nodegroup})
    result = ansible.task(MODULE, args)
    checked = ansible.task(MODULE, args, check=True)

    assert info["owned"] is False and "lacks the node group parameters" in info["ownership"]["reason"], info
    assert info["ownership"]["found"]["tags"] == {"team": "data"}
    for refused in (result, checked):
        assert refused.get("failed") and refused["changed"] is False, refused
        assert f"Stack {args['stack_name']} exists and is not this node group's stack" in refused["msg"]
        assert "team=data" in refused["msg"] and "TopicArn" in refused["msg"] and "Choose another nodegroup_name" in refused["msg"]
        assert refused["ownership"]["owned"] is False
    assert stack_state(lab, args["stack_name"]) == before


def test_remove_of_an_unrelated_stack_of_the_same_name_is_refused_and_changes_nothing(lab, ansible, cleanup):
    nodegroup, name = taken_stack(lab, cleanup)
    before = stack_state(lab, name)

    by_name = ansible.task(MODULE, {"stack_name": name, "state": "absent"})
    with_owner = ansible.task(MODULE, {"stack_name": name, "state": "absent", "cluster_name": "lab", "nodegroup_name": nodegroup})

    for refused in (by_name, with_owner):
        assert refused.get("failed") and refused["changed"] is False, refused
        assert "is not this node group's stack" in refused["msg"] and "Nothing was deleted" in refused["msg"]
    assert stack_state(lab, name) == before


def test_a_node_group_stack_of_another_cluster_or_node_group_is_refused(lab, ansible, cleanup):
    nodegroup = unique("mine")
    args = stack_args(lab, nodegroup)
    cleanup.append(args["stack_name"])
    created = ansible.task(MODULE, args)
    assert created.get("changed") and not created.get("failed"), created
    before = stack_state(lab, args["stack_name"])

    other_nodegroup = ansible.task(MODULE, dict(args, nodegroup_name="other", max_size=2))
    other_delete = ansible.task(MODULE, {"stack_name": args["stack_name"], "state": "absent", "cluster_name": "lab", "nodegroup_name": "other"})
    info = ansible.task(INFO, {"stack_name": args["stack_name"], "cluster_name": "lab", "nodegroup_name": "other"})

    for refused in (other_nodegroup, other_delete):
        assert refused.get("failed") and refused["ownership"]["marked"] is True, refused
        assert f"node group {nodegroup!r}, not 'other'" in refused["msg"]
    assert info["owned"] is False and info["ownership"]["marked"] is True
    assert stack_state(lab, args["stack_name"]) == before


def test_a_stack_made_before_the_marker_is_recognised_updated_with_the_marker_and_removed(lab, ansible, cleanup):
    nodegroup = unique("legacy")
    args = stack_args(lab, nodegroup)
    cleanup.append(args["stack_name"])
    client = lab.aws_client("cloudformation")
    outputs_before = make_legacy_stack(lab, ansible, args, {"team": "platform"})["Outputs"]

    info = ansible.task(INFO, {"stack_name": args["stack_name"], "cluster_name": "lab", "nodegroup_name": nodegroup})
    wrong_cluster = ansible.task(INFO, {"stack_name": args["stack_name"], "cluster_name": "prod", "nodegroup_name": nodegroup})
    updated = ansible.task(MODULE, args)
    again = ansible.task(MODULE, args)

    assert info["owned"] is True and info["ownership"]["marked"] is False, info
    assert wrong_cluster["owned"] is False and "cluster 'lab', not 'prod'" in wrong_cluster["ownership"]["reason"]
    assert updated.get("changed") and updated["operation"] == "update" and not updated.get("failed"), updated
    stack = client.describe_stacks(StackName=args["stack_name"])["Stacks"][0]
    tags = {item["Key"]: item["Value"] for item in stack["Tags"]}
    assert tags == {"team": "platform", "eksnodes.windows/cluster-name": "lab", "eksnodes.windows/nodegroup-name": nodegroup}
    assert updated["parameter_changes"] == {}, updated["parameter_changes"]
    assert stack["Outputs"] == outputs_before, "the update replaced the node role, group, security group or launch template"
    assert again.get("changed") is False and not again.get("failed"), again

    removed = ansible.task(MODULE, {"stack_name": args["stack_name"], "state": "absent", "cluster_name": "lab", "nodegroup_name": nodegroup})
    assert removed.get("changed") and removed["stack_status"] == "DELETE_COMPLETE", removed
    living = client.list_stacks(StackStatusFilter=["CREATE_COMPLETE", "UPDATE_COMPLETE"])["StackSummaries"]
    assert args["stack_name"] not in [item["StackName"] for item in living]


def test_a_stack_of_aws_s_template_with_the_node_group_s_names_is_not_taken_over(lab, ansible, cleanup):
    """AWS's amazon-eks-windows-nodegroup.yaml declares the parameters and outputs of ours: a stack made from it under
    the node group's stack name, with its ClusterName and NodeGroupName, and no marker, is someone else's."""
    nodegroup = unique("aws")
    args = stack_args(lab, nodegroup)
    cleanup.append(args["stack_name"])
    make_legacy_stack(lab, ansible, args, {"team": "platform"})
    client = lab.aws_client("cloudformation")
    body = client.get_template(StackName=args["stack_name"], TemplateStage="Original")["TemplateBody"]
    body = body if isinstance(body, str) else json.dumps(body)
    start = body.index("Description: >-")
    end = body.index("\n\n", start)
    stack = client.describe_stacks(StackName=args["stack_name"])["Stacks"][0]
    client.update_stack(StackName=args["stack_name"], TemplateBody=body[:start] + 'Description: "Amazon EKS - Node Group"' + body[end:],
                        Capabilities=["CAPABILITY_IAM"], Tags=[{"Key": "team", "Value": "platform"}],
                        Parameters=[{"ParameterKey": item["ParameterKey"], "UsePreviousValue": True} for item in stack["Parameters"]])
    before = stack_state(lab, args["stack_name"])

    updated = ansible.task(MODULE, dict(args, max_size=2))
    deleted = ansible.task(MODULE, {"stack_name": args["stack_name"], "state": "absent", "cluster_name": "lab", "nodegroup_name": nodegroup})
    info = ansible.task(INFO, {"stack_name": args["stack_name"], "cluster_name": "lab", "nodegroup_name": nodegroup})

    for refused in (updated, deleted):
        assert refused.get("failed") and refused["ownership"]["marked"] is False, refused
        assert "does not run the collection's template (its description is 'Amazon EKS - Node Group')" in refused["msg"], refused["msg"]
    assert info["owned"] is False
    assert stack_state(lab, args["stack_name"]) == before


def test_a_legacy_stack_is_removed_by_name_alone(lab, ansible, cleanup):
    nodegroup = unique("legacy")
    args = stack_args(lab, nodegroup)
    cleanup.append(args["stack_name"])
    make_legacy_stack(lab, ansible, args, {"team": "platform"})

    removed = ansible.task(MODULE, {"stack_name": args["stack_name"], "state": "absent"})

    assert removed.get("changed") and removed["stack_status"] == "DELETE_COMPLETE", removed


def test_reserved_marker_tags_are_refused_before_any_call(lab, ansible):
    nodegroup = unique("forged")
    args = stack_args(lab, nodegroup, tags={"eksnodes.windows/nodegroup-name": "other"})
    stacks_before = lab.aws_client("cloudformation").list_stacks()["StackSummaries"]

    result = ansible.task(MODULE, args)

    assert result.get("failed") and "eksnodes.windows/nodegroup-name" in result["msg"] and "remove them" in result["msg"], result
    assert lab.aws_client("cloudformation").list_stacks()["StackSummaries"] == stacks_before


def test_the_launch_playbook_stops_at_an_unrelated_stack_of_the_node_group_name(lab, ansible, cleanup):
    from test_remove_playbook import aws_auth  # pylint: disable=import-outside-toplevel
    nodegroup, name = taken_stack(lab, cleanup)
    stack_before, auth_before = stack_state(lab, name), aws_auth(lab)

    launched = ansible.playbook("eksnodes.windows.launch", extra_vars={"cluster_name": "lab", "nodegroup_name": nodegroup, "nodes": 1})

    assert launched.returncode != 0
    failed = [task for task in launched.tasks if task["result"].get("failed")]
    assert failed, launched.stdout[-3000:]
    message = failed[0]["result"]["msg"]
    assert f"Stack {name} exists" in message and "lacks the node group parameters" in message and "Nothing was changed" in message, message
    assert stack_state(lab, name) == stack_before
    assert aws_auth(lab) == auth_before


def test_the_nodegroup_role_on_its_own_stops_at_an_unrelated_stack_of_the_node_group_name(lab, ansible, cleanup):
    """The role's main entry plans and changes in one module run: it refuses before any write, in the role's words."""
    from ansible_collections.eksnodes.windows.plugins.module_utils.eks.transformations import cluster_facts  # pylint: disable=import-outside-toplevel
    nodegroup, name = taken_stack(lab, cleanup)
    before = stack_state(lab, name)
    cluster = cluster_facts(lab.aws_client("eks").describe_cluster(name=lab.cluster_name)["cluster"])

    run = ansible.playbook([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "the role on its own", "ansible.builtin.include_role": {"name": "eksnodes.windows.nodegroup"},
         "vars": {"nodegroup_cluster": cluster, "nodegroup_name": nodegroup, "nodegroup_nodes": 1}}]}])

    assert run.returncode != 0
    failed = [task for task in run.tasks if task["result"].get("failed")]
    assert [task["name"] for task in failed][-1] == "eksnodes.windows.nodegroup : Check that the node group stack can be planned"
    message = " ".join(failed[-1]["result"]["msg"].split())
    assert message.startswith(f"Stack {name} exists but is not node group {nodegroup} of cluster lab: "), message
    assert "lacks the node group parameters" in message and "Nothing was changed. Choose another nodegroup_name" in message, message
    assert stack_state(lab, name) == before
