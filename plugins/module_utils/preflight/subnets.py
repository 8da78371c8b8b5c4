# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The reads behind the subnet and instance type checks, shared by eksnodes.windows.preflight and by
eksnodes.windows.nodegroup_stack, which checks a node group's subnets and instance type when it writes them."""

from typing import Any, Dict, List, Mapping, Sequence, Tuple

from ansible_collections.amazon.aws.plugins.module_utils.ec2 import describe_availability_zones
from ansible_collections.amazon.aws.plugins.module_utils.ec2 import describe_route_tables
from ansible_collections.amazon.aws.plugins.module_utils.ec2 import describe_subnets
from ansible_collections.amazon.aws.plugins.module_utils.ec2 import describe_vpc_endpoints

from . import checks
from .aws import describe_instance_type, instance_type_offered
from .findings import Finding
from .network import check_subnets, classify_subnet, route_table_for


def _describe(ec2, ids: Sequence[str]) -> Tuple[List[Dict[str, Any]], List[str]]:
    """The subnets that exist, and the IDs that do not (one call, or one per ID when some are missing)."""
    if not ids:
        return [], []
    found = describe_subnets(ec2, SubnetIds=list(ids))
    if len(found) == len(ids):
        return found, []
    found, missing = [], []
    for subnet_id in ids:
        one = describe_subnets(ec2, SubnetIds=[subnet_id])
        if one:
            found.extend(one)
        else:
            missing.append(subnet_id)
    return found, missing


def _zone_types(ec2, subnets: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    zone_names = sorted({subnet["AvailabilityZone"] for subnet in subnets if subnet.get("AvailabilityZone")})
    if not zone_names:
        return {}
    try:
        described = describe_availability_zones(ec2, ZoneNames=zone_names, AllAvailabilityZones=True)
    except Exception:  # pylint: disable=broad-exception-caught
        # Zone types only label Local Zone and Wavelength subnets; without them every zone counts as a regular one.
        return {}
    return {zone["ZoneName"]: zone.get("ZoneType") for zone in described}


def read_subnets(ec2, ids: Sequence[str]) -> Tuple[Dict[str, Dict[str, Any]], List[str]]:
    """Each existing subnet of ids (no ID twice) as classify_subnet() reports it, by ID; and the IDs that do not exist."""
    found, missing = _describe(ec2, list(ids))
    vpc_ids = sorted({subnet["VpcId"] for subnet in found})
    tables = describe_route_tables(ec2, Filters=[{"Name": "vpc-id", "Values": vpc_ids}]) if vpc_ids else []
    zones = _zone_types(ec2, found)
    reports = {}
    for subnet in found:
        table = route_table_for(subnet["SubnetId"], subnet["VpcId"], tables)
        reports[subnet["SubnetId"]] = classify_subnet(subnet, table, zones.get(subnet.get("AvailabilityZone")))
    return reports, missing


def subnet_findings(ec2, checked: Sequence[Mapping[str, Any]], missing: Sequence[str], cluster: Mapping[str, Any], region: str) -> List[Finding]:
    """check_subnets() of the nodes' subnets, with the VPC endpoints read when a subnet has no internet route."""
    endpoints = []
    if any(report["kind"] == "isolated" and not report["blackhole"] for report in checked) and cluster.get("vpc_id"):
        endpoints = describe_vpc_endpoints(ec2, Filters=[{"Name": "vpc-id", "Values": [cluster["vpc_id"]]}])
    return check_subnets(checked, missing, cluster, endpoints, region)


def instance_type_findings(ec2, instance_type: str, region: str) -> List[Finding]:
    info = describe_instance_type(ec2, instance_type)
    offered = instance_type_offered(ec2, instance_type) if info else False
    return checks.check_instance_type(instance_type, info, offered, region)
