"""eksnodes.windows.preflight against the lab: a clean pass on the seeded lab, and each check failing with its message and fix.

Cases that need no change to the lab run as several tasks of one playbook; each case that changes the lab
puts it back afterwards.
"""

import copy
import uuid

import pytest

from integration_helpers import unused_octet
from lab.nodesim import MERGE_PATCH, node_conditions

MODULE = "eksnodes.windows.preflight"
KUBECONFIG_ENV = ("K8S_AUTH_KUBECONFIG", "KUBECONFIG")
VPC_RESOURCE_CONTROLLER = "arn:aws:iam::aws:policy/AmazonEKSVPCResourceController"


def play(*tasks):
    return [{"hosts": "localhost", "gather_facts": False, "tasks": list(tasks)}]


def case(name, args):
    """A preflight task that may fail; its result is read by name."""
    return {"name": name, MODULE: dict({"cluster_name": "lab"}, **args), "ignore_errors": True}


def finding(result, check):
    """The one finding of a check; asserts the check failed (or warned) and the task says so."""
    found = [item for item in result["findings"] if item["check"] == check]
    assert len(found) == 1, result["findings"]
    return found[0]


def failed_on(result, check):
    """Assert the task failed because of this check, and only this one; return its finding."""
    assert result.get("failed"), result
    assert result["checks"][check] == "failed", result["checks"]
    assert [name for name, status in result["checks"].items() if status == "failed"] == [check], result["checks"]
    item = finding(result, check)
    assert item["severity"] == "error"
    assert f"[{check}] {item['message']} Fix: {item['fix']}" in result["msg"]
    return item


def test_clean_pass_on_the_seeded_lab(lab, ansible):
    facts = lab.facts
    result = ansible.task(MODULE, {
        "cluster_name": "lab", "nodegroup_name": "windows-ng", "windows_release": "2022", "key_name": facts["key_name"],
        "instance_type": "m5.large", "windows_node_role": "lab-windows-node-role",
    })
    assert not result.get("failed"), result.get("msg")
    assert result["error_count"] == 0
    # The lab has one Linux node; two are recommended, which is the only warning.
    assert [item["check"] for item in result["findings"]] == ["linux_nodes"]
    assert result["warning_count"] == 1 and result["warnings"][0].startswith("[linux_nodes] only one Linux node is Ready")
    # pod_imds runs only when the nodes will keep pods from IMDS (disable_pod_imds).
    assert result["skip_reasons"] == {"pod_imds": "disable_pod_imds is false"}
    assert {status for check, status in result["checks"].items() if check != "pod_imds"} == {"passed", "warning"}
    assert result["checks"]["linux_nodes"] == "warning"
    assert sorted(result["node_subnet_ids"]) == sorted(facts["private_subnet_ids"])
    kinds = {report["subnet_id"]: (report["kind"], report["egress"]) for report in result["subnets"]}
    assert all(kinds[subnet] == ("private", "nat-gateway") for subnet in facts["private_subnet_ids"])
    assert all(kinds[subnet] == ("public", "internet-gateway") for subnet in facts["public_subnet_ids"])
    assert result["cluster"]["name"] == "lab"


def test_each_input_check_fails_with_its_message_and_fix(lab, ansible):
    run = ansible.playbook(play(
        case("nodegroup name", {"nodegroup_name": "-windows"}),
        case("windows release", {"windows_release": "2025"}),
        case("key pair", {"key_name": "no-such-key"}),
        case("instance type arch", {"instance_type": "m6g.large"}),
        case("instance type missing", {"instance_type": "m9z.huge"}),
        case("node role", {"windows_node_role": lab.facts["linux_node_role_arn"]}),
        case("missing subnet", {"subnets": ["subnet-0000000000000dead"]}),
        case("not failing", {"key_name": "no-such-key", "fail_on_error": False}),
    ))
    item = failed_on(run.result("nodegroup name"), "nodegroup_name")
    assert "the node group name '-windows' must start with a letter or digit" in item["message"]
    assert item["fix"].startswith("Rename the node group")

    item = failed_on(run.result("windows release"), "windows_release")
    assert item["message"] == "Windows Server 2025 EKS-optimized AMIs need Kubernetes 1.35 or later; the cluster runs 1.31."
    assert item["fix"] == "Use Windows Server 2022, or upgrade the cluster to Kubernetes 1.35 or later."

    item = failed_on(run.result("key pair"), "key_pair")
    assert item["message"] == "the key pair no-such-key does not exist in us-east-1."
    assert "aws ec2 create-key-pair --key-name no-such-key" in item["fix"]

    item = failed_on(run.result("instance type arch"), "instance_type")
    assert item["message"] == "the instance type m6g.large is arm64; EKS-optimized Windows AMIs run only on x86_64 instances."
    assert "x86_64 instance type" in item["fix"]

    item = failed_on(run.result("instance type missing"), "instance_type")
    assert item["message"] == "the instance type m9z.huge does not exist."
    assert "aws ec2 describe-instance-type-offerings --region us-east-1" in item["fix"]

    item = failed_on(run.result("node role"), "node_role")
    assert "the Windows node role lab-linux-node-role is also a Linux node role" in item["message"]
    assert "aws-auth mapRoles" in item["message"] and "managed node group lab-linux" in item["message"]
    assert "separate IAM role" in item["fix"]

    result = run.result("missing subnet")
    item = failed_on(result, "subnets")
    assert item["message"] == "subnet subnet-0000000000000dead does not exist in us-east-1."
    assert f"Name=vpc-id,Values={lab.facts['vpc_id']}" in item["fix"]
    assert result["node_subnet_ids"] == []

    result = run.result("not failing")
    assert not result.get("failed") and result["error_count"] == 1 and result["checks"]["key_pair"] == "failed"


def test_bad_input_is_refused_before_any_call(ansible):
    result = ansible.task(MODULE, {"cluster_name": "lab", "subnets": ["sn-1"]})
    assert result["failed"] and result["msg"] == "subnets: sn-1 is not a subnet ID. Fix: give IDs like subnet-0123456789abcdef0."
    assert "findings" not in result


@pytest.fixture(scope="module")
def odd_clusters(lab):
    """Extra clusters in the lab's VPC (their API server is the lab's): an underscore name, IPv6, and Kubernetes 1.23."""
    eks = lab.aws_client("eks")
    suffix = uuid.uuid4().hex[:6]
    names = {"underscore": f"lab_{suffix}", "ipv6": f"lab-ipv6-{suffix}", "old": f"lab-old-{suffix}"}
    subnets = lab.facts["private_subnet_ids"]
    common = {"roleArn": lab.facts["cluster_role_arn"], "resourcesVpcConfig": {"subnetIds": subnets, "endpointPrivateAccess": True}}
    eks.create_cluster(name=names["underscore"], version="1.31", **common)
    eks.create_cluster(name=names["ipv6"], version="1.31", kubernetesNetworkConfig={"ipFamily": "ipv6"}, **common)
    eks.create_cluster(name=names["old"], version="1.23", **common)
    yield names
    for name in names.values():
        eks.delete_cluster(name=name)


def test_cluster_checks_fail_with_their_message_and_fix(ansible, odd_clusters):
    run = ansible.playbook(play(
        case("cluster name", {"cluster_name": odd_clusters["underscore"]}),
        case("ipv6", {"cluster_name": odd_clusters["ipv6"]}),
        case("old kubernetes", {"cluster_name": odd_clusters["old"]}),
        case("missing cluster", {"cluster_name": "no-such-cluster"}),
    ))
    # EKS accepts underscores: not an error, but the default stack name <cluster>-nodegroup-<name> could not be created
    item = finding(run.result("cluster name"), "cluster_name")
    assert item["severity"] == "warning"
    assert f"the cluster name '{odd_clusters['underscore']}' is valid for EKS, but the nodegroup role's default stack name" in item["message"]
    assert "nodegroup_stack_name" in item["fix"]

    item = failed_on(run.result("ipv6"), "ip_family")
    assert item["message"] == f"cluster {odd_clusters['ipv6']} uses IPv6; Windows nodes are not supported on IPv6 clusters."
    assert "IPv4 cluster" in item["fix"]

    item = failed_on(run.result("old kubernetes"), "platform_version")
    assert item["message"] == (f"cluster {odd_clusters['old']} runs Kubernetes 1.23; EKS-optimized Windows AMIs exist only for 1.24 "
                               "and later.")
    assert f"aws eks update-cluster-version --name {odd_clusters['old']}" in item["fix"]

    result = run.result("missing cluster")
    item = failed_on(result, "cluster_status")
    assert item["message"] == "there is no EKS cluster named no-such-cluster in us-east-1."
    assert item["fix"] == "Check the cluster name and the region: aws eks list-clusters --region us-east-1"
    assert result["checks"]["linux_nodes"] == "skipped" and result["skip_reasons"]["subnets"] == "the cluster does not exist"


def test_cluster_not_active(lab, ansible):
    lab.control.aws.set_cluster_status("lab", "CREATING")
    try:
        result = ansible.task(MODULE, {"cluster_name": "lab"})
    finally:
        lab.control.aws.set_cluster_status("lab", "ACTIVE")
    item = failed_on(result, "cluster_status")
    assert item["message"] == "cluster lab is CREATING, not ACTIVE; nodes launched before the cluster is ACTIVE never register."
    assert "eksnodes.windows.cluster_info with wait=true" in item["fix"]
    assert result["checks"]["coredns"] == "skipped"
    assert result["skip_reasons"]["linux_nodes"] == "the cluster is CREATING, so its API server cannot be asked"


def test_cluster_role_without_the_vpc_resource_controller_policy(lab, ansible):
    iam = lab.aws_client("iam")
    role = lab.facts["cluster_role_name"]
    iam.detach_role_policy(RoleName=role, PolicyArn=VPC_RESOURCE_CONTROLLER)
    try:
        result = ansible.task(MODULE, {"cluster_name": "lab"})
    finally:
        iam.attach_role_policy(RoleName=role, PolicyArn=VPC_RESOURCE_CONTROLLER)
    item = failed_on(result, "cluster_role_policy")
    assert item["message"] == (f"the cluster role {role} does not have the AmazonEKSVPCResourceController managed policy, which the "
                               "control plane needs to give Windows pods their IP addresses.")
    assert item["fix"] == f"Attach it: aws iam attach-role-policy --role-name {role} --policy-arn {VPC_RESOURCE_CONTROLLER}"


def test_unreadable_iam_skips_the_role_check_with_a_warning(lab, ansible):
    lab.control.aws.add_fault("iam", "ListAttachedRolePolicies", "AccessDenied", status=403, count=1,
                              message="User is not authorized to perform: iam:ListAttachedRolePolicies")
    try:
        result = ansible.task(MODULE, {"cluster_name": "lab"})
    finally:
        lab.control.aws.clear_faults()
    assert not result.get("failed"), result.get("msg")
    assert result["checks"]["cluster_role_policy"] == "skipped"
    item = finding(result, "cluster_role_policy")
    assert item["severity"] == "warning"
    assert "could not be read (AccessDenied: User is not authorized to perform: iam:ListAttachedRolePolicies)" in item["message"]
    assert "aws iam list-attached-role-policies --role-name lab-cluster-role" in item["fix"]


def test_refused_kubernetes_credentials(lab, ansible):
    args = {"cluster_name": "lab", "host": lab.info["kube"]["url"], "ca_cert": lab.info["kube"]["ca_file"], "api_key": "not-a-token"}
    result = ansible.task(MODULE, args, drop_env=KUBECONFIG_ENV)
    item = failed_on(result, "kubernetes_access")
    assert item["message"].startswith("the Kubernetes API server of cluster lab could not be used: Failed to list nodes:")
    assert "Unauthorized" in item["message"]
    assert "an access entry with AmazonEKSClusterAdminPolicy" in item["fix"] and "arn:aws:" in item["fix"]
    assert all(result["checks"][check] == "skipped" for check in ("linux_nodes", "coredns", "legacy_controllers"))


@pytest.fixture
def paused_lab(lab):
    """Nothing in the lab reconciles while the test changes Kubernetes objects by hand."""
    lab.control.set_nodesim(paused=True)
    yield lab
    lab.control.set_nodesim(paused=False)


def test_no_ready_linux_node_and_no_coredns(paused_lab, ansible):
    from kubernetes import client as kclient  # pylint: disable=import-outside-toplevel
    api = paused_lab.kube_api_client()
    core, apps = kclient.CoreV1Api(api), kclient.AppsV1Api(api)
    node = paused_lab.facts["linux_node_name"]
    ready = node_conditions("True", "KubeletReady", "kubelet is posting ready status")
    saved = api.sanitize_for_serialization(apps.read_namespaced_deployment("coredns", "kube-system"))
    core.patch_node_status(node, {"status": {"conditions": node_conditions("False", "KubeletNotReady", "PLEG is not healthy")}},
                           _content_type=MERGE_PATCH)
    apps.delete_namespaced_deployment("coredns", "kube-system")
    try:
        result = ansible.task(MODULE, {"cluster_name": "lab"})
    finally:
        core.patch_node_status(node, {"status": {"conditions": ready}}, _content_type=MERGE_PATCH)
        body = copy.deepcopy(saved)
        for key in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
            body["metadata"].pop(key, None)
        body.pop("status", None)
        apps.create_namespaced_deployment("kube-system", body)
    assert result["failed"]
    assert result["checks"]["linux_nodes"] == "failed" and result["checks"]["coredns"] == "failed"
    item = finding(result, "linux_nodes")
    assert item["message"] == ("the cluster has no Ready Linux node (1 Linux node(s) registered, none Ready); CoreDNS and the other "
                               "cluster services run only on Linux, so Windows pods would have no DNS.")
    assert "eksctl create nodegroup --cluster lab --nodes 2" in item["fix"]
    item = finding(result, "coredns")
    assert item["message"].startswith("there is no CoreDNS Deployment (kube-system/coredns)")
    assert item["fix"] == "Install the CoreDNS add-on: aws eks create-addon --cluster-name lab --addon-name coredns"


def test_legacy_controllers_are_found_then_removed_by_windows_ipam(paused_lab, ansible):
    from kubernetes import client as kclient  # pylint: disable=import-outside-toplevel
    api = paused_lab.kube_api_client()
    apps, admission = kclient.AppsV1Api(api), kclient.AdmissionregistrationV1Api(api)
    # The shared lab's IPAM may have been turned on by an earlier test: this one starts from the seeded "false".
    kclient.CoreV1Api(api).patch_namespaced_config_map("amazon-vpc-cni", "kube-system", {"data": {"enable-windows-ipam": "false"}})
    labels = {"app": "vpc-resource-controller"}
    apps.create_namespaced_deployment("kube-system", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "vpc-resource-controller", "namespace": "kube-system"},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {
            "containers": [{"name": "vpc-resource-controller", "image": "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/vpc-resource-controller:0.2.7"}]}}}})
    admission.create_mutating_webhook_configuration({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration", "metadata": {"name": "vpc-admission-webhook-cfg"},
        "webhooks": [{"name": "vpc-admission-webhook.amazonaws.com", "admissionReviewVersions": ["v1"], "sideEffects": "None",
                      "failurePolicy": "Ignore", "clientConfig": {"service": {"name": "vpc-admission-webhook", "namespace": "kube-system", "path": "/mutate"}},
                      "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]}]})
    ipam = "eksnodes.windows.windows_ipam"
    run = ansible.playbook(play(
        case("found", {}),
        {"name": "reported", ipam: {"cluster_name": "lab", "enabled": False}},
        {"name": "predicted", ipam: {"cluster_name": "lab", "enabled": False, "remove_legacy_controllers": True}, "check_mode": True},
        {"name": "removed", ipam: {"cluster_name": "lab", "enabled": False, "remove_legacy_controllers": True}},
        case("gone", {}),
    ))
    item = failed_on(run.result("found"), "legacy_controllers")
    assert item["message"] == ("the legacy data-plane VPC resource controller or admission webhook is installed (Deployment "
                               "kube-system/vpc-resource-controller, MutatingWebhookConfiguration vpc-admission-webhook-cfg); it must be "
                               "removed before Windows support is enabled in the control plane.")
    assert item["fix"] == ("Remove them: run eksnodes.windows.windows_ipam with remove_legacy_controllers=true, or: kubectl delete "
                           "deployment -n kube-system vpc-resource-controller; kubectl delete mutatingwebhookconfiguration vpc-admission-webhook-cfg")
    reported = run.result("reported")
    assert reported["changed"] is False and reported["legacy_controllers_removed"] == []
    assert [obj["name"] for obj in reported["legacy_controllers"]] == ["vpc-resource-controller", "vpc-admission-webhook-cfg"]
    assert any("Legacy data-plane Windows controllers are installed" in warning for warning in reported["warnings"])
    predicted = run.result("predicted")
    assert predicted["changed"] is True and len(predicted["legacy_controllers_removed"]) == 2
    removed = run.result("removed")
    assert removed["changed"] is True and len(removed["legacy_controllers_removed"]) == 2
    gone = run.result("gone")
    assert not gone.get("failed") and gone["checks"]["legacy_controllers"] == "passed"


@pytest.fixture
def odd_subnets(lab):
    """Subnets made for the subnet checks, removed afterwards: one public without public IPs, one in another VPC, and two
    without an internet route, the second with every VPC endpoint a private cluster needs (the first lacks the S3 one)."""
    ec2 = lab.aws_client("ec2")
    vpc = lab.facts["vpc_id"]
    zone = lab.facts["availability_zones"][0]
    third = unused_octet(ec2, vpc)
    made = {"subnets": [], "tables": [], "endpoints": [], "vpcs": []}

    def subnet(cidr, vpc_id=vpc):
        subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
        made["subnets"].append(subnet_id)
        return subnet_id

    def table(subnet_id):
        table_id = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet_id)
        made["tables"].append(table_id)
        return table_id

    public = subnet(f"10.0.{third}.0/26")
    ec2.associate_route_table(RouteTableId=lab.facts["public_route_table_id"], SubnetId=public)
    other_vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    made["vpcs"].append(other_vpc)
    foreign = subnet("10.99.0.0/24", other_vpc)
    lacking, complete = subnet(f"10.0.{third}.64/26"), subnet(f"10.0.{third}.128/26")
    table(lacking)
    complete_table = table(complete)
    for service in ("ec2", "ecr.api", "ecr.dkr"):
        made["endpoints"].append(ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.us-east-1.{service}", VpcEndpointType="Interface",
                                                         SubnetIds=[complete], PrivateDnsEnabled=True)["VpcEndpoint"]["VpcEndpointId"])
    made["endpoints"].append(ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3", VpcEndpointType="Gateway",
                                                     RouteTableIds=[complete_table])["VpcEndpoint"]["VpcEndpointId"])
    yield {"public": public, "foreign": foreign, "lacking": lacking, "complete": complete, "lacking_table": made["tables"][0],
           "other_vpc": other_vpc}
    ec2.delete_vpc_endpoints(VpcEndpointIds=made["endpoints"])
    for table_id in made["tables"]:
        for association in ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"][0]["Associations"]:
            ec2.disassociate_route_table(AssociationId=association["RouteTableAssociationId"])
        ec2.delete_route_table(RouteTableId=table_id)
    for subnet_id in made["subnets"]:
        ec2.delete_subnet(SubnetId=subnet_id)
    for vpc_id in made["vpcs"]:
        ec2.delete_vpc(VpcId=vpc_id)


def test_subnet_checks_fail_with_their_message_and_fix(lab, ansible, odd_subnets):
    run = ansible.playbook(play(
        case("public without public IPs", {"subnets": [odd_subnets["public"]]}),
        case("another VPC", {"subnets": [odd_subnets["foreign"]]}),
        case("no route and endpoints lacking", {"subnets": [odd_subnets["lacking"]]}),
        case("no route and every endpoint", {"subnets": [odd_subnets["complete"]]}),
    ))
    item = failed_on(run.result("public without public IPs"), "subnets")
    assert item["message"] == (f"subnet {odd_subnets['public']} is public (0.0.0.0/0 goes to {lab.facts['internet_gateway_id']}) but does "
                               "not auto-assign public IPv4 addresses, so nodes launched there get no public IP and cannot join the cluster.")
    assert item["fix"].startswith(f"Turn it on with: aws ec2 modify-subnet-attribute --subnet-id {odd_subnets['public']} --map-public-ip-on-launch")

    item = failed_on(run.result("another VPC"), "subnets")
    assert item["message"] == f"subnet {odd_subnets['foreign']} is in {odd_subnets['other_vpc']}, not in the cluster's VPC {lab.facts['vpc_id']}."

    result = run.result("no route and endpoints lacking")
    item = failed_on(result, "subnets")
    assert item["message"] == (f"subnet {odd_subnets['lacking']} has no route to the internet (route table {odd_subnets['lacking_table']} "
                               "has no 0.0.0.0/0 route) and lacks the VPC endpoints a private cluster needs: com.amazonaws.us-east-1.s3.")
    assert f"S3 gateway endpoint on {odd_subnets['lacking_table']}" in item["fix"]
    [report] = [report for report in result["subnets"] if report["subnet_id"] == odd_subnets["lacking"]]
    assert report["kind"] == "isolated" and report["egress"] is None

    result = run.result("no route and every endpoint")
    assert not result.get("failed"), result.get("msg")
    assert result["checks"]["subnets"] == "passed" and result["node_subnet_ids"] == [odd_subnets["complete"]]
