from ansible_collections.eksnodes.windows.plugins.module_utils.eks.transformations import cluster_facts, dns_cluster_ip

DESCRIBED = {
    "name": "prod",
    "arn": "arn:aws:eks:us-east-1:123456789012:cluster/prod",
    "version": "1.31",
    "platformVersion": "eks.20",
    "status": "ACTIVE",
    "endpoint": "https://ABC.gr7.us-east-1.eks.amazonaws.com",
    "certificateAuthority": {"data": "LS0t"},
    "roleArn": "arn:aws:iam::123456789012:role/prod-cluster",
    "resourcesVpcConfig": {
        "vpcId": "vpc-1",
        "subnetIds": ["subnet-a", "subnet-b"],
        "securityGroupIds": ["sg-extra"],
        "clusterSecurityGroupId": "sg-cluster",
        "endpointPublicAccess": True,
        "endpointPrivateAccess": False,
    },
    "kubernetesNetworkConfig": {"serviceIpv4Cidr": "172.20.0.0/16", "ipFamily": "ipv4"},
    "identity": {"oidc": {"issuer": "https://oidc.eks.us-east-1.amazonaws.com/id/X"}},
    "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"},
    "tags": {"team": "platform"},
}


def test_cluster_facts_carry_what_later_steps_need():
    facts = cluster_facts(DESCRIBED)
    assert facts["name"] == "prod"
    assert facts["platform_version"] == "eks.20"
    assert facts["certificate_authority"] == "LS0t"
    assert facts["authentication_mode"] == "API_AND_CONFIG_MAP"
    assert facts["subnet_ids"] == ["subnet-a", "subnet-b"]
    assert facts["security_group_ids"] == ["sg-extra"]
    assert facts["cluster_security_group_id"] == "sg-cluster"
    assert facts["dns_cluster_ip"] == "172.20.0.10"
    assert facts["oidc_issuer"].endswith("/id/X")
    assert facts["tags"] == {"team": "platform"}


def test_missing_access_config_means_config_map_mode():
    described = {key: value for key, value in DESCRIBED.items() if key != "accessConfig"}
    assert cluster_facts(described)["authentication_mode"] == "CONFIG_MAP"


def test_dns_cluster_ip_is_the_tenth_address_of_the_service_range():
    assert dns_cluster_ip("10.100.0.0/16") == "10.100.0.10"
    assert dns_cluster_ip("192.168.64.0/20") == "192.168.64.10"
    assert dns_cluster_ip(None) is None
