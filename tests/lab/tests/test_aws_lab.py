"""The lab's AWS side, checked through boto3 the way the collection sees it.

One lab runs for the whole module (moto's state is process-wide); tests that change the seeded cluster put it
back, and tests that need other EKS or CloudFormation state create their own clusters and stacks. The last
test resets the lab and re-seeds it.
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import time
from typing import Any, Callable, Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lab.aws import AwsLab, AwsLabControl, AwsLabControlError

KUBE_ENDPOINT = "https://kube.lab.invalid:6443"
KUBE_CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBdummyLabCertificate\n-----END CERTIFICATE-----\n"
WINDOWS_2022_CORE_131 = "Windows_Server-2022-English-Core-EKS_Optimized-1.31"
SSM_2022_CORE_131 = f"/aws/service/ami-windows-latest/{WINDOWS_2022_CORE_131}/image_id"
NODE_POLICIES = ["arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy", "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
                 "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"]

NODEGROUP_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Description: Windows node group (lab test)
Parameters:
  NodeImageIdSSMParam:
    Type: AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>
    Default: /aws/service/ami-windows-latest/no-such-family/image_id
  ClusterName:
    Type: String
  DesiredCapacity:
    Type: Number
    Default: 2
  KeyName:
    Type: AWS::EC2::KeyPair::KeyName
  Subnets:
    Type: List<AWS::EC2::Subnet::Id>
  NodeSecurityGroups:
    Type: List<AWS::EC2::SecurityGroup::Id>
Resources:
  NodeInstanceRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {Service: [ec2.amazonaws.com]}, Action: ["sts:AssumeRole"]}
      ManagedPolicyArns:
        - !Sub arn:${AWS::Partition}:iam::aws:policy/AmazonEKSWorkerNodePolicy
        - !Sub arn:${AWS::Partition}:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly
        - !Sub arn:${AWS::Partition}:iam::aws:policy/AmazonEKS_CNI_Policy
      Path: /
  NodeInstanceProfile:
    Type: AWS::IAM::InstanceProfile
    Properties:
      Path: /
      Roles: [!Ref NodeInstanceRole]
  NodeLaunchTemplate:
    Type: AWS::EC2::LaunchTemplate
    Properties:
      LaunchTemplateData:
        BlockDeviceMappings:
          - DeviceName: /dev/sda1
            Ebs: {DeleteOnTermination: true, VolumeSize: 50, VolumeType: gp3}
        IamInstanceProfile:
          Arn: !GetAtt NodeInstanceProfile.Arn
        ImageId: !Ref NodeImageIdSSMParam
        InstanceType: m5.large
        KeyName: !Ref KeyName
        SecurityGroupIds: !Ref NodeSecurityGroups
        MetadataOptions:
          HttpPutResponseHopLimit: 2
          HttpEndpoint: enabled
          HttpTokens: required
  NodeGroup:
    Type: AWS::AutoScaling::AutoScalingGroup
    Properties:
      DesiredCapacity: !Ref DesiredCapacity
      LaunchTemplate:
        LaunchTemplateId: !Ref NodeLaunchTemplate
        Version: !GetAtt NodeLaunchTemplate.LatestVersionNumber
      MaxSize: 4
      MinSize: 1
      VPCZoneIdentifier: !Ref Subnets
      Tags:
        - {Key: Name, Value: !Sub "${ClusterName}-windows-node", PropagateAtLaunch: true}
        - {Key: !Sub "kubernetes.io/cluster/${ClusterName}", Value: owned, PropagateAtLaunch: true}
    UpdatePolicy:
      AutoScalingRollingUpdate:
        MaxBatchSize: 1
        MinInstancesInService: 2
        PauseTime: PT5M
Outputs:
  NodeInstanceRole:
    Value: !GetAtt NodeInstanceRole.Arn
  NodeAutoScalingGroup:
    Value: !Ref NodeGroup
"""


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module", name="lab")
def fixture_lab() -> Iterator[AwsLab]:
    lab = AwsLab(host="127.0.0.1", port=0, region="us-east-1", kubernetes_version="1.31", authentication_mode="CONFIG_MAP",
                 kube_endpoint=KUBE_ENDPOINT, kube_ca_pem=KUBE_CA_PEM).start()
    lab.seed()
    yield lab
    lab.stop()


@pytest.fixture(scope="module", name="facts")
def fixture_facts(lab: AwsLab) -> dict[str, Any]:
    return lab.facts


@pytest.fixture(scope="module", name="client")
def fixture_client(lab: AwsLab) -> Callable[[str], Any]:
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    config = Config(retries={"total_max_attempts": 1, "mode": "standard"})  # injected faults are counted per HTTP call
    cache: dict[str, Any] = {}

    def make(service: str) -> Any:
        if service not in cache:
            cache[service] = session.client(service, endpoint_url=lab.url, config=config)
        return cache[service]
    return make


@pytest.fixture(scope="module", name="control")
def fixture_control(lab: AwsLab) -> AwsLabControl:
    return lab.control


def error_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def error_message(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Message"])


def create_test_cluster(client: Callable[[str], Any], facts: dict[str, Any], name: str, mode: str) -> dict[str, Any]:
    return dict(client("eks").create_cluster(name=name, roleArn=facts["cluster_role_arn"], accessConfig={"authenticationMode": mode},
                                             resourcesVpcConfig={"subnetIds": facts["private_subnet_ids"]})["cluster"])


def create_role(client: Callable[[str], Any], name: str) -> str:
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                                "Action": "sts:AssumeRole"}]})
    return str(client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"])


def stack_parameters(facts: dict[str, Any], **overrides: str) -> list[dict[str, str]]:
    values = {"NodeImageIdSSMParam": SSM_2022_CORE_131, "ClusterName": "lab", "KeyName": facts["key_name"],
              "Subnets": ",".join(facts["private_subnet_ids"]), "NodeSecurityGroups": facts["linux_node_sg_id"]}
    values.update(overrides)
    return [{"ParameterKey": key, "ParameterValue": value} for key, value in values.items()]


def stack_events(client: Callable[[str], Any], stack: str) -> list[tuple[str, str, str]]:
    """(logical id, status, reason) oldest first."""
    found = client("cloudformation").describe_stack_events(StackName=stack)["StackEvents"]
    return [(event["LogicalResourceId"], event["ResourceStatus"], event.get("ResourceStatusReason", "")) for event in reversed(found)]


def group_instances(client: Callable[[str], Any], group_name: str) -> list[dict[str, Any]]:
    group = client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group_name])["AutoScalingGroups"][0]
    ids = [item["InstanceId"] for item in group["Instances"]]
    reservations = client("ec2").describe_instances(InstanceIds=ids)["Reservations"] if ids else []
    return [instance for reservation in reservations for instance in reservation["Instances"]]


def output(client: Callable[[str], Any], stack: str, key: str) -> str:
    outputs = client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs") or []
    return next(item["OutputValue"] for item in outputs if item["OutputKey"] == key)


# --------------------------------------------------------------------------- seeded world


def test_healthz_and_unknown_control_path(control: AwsLabControl) -> None:
    assert control.healthz() == {"ok": True, "region": "us-east-1", "clusters": {"lab": "ACTIVE"}}
    with pytest.raises(AwsLabControlError, match="404"):
        control._call("GET", "nope")  # pylint: disable=protected-access


def test_seeded_vpc_subnets_and_routes(client: Callable[[str], Any], facts: dict[str, Any]) -> None:
    ec2 = client("ec2")
    vpc_id = facts["vpc_id"]
    assert ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["CidrBlock"] == "10.0.0.0/16"
    for attribute in ("enableDnsSupport", "enableDnsHostnames"):
        key = attribute[0].upper() + attribute[1:]
        assert ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=attribute)[key]["Value"] is True
    subnets = {subnet["SubnetId"]: subnet for subnet in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]}
    for kind, role_tag, public in (("private", "kubernetes.io/role/internal-elb", False), ("public", "kubernetes.io/role/elb", True)):
        chosen = [subnets[subnet_id] for subnet_id in facts[f"{kind}_subnet_ids"]]
        assert sorted(subnet["AvailabilityZone"] for subnet in chosen) == ["us-east-1a", "us-east-1b"]
        assert all(subnet["MapPublicIpOnLaunch"] is public for subnet in chosen)
        assert all({"Key": role_tag, "Value": "1"} in subnet["Tags"] for subnet in chosen)
    nat = ec2.describe_nat_gateways(NatGatewayIds=[facts["nat_gateway_id"]])["NatGateways"][0]
    assert nat["SubnetId"] in facts["public_subnet_ids"]
    igw = ec2.describe_internet_gateways(InternetGatewayIds=[facts["internet_gateway_id"]])["InternetGateways"][0]
    assert igw["Attachments"][0]["VpcId"] == vpc_id
    tables = {table["RouteTableId"]: table for table in ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]}
    for table_id, subnet_ids, target in ((facts["private_route_table_id"], facts["private_subnet_ids"], ("NatGatewayId", facts["nat_gateway_id"])),
                                         (facts["public_route_table_id"], facts["public_subnet_ids"], ("GatewayId", facts["internet_gateway_id"]))):
        table = tables[table_id]
        default = next(route for route in table["Routes"] if route.get("DestinationCidrBlock") == "0.0.0.0/0")
        assert default[target[0]] == target[1]
        assert sorted(item["SubnetId"] for item in table["Associations"] if "SubnetId" in item) == sorted(subnet_ids)


def test_seeded_iam_roles_and_key(client: Callable[[str], Any], facts: dict[str, Any]) -> None:
    iam = client("iam")
    attached = {item["PolicyName"] for item in iam.list_attached_role_policies(RoleName="lab-cluster-role")["AttachedPolicies"]}
    assert attached == {"AmazonEKSClusterPolicy", "AmazonEKSVPCResourceController"}
    node = {item["PolicyArn"] for item in iam.list_attached_role_policies(RoleName="lab-linux-node-role")["AttachedPolicies"]}
    assert node == set(NODE_POLICIES)
    profile = iam.get_instance_profile(InstanceProfileName="lab-linux-node-profile")["InstanceProfile"]
    assert [role["Arn"] for role in profile["Roles"]] == [facts["linux_node_role_arn"]]
    assert client("ec2").describe_key_pairs(KeyNames=["lab-key"])["KeyPairs"][0]["KeyName"] == "lab-key"


def test_cluster_is_active_and_points_at_the_lab(client: Callable[[str], Any], facts: dict[str, Any]) -> None:
    cluster = client("eks").describe_cluster(name="lab")["cluster"]
    assert (cluster["status"], cluster["version"], cluster["platformVersion"]) == ("ACTIVE", "1.31", "eks.20")
    assert cluster["endpoint"] == KUBE_ENDPOINT
    assert base64.b64decode(cluster["certificateAuthority"]["data"]).decode() == KUBE_CA_PEM
    assert cluster["accessConfig"] == {"authenticationMode": "CONFIG_MAP"}
    vpc_config = cluster["resourcesVpcConfig"]
    assert vpc_config["securityGroupIds"] == [facts["control_plane_sg_id"]]
    assert vpc_config["vpcId"] == facts["vpc_id"] and vpc_config["clusterSecurityGroupId"] == facts["cluster_sg_id"]
    group = client("ec2").describe_security_groups(GroupIds=[facts["cluster_sg_id"]])["SecurityGroups"][0]
    assert {"Key": "kubernetes.io/cluster/lab", "Value": "owned"} in group["Tags"]
    linux_sg = client("ec2").describe_security_groups(GroupIds=[facts["linux_node_sg_id"]])["SecurityGroups"][0]
    assert linux_sg["GroupName"] == "lab-linux-node-sg" and {"Key": "kubernetes.io/cluster/lab", "Value": "owned"} in linux_sg["Tags"]


def test_linux_nodegroup_and_instance(client: Callable[[str], Any], facts: dict[str, Any]) -> None:
    eks = client("eks")
    assert eks.list_nodegroups(clusterName="lab")["nodegroups"] == ["lab-linux"]
    nodegroup = eks.describe_nodegroup(clusterName="lab", nodegroupName="lab-linux")["nodegroup"]
    assert nodegroup["nodeRole"] == facts["linux_node_role_arn"] and nodegroup["version"] == "1.31"
    instance = client("ec2").describe_instances(InstanceIds=[facts["linux_instance_id"]])["Reservations"][0]["Instances"][0]
    assert instance["State"]["Name"] == "running"
    assert instance["SubnetId"] == facts["private_subnet_ids"][0] and "PublicIpAddress" not in instance
    assert instance["IamInstanceProfile"]["Arn"] == facts["linux_node_instance_profile_arn"]
    assert instance["PrivateDnsName"] == facts["linux_node_name"] == f"ip-{instance['PrivateIpAddress'].replace('.', '-')}.ec2.internal"


def test_windows_amis_found_by_name_without_owner_and_newest_via_ssm(client: Callable[[str], Any], facts: dict[str, Any]) -> None:
    ec2, ssm = client("ec2"), client("ssm")
    filters = [{"Name": "name", "Values": [f"{WINDOWS_2022_CORE_131}-*"]}, {"Name": "is-public", "Values": ["true"]},
               {"Name": "state", "Values": ["available"]}, {"Name": "virtualization-type", "Values": ["hvm"]},
               {"Name": "root-device-type", "Values": ["ebs"]}]
    images = ec2.describe_images(Filters=filters)["Images"]
    assert len(images) == 2
    newest = max(images, key=lambda image: image["CreationDate"])
    assert newest["Name"].endswith("-2026.11.12")
    assert ssm.get_parameter(Name=SSM_2022_CORE_131)["Parameter"]["Value"] == newest["ImageId"]
    assert (newest["Platform"], newest["Architecture"], newest["ImageOwnerAlias"]) == ("windows", "x86_64", "amazon")
    assert newest["RootDeviceName"] == "/dev/sda1" and newest["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"] == 50
    assert len(ec2.describe_images(Owners=["amazon"], Filters=filters[:1])["Images"]) == 2
    owners = {image["OwnerId"] for image in ec2.describe_images(Filters=[{"Name": "name", "Values": ["Windows_Server-*-EKS_Optimized-*"]}])["Images"]}
    assert owners == {"801119661308", "957547624766"}
    assert "Windows_Server-2025-English-Full-EKS_Optimized-1.35" in facts["windows_amis"]
    assert "Windows_Server-2025-English-Full-EKS_Optimized-1.34" not in facts["windows_amis"]
    assert facts["windows_amis"][WINDOWS_2022_CORE_131]["image_id"] == newest["ImageId"]


def test_parent_ssm_parameter_is_a_json_blob(client: Callable[[str], Any]) -> None:
    blob = json.loads(client("ssm").get_parameter(Name=SSM_2022_CORE_131.rsplit("/", 1)[0])["Parameter"]["Value"])
    assert set(blob) == {"image_id", "image_name", "release_version"}
    assert blob["release_version"] == "1.31-2026.11.12" and blob["image_name"] == f"{WINDOWS_2022_CORE_131}-2026.11.12"
    pages = client("ssm").get_paginator("get_parameters_by_path").paginate(Path="/aws/service/ami-windows-latest", Recursive=True)
    names = {item["Name"] for page in pages for item in page["Parameters"]}
    assert SSM_2022_CORE_131 in names and len(names) == 2 * 30  # 30 families of 1.29-1.35, each with its JSON parent


def test_ssm_and_ami_can_be_changed_at_run_time(client: Callable[[str], Any], control: AwsLabControl) -> None:
    ssm, ec2 = client("ssm"), client("ec2")
    name = "/aws/service/ami-windows-latest/Windows_Server-2019-English-Full-EKS_Optimized-1.30/image_id"
    value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    assert control.delete_ssm_parameter(name) is True
    with pytest.raises(ClientError) as error:
        ssm.get_parameter(Name=name)
    assert error_code(error) == "ParameterNotFound"
    control.put_ssm_parameter(name, value)
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == value
    image_id = control.add_image("Windows_Server-2022-English-Core-EKS_Optimized-1.28-2026.11.12", platform="windows", owner_id="055183720277")
    assert ec2.describe_images(ImageIds=[image_id])["Images"][0]["OwnerId"] == "055183720277"
    assert control.remove_image(image_id) is True
    assert ec2.describe_images(Filters=[{"Name": "image-id", "Values": [image_id]}])["Images"] == []


# --------------------------------------------------------------------------- EKS


def test_authentication_mode_moves_forward_only(client: Callable[[str], Any], facts: dict[str, Any]) -> None:
    eks = client("eks")
    assert create_test_cluster(client, facts, "auth-modes", "CONFIG_MAP")["accessConfig"] == {"authenticationMode": "CONFIG_MAP"}
    with pytest.raises(ClientError) as error:
        eks.update_cluster_config(name="auth-modes", accessConfig={"authenticationMode": "API"})
    assert error_code(error) == "InvalidParameterException" and "CONFIG_MAP to API" in error_message(error)
    update = eks.update_cluster_config(name="auth-modes", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})["update"]
    assert (update["type"], update["status"], update["params"]) == ("AccessConfigUpdate", "Successful",
                                                                    [{"type": "AuthenticationMode", "value": "API_AND_CONFIG_MAP"}])
    assert eks.describe_update(name="auth-modes", updateId=update["id"])["update"]["id"] == update["id"]
    assert eks.list_updates(name="auth-modes")["updateIds"] == [update["id"]]
    assert eks.describe_cluster(name="auth-modes")["cluster"]["accessConfig"]["authenticationMode"] == "API_AND_CONFIG_MAP"
    for backwards in ("CONFIG_MAP", "API_AND_CONFIG_MAP"):
        with pytest.raises(ClientError) as error:
            eks.update_cluster_config(name="auth-modes", accessConfig={"authenticationMode": backwards})
        assert error_code(error) == "InvalidParameterException"
        if backwards == "CONFIG_MAP":
            eks.update_cluster_config(name="auth-modes", accessConfig={"authenticationMode": "API"})
    assert eks.describe_cluster(name="auth-modes")["cluster"]["accessConfig"]["authenticationMode"] == "API"


def test_access_entries_need_an_api_mode(client: Callable[[str], Any], facts: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as error:
        client("eks").create_access_entry(clusterName="lab", principalArn=facts["linux_node_role_arn"], type="EC2_LINUX")
    assert error_code(error) == "InvalidRequestException"
    assert "must be set to one of [API, API_AND_CONFIG_MAP]" in error_message(error)


def test_access_entry_rules(client: Callable[[str], Any], facts: dict[str, Any]) -> None:  # pylint: disable=too-many-statements
    eks = client("eks")
    create_test_cluster(client, facts, "entries", "API_AND_CONFIG_MAP")
    windows_role, admin_role = create_role(client, "entries-windows-node"), create_role(client, "entries-admin")
    entry = eks.create_access_entry(clusterName="entries", principalArn=windows_role, type="EC2_WINDOWS")["accessEntry"]
    assert (entry["type"], entry["username"]) == ("EC2_WINDOWS", "system:node:{{EC2PrivateDNSName}}")
    with pytest.raises(ClientError) as error:
        eks.create_access_entry(clusterName="entries", principalArn=windows_role, type="EC2_WINDOWS")
    assert error_code(error) == "ResourceInUseException"
    with pytest.raises(ClientError) as error:
        eks.associate_access_policy(clusterName="entries", principalArn=windows_role, accessScope={"type": "cluster"},
                                    policyArn="arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy")
    assert error_code(error) == "InvalidRequestException"
    with pytest.raises(ClientError) as error:
        eks.create_access_entry(clusterName="entries", principalArn=admin_role, type="EC2_LINUX", kubernetesGroups=["nodes"])
    assert error_code(error) == "InvalidParameterException"
    with pytest.raises(ClientError) as error:
        eks.create_access_entry(clusterName="entries", principalArn=admin_role, kubernetesGroups=["system:masters"])
    assert error_code(error) == "InvalidParameterException" and "cannot start with system:" in error_message(error)
    for bad in ("arn:aws:iam::999999999999:role/elsewhere", "arn:aws:sts::123456789012:assumed-role/x/y", "arn:aws:iam::123456789012:role/missing"):
        with pytest.raises(ClientError) as error:
            eks.create_access_entry(clusterName="entries", principalArn=bad)
        assert error_code(error) == "InvalidParameterException", bad
    admin = eks.create_access_entry(clusterName="entries", principalArn=admin_role, kubernetesGroups=["lab-admins"])["accessEntry"]
    assert admin["type"] == "STANDARD" and admin["username"] == "arn:aws:sts::123456789012:assumed-role/entries-admin/{{SessionName}}"
    policy = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
    eks.associate_access_policy(clusterName="entries", principalArn=admin_role, policyArn=policy,
                                accessScope={"type": "namespace", "namespaces": ["default"]})
    associated = eks.list_associated_access_policies(clusterName="entries", principalArn=admin_role)["associatedAccessPolicies"]
    assert [(item["policyArn"], item["accessScope"]) for item in associated] == [(policy, {"type": "namespace", "namespaces": ["default"]})]
    eks.disassociate_access_policy(clusterName="entries", principalArn=admin_role, policyArn=policy)
    assert eks.list_associated_access_policies(clusterName="entries", principalArn=admin_role)["associatedAccessPolicies"] == []
    updated = eks.update_access_entry(clusterName="entries", principalArn=admin_role, kubernetesGroups=["lab-viewers"])["accessEntry"]
    assert updated["kubernetesGroups"] == ["lab-viewers"]
    fargate_role = create_role(client, "entries-fargate")
    assert eks.create_access_entry(clusterName="entries", principalArn=fargate_role, type="FARGATE_LINUX")["accessEntry"]["type"] == "FARGATE_LINUX"
    eks.create_nodegroup(clusterName="entries", nodegroupName="linux", nodeRole=facts["linux_node_role_arn"], subnets=facts["private_subnet_ids"])
    pages = eks.get_paginator("list_access_entries").paginate(clusterName="entries", PaginationConfig={"PageSize": 2})
    listed = [arn for page in pages for arn in page["accessEntries"]]
    assert sorted(listed) == sorted([windows_role, admin_role, fargate_role, facts["linux_node_role_arn"]])
    node_entry = eks.describe_access_entry(clusterName="entries", principalArn=facts["linux_node_role_arn"])["accessEntry"]
    assert node_entry["type"] == "EC2_LINUX"  # EKS creates it for the managed node group's role
    eks.delete_access_entry(clusterName="entries", principalArn=windows_role)
    with pytest.raises(ClientError) as error:
        eks.describe_access_entry(clusterName="entries", principalArn=windows_role)
    assert error_code(error) == "ResourceNotFoundException"


def test_addon_configuration_round_trip(client: Callable[[str], Any]) -> None:
    eks = client("eks")
    versions = eks.describe_addon_versions(addonName="vpc-cni", kubernetesVersion="1.31")["addons"][0]["addonVersions"]
    default = next(item["addonVersion"] for item in versions if item["compatibilities"][0]["defaultVersion"])
    schema = json.loads(eks.describe_addon_configuration(addonName="vpc-cni", addonVersion=default)["configurationSchema"])
    assert "enableWindowsIpam" in schema["properties"]
    values = json.dumps({"enableWindowsIpam": "true"})
    addon = eks.create_addon(clusterName="lab", addonName="vpc-cni", configurationValues=values, resolveConflicts="OVERWRITE")["addon"]
    assert (addon["addonVersion"], addon["configurationValues"], addon["status"]) == (default, values, "ACTIVE")
    assert eks.list_addons(clusterName="lab")["addons"] == ["vpc-cni"]
    new_values = json.dumps({"enableWindowsIpam": "true", "enableWindowsPrefixDelegation": "true", "warmWindowsPrefixTarget": 1})
    update = eks.update_addon(clusterName="lab", addonName="vpc-cni", configurationValues=new_values)["update"]
    assert update["type"] == "AddonUpdate" and {"type": "ConfigurationValues", "value": new_values} in update["params"]
    assert eks.describe_addon(clusterName="lab", addonName="vpc-cni")["addon"]["configurationValues"] == new_values
    assert eks.list_updates(name="lab", addonName="vpc-cni")["updateIds"] == [update["id"]]
    for bad, problem in (({"enableWindowsIpam": True}, "boolean found, string expected"), ({"enableWindowsIPAM": "true"}, "is not defined")):
        with pytest.raises(ClientError) as error:
            eks.update_addon(clusterName="lab", addonName="vpc-cni", configurationValues=json.dumps(bad))
        assert error_code(error) == "InvalidParameterException" and problem in error_message(error)
    assert eks.delete_addon(clusterName="lab", addonName="vpc-cni")["addon"]["status"] == "DELETING"
    with pytest.raises(ClientError) as error:
        eks.describe_addon(clusterName="lab", addonName="vpc-cni")
    assert error_code(error) == "ResourceNotFoundException"


def test_pod_identity_associations_one_per_service_account_and_those_of_an_add_on_only_through_it(client: Callable[[str], Any]) -> None:
    eks = client("eks")
    role = create_role(client, "pia-role")
    created = eks.create_pod_identity_association(clusterName="lab", namespace="apps", serviceAccount="web", roleArn=role)["association"]
    assert created["associationId"].startswith("a-") and created["roleArn"] == role and "ownerArn" not in created
    with pytest.raises(ClientError) as error:
        eks.create_pod_identity_association(clusterName="lab", namespace="apps", serviceAccount="web", roleArn=role)
    assert error_code(error) == "ResourceInUseException" and created["associationId"] in error_message(error)
    listed = eks.list_pod_identity_associations(clusterName="lab", namespace="apps", serviceAccount="web")["associations"]
    assert [item["associationId"] for item in listed] == [created["associationId"]]
    assert eks.list_pod_identity_associations(clusterName="lab", namespace="other")["associations"] == []

    # An add-on's associations: made, changed and removed with UpdateAddon; its update without them keeps them.
    eks.create_addon(clusterName="lab", addonName="vpc-cni")
    eks.update_addon(clusterName="lab", addonName="vpc-cni", podIdentityAssociations=[{"serviceAccount": "aws-node", "roleArn": role}])
    owned = eks.list_pod_identity_associations(clusterName="lab", namespace="kube-system", serviceAccount="aws-node")["associations"]
    assert len(owned) == 1 and owned[0]["ownerArn"] == eks.describe_addon(clusterName="lab", addonName="vpc-cni")["addon"]["addonArn"]
    assert eks.describe_addon(clusterName="lab", addonName="vpc-cni")["addon"]["podIdentityAssociations"] == [owned[0]["associationArn"]]
    with pytest.raises(ClientError) as error:
        eks.delete_pod_identity_association(clusterName="lab", associationId=owned[0]["associationId"])
    assert error_code(error) == "InvalidRequestException" and "UpdateAddon" in error_message(error)
    eks.update_addon(clusterName="lab", addonName="vpc-cni", resolveConflicts="PRESERVE")
    assert len(eks.list_pod_identity_associations(clusterName="lab", serviceAccount="aws-node")["associations"]) == 1
    eks.update_addon(clusterName="lab", addonName="vpc-cni", podIdentityAssociations=[])
    assert eks.list_pod_identity_associations(clusterName="lab", serviceAccount="aws-node")["associations"] == []
    assert eks.describe_addon(clusterName="lab", addonName="vpc-cni")["addon"]["podIdentityAssociations"] == []
    eks.delete_addon(clusterName="lab", addonName="vpc-cni")

    deleted = eks.delete_pod_identity_association(clusterName="lab", associationId=created["associationId"])["association"]
    assert deleted["associationId"] == created["associationId"]
    with pytest.raises(ClientError) as error:
        eks.describe_pod_identity_association(clusterName="lab", associationId=created["associationId"])
    assert error_code(error) == "ResourceNotFoundException"


def test_cluster_status_can_be_forced_and_flips_back(client: Callable[[str], Any], control: AwsLabControl) -> None:
    eks = client("eks")
    assert control.set_cluster_status("lab", "CREATING", after_seconds=0.3)["status"] == "CREATING"
    assert eks.describe_cluster(name="lab")["cluster"]["status"] == "CREATING"
    time.sleep(0.35)
    assert eks.describe_cluster(name="lab")["cluster"]["status"] == "ACTIVE"
    control.set_cluster_status("lab", "FAILED")
    assert eks.describe_cluster(name="lab")["cluster"]["status"] == "FAILED"
    control.set_cluster_status("lab", "ACTIVE")
    with pytest.raises(AwsLabControlError, match="400"):
        control.set_cluster_status("lab", "SLEEPING")


# --------------------------------------------------------------------------- faults


def test_a_stalled_call_is_held_then_served(client: Callable[[str], Any], control: AwsLabControl) -> None:
    control.add_fault("ec2", "DescribeRegions", "Stall", stall_seconds=0.6)
    assert [rule["code"] for rule in control.faults()] == ["Stall"]
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        call = pool.submit(lambda: client("ec2").describe_regions()["Regions"])
        while control.held_calls() == 0:  # counted from the hold to the end of the answer
            assert not call.done() and time.monotonic() - started < 0.6
            time.sleep(0.02)
        regions = call.result()
    assert regions and time.monotonic() - started >= 0.6
    assert control.faults() == [] and control.held_calls() == 0


def test_injected_faults_use_each_protocol(client: Callable[[str], Any], control: AwsLabControl) -> None:
    control.add_fault("cloudformation", "CreateChangeSet", "Throttling", count=2)
    control.add_fault("eks", "DescribeCluster", "ServiceUnavailableException", status=503)
    control.add_fault("ssm", "GetParameter", "ThrottlingException")
    control.add_fault("ec2", "DescribeImages", "RequestLimitExceeded", status=503)
    for _attempt in range(2):
        with pytest.raises(ClientError) as error:
            client("cloudformation").create_change_set(StackName="nope", ChangeSetName="c1", TemplateBody="{}")
        assert error_code(error) == "Throttling" and error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as error:
        client("cloudformation").create_change_set(StackName="nope", ChangeSetName="c1", TemplateBody="{}")
    assert error_code(error) == "ValidationError"  # the fault is used up: the real answer again
    for call, code, status in ((lambda: client("eks").describe_cluster(name="lab"), "ServiceUnavailableException", 503),
                               (lambda: client("ssm").get_parameter(Name=SSM_2022_CORE_131), "ThrottlingException", 400),
                               (lambda: client("ec2").describe_images(ImageIds=["ami-12345678"]), "RequestLimitExceeded", 503)):
        with pytest.raises(ClientError) as error:
            call()
        assert (error_code(error), error.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)
    assert control.faults() == []
    control.add_fault("iam", "*", "ServiceFailure", status=500, count=5)
    control.clear_faults()
    assert client("iam").get_role(RoleName="lab-cluster-role")["Role"]["RoleName"] == "lab-cluster-role"


# --------------------------------------------------------------------------- CloudFormation


def test_iam_resources_need_capabilities(client: Callable[[str], Any], facts: dict[str, Any]) -> None:
    cloudformation = client("cloudformation")
    with pytest.raises(ClientError) as error:
        cloudformation.create_stack(StackName="caps", TemplateBody=NODEGROUP_TEMPLATE, Parameters=stack_parameters(facts))
    assert error_code(error) == "InsufficientCapabilitiesException" and "CAPABILITY_IAM" in error_message(error)
    named = NODEGROUP_TEMPLATE.replace("      Path: /\n  NodeInstanceProfile:", "      Path: /\n      RoleName: caps-role\n  NodeInstanceProfile:")
    with pytest.raises(ClientError) as error:
        cloudformation.create_stack(StackName="caps", TemplateBody=named, Parameters=stack_parameters(facts), Capabilities=["CAPABILITY_IAM"])
    assert "CAPABILITY_NAMED_IAM" in error_message(error)
    assert not [s for s in cloudformation.list_stacks()["StackSummaries"] if s["StackName"] == "caps"]


def test_template_validation(client: Callable[[str], Any], facts: dict[str, Any]) -> None:
    cloudformation = client("cloudformation")
    validated = cloudformation.validate_template(TemplateBody=NODEGROUP_TEMPLATE)
    assert validated["Capabilities"] == ["CAPABILITY_IAM"] and "AWS::IAM::Role" in validated["CapabilitiesReason"]
    assert {item["ParameterKey"] for item in validated["Parameters"]} >= {"NodeImageIdSSMParam", "Subnets", "KeyName"}
    unknown = NODEGROUP_TEMPLATE.replace("Type: AWS::AutoScaling::AutoScalingGroup", "Type: AWS::Nope::Thing")
    with pytest.raises(ClientError) as error:
        cloudformation.create_stack(StackName="unknown-type", TemplateBody=unknown, Capabilities=["CAPABILITY_IAM"], Parameters=stack_parameters(facts))
    assert "Unrecognized resource types: [AWS::Nope::Thing]" in error_message(error)


def test_templates_are_parsed_with_libyaml_into_what_the_pure_python_loader_makes() -> None:
    """The lab's CPU is the machine's: moto's CloudFormation code parses with libyaml, to the same documents."""
    import moto.cloudformation.models  # pylint: disable=import-outside-toplevel
    import yaml  # pylint: disable=import-outside-toplevel
    from moto.cloudformation.utils import yaml_tag_constructor  # pylint: disable=import-outside-toplevel

    from lab.aws.patches import install_all  # pylint: disable=import-outside-toplevel
    install_all()
    assert moto.cloudformation.models.yaml.Loader is yaml.CLoader
    parsed = moto.cloudformation.models.Stack.parse_template(NODEGROUP_TEMPLATE)
    loader = type("PurePythonLoader", (yaml.Loader,), {})
    yaml.add_multi_constructor("", yaml_tag_constructor, Loader=loader)
    assert parsed == yaml.load(NODEGROUP_TEMPLATE, Loader=loader)  # noqa: S506  # the short-form tags (!Ref, !Sub) included
    assert parsed["Resources"]["NodeInstanceProfile"]["Properties"]["Roles"] == [{"Ref": "NodeInstanceRole"}]
    assert moto.cloudformation.models.Stack.parse_template(json.dumps({"Resources": {}})) == {"Resources": {}}


def test_missing_ssm_parameter_is_a_validation_error(client: Callable[[str], Any], facts: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as error:
        client("cloudformation").create_stack(StackName="no-ssm", TemplateBody=NODEGROUP_TEMPLATE, Capabilities=["CAPABILITY_IAM"],
                                              Parameters=stack_parameters(facts, NodeImageIdSSMParam="/aws/service/ami-windows-latest/nope"))
    assert error_code(error) == "ValidationError" and "Unable to fetch parameters [/aws/service/ami-windows-latest/nope]" in error_message(error)
    with pytest.raises(ClientError) as error:
        client("cloudformation").create_stack(StackName="no-key", TemplateBody=NODEGROUP_TEMPLATE, Capabilities=["CAPABILITY_IAM"],
                                              Parameters=stack_parameters(facts, KeyName="missing-key"))
    assert "parameter value missing-key for parameter name KeyName does not exist" in error_message(error)


def test_stack_create_update_and_delete(client: Callable[[str], Any], facts: dict[str, Any],  # pylint: disable=too-many-locals,too-many-statements
                                        control: AwsLabControl) -> None:
    cloudformation, ec2, iam = client("cloudformation"), client("ec2"), client("iam")
    stack_id = cloudformation.create_stack(StackName="windows-ng", TemplateBody=NODEGROUP_TEMPLATE, Capabilities=["CAPABILITY_IAM"],
                                           Parameters=stack_parameters(facts))["StackId"]
    stack = cloudformation.describe_stacks(StackName="windows-ng")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    parameters = {item["ParameterKey"]: item for item in stack["Parameters"]}
    assert parameters["Subnets"]["ParameterValue"] == ",".join(facts["private_subnet_ids"])
    image_id = facts["windows_amis"][WINDOWS_2022_CORE_131]["image_id"]
    assert (parameters["NodeImageIdSSMParam"]["ParameterValue"], parameters["NodeImageIdSSMParam"]["ResolvedValue"]) == (SSM_2022_CORE_131, image_id)
    role_name = output(client, "windows-ng", "NodeInstanceRole").rsplit("/", 1)[1]
    assert {item["PolicyArn"] for item in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]} == set(NODE_POLICIES)
    created = [(logical_id, status) for logical_id, status, _reason in stack_events(client, "windows-ng")]
    for logical_id in ("NodeInstanceRole", "NodeInstanceProfile", "NodeLaunchTemplate", "NodeGroup"):
        assert created.index((logical_id, "CREATE_IN_PROGRESS")) < created.index((logical_id, "CREATE_COMPLETE"))
    assert created[0] == ("windows-ng", "CREATE_IN_PROGRESS") and created[-1] == ("windows-ng", "CREATE_COMPLETE")

    group_name = output(client, "windows-ng", "NodeAutoScalingGroup")
    instances = group_instances(client, group_name)
    profile_arn = iam.get_instance_profile(InstanceProfileName=iam.list_instance_profiles_for_role(RoleName=role_name)["InstanceProfiles"][0][
        "InstanceProfileName"])["InstanceProfile"]["Arn"]
    assert len(instances) == 2 and {instance["SubnetId"] for instance in instances} == set(facts["private_subnet_ids"])
    for instance in instances:
        assert instance["ImageId"] == image_id and instance["IamInstanceProfile"]["Arn"] == profile_arn
        assert (instance["MetadataOptions"]["HttpTokens"], instance["MetadataOptions"]["HttpPutResponseHopLimit"]) == ("required", 2)
        assert instance["PrivateDnsName"].endswith(".ec2.internal") and "PublicIpAddress" not in instance

    # the same template and parameters again: nothing to do, and no second stack of the same name
    with pytest.raises(ClientError) as error:
        cloudformation.update_stack(StackName="windows-ng", TemplateBody=NODEGROUP_TEMPLATE, Capabilities=["CAPABILITY_IAM"],
                                    Parameters=stack_parameters(facts))
    assert error_message(error) == "No updates are to be performed."
    empty = cloudformation.create_change_set(StackName="windows-ng", ChangeSetName="same", TemplateBody=NODEGROUP_TEMPLATE,
                                             Capabilities=["CAPABILITY_IAM"], Parameters=stack_parameters(facts))
    assert empty["StackId"] == stack_id
    described = cloudformation.describe_change_set(StackName="windows-ng", ChangeSetName="same")
    assert (described["Status"], described["ExecutionStatus"]) == ("FAILED", "UNAVAILABLE")
    assert described["StatusReason"] == "The submitted information didn't contain changes. Submit different information to create a change set."
    assert [s["StackId"] for s in cloudformation.list_stacks()["StackSummaries"] if s["StackName"] == "windows-ng"] == [stack_id]

    # AWS publishes a newer AMI: an update with previous values re-resolves the SSM parameter and rolls the group in place
    newer = control.add_image(f"{WINDOWS_2022_CORE_131}-2026.12.01", platform="windows", creation_date="2026-12-01T08:00:00Z")
    control.put_ssm_parameter(SSM_2022_CORE_131, newer)
    previous = [{"ParameterKey": key, "UsePreviousValue": True}
                for key in ("NodeImageIdSSMParam", "ClusterName", "KeyName", "Subnets", "NodeSecurityGroups")]
    cloudformation.create_change_set(StackName="windows-ng", ChangeSetName="newer-ami", UsePreviousTemplate=True, Capabilities=["CAPABILITY_IAM"],
                                     Parameters=previous)
    planned = cloudformation.describe_change_set(StackName="windows-ng", ChangeSetName="newer-ami")["Changes"]
    assert {(item["ResourceChange"]["LogicalResourceId"], item["ResourceChange"]["Action"]) for item in planned} == {
        ("NodeLaunchTemplate", "Modify"), ("NodeGroup", "Modify")}
    cloudformation.delete_change_set(StackName="windows-ng", ChangeSetName="newer-ami")
    cloudformation.update_stack(StackName="windows-ng", UsePreviousTemplate=True, Capabilities=["CAPABILITY_IAM"], Parameters=previous)
    # the rolling update runs in batches while the stack is UPDATE_IN_PROGRESS (PauseTime PT5M scaled down by the lab)
    assert cloudformation.describe_stacks(StackName="windows-ng")["Stacks"][0]["StackStatus"] == "UPDATE_IN_PROGRESS"
    cloudformation.get_waiter("stack_update_complete").wait(StackName="windows-ng", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    assert output(client, "windows-ng", "NodeAutoScalingGroup") == group_name
    rolled = group_instances(client, group_name)
    assert len(rolled) == 2 and {instance["ImageId"] for instance in rolled} == {newer}
    assert not {instance["InstanceId"] for instance in rolled} & {instance["InstanceId"] for instance in instances}
    assert all({"Key": "aws:ec2launchtemplate:version", "Value": "2"} in instance["Tags"] for instance in rolled)
    updates = stack_events(client, "windows-ng")
    assert ("NodeLaunchTemplate", "UPDATE_COMPLETE", "") in updates and ("NodeGroup", "UPDATE_COMPLETE", "") in updates
    assert any(logical_id == "NodeGroup" and reason.startswith("Rolling update initiated") for logical_id, _status, reason in updates)

    # a change set without ChangeSetType updates the existing stack
    change_set = cloudformation.create_change_set(StackName="windows-ng", ChangeSetName="scale", UsePreviousTemplate=True,
                                                  Capabilities=["CAPABILITY_IAM"], Parameters=previous + [
                                                      {"ParameterKey": "DesiredCapacity", "ParameterValue": "3"}])
    assert change_set["StackId"] == stack_id
    described = cloudformation.describe_change_set(StackName="windows-ng", ChangeSetName="scale")
    assert described["Status"] == "CREATE_COMPLETE"
    assert {(item["ResourceChange"]["LogicalResourceId"], item["ResourceChange"]["Action"]) for item in described["Changes"]} == {("NodeGroup", "Modify")}
    cloudformation.execute_change_set(StackName="windows-ng", ChangeSetName="scale")
    assert len(group_instances(client, group_name)) == 3
    assert cloudformation.list_change_sets(StackName="windows-ng")["Summaries"][0]["ExecutionStatus"] == "EXECUTE_COMPLETE"

    cloudformation.delete_stack(StackName="windows-ng")
    deleted = stack_events(client, stack_id)
    assert ("NodeGroup", "DELETE_COMPLETE", "") in deleted and deleted[-1][:2] == ("windows-ng", "DELETE_COMPLETE")
    assert client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group_name])["AutoScalingGroups"] == []
    assert role_name not in [role["RoleName"] for role in iam.list_roles()["Roles"]]
    assert ec2.describe_instances(InstanceIds=[instance["InstanceId"] for instance in rolled])["Reservations"][0]["Instances"][0][
        "State"]["Name"] == "terminated"


def test_create_change_set_produces_a_complete_stack(client: Callable[[str], Any], facts: dict[str, Any]) -> None:
    cloudformation = client("cloudformation")
    with pytest.raises(ClientError) as error:
        cloudformation.create_change_set(StackName="via-change-set", ChangeSetName="c1", TemplateBody=NODEGROUP_TEMPLATE,
                                         Capabilities=["CAPABILITY_IAM"], Parameters=stack_parameters(facts))
    assert "does not exist" in error_message(error)  # ChangeSetType defaults to UPDATE
    cloudformation.create_change_set(StackName="via-change-set", ChangeSetName="c1", ChangeSetType="CREATE", TemplateBody=NODEGROUP_TEMPLATE,
                                     Capabilities=["CAPABILITY_IAM"], Parameters=stack_parameters(facts, DesiredCapacity="1"))
    assert cloudformation.describe_stacks(StackName="via-change-set")["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    cloudformation.execute_change_set(StackName="via-change-set", ChangeSetName="c1")
    stack = cloudformation.describe_stacks(StackName="via-change-set")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE" and stack["Description"] == "Windows node group (lab test)"
    assert len(group_instances(client, output(client, "via-change-set", "NodeAutoScalingGroup"))) == 1
    with pytest.raises(ClientError) as error:
        cloudformation.create_change_set(StackName="via-change-set", ChangeSetName="c2", ChangeSetType="CREATE",
                                         TemplateBody=NODEGROUP_TEMPLATE, Capabilities=["CAPABILITY_IAM"], Parameters=stack_parameters(facts))
    assert "already exists" in error_message(error)
    cloudformation.delete_stack(StackName="via-change-set")


def test_armed_stack_failure_rolls_back(client: Callable[[str], Any], facts: dict[str, Any], control: AwsLabControl) -> None:
    cloudformation = client("cloudformation")
    reason = "Instance i-0lab failed to launch (forced by the test)"
    control.fail_next_stack_create("failing-ng", "NodeGroup", "AWS::AutoScaling::AutoScalingGroup", reason)
    cloudformation.create_stack(StackName="failing-ng", TemplateBody=NODEGROUP_TEMPLATE, Capabilities=["CAPABILITY_IAM"],
                                Parameters=stack_parameters(facts))
    stack = cloudformation.describe_stacks(StackName="failing-ng")["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE" and "Outputs" not in stack
    happened = stack_events(client, "failing-ng")
    assert ("NodeGroup", "CREATE_FAILED", reason) in happened
    assert ("failing-ng", "ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: [NodeGroup]. Rollback requested by user.") in happened
    assert ("NodeInstanceRole", "DELETE_COMPLETE", "") in happened and happened[-1][:2] == ("failing-ng", "ROLLBACK_COMPLETE")
    assert not [role for role in client("iam").list_roles()["Roles"] if role["RoleName"].startswith("failing-ng-")]
    assert control.armed_stack_failures() == []
    with pytest.raises(ClientError) as error:
        cloudformation.update_stack(StackName="failing-ng", TemplateBody=NODEGROUP_TEMPLATE, Capabilities=["CAPABILITY_IAM"],
                                    Parameters=stack_parameters(facts, DesiredCapacity="1"))
    assert "is in ROLLBACK_COMPLETE state and can not be updated" in error_message(error)
    cloudformation.delete_stack(StackName="failing-ng")
    statuses = {s["StackStatus"] for s in cloudformation.list_stacks()["StackSummaries"] if s["StackName"] == "failing-ng"}
    assert statuses == {"DELETE_COMPLETE"}


def test_launch_template_and_public_subnet_instances(client: Callable[[str], Any], facts: dict[str, Any]) -> None:
    ec2 = client("ec2")
    template_id = ec2.create_launch_template(LaunchTemplateName="lab-lt", LaunchTemplateData={
        "ImageId": facts["linux_ami_id"], "InstanceType": "t3.medium",
        "IamInstanceProfile": {"Arn": facts["linux_node_instance_profile_arn"]},
        "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2}})["LaunchTemplate"]["LaunchTemplateId"]
    instances = ec2.run_instances(MinCount=2, MaxCount=2, LaunchTemplate={"LaunchTemplateId": template_id},
                                  SubnetId=facts["public_subnet_ids"][1])["Instances"]
    described = ec2.describe_instances(InstanceIds=[instance["InstanceId"] for instance in instances])["Reservations"][0]["Instances"]
    for instance in described:
        assert instance["IamInstanceProfile"]["Arn"] == facts["linux_node_instance_profile_arn"]
        assert instance["MetadataOptions"]["HttpTokens"] == "required" and instance["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
        assert instance.get("PublicIpAddress") and instance["PrivateDnsName"].startswith("ip-10-0-14")
    explicit = ec2.run_instances(ImageId=facts["linux_ami_id"], MinCount=2, MaxCount=2, SubnetId=facts["private_subnet_ids"][0],
                                 IamInstanceProfile={"Name": facts["linux_node_instance_profile_name"]})["Instances"]
    instances += explicit
    profiles = [item.get("IamInstanceProfile", {}).get("Arn") for reservation in ec2.describe_instances(
        InstanceIds=[instance["InstanceId"] for instance in explicit])["Reservations"] for item in reservation["Instances"]]
    assert profiles == [facts["linux_node_instance_profile_arn"]] * 2  # moto associated the first instance only
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"] for instance in instances])


def test_terminating_with_a_lower_desired_capacity_keeps_the_minimum_size(client: Callable[[str], Any], facts: dict[str, Any]) -> None:
    image_id = next(iter(facts["windows_amis"].values()))["image_id"]
    data = {"ImageId": image_id, "InstanceType": "m5.large"}
    template = client("ec2").create_launch_template(LaunchTemplateName="lab-min-size", LaunchTemplateData=data)
    autoscaling = client("autoscaling")
    autoscaling.create_auto_scaling_group(AutoScalingGroupName="lab-min-size", MinSize=1, MaxSize=2, DesiredCapacity=2,
                                          LaunchTemplate={"LaunchTemplateId": template["LaunchTemplate"]["LaunchTemplateId"]},
                                          VPCZoneIdentifier=facts["private_subnet_ids"][0])
    try:
        first, second = (item["InstanceId"] for item in group_instances(client, "lab-min-size"))
        autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=first, ShouldDecrementDesiredCapacity=True)
        with pytest.raises(ClientError) as refused:
            autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=second, ShouldDecrementDesiredCapacity=True)
        assert error_code(refused) == "ValidationError"
        assert refused.value.response["Error"]["Message"] == (
            "Currently, desiredSize equals minSize (1). Terminating instance without replacement will violate group's min size constraint. "
            "Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.")
        group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["lab-min-size"])["AutoScalingGroups"][0]
        assert group["DesiredCapacity"] == 1 and [item["InstanceId"] for item in group["Instances"]] == [second]
        autoscaling.update_auto_scaling_group(AutoScalingGroupName="lab-min-size", MinSize=0)
        autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=second, ShouldDecrementDesiredCapacity=True)
        group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["lab-min-size"])["AutoScalingGroups"][0]
        assert group["DesiredCapacity"] == 0 and group["Instances"] == []
    finally:
        autoscaling.delete_auto_scaling_group(AutoScalingGroupName="lab-min-size", ForceDelete=True)
        client("ec2").delete_launch_template(LaunchTemplateName="lab-min-size")


def test_reset_and_reseed_with_a_managed_vpc_cni(lab: AwsLab, client: Callable[[str], Any]) -> None:
    lab.managed_vpc_cni = True
    lab.reset()
    assert client("cloudformation").list_stacks()["StackSummaries"] == []
    facts = lab.seed()
    addon = client("eks").describe_addon(clusterName="lab", addonName="vpc-cni")["addon"]
    assert addon["status"] == "ACTIVE" and facts["managed_vpc_cni"] is True
    assert client("eks").list_clusters()["clusters"] == ["lab"]
