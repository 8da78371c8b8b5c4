# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure functions turning EKS API shapes into the facts the collection passes between steps."""

import ipaddress
from collections.abc import Mapping
from typing import Any, Dict, Optional

# kube-dns is the tenth address of the service range on EKS (10.100.0.10, 172.20.0.10, ...).
DNS_SERVICE_OFFSET = 10

# What a module needs of cluster facts given in its cluster option (doc fragment cluster_facts) to use them instead of
# describing the cluster: eks/lookup.py refuses facts without one of them, the whole_cluster_facts filter passes only
# facts that have them all.
GIVEN_FACTS_NEEDED = ("name", "status", "endpoint", "certificate_authority")


def whole(facts: Any) -> bool:
    """Whether facts have everything GIVEN_FACTS_NEEDED lists."""
    return isinstance(facts, Mapping) and all(facts.get(key) for key in GIVEN_FACTS_NEEDED)


def dns_cluster_ip(service_ipv4_cidr: Optional[str]) -> Optional[str]:
    if not service_ipv4_cidr:
        return None
    network = ipaddress.ip_network(service_ipv4_cidr, strict=False)
    return str(network.network_address + DNS_SERVICE_OFFSET)


def cluster_facts(cluster: Dict[str, Any]) -> Dict[str, Any]:
    """What later steps need from a DescribeCluster response, in snake_case."""
    vpc = cluster.get("resourcesVpcConfig") or {}
    network = cluster.get("kubernetesNetworkConfig") or {}
    service_cidr = network.get("serviceIpv4Cidr")
    return {
        "name": cluster["name"],
        "arn": cluster.get("arn"),
        "version": cluster.get("version"),
        "platform_version": cluster.get("platformVersion"),
        "status": cluster.get("status"),
        "endpoint": cluster.get("endpoint"),
        "certificate_authority": (cluster.get("certificateAuthority") or {}).get("data"),
        "role_arn": cluster.get("roleArn"),
        "authentication_mode": (cluster.get("accessConfig") or {}).get("authenticationMode", "CONFIG_MAP"),
        "vpc_id": vpc.get("vpcId"),
        "subnet_ids": list(vpc.get("subnetIds") or []),
        "cluster_security_group_id": vpc.get("clusterSecurityGroupId"),
        "security_group_ids": list(vpc.get("securityGroupIds") or []),
        "endpoint_public_access": vpc.get("endpointPublicAccess"),
        "endpoint_private_access": vpc.get("endpointPrivateAccess"),
        "service_ipv4_cidr": service_cidr,
        "dns_cluster_ip": dns_cluster_ip(service_cidr),
        "ip_family": network.get("ipFamily", "ipv4"),
        "oidc_issuer": ((cluster.get("identity") or {}).get("oidc") or {}).get("issuer"),
        "tags": dict(cluster.get("tags") or {}),
    }
