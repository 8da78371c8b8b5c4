"""The roles inside a user's playbook whose AWS connection comes from play-level module_defaults only.

One `group/eksnodes.windows.aws` entry reaches every module the roles call, the amazon.aws ones included (the
group extends amazon.aws's), and a role's own variable (prerequisites_region, nodegroup_region, node_auth_region) still wins over it
while the group's other options stay.
"""

import uuid

import pytest
from kubernetes import client as kube_client

GROUP = "group/eksnodes.windows.aws"
# Where the region, the credentials and the endpoint could come from besides module_defaults: all gone.
AWS_ENVIRONMENT = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                   "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL")
# A region where the lab's cluster is not: a module that used it would not find the cluster, its AMIs or its stack.
OTHER_REGION = "eu-west-3"
ROUTE_TABLES_TASK = "Read the route tables with amazon.aws"


def connection_defaults(lab, region):
    return {GROUP: {"region": region, "endpoint_url": lab.info["aws"]["url"],
                    "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}}


def include(role, **role_vars):
    return {"name": f"Run {role}", "ansible.builtin.include_role": {"name": f"eksnodes.windows.{role}"}, "vars": role_vars}


def run_without_aws_environment(ansible, tmp_path, plays):
    """ansible-playbook with no AWS variable in its environment, and no AWS config or credentials file to read."""
    missing = tmp_path / "no-aws-files"
    env = {"AWS_CONFIG_FILE": str(missing / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(missing / "credentials")}
    return ansible.playbook(plays, env=env, drop_env=AWS_ENVIRONMENT)


def module_results(run, prefix):
    """Results of the tasks whose name starts with prefix that ran a module (loops: each item)."""
    found = []
    for task in run.tasks:
        if not task["name"].startswith(prefix) or task["result"].get("skipped"):
            continue
        items = task["result"].get("results") or [task["result"]]
        found += [(task["name"], item) for item in items if "invocation" in item]
    return found


@pytest.fixture
def shared_lab_state(lab):
    """aws-auth and the VPC CNI ConfigMap put back, and the node group's stack deleted, after the test."""
    core = kube_client.CoreV1Api(lab.kube_api_client())
    saved = {name: core.read_namespaced_config_map(name, "kube-system").data for name in ("aws-auth", "amazon-vpc-cni")}
    name = f"md-{uuid.uuid4().hex[:6]}"
    yield name
    lab.aws_client("cloudformation").delete_stack(StackName=f"{lab.cluster_name}-nodegroup-{name}")
    for config_map, data in saved.items():
        current = core.read_namespaced_config_map(config_map, "kube-system")
        current.data = data
        core.replace_namespaced_config_map(config_map, "kube-system", current)


@pytest.mark.long
def test_four_roles_reach_ready_with_the_connection_from_module_defaults_only(lab, ansible, tmp_path, shared_lab_state):
    name = shared_lab_state
    play = {
        "name": "Windows nodes from a user's playbook",
        "hosts": "localhost",
        "gather_facts": False,
        "module_defaults": connection_defaults(lab, lab.region),
        "tasks": [
            include("prerequisites", prerequisites_cluster_name=lab.cluster_name, prerequisites_nodegroup_name=name,
                    prerequisites_windows_release="2022", prerequisites_instance_type="m5.large"),
            include("nodegroup", nodegroup_name=name, nodegroup_nodes=2, nodegroup_nodes_min=2, nodegroup_nodes_max=3,
                    nodegroup_node_type="m5.large", nodegroup_wait_timeout=300),
            include("node_auth"),
            include("node_readiness", node_readiness_wait_timeout=300, node_readiness_progress_interval=5),
            # The group extends amazon.aws's: its modules in the same play get the same connection.
            {"name": ROUTE_TABLES_TASK, "amazon.aws.ec2_vpc_route_table_info": {"filters": {"vpc-id": lab.facts["vpc_id"]}}},
        ],
    }
    run = run_without_aws_environment(ansible, tmp_path, [play])
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]

    # The amazon.aws module got its connection from the group of this collection.
    route_tables = module_results(run, ROUTE_TABLES_TASK)
    assert len(route_tables) == 1
    assert {item["invocation"]["module_args"]["region"] for _task, item in route_tables} == {lab.region}

    stacks = lab.aws_client("cloudformation").describe_stacks(StackName=f"{lab.cluster_name}-nodegroup-{name}")["Stacks"]
    assert [stack["StackStatus"] for stack in stacks] == ["CREATE_COMPLETE"]
    assert stacks[0]["StackId"].split(":")[3] == lab.region
    subnets = next(p["ParameterValue"] for p in stacks[0]["Parameters"] if p["ParameterKey"] == "Subnets")
    assert sorted(subnets.split(",")) == sorted(lab.facts["private_subnet_ids"])
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stacks[0]["Outputs"]}
    group = lab.aws_client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[outputs["NodeAutoScalingGroup"]])["AutoScalingGroups"][0]
    instance_ids = sorted(instance["InstanceId"] for instance in group["Instances"])
    assert len(instance_ids) == 2

    nodes = kube_client.CoreV1Api(lab.kube_api_client()).list_node(label_selector="kubernetes.io/os=windows").items
    ours = {node.spec.provider_id.rsplit("/", 1)[-1]: node for node in nodes if node.spec.provider_id.rsplit("/", 1)[-1] in instance_ids}
    assert sorted(ours) == instance_ids
    for node in ours.values():
        assert any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])
        assert node.spec.provider_id.startswith(f"aws:///{lab.region}")


def test_a_role_variable_wins_over_the_group_default_and_the_other_defaults_stay(lab, ansible, tmp_path):
    """The group names another region; the roles' region variables name the lab's: every module reads the lab."""
    stacks_before = lab.aws_client("cloudformation").list_stacks()["StackSummaries"]
    play = {
        "name": "Checks with the role variables' region",
        "hosts": "localhost",
        "gather_facts": False,
        "module_defaults": connection_defaults(lab, OTHER_REGION),
        "tasks": [
            {"name": "Check the cluster", "ansible.builtin.include_role": {"name": "eksnodes.windows.prerequisites", "tasks_from": "check"},
             "vars": {"prerequisites_cluster_name": lab.cluster_name, "prerequisites_region": lab.region}},
            {"name": "Plan the node group", "ansible.builtin.include_role": {"name": "eksnodes.windows.nodegroup", "tasks_from": "check"},
             "vars": {"nodegroup_name": "md-check", "nodegroup_region": lab.region}},
            {"name": "Check the authorization", "ansible.builtin.include_role": {"name": "eksnodes.windows.node_auth", "tasks_from": "check"},
             "vars": {"node_auth_region": lab.region,
                      "node_auth_windows_role_arn": f"arn:aws:iam::{lab.facts['account_id']}:role/md-check-NodeInstanceRole"}},
        ],
    }
    run = run_without_aws_environment(ansible, tmp_path, [play])
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]

    results = module_results(run, "eksnodes.windows.")
    ran = {task for task, _result in results}
    assert {"eksnodes.windows.prerequisites : Wait until the cluster is ACTIVE, then check it and the planned node group",
            "eksnodes.windows.nodegroup : Create or update the node group stack (plan, in check mode, before any change)",
            "eksnodes.windows.node_auth : Map the Windows node role in aws-auth, keeping the Linux node roles mapped"
            " (plan, in check mode, before any change)"} <= ran
    for task, item in results:
        arguments = item["invocation"]["module_args"]
        assert arguments["region"] == lab.region, task
        # The group's other options still reach the module: only the region was overridden.
        assert arguments["endpoint_url"] == lab.info["aws"]["url"], task
    planned = run.result("eksnodes.windows.nodegroup : Record the plan and the planned AMI")["ansible_facts"]
    assert planned["nodegroup_selected_image_id"] == lab.facts["windows_amis"]["Windows_Server-2022-English-Core-EKS_Optimized-1.31"]["image_id"]
    # Checks only: no stack was created.
    assert lab.aws_client("cloudformation").list_stacks()["StackSummaries"] == stacks_before


def test_the_sample_app_role_mints_its_token_with_the_group_connection(lab, ansible, tmp_path):
    """Without a kubeconfig, windows_sample_app reaches the cluster with a token from cluster_info: no ARN to take
    the region from, so it is the group's."""
    core = kube_client.CoreV1Api(lab.kube_api_client())
    namespace = f"md-{uuid.uuid4().hex[:6]}"
    core.create_namespace(kube_client.V1Namespace(metadata=kube_client.V1ObjectMeta(name=namespace)))
    play = {
        "name": "Remove the sample application",
        "hosts": "localhost",
        "gather_facts": False,
        "module_defaults": connection_defaults(lab, lab.region),
        "tasks": [include("windows_sample_app", windows_sample_app_state="absent", windows_sample_app_namespace=namespace,
                          windows_sample_app_cluster={"name": lab.cluster_name}, windows_sample_app_wait_timeout=60)],
    }
    missing = tmp_path / "no-aws-files"
    env = {"AWS_CONFIG_FILE": str(missing / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(missing / "credentials")}
    kubernetes_environment = ("KUBECONFIG", "K8S_AUTH_KUBECONFIG", "K8S_AUTH_HOST", "K8S_AUTH_API_KEY", "K8S_AUTH_CONTEXT")
    run = ansible.playbook([play], env=env, drop_env=AWS_ENVIRONMENT + kubernetes_environment)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    minted = run.result("eksnodes.windows.windows_sample_app : Mint a token for the cluster from the AWS credentials")
    assert not minted.get("skipped")
    assert namespace not in {item.metadata.name for item in core.list_namespace().items}
