"""The preflight run with its API wrappers replaced: which checks run, which are skipped and why."""

import pytest
from botocore.exceptions import ClientError

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.iam import AnsibleIAMError
from ansible_collections.eksnodes.windows.plugins.module_utils.ipam.kube import KubeApiError
from ansible_collections.eksnodes.windows.plugins.module_utils.preflight import runner
from ansible_collections.eksnodes.windows.plugins.module_utils.preflight import subnets

DESCRIBED = {
    "name": "prod", "arn": "arn:aws:eks:us-east-1:1:cluster/prod", "version": "1.31", "platformVersion": "eks.20", "status": "ACTIVE",
    "endpoint": "https://prod.example", "certificateAuthority": {"data": "LS0t"}, "roleArn": "arn:aws:iam::1:role/prod-cluster",
    "resourcesVpcConfig": {"vpcId": "vpc-1", "subnetIds": ["subnet-a", "subnet-b"], "endpointPrivateAccess": True},
    "kubernetesNetworkConfig": {"serviceIpv4Cidr": "172.20.0.0/16", "ipFamily": "ipv4"}, "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"},
}
NODE = {"metadata": {"name": "n1", "labels": {"kubernetes.io/os": "linux"}}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
SUBNETS = [
    {"SubnetId": "subnet-a", "VpcId": "vpc-1", "AvailabilityZone": "us-east-1a", "MapPublicIpOnLaunch": False},
    {"SubnetId": "subnet-b", "VpcId": "vpc-1", "AvailabilityZone": "us-east-1b", "MapPublicIpOnLaunch": True},
]
TABLES = [
    {"RouteTableId": "rtb-private", "VpcId": "vpc-1", "Associations": [{"SubnetId": "subnet-a"}],
     "Routes": [{"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1", "State": "active"}]},
    {"RouteTableId": "rtb-public", "VpcId": "vpc-1", "Associations": [{"SubnetId": "subnet-b"}],
     "Routes": [{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"}]},
]


def denied(operation):
    return AnsibleIAMError(message=f"Failed to {operation}",
                           exception=ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, operation))


@pytest.fixture
def world(monkeypatch):
    """The wrappers as a healthy cluster answers them; tests change single entries."""
    state = {
        "cluster": DESCRIBED, "policies": [{"PolicyName": "AmazonEKSVPCResourceController"}],
        "nodes": [NODE, dict(NODE, metadata={"name": "n2", "labels": NODE["metadata"]["labels"]})],
        "coredns": {"status": {"readyReplicas": 2}}, "legacy": [], "map_roles": [],
        "nodegroups": {"linux": {"nodeRole": "arn:aws:iam::1:role/linux", "amiType": "AL2023_x86_64_STANDARD"}},
        "entries": {}, "kube_error": None, "calls": [], "ipam_on": False, "thorough": [], "pods": [], "addons": ["coredns"],
        # None: RBAC grants no list of Deployments, so each is read by name.
        "deployments": None, "listed": [],
    }

    def record(name, value):
        state["calls"].append(name)
        if isinstance(value, Exception):
            raise value
        return value

    monkeypatch.setattr(runner, "describe_cluster", lambda client, name: record("describe_cluster", state["cluster"]))
    monkeypatch.setattr(runner, "list_iam_role_attached_policies", lambda client, role: record("iam", state["policies"]))
    monkeypatch.setattr(runner, "list_nodes", lambda api: record("nodes", state["kube_error"] or state["nodes"]))
    monkeypatch.setattr(runner, "list_pods", lambda api: record("pods", state["pods"]))
    monkeypatch.setattr(runner, "list_deployments", lambda api, ns: record("deployments", state["deployments"]))
    monkeypatch.setattr(runner, "read_deployment", lambda api, ns, name, listed: record("coredns", state["coredns"] if listed is None else listed.get(name)))
    monkeypatch.setattr(runner, "find_legacy_objects", lambda api, thorough, deployments: state["thorough"].append(thorough)
                        or state["listed"].append(deployments) or record("legacy", state["legacy"]))
    monkeypatch.setattr(runner, "read_config_map", lambda api, namespace, name: record(
        "ipam", {"data": {"enable-windows-ipam": "true" if state["ipam_on"] else "false"}}))
    monkeypatch.setattr(runner, "list_addons", lambda client, cluster: record("addons", state["addons"]))
    monkeypatch.setattr(runner, "aws_auth_map_roles", lambda api: record("aws-auth", state["map_roles"]))
    monkeypatch.setattr(subnets, "describe_subnets", lambda client, SubnetIds: [s for s in SUBNETS if s["SubnetId"] in SubnetIds])
    monkeypatch.setattr(subnets, "describe_route_tables", lambda client, Filters: TABLES)
    monkeypatch.setattr(subnets, "describe_availability_zones",
                        lambda client, **kw: [{"ZoneName": z, "ZoneType": "availability-zone"} for z in kw["ZoneNames"]])
    monkeypatch.setattr(subnets, "describe_vpc_endpoints", lambda client, Filters: record("endpoints", []))
    monkeypatch.setattr(runner, "describe_key_pairs", lambda client, KeyNames: [{"KeyName": k} for k in KeyNames if k == "ops"])
    monkeypatch.setattr(subnets, "describe_instance_type", lambda client, name: {
        "ProcessorInfo": {"SupportedArchitectures": ["x86_64"]}, "NetworkInfo": {"Ipv4AddressesPerInterface": 10}, "MemoryInfo": {"SizeInMiB": 8192}})
    monkeypatch.setattr(subnets, "instance_type_offered", lambda client, name: True)
    monkeypatch.setattr(runner, "list_nodegroups", lambda client, cluster: list(state["nodegroups"]))
    monkeypatch.setattr(runner, "describe_nodegroup", lambda client, cluster, name: state["nodegroups"][name])
    monkeypatch.setattr(runner, "list_access_entries", lambda client, cluster: list(state["entries"]))
    monkeypatch.setattr(runner, "describe_access_entry", lambda client, cluster, arn: record("describe_access_entry", state["entries"][arn]))
    monkeypatch.setattr(runner, "caller_arn", lambda client: "arn:aws:iam::1:user/ops")
    return state


def run(**params):
    base = {"cluster_name": "prod", "skip_checks": []}
    base.update(params)
    return runner.Preflight(base, "us-east-1", {"eks": None, "ec2": None, "iam": None, "sts": None}, lambda cluster: object()).run()


def test_a_healthy_cluster_passes_every_check(world):
    result = run(nodegroup_name="win", windows_release="2022", key_name="ops", instance_type="m5.large", windows_node_role="windows",
                 disable_pod_imds=True)
    assert result["findings"] == []
    assert set(result["checks"]) == set(runner.CHECKS)
    assert set(result["checks"].values()) == {"passed"}
    assert result["node_subnet_ids"] == ["subnet-a"]
    assert [s["kind"] for s in result["subnets"]] == ["private", "public"]


def test_a_missing_cluster_skips_what_needs_it(world):
    world["cluster"] = None
    result = run(key_name="nope")
    assert result["checks"]["cluster_status"] == "failed"
    assert result["checks"]["key_pair"] == "failed"
    assert result["checks"]["subnets"] == "skipped" and result["skip_reasons"]["linux_nodes"] == "the cluster does not exist"
    assert "nodes" not in world["calls"]


def test_an_invalid_eks_name_is_not_described(world):
    result = run(cluster_name="bad name")
    assert result["checks"]["cluster_name"] == "failed"
    assert result["skip_reasons"]["cluster_status"] == "the cluster name is not valid"
    assert "describe_cluster" not in world["calls"]


def test_a_cluster_that_is_not_active_skips_the_kubernetes_checks(world):
    world["cluster"] = dict(DESCRIBED, status="UPDATING")
    result = run()
    assert result["checks"]["cluster_status"] == "failed"
    assert all(result["checks"][check] == "skipped" for check in runner.KUBE_CHECKS)
    assert "nodes" not in world["calls"]


def test_iam_that_cannot_be_read_is_a_skip_with_a_warning(world):
    world["policies"] = denied("list policies attached to role")
    result = run()
    assert result["checks"]["cluster_role_policy"] == "skipped"
    assert [(f["check"], f["severity"]) for f in result["findings"]] == [("cluster_role_policy", "warning")]


def test_ec2_inputs_that_cannot_be_read_are_skipped_with_a_warning_and_other_errors_still_fail(world, monkeypatch):
    def refused(client, KeyNames):
        raise denied("describe key pairs")

    monkeypatch.setattr(runner, "describe_key_pairs", refused)
    result = run(key_name="ops", instance_type="m5.large")
    assert result["checks"]["key_pair"] == "skipped" and result["skip_reasons"]["key_pair"] == "the key pairs could not be read"
    assert result["checks"]["instance_type"] == "passed"
    [finding] = result["findings"]
    assert (finding["check"], finding["severity"]) == ("key_pair", "warning")
    assert finding["message"] == "the key pairs could not be read (AccessDenied: not allowed), so this check was skipped."

    def throttled(client, KeyNames):
        raise AnsibleAWSError(message="Failed", exception=ClientError({"Error": {"Code": "Throttling", "Message": "slow"}}, "x"))

    monkeypatch.setattr(runner, "describe_key_pairs", throttled)
    with pytest.raises(AnsibleAWSError):
        run(key_name="ops")


def test_other_aws_errors_are_not_hidden(world):
    world["policies"] = AnsibleIAMError(message="Failed", exception=ClientError({"Error": {"Code": "Throttling", "Message": "slow"}}, "x"))
    with pytest.raises(AnsibleIAMError):
        run()


def test_an_unusable_api_server_names_the_caller_and_skips_the_rest(world):
    class Refused(Exception):
        status = 401
        body = '{"reason": "Unauthorized", "message": "Unauthorized"}'
    world["kube_error"] = KubeApiError("list nodes", Refused())
    result = run()
    [item] = result["findings"]
    assert item["check"] == "kubernetes_access"
    assert "Failed to list nodes: Unauthorized" in item["message"]
    assert item["fix"].startswith("Give arn:aws:iam::1:user/ops access to the cluster")
    assert result["checks"]["coredns"] == "skipped"


def test_requested_skips_are_honoured(world):
    world["cluster"] = dict(DESCRIBED, status="CREATING")
    result = run(skip_checks=["cluster_status", "linux_nodes"])
    assert result["checks"]["cluster_status"] == "skipped" and result["skip_reasons"]["cluster_status"] == "skipped on request"
    assert result["findings"] == []


def test_the_windows_role_is_compared_with_every_linux_role_source(world):
    world["map_roles"] = [{"rolearn": "arn:aws:iam::1:role/mapped", "groups": ["system:bootstrappers", "system:nodes"]}]
    world["entries"] = {"arn:aws:iam::1:role/entry": {"type": "EC2_LINUX"}, "arn:aws:iam::1:role/other": {"type": "EC2_LINUX"}}
    for role, source in (("linux", "managed node group linux"), ("mapped", "aws-auth mapRoles"), ("entry", "access entry of type EC2_LINUX")):
        result = run(windows_node_role=role)
        [item] = result["findings"]
        assert item["check"] == "node_role" and source in item["message"]
    # Only the access entry of the Windows role's name is described.
    assert world["calls"].count("describe_access_entry") == 1


def test_isolated_subnets_read_the_vpc_endpoints(world, monkeypatch):
    monkeypatch.setattr(subnets, "describe_route_tables", lambda client, Filters: [dict(TABLES[0], Routes=[])])
    result = run(subnets=["subnet-a"])
    assert "endpoints" in world["calls"]
    [item] = result["findings"]
    assert item["check"] == "subnets" and "lacks the VPC endpoints a private cluster needs" in item["message"]


def test_kubernetes_reads_forbidden_by_rbac_are_skipped_with_a_warning(world, monkeypatch):
    class Forbidden(Exception):
        status = 403
        body = '{"reason": "Forbidden", "message": "deployments.apps is forbidden"}'

    def forbidden(*args):
        raise KubeApiError(f"read {args[1:] or 'aws-auth'}", Forbidden())
    monkeypatch.setattr(runner, "read_deployment", lambda api, ns, name, listed: forbidden(api, ns, name))
    monkeypatch.setattr(runner, "aws_auth_map_roles", forbidden)
    result = run(windows_node_role="windows")
    assert result["checks"]["coredns"] == "skipped"
    assert [(f["check"], f["severity"]) for f in result["findings"]] == [("coredns", "warning"), ("node_role", "warning")]
    assert "could not be read from: aws-auth" in result["findings"][1]["message"]


def test_one_list_of_the_kube_system_deployments_answers_for_coredns_and_the_legacy_deployments(world):
    world["deployments"] = {"coredns": {"status": {"readyReplicas": 0}}}
    result = run()
    assert world["calls"].count("deployments") == 1 and "coredns" in world["calls"]
    assert world["listed"] == [world["deployments"]]
    # The listed CoreDNS, not a read one (that has ready replicas), is checked.
    assert [(f["check"], f["severity"]) for f in result["findings"]] == [("coredns", "warning")]


def test_without_coredns_and_legacy_checks_the_deployments_are_not_listed(world):
    run(skip_checks=["coredns", "legacy_controllers"])
    assert "deployments" not in world["calls"] and "legacy" not in world["calls"]


@pytest.mark.parametrize("ipam_on, thorough", [(False, True), (True, False)])
def test_left_behind_legacy_objects_are_looked_for_until_windows_ipam_is_on(world, ipam_on, thorough):
    world["ipam_on"] = ipam_on
    run()
    assert world["thorough"] == [thorough]


def test_every_legacy_object_is_looked_for_when_amazon_vpc_cni_may_not_be_read(world, monkeypatch):
    class Forbidden(Exception):
        status = 403
        body = '{"reason": "Forbidden", "message": "configmaps is forbidden"}'

    def forbidden(api, namespace, name):
        raise KubeApiError("read ConfigMap kube-system/amazon-vpc-cni", Forbidden())
    monkeypatch.setattr(runner, "read_config_map", forbidden)
    result = run()
    assert world["thorough"] == [True] and result["checks"]["legacy_controllers"] == "passed"
    assert result["vpc_cni"]["config_map_data"] is None


@pytest.mark.parametrize("addons, managed", [(["coredns"], False), (["vpc-cni", "coredns"], True)])
def test_the_vpc_cni_state_is_returned_for_the_windows_ipam_step(world, addons, managed):
    world["ipam_on"], world["addons"] = True, addons
    result = run()
    assert result["vpc_cni"] == {"managed_addon": managed, "config_map_data": {"enable-windows-ipam": "true"}}


def test_add_ons_that_cannot_be_listed_leave_managed_addon_unknown(world, monkeypatch):
    from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError  # pylint: disable=import-outside-toplevel
    monkeypatch.setattr(runner, "is_unauthorized", lambda error: True)

    def denied(client, cluster):
        raise AnsibleAWSError(message="AccessDeniedException")
    monkeypatch.setattr(runner, "list_addons", denied)
    result = run()
    assert result["vpc_cni"]["managed_addon"] is None and result["error_count"] == 0


WINDOWS_NODE = {"metadata": {"name": "w1", "labels": {"kubernetes.io/os": "windows"}}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


def pod(name, node="w1", env=(), host_network=False, phase="Running", namespace="apps"):
    return {"metadata": {"name": name, "namespace": namespace}, "status": {"phase": phase},
            "spec": {"nodeName": node, "hostNetwork": host_network, "containers": [{"name": "c", "env": [{"name": e, "value": "x"} for e in env]}]}}


def test_pod_imds_names_the_windows_pods_that_would_lose_the_node_role(world):
    world["nodes"] = world["nodes"] + [WINDOWS_NODE]
    world["pods"] = [pod("web"), pod("irsa", env=["AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"]),
                     pod("pod-identity", env=["AWS_CONTAINER_CREDENTIALS_FULL_URI"]), pod("on-linux", node="n1"),
                     pod("done", phase="Succeeded"), pod("agent", host_network=True, namespace="kube-system")]
    result = run(disable_pod_imds=True)
    found = [f for f in result["findings"] if f["check"] == "pod_imds"]
    assert [f["severity"] for f in found] == ["warning", "warning"] and result["checks"]["pod_imds"] == "warning"
    assert "1 pod(s) on the Windows nodes have no AWS identity of their own" in found[0]["message"]
    assert found[0]["message"].endswith(": apps/web.") and "IRSA" in found[0]["fix"]
    assert "use the host's network" in found[1]["message"] and found[1]["message"].endswith(": kube-system/agent.")


def test_pod_imds_runs_only_when_pods_will_be_kept_from_imds(world):
    world["nodes"] = world["nodes"] + [WINDOWS_NODE]
    world["pods"] = [pod("web")]
    result = run()
    assert result["checks"]["pod_imds"] == "skipped" and result["skip_reasons"]["pod_imds"] == "disable_pod_imds is false"
    assert "pods" not in world["calls"]


def test_pod_imds_lists_ten_pods_and_counts_the_rest(world):
    world["nodes"] = world["nodes"] + [WINDOWS_NODE]
    world["pods"] = [pod(f"web-{index:02d}") for index in range(12)]
    message = run(disable_pod_imds=True)["findings"][0]["message"]
    assert "12 pod(s)" in message and "apps/web-09 and 2 more." in message and "web-10" not in message
