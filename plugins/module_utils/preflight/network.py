# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Subnets for Windows nodes: how each one reaches the internet (or the AWS services it needs), as pure functions."""

from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from .findings import Finding, error, warning

CHECK = "subnets"
DEFAULT_ROUTE = "0.0.0.0/0"

# Interface (or, for S3, gateway) endpoints that nodes without an internet route need: EC2 for the node's
# own lookups, ECR and S3 to pull images. The API server is reached through the cluster's private endpoint.
PRIVATE_CLUSTER_ENDPOINTS = ("ec2", "ecr.api", "ecr.dkr", "s3")

ZONE_TYPES = {"availability-zone": "availability-zone", "local-zone": "local-zone", "wavelength-zone": "wavelength-zone"}

# Route targets that take a subnet's default route somewhere, by the route's key and the target's id prefix.
_EGRESS_BY_KEY = (
    ("NatGatewayId", "nat-gateway"),
    ("TransitGatewayId", "transit-gateway"),
    ("LocalGatewayId", "local-gateway"),
    ("CarrierGatewayId", "carrier-gateway"),
    ("VpcPeeringConnectionId", "vpc-peering"),
    ("CoreNetworkArn", "core-network"),
    ("InstanceId", "nat-instance"),
    ("NetworkInterfaceId", "nat-instance"),
)
PUBLIC_EGRESS = ("internet-gateway", "carrier-gateway")
UNVERIFIED_EGRESS = ("vpn-gateway", "vpc-peering")


def default_route(route_table: Optional[Mapping[str, Any]]) -> Optional[Mapping[str, Any]]:
    for route in (route_table or {}).get("Routes") or []:
        if route.get("DestinationCidrBlock") == DEFAULT_ROUTE:
            return route
    return None


def route_egress(route: Optional[Mapping[str, Any]]):
    """(egress kind, target id) of a default route; (None, None) without one."""
    if not route:
        return None, None
    gateway = route.get("GatewayId") or ""
    if gateway.startswith("igw-"):
        return "internet-gateway", gateway
    if gateway.startswith("vgw-"):
        return "vpn-gateway", gateway
    for key, kind in _EGRESS_BY_KEY:
        if route.get(key):
            return kind, route[key]
    return ("unknown", gateway) if gateway else (None, None)


def route_table_for(subnet_id: str, vpc_id: str, route_tables: Sequence[Mapping[str, Any]]) -> Optional[Mapping[str, Any]]:
    """The route table associated with the subnet, else the VPC's main route table."""
    main = None
    for table in route_tables:
        for association in table.get("Associations") or []:
            if association.get("SubnetId") == subnet_id:
                return table
            if association.get("Main") and table.get("VpcId") == vpc_id:
                main = table
    return main


def classify_subnet(subnet: Mapping[str, Any], route_table: Optional[Mapping[str, Any]], zone_type: Optional[str] = None) -> Dict[str, Any]:
    """What the checks (and later steps) need to know about one subnet."""
    route = default_route(route_table)
    egress, target = route_egress(route)
    blackhole = bool(route) and route.get("State") == "blackhole"
    if subnet.get("OutpostArn"):
        zone = "outpost"
    else:
        zone = ZONE_TYPES.get(zone_type or "availability-zone", zone_type or "availability-zone")
    if blackhole or egress is None:
        kind = "isolated"
    elif egress in PUBLIC_EGRESS:
        kind = "public"
    else:
        kind = "private"
    return {
        "subnet_id": subnet["SubnetId"],
        "vpc_id": subnet.get("VpcId"),
        "availability_zone": subnet.get("AvailabilityZone"),
        "zone_type": zone,
        "outpost_arn": subnet.get("OutpostArn"),
        "cidr_block": subnet.get("CidrBlock"),
        "map_public_ip_on_launch": bool(subnet.get("MapPublicIpOnLaunch")),
        "route_table_id": (route_table or {}).get("RouteTableId"),
        "kind": kind,
        "egress": egress,
        "default_route_target": target,
        "blackhole": blackhole,
    }


def node_subnets(reports: Sequence[Mapping[str, Any]]) -> List[Mapping[str, Any]]:
    """Where Windows nodes go when no subnets are given: the private ones, else all of them."""
    private = [report for report in reports if report["kind"] != "public"]
    return private or list(reports)


def _service(endpoint: Mapping[str, Any], region: str) -> Optional[str]:
    name = endpoint.get("ServiceName") or ""
    marker = f".{region}."
    return name.split(marker, 1)[1] if marker in name else None


def endpoints_reaching(route_table_id: Optional[str], endpoints: Iterable[Mapping[str, Any]], region: str) -> List[str]:
    """The services this subnet reaches through available VPC endpoints (gateway ones only from its route table)."""
    services = set()
    for endpoint in endpoints:
        if str(endpoint.get("State", "")).lower() != "available":
            continue
        service = _service(endpoint, region)
        if not service:
            continue
        if endpoint.get("VpcEndpointType") == "Gateway" and route_table_id not in (endpoint.get("RouteTableIds") or []):
            continue
        services.add(service)
    return sorted(services)


def check_subnets(
    reports: Sequence[Mapping[str, Any]],
    missing: Sequence[str],
    cluster: Mapping[str, Any],
    endpoints: Sequence[Mapping[str, Any]],
    region: str,
) -> List[Finding]:
    findings: List[Finding] = []
    vpc_id = cluster.get("vpc_id")
    name = cluster.get("name")
    for subnet_id in missing:
        findings.append(error(
            CHECK, f"subnet {subnet_id} does not exist in {region}.",
            f"Use subnets of the cluster's VPC {vpc_id}: aws ec2 describe-subnets --filters Name=vpc-id,Values={vpc_id}",
        ))
    isolated = []
    for report in reports:
        subnet_id = report["subnet_id"]
        zone = "" if report["zone_type"] == "availability-zone" else f" ({report['zone_type']} subnet)"
        if vpc_id and report["vpc_id"] != vpc_id:
            findings.append(error(
                CHECK, f"subnet {subnet_id}{zone} is in {report['vpc_id']}, not in the cluster's VPC {vpc_id}.",
                f"Use subnets of {vpc_id}: aws ec2 describe-subnets --filters Name=vpc-id,Values={vpc_id}",
            ))
            continue
        if report["blackhole"]:
            findings.append(error(
                CHECK, f"subnet {subnet_id}{zone}: the default route of route table {report['route_table_id']} points to "
                f"{report['default_route_target']}, which no longer exists (blackhole), so nodes there cannot reach the cluster.",
                f"Point 0.0.0.0/0 at a working NAT gateway: aws ec2 replace-route --route-table-id {report['route_table_id']} "
                "--destination-cidr-block 0.0.0.0/0 --nat-gateway-id <nat-id>",
            ))
            continue
        if report["egress"] == "internet-gateway" and not report["map_public_ip_on_launch"]:
            findings.append(error(
                CHECK, f"subnet {subnet_id}{zone} is public (0.0.0.0/0 goes to {report['default_route_target']}) but does not "
                "auto-assign public IPv4 addresses, so nodes launched there get no public IP and cannot join the cluster.",
                f"Turn it on with: aws ec2 modify-subnet-attribute --subnet-id {subnet_id} --map-public-ip-on-launch; "
                "or launch the nodes in private subnets routed to a NAT gateway.",
            ))
        elif report["egress"] in UNVERIFIED_EGRESS:
            findings.append(warning(
                CHECK, f"subnet {subnet_id}{zone} sends 0.0.0.0/0 to {report['default_route_target']} ({report['egress']}); "
                "whether nodes there reach the internet or the AWS services they need cannot be checked from here.",
                "Make sure that path reaches EC2, ECR, S3 and the cluster endpoint, or route the subnet to a NAT gateway.",
            ))
        elif report["kind"] == "isolated":
            isolated.append(report)
    for report in isolated:
        subnet_id = report["subnet_id"]
        reached = endpoints_reaching(report["route_table_id"], endpoints, region)
        lacking = [service for service in PRIVATE_CLUSTER_ENDPOINTS if service not in reached]
        if lacking:
            names = ", ".join(f"com.amazonaws.{region}.{service}" for service in lacking)
            findings.append(error(
                CHECK, f"subnet {subnet_id} has no route to the internet (route table {report['route_table_id']} has no "
                f"0.0.0.0/0 route) and lacks the VPC endpoints a private cluster needs: {names}.",
                f"Route 0.0.0.0/0 of {report['route_table_id']} to a NAT gateway, or create those endpoints in {vpc_id} "
                f"(interface endpoints with private DNS, and an S3 gateway endpoint on {report['route_table_id']}).",
            ))
    if isolated and cluster.get("endpoint_private_access") is False:
        subnets = ", ".join(report["subnet_id"] for report in isolated)
        findings.append(error(
            CHECK, f"subnets without an internet route ({subnets}) can reach the API server only through the cluster's "
            "private endpoint, which is turned off.",
            f"aws eks update-cluster-config --name {name} --resources-vpc-config endpointPrivateAccess=true",
        ))
    return findings
