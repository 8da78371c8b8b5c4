"""The seeded world: a VPC with private and public subnets, an ACTIVE EKS cluster with a Linux node group and
one Linux instance, and the EKS-optimized Windows AMIs with their public SSM parameters.

Everything the AWS API can create is created through boto3 against the running lab, so the seed exercises the
same code paths as the product; only AMIs owned by AWS, public SSM parameters and AWS managed policies are put
into moto directly (``lab.aws.catalog``).
"""

from __future__ import annotations

import functools
import json
from typing import Any

import boto3

from lab.aws import catalog
from lab.aws.constants import (
    ACCOUNT_ID,
    AZ_SUFFIXES,
    CLUSTER_POLICY_ARNS,
    CLUSTER_ROLE_NAME,
    CONTROL_PLANE_SG_NAME,
    EC2_TRUST_POLICY,
    EKS_TRUST_POLICY,
    KEY_NAME,
    LINUX_NODE_PROFILE_NAME,
    LINUX_NODE_ROLE_NAME,
    LINUX_NODE_SG_NAME,
    LINUX_NODEGROUP_NAME,
    NODE_POLICY_ARNS,
    PRIVATE_SUBNET_CIDRS,
    PUBLIC_SUBNET_CIDRS,
    VPC_CIDR,
    WINDOWS_KUBERNETES_VERSIONS,
)


@functools.lru_cache(maxsize=4)
def _session(region: str) -> boto3.session.Session:
    """One session per region and process: its loader keeps the service models, so a re-seed does not parse them again."""
    return boto3.session.Session(aws_access_key_id="lab", aws_secret_access_key="lab", region_name=region)


def _clients(url: str, region: str) -> dict[str, Any]:
    return {name: _session(region).client(name, endpoint_url=url) for name in ("ec2", "iam", "eks")}


def _tags(**tags: str) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def _subnets(ec2: Any, vpc_id: str, region: str, cluster: str, cidrs: tuple[str, ...], public: bool) -> list[str]:
    role_tag = "kubernetes.io/role/elb" if public else "kubernetes.io/role/internal-elb"
    ids = []
    for suffix, cidr in zip(AZ_SUFFIXES, cidrs):
        kind = "public" if public else "private"
        subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=f"{region}{suffix}", TagSpecifications=[{
            "ResourceType": "subnet", "Tags": _tags(**{"Name": f"lab-{kind}-{region}{suffix}", role_tag: "1",
                                                       f"kubernetes.io/cluster/{cluster}": "shared"})}])["Subnet"]["SubnetId"]
        if public:
            ec2.modify_subnet_attribute(SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True})
        ids.append(subnet_id)
    return ids


def _route_table(ec2: Any, vpc_id: str, name: str, subnet_ids: list[str], target: dict[str, str]) -> str:
    table_id = ec2.create_route_table(VpcId=vpc_id, TagSpecifications=[{"ResourceType": "route-table", "Tags": _tags(Name=name)}])[
        "RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0", **target)
    for subnet_id in subnet_ids:
        ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet_id)
    return table_id


def seed_network(ec2: Any, region: str, cluster: str) -> dict[str, Any]:
    vpc_id = ec2.create_vpc(CidrBlock=VPC_CIDR, TagSpecifications=[{"ResourceType": "vpc", "Tags": _tags(Name="lab-vpc")}])["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    igw_id = ec2.create_internet_gateway(TagSpecifications=[{"ResourceType": "internet-gateway", "Tags": _tags(Name="lab-igw")}])[
        "InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
    private = _subnets(ec2, vpc_id, region, cluster, PRIVATE_SUBNET_CIDRS, public=False)
    public = _subnets(ec2, vpc_id, region, cluster, PUBLIC_SUBNET_CIDRS, public=True)
    public_table = _route_table(ec2, vpc_id, "lab-public", public, {"GatewayId": igw_id})
    allocation_id = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat_id = ec2.create_nat_gateway(SubnetId=public[0], AllocationId=allocation_id, TagSpecifications=[{
        "ResourceType": "natgateway", "Tags": _tags(Name="lab-nat")}])["NatGateway"]["NatGatewayId"]
    private_table = _route_table(ec2, vpc_id, "lab-private", private, {"NatGatewayId": nat_id})
    return {"vpc_id": vpc_id, "vpc_cidr": VPC_CIDR, "private_subnet_ids": private, "public_subnet_ids": public,
            "availability_zones": [f"{region}{suffix}" for suffix in AZ_SUFFIXES], "internet_gateway_id": igw_id,
            "nat_gateway_id": nat_id, "nat_allocation_id": allocation_id, "public_route_table_id": public_table,
            "private_route_table_id": private_table}


def _security_group(ec2: Any, vpc_id: str, name: str, description: str, tags: dict[str, str]) -> str:
    return ec2.create_security_group(GroupName=name, Description=description, VpcId=vpc_id, TagSpecifications=[{
        "ResourceType": "security-group", "Tags": _tags(Name=name, **tags)}])["GroupId"]


def seed_security_groups(ec2: Any, vpc_id: str, cluster: str) -> dict[str, str]:
    control_plane = _security_group(ec2, vpc_id, CONTROL_PLANE_SG_NAME, "Cluster communication with worker nodes", {})
    node = _security_group(ec2, vpc_id, LINUX_NODE_SG_NAME, "Security group for all nodes in the cluster",
                           {f"kubernetes.io/cluster/{cluster}": "owned"})
    ec2.authorize_security_group_ingress(GroupId=node, IpPermissions=[
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": node, "Description": "Allow nodes to communicate with each other"}]},
        {"IpProtocol": "tcp", "FromPort": 1025, "ToPort": 65535, "UserIdGroupPairs": [{"GroupId": control_plane}]},
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "UserIdGroupPairs": [{"GroupId": control_plane}]}])
    ec2.authorize_security_group_ingress(GroupId=control_plane, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "UserIdGroupPairs": [{"GroupId": node}]}])
    return {"control_plane_sg_id": control_plane, "linux_node_sg_id": node}


def _role(iam: Any, name: str, trust_policy: str, policy_arns: tuple[str, ...]) -> str:
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy)["Role"]["Arn"]
    for policy_arn in policy_arns:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    return str(arn)


# An IPv6 cluster's Linux node role: what AmazonEKS_CNI_IPv6_Policy of the EKS user guide grants, inline (the account
# has no policy of that name until something creates it).
IPV6_CNI_INLINE_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["ec2:AssignIpv6Addresses", "ec2:DescribeInstances", "ec2:DescribeTags", "ec2:DescribeNetworkInterfaces",
                                   "ec2:DescribeInstanceTypes"], "Resource": "*"},
    {"Effect": "Allow", "Action": ["ec2:CreateTags"], "Resource": ["arn:aws:ec2:*:*:network-interface/*"]}]}


def seed_iam(iam: Any, ip_family: str = "ipv4") -> dict[str, str]:
    cluster_role = _role(iam, CLUSTER_ROLE_NAME, EKS_TRUST_POLICY, CLUSTER_POLICY_ARNS)
    node_policies = NODE_POLICY_ARNS if ip_family == "ipv4" else tuple(arn for arn in NODE_POLICY_ARNS if not arn.endswith("/AmazonEKS_CNI_Policy"))
    node_role = _role(iam, LINUX_NODE_ROLE_NAME, EC2_TRUST_POLICY, node_policies)
    if ip_family == "ipv6":
        iam.put_role_policy(RoleName=LINUX_NODE_ROLE_NAME, PolicyName="cni-ipv6", PolicyDocument=json.dumps(IPV6_CNI_INLINE_POLICY))
    profile = iam.create_instance_profile(InstanceProfileName=LINUX_NODE_PROFILE_NAME)["InstanceProfile"]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName=LINUX_NODE_PROFILE_NAME, RoleName=LINUX_NODE_ROLE_NAME)
    return {"cluster_role_arn": cluster_role, "cluster_role_name": CLUSTER_ROLE_NAME, "linux_node_role_arn": node_role,
            "linux_node_role_name": LINUX_NODE_ROLE_NAME, "linux_node_instance_profile_arn": profile,
            "linux_node_instance_profile_name": LINUX_NODE_PROFILE_NAME}


def seed_cluster(eks: Any, facts: dict[str, Any], cluster: str, version: str, authentication_mode: str, ip_family: str = "ipv4") -> dict[str, Any]:
    network = {"ipFamily": ip_family}
    created = eks.create_cluster(name=cluster, version=version, roleArn=facts["cluster_role_arn"], resourcesVpcConfig={
        "subnetIds": facts["private_subnet_ids"] + facts["public_subnet_ids"], "securityGroupIds": [facts["control_plane_sg_id"]],
        "endpointPublicAccess": True, "endpointPrivateAccess": True}, accessConfig={"authenticationMode": authentication_mode},
        kubernetesNetworkConfig=network, tags={"lab": "true"})["cluster"]
    eks.create_nodegroup(clusterName=cluster, nodegroupName=LINUX_NODEGROUP_NAME, nodeRole=facts["linux_node_role_arn"],
                         subnets=facts["private_subnet_ids"], scalingConfig={"minSize": 1, "maxSize": 2, "desiredSize": 1},
                         instanceTypes=["m5.large"], amiType="AL2023_x86_64_STANDARD", capacityType="ON_DEMAND",
                         labels={"lab.eksnodes/os": "linux"})
    return {"cluster_name": cluster, "cluster_arn": created["arn"], "cluster_endpoint": created["endpoint"], "cluster_version": version,
            "authentication_mode": authentication_mode, "cluster_sg_id": created["resourcesVpcConfig"]["clusterSecurityGroupId"],
            "linux_nodegroup_name": LINUX_NODEGROUP_NAME}


def seed_linux_instance(ec2: Any, facts: dict[str, Any], image_id: str, cluster: str) -> dict[str, str]:
    instance = ec2.run_instances(
        ImageId=image_id, InstanceType="m5.large", MinCount=1, MaxCount=1, SubnetId=facts["private_subnet_ids"][0], KeyName=KEY_NAME,
        SecurityGroupIds=[facts["linux_node_sg_id"], facts["cluster_sg_id"]], IamInstanceProfile={"Name": facts["linux_node_instance_profile_name"]},
        MetadataOptions={"HttpTokens": "required", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled"},
        TagSpecifications=[{"ResourceType": "instance", "Tags": _tags(**{
            "Name": f"{cluster}-{LINUX_NODEGROUP_NAME}-node", f"kubernetes.io/cluster/{cluster}": "owned", "eks:cluster-name": cluster,
            "eks:nodegroup-name": LINUX_NODEGROUP_NAME})}])["Instances"][0]
    return {"linux_instance_id": instance["InstanceId"], "linux_node_name": instance["PrivateDnsName"],
            "linux_instance_private_ip": instance["PrivateIpAddress"], "linux_ami_id": image_id}


def seed_world(url: str, region: str, cluster: str, kubernetes_version: str, authentication_mode: str, managed_vpc_cni: bool,
               ip_family: str = "ipv4") -> dict[str, Any]:
    """Create the seeded world in the running lab at ``url``; returns its ids and ARNs."""
    catalog.load_aws_managed_policies()
    versions = tuple(sorted(set(WINDOWS_KUBERNETES_VERSIONS) | {kubernetes_version}, key=lambda v: tuple(int(p) for p in v.split("."))))
    windows_amis = catalog.publish_windows_images(region, versions)
    linux_image = catalog.publish_linux_image(region, kubernetes_version)
    clients = _clients(url, region)
    ec2 = clients["ec2"]
    facts: dict[str, Any] = {"region": region, "account_id": ACCOUNT_ID, "endpoint_url": url}
    facts.update(seed_network(ec2, region, cluster))
    facts.update(seed_security_groups(ec2, facts["vpc_id"], cluster))
    facts["key_name"] = ec2.create_key_pair(KeyName=KEY_NAME)["KeyName"]
    facts.update(seed_iam(clients["iam"], ip_family))
    facts.update(seed_cluster(clients["eks"], facts, cluster, kubernetes_version, authentication_mode, ip_family))
    facts.update(seed_linux_instance(ec2, facts, linux_image["image_id"], cluster))
    if managed_vpc_cni:
        clients["eks"].create_addon(clusterName=cluster, addonName="vpc-cni", resolveConflicts="OVERWRITE")
    facts["managed_vpc_cni"] = managed_vpc_cni
    facts["ip_family"] = ip_family
    facts["linux_ami_ssm_parameter"] = linux_image["ssm_parameter"]
    facts["windows_amis"] = windows_amis
    return facts
