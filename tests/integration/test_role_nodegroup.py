"""Role eksnodes.windows.nodegroup against the lab: AMI lookup, then the stack, from the cluster facts.

The nodes join the cluster once their role is mapped; the aws-auth mapping belongs to another role, so
the test maps it directly with the Kubernetes client, and puts aws-auth back afterwards.
"""

import time
import uuid

import pytest
import yaml
from kubernetes import client as kube_client

from ansible_collections.eksnodes.windows.plugins.module_utils.eks.transformations import cluster_facts

# Scheduled first as a whole, so that the module's fixture starts once.
pytestmark = pytest.mark.long

ROLE = "eksnodes.windows.nodegroup"
STACK_TASK = "Create or update the node group stack"
PLAN_TASK = STACK_TASK + " (plan, in check mode, before any change)"
FACTS_TASK = "Publish the node group facts"


@pytest.fixture(scope="module")
def cluster(lab):
    """The cluster facts, in the shape the prerequisites role publishes them."""
    return cluster_facts(lab.aws_client("eks").describe_cluster(name=lab.cluster_name)["cluster"])


def role_play(cluster_facts_, *role_vars, expect_failure=False):
    """A play running the role once per set of variables; with expect_failure, each run's failure is rescued."""
    tasks = []
    for index, variables in enumerate(role_vars):
        include = {"name": f"run {index}", "ansible.builtin.include_role": {"name": ROLE},
                   "vars": {"nodegroup_cluster": cluster_facts_, **variables}}
        if expect_failure:
            include = {"name": f"block {index}", "block": [include],
                       "rescue": [{"name": f"rescued {index}", "ansible.builtin.debug": {"msg": "rescued"}}]}
        tasks.append(include)
    return [{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]


def results(run, name):
    """Results of the role's task of that name (the callback prefixes it with the role)."""
    return [task["result"] for task in run.tasks if task["name"] == f"{ROLE} : {name}"]


def wait_joined(lab, instance_id, timeout=30.0):
    """The simulator's record of the instance once it has a Node (the verdict of an earlier refusal lingers until then)."""
    deadline = time.monotonic() + timeout
    record = None
    while time.monotonic() < deadline:
        lab.control.reconcile()
        record = lab.control.instance(instance_id)
        if record and record["joined"]:
            return record
        time.sleep(0.2)
    raise AssertionError(f"instance {instance_id} did not join: {record}")


@pytest.fixture
def aws_auth(lab):
    """Map roles in kube-system/aws-auth for one test, and put it back as it was."""
    core = kube_client.CoreV1Api(lab.kube_api_client())
    original = core.read_namespaced_config_map("aws-auth", "kube-system")
    saved = dict(original.data or {})

    def map_role(role_arn):
        current = core.read_namespaced_config_map("aws-auth", "kube-system")
        roles = yaml.safe_load((current.data or {}).get("mapRoles") or "[]") or []
        roles.append({"rolearn": role_arn, "username": "system:node:{{EC2PrivateDNSName}}",
                      "groups": ["system:bootstrappers", "system:nodes", "eks:kube-proxy-windows"]})
        current.data = dict(current.data or {}, mapRoles=yaml.safe_dump(roles, sort_keys=False))
        core.replace_namespaced_config_map("aws-auth", "kube-system", current)

    yield map_role
    current = core.read_namespaced_config_map("aws-auth", "kube-system")
    current.data = saved
    core.replace_namespaced_config_map("aws-auth", "kube-system", current)


@pytest.fixture
def node_group_name(lab):
    """A fresh node group name; its stack is deleted after the test, whatever happened."""
    name = f"win-{uuid.uuid4().hex[:6]}"
    yield name
    lab.aws_client("cloudformation").delete_stack(StackName=f"lab-nodegroup-{name}")


def test_launches_the_node_group_whose_nodes_join_once_mapped(lab, ansible, cluster, aws_auth, node_group_name):
    name = node_group_name
    variables = {"nodegroup_name": name, "nodegroup_nodes": 2, "nodegroup_nodes_max": 3, "nodegroup_node_type": "m5.xlarge",
                 "nodegroup_tags": {"team": "windows"}, "nodegroup_wait_timeout": 300}
    run = ansible.playbook(role_play(cluster, dict(variables), dict(variables)))
    assert run.returncode == 0, run.stdout[-3000:]
    # On its own, the role plans and changes the stack in one module run each time: no separate plan runs.
    assert results(run, PLAN_TASK) == []
    created, rerun = results(run, STACK_TASK)
    assert created["changed"] is True and created["stack_status"] == "CREATE_COMPLETE"
    assert created["operation"] == "create" and created["ami"]["resolved_by"] == "ssm"
    # The run chose and checked the subnets and the instance type before it wrote them.
    assert created["input_checks"] == {"subnets": "checked", "instance_type": "checked"}
    # The rerun found nothing to change, and read neither the subnets nor the instance type.
    assert rerun["operation"] == "none" and rerun["changed"] is False and rerun["ami"]["resolved_by"] == "current"
    assert rerun["input_checks"] == {"subnets": "kept", "instance_type": "unchanged"}

    parameters = created["parameters"]
    facts = lab.facts
    latest = facts["windows_amis"]["Windows_Server-2022-English-Core-EKS_Optimized-1.31"]
    assert sorted(parameters["Subnets"].split(",")) == sorted(facts["private_subnet_ids"])  # private networking
    assert parameters["NodeSecurityGroups"] == cluster["cluster_security_group_id"]
    assert parameters["ClusterControlPlaneSecurityGroup"] == facts["control_plane_sg_id"]
    assert parameters["NodeImageId"] == latest["image_id"] and parameters["NodeImageIdSSMParam"] == latest["ssm_parameter"]
    assert parameters["NodeInstanceType"] == "m5.xlarge" and parameters["NodeAutoScalingGroupDesiredCapacity"] == "2"
    assert parameters["ApiServerEndpoint"] == cluster["endpoint"] and parameters["ServiceCidr"] == cluster["service_ipv4_cidr"]

    published = results(run, FACTS_TASK)[-1]["ansible_facts"]["nodegroup_facts"]
    assert published["stack_name"] == f"lab-nodegroup-{name}"
    assert published["node_instance_role_arn"] == created["outputs"]["node_instance_role_arn"]
    assert sorted(published["instance_ids"]) == sorted(created["instance_ids"]) and len(published["instance_ids"]) == 2
    assert published["image_id"] == latest["image_id"] and published["ami_family"] == "WindowsServer2022CoreContainer"

    join_delay = lab.control.nodesim()["knobs"]["join_delay"]
    try:
        lab.control.set_nodesim(join_delay=0.5)
        for instance_id in published["instance_ids"]:
            assert "not mapped" in lab.control.wait_for_verdict(instance_id, "not mapped")["verdict"]
        aws_auth(published["node_instance_role_arn"])
        core = kube_client.CoreV1Api(lab.kube_api_client())
        for instance_id in published["instance_ids"]:
            record = wait_joined(lab, instance_id)
            assert record["os_family"] == "windows"
            node = core.read_node(record["node_name"])
            assert node.spec.provider_id.endswith("/" + instance_id)
            assert node.metadata.labels["kubernetes.io/os"] == "windows"
            assert node.metadata.labels["node.kubernetes.io/instance-type"] == "m5.xlarge"
            # one security group tagged for the cluster (EKS's cluster security group), or load balancers refuse the node
            assert (record["tagged_security_groups"], record["load_balancer_error"]) == ([cluster["cluster_security_group_id"]], None)
    finally:
        lab.control.set_nodesim(join_delay=join_delay)
        removal = ansible.playbook(role_play(cluster, {"nodegroup_name": name, "nodegroup_state": "absent"}))
        assert removal.returncode == 0, removal.stdout[-3000:]
    (deleted,) = results(removal, "Delete the node group stack")
    assert deleted["changed"] is True and deleted["stack_status"] == "DELETE_COMPLETE"


def test_check_mode_leaves_nothing_behind(lab, ansible, cluster):
    name = f"chk-{uuid.uuid4().hex[:6]}"
    run = ansible.playbook(role_play(cluster, {"nodegroup_name": name, "nodegroup_node_ami_family": "WindowsServer2019FullContainer",
                                               "nodegroup_private_networking": False}), check=True, diff=True)
    assert run.returncode == 0, run.stdout[-3000:]
    (planned,) = results(run, STACK_TASK)
    assert planned["changed"] is True and planned["operation"] == "create"
    assert "NodeImageIdSSMParam: /aws/service/ami-windows-latest/Windows_Server-2019-English-Full-EKS_Optimized-1.31/image_id" in planned["diff"][0]["after"]
    subnets = [line for line in planned["diff"][0]["after"].splitlines() if line.startswith("Subnets: ")][0]
    assert sorted(subnets[len("Subnets: "):].split(",")) == sorted(cluster["subnet_ids"])  # every subnet without private networking
    stacks = lab.aws_client("cloudformation").list_stacks()["StackSummaries"]
    assert [s for s in stacks if s["StackName"] == f"lab-nodegroup-{name}" and s["StackStatus"] != "DELETE_COMPLETE"] == []

    # Check mode asked by a block around the role, not on the command line: the change inherits it too.
    (play,) = role_play(cluster, {"nodegroup_name": name, "nodegroup_private_networking": False})
    play["tasks"] = [{"name": "dry run", "check_mode": True, "block": play["tasks"]}]
    run = ansible.playbook([play])
    assert run.returncode == 0, run.stdout[-3000:]
    (planned,) = results(run, STACK_TASK)
    assert planned["changed"] is True and planned["operation"] == "create"
    stacks = lab.aws_client("cloudformation").list_stacks()["StackSummaries"]
    assert [s for s in stacks if s["StackName"] == f"lab-nodegroup-{name}" and s["StackStatus"] != "DELETE_COMPLETE"] == []


def test_on_its_own_the_role_refuses_an_input_in_its_own_words_before_any_write(lab, ansible, cluster):
    """The one module run that plans and changes checks the instance type before it writes; the message names the role's
    variable behind the module's option."""
    name = f"bad-{uuid.uuid4().hex[:6]}"
    client = lab.aws_client("cloudformation")

    run = ansible.playbook(role_play(cluster, {"nodegroup_name": name, "nodegroup_node_type": "m5.nope"}))

    assert run.returncode != 0
    failed = [task for task in run.tasks if task["result"].get("failed")]
    assert [task["name"] for task in failed] == [f"{ROLE} : Check that the node group stack can be planned"]
    (refused,) = results(run, STACK_TASK)
    assert refused["changed"] is False and "operation" not in refused
    message = " ".join(failed[-1]["result"]["msg"].split())
    assert message.startswith("instance_type: the instance type m5.nope does not exist"), message
    assert "Nothing was changed" in message and "instance_type is nodegroup_node_type (node_type)" in message, message
    assert [s for s in client.list_stacks()["StackSummaries"] if s["StackName"] == f"lab-nodegroup-{name}"] == []


def test_on_its_own_the_role_fails_a_stack_change_that_failed_with_the_modules_own_facts(lab, ansible, cluster, node_group_name):
    """Once the run wrote the stack, its failure is the stack task's: the root cause and status, not a refusal's words."""
    reason = "lab: not enough capacity"
    lab.control.aws.fail_next_stack_create(f"lab-nodegroup-{node_group_name}", logical_id="NodeGroup", reason=reason)

    run = ansible.playbook(role_play(cluster, {"nodegroup_name": node_group_name}))

    assert run.returncode != 0
    failed = [task for task in run.tasks if task["result"].get("failed")]
    assert [task["name"] for task in failed] == [f"{ROLE} : {STACK_TASK}"]
    result = failed[0]["result"]
    assert result["changed"] is True and result["stack_status"] == "ROLLBACK_COMPLETE", result
    assert result["root_cause"]["logical_resource_id"] == "NodeGroup" and result["root_cause"]["resource_status_reason"] == reason


def test_missing_cluster_facts_and_bad_arguments_are_refused(ansible, cluster):
    run = ansible.playbook(role_play(
        cluster,
        {"nodegroup_cluster": {}},
        {"nodegroup_node_ami_family": "WindowsServer2016CoreContainer"},
        {"nodegroup_nodes": 4, "nodegroup_nodes_max": 3, "nodegroup_name": "too-small"},
        {"nodegroup_stack_name": "1-not_a_stack_name"},
        {"nodegroup_cluster": dict(cluster, subnet_ids=[], security_group_ids=[], cluster_security_group_id=None)},
        expect_failure=True,
    ))
    failures = [task["result"] for task in run.tasks if task["result"].get("failed")]
    assert len(failures) == 5, [task["name"] for task in run.tasks]
    assert len([task for task in run.tasks if task["name"].startswith("rescued")]) == 5
    assert "nodegroup_cluster has no cluster name. Run the eksnodes.windows.prerequisites role first" in failures[0]["msg"]
    assert "nodegroup_node_ami_family" in failures[1]["msg"] and "WindowsServer2016CoreContainer" in failures[1]["msg"]
    assert "desired_capacity (4) must be at most max_size (3)" in failures[2]["msg"]
    assert " ".join(failures[3]["msg"].split()) == (
        "The stack name 1-not_a_stack_name is not a valid CloudFormation stack name (letters, digits and hyphens, starting with "
        "a letter, at most 128 characters). Set nodegroup_stack_name to a valid name.")
    assert " ".join(failures[4]["msg"].split()) == (
        "The cluster facts name no subnet: set nodegroup_subnets. The cluster has no cluster security group: set "
        "nodegroup_security_groups to the Linux nodes security groups. The cluster has no security group: set "
        "nodegroup_control_plane_security_group.")


def test_an_ami_given_in_nodegroup_ami_id_is_the_one_planned(lab, ansible, cluster):
    name = f"ami-{uuid.uuid4().hex[:6]}"
    image = lab.facts["windows_amis"]["Windows_Server-2019-English-Full-EKS_Optimized-1.31"]["image_id"]
    run = ansible.playbook(role_play(cluster, {"nodegroup_name": name, "nodegroup_ami_id": image}), check=True, diff=True)
    assert run.returncode == 0, run.stdout[-3000:]
    (preview,) = results(run, STACK_TASK)
    arguments = preview["invocation"]["module_args"]
    # The run was given the image and chose none of its own (the family's newest 2022 image is another one).
    assert preview["operation"] == "create" and arguments["image_id"] == image and arguments.get("ami") is None
    assert f"NodeImageId: {image}" in preview["diff"][0]["after"]
    stacks = lab.aws_client("cloudformation").list_stacks()["StackSummaries"]
    assert [s for s in stacks if s["StackName"] == f"lab-nodegroup-{name}" and s["StackStatus"] != "DELETE_COMPLETE"] == []
