import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.preflight import network

VPC = "vpc-1"
CLUSTER = {"name": "prod", "vpc_id": VPC, "endpoint_private_access": True}


def subnet(subnet_id, vpc=VPC, public_ip=False, zone="us-east-1a", **extra):
    return dict({"SubnetId": subnet_id, "VpcId": vpc, "AvailabilityZone": zone, "CidrBlock": "10.0.0.0/24", "MapPublicIpOnLaunch": public_ip}, **extra)


def table(table_id, subnets=(), main=False, default=None, state="active"):
    routes = [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"}]
    if default:
        routes.append(dict(default, DestinationCidrBlock="0.0.0.0/0", State=state))
    associations = [{"SubnetId": s} for s in subnets] + ([{"Main": True}] if main else [])
    return {"RouteTableId": table_id, "VpcId": VPC, "Associations": associations, "Routes": routes}


def classify(sub, tbl, zone_type=None):
    return network.classify_subnet(sub, tbl, zone_type)


@pytest.mark.parametrize("default, kind, egress", [
    ({"GatewayId": "igw-1"}, "public", "internet-gateway"),
    ({"NatGatewayId": "nat-1"}, "private", "nat-gateway"),
    ({"InstanceId": "i-1"}, "private", "nat-instance"),
    ({"NetworkInterfaceId": "eni-1"}, "private", "nat-instance"),
    ({"TransitGatewayId": "tgw-1"}, "private", "transit-gateway"),
    ({"LocalGatewayId": "lgw-1"}, "private", "local-gateway"),
    ({"CarrierGatewayId": "cagw-1"}, "public", "carrier-gateway"),
    ({"GatewayId": "vgw-1"}, "private", "vpn-gateway"),
    ({"VpcPeeringConnectionId": "pcx-1"}, "private", "vpc-peering"),
    (None, "isolated", None),
])
def test_kind_follows_the_default_route(default, kind, egress):
    report = classify(subnet("subnet-a"), table("rtb-1", ["subnet-a"], default=default))
    assert (report["kind"], report["egress"]) == (kind, egress)


def test_a_blackhole_route_counts_as_none():
    report = classify(subnet("subnet-a"), table("rtb-1", ["subnet-a"], default={"NatGatewayId": "nat-gone"}, state="blackhole"))
    assert report["kind"] == "isolated" and report["blackhole"] and report["default_route_target"] == "nat-gone"


def test_the_main_route_table_applies_without_an_association():
    tables = [table("rtb-main", main=True, default={"NatGatewayId": "nat-1"}), table("rtb-other", ["subnet-b"], default={"GatewayId": "igw-1"})]
    assert network.route_table_for("subnet-a", VPC, tables)["RouteTableId"] == "rtb-main"
    assert network.route_table_for("subnet-b", VPC, tables)["RouteTableId"] == "rtb-other"


def test_zone_types_are_recognised():
    assert classify(subnet("s", OutpostArn="arn:aws:outposts:us-east-1:1:outpost/op-1"), None)["zone_type"] == "outpost"
    assert classify(subnet("s"), None, "local-zone")["zone_type"] == "local-zone"
    assert classify(subnet("s"), None, "wavelength-zone")["zone_type"] == "wavelength-zone"
    assert classify(subnet("s"), None)["zone_type"] == "availability-zone"


def test_nodes_go_to_private_subnets_by_default():
    public = classify(subnet("a"), table("r", ["a"], default={"GatewayId": "igw-1"}))
    private = classify(subnet("b"), table("r2", ["b"], default={"NatGatewayId": "nat-1"}))
    assert network.node_subnets([public, private]) == [private]
    assert network.node_subnets([public]) == [public]


def check(reports, missing=(), endpoints=(), cluster=None):
    return network.check_subnets(reports, list(missing), cluster or CLUSTER, list(endpoints), "us-east-1")


def test_good_subnets_pass():
    reports = [
        classify(subnet("a", public_ip=True), table("r1", ["a"], default={"GatewayId": "igw-1"})),
        classify(subnet("b"), table("r2", ["b"], default={"NatGatewayId": "nat-1"})),
        classify(subnet("c"), table("r3", ["c"], default={"TransitGatewayId": "tgw-1"})),
        classify(subnet("d", zone="us-east-1-wl1-bos-wlz-1"), table("r4", ["d"], default={"CarrierGatewayId": "cagw-1"}), "wavelength-zone"),
        classify(subnet("e", OutpostArn="arn:op"), table("r5", ["e"], default={"LocalGatewayId": "lgw-1"})),
        classify(subnet("f"), table("r6", ["f"], default={"NatGatewayId": "nat-2"}), "local-zone"),
    ]
    assert check(reports) == []


def test_missing_subnet():
    [item] = check([], missing=["subnet-0404"])
    assert item["message"] == "subnet subnet-0404 does not exist in us-east-1."
    assert "Name=vpc-id,Values=vpc-1" in item["fix"]


def test_subnet_of_another_vpc():
    [item] = check([classify(subnet("a", vpc="vpc-other"), None)])
    assert "subnet a is in vpc-other, not in the cluster's VPC vpc-1" in item["message"]


def test_public_subnet_without_public_ips():
    [item] = check([classify(subnet("subnet-a"), table("r1", ["subnet-a"], default={"GatewayId": "igw-1"}))])
    assert item["severity"] == "error"
    assert "is public (0.0.0.0/0 goes to igw-1) but does not auto-assign public IPv4 addresses" in item["message"]
    assert item["fix"].startswith("Turn it on with: aws ec2 modify-subnet-attribute --subnet-id subnet-a --map-public-ip-on-launch")


def test_blackholed_nat_route():
    [item] = check([classify(subnet("a"), table("r1", ["a"], default={"NatGatewayId": "nat-gone"}, state="blackhole"))])
    assert "points to nat-gone, which no longer exists (blackhole)" in item["message"]
    assert "aws ec2 replace-route --route-table-id r1" in item["fix"]


def test_unverifiable_egress_warns():
    [item] = check([classify(subnet("a"), table("r1", ["a"], default={"GatewayId": "vgw-1"}))])
    assert item["severity"] == "warning" and "vpn-gateway" in item["message"]


def endpoint(service, kind="Interface", route_tables=(), state="available"):
    return {"ServiceName": f"com.amazonaws.us-east-1.{service}", "VpcEndpointType": kind, "RouteTableIds": list(route_tables), "State": state}


def test_isolated_subnet_needs_the_private_cluster_endpoints():
    isolated = classify(subnet("a"), table("r1", ["a"]))
    [item] = check([isolated], endpoints=[endpoint("ecr.api"), endpoint("s3", "Gateway", ["r-other"])])
    assert "subnet a has no route to the internet (route table r1 has no 0.0.0.0/0 route)" in item["message"]
    assert ("com.amazonaws.us-east-1.ec2, com.amazonaws.us-east-1.ecr.dkr, com.amazonaws.us-east-1.s3." in item["message"])
    assert "NAT gateway" in item["fix"] and "S3 gateway endpoint on r1" in item["fix"]


def test_isolated_subnet_with_every_endpoint_passes():
    isolated = classify(subnet("a"), table("r1", ["a"]))
    endpoints = [endpoint("ec2"), endpoint("ecr.api"), endpoint("ecr.dkr"), endpoint("s3", "Gateway", ["r1"])]
    assert check([isolated], endpoints=endpoints) == []
    assert check([isolated], endpoints=endpoints[:3] + [endpoint("s3")]) == []
    pending = [endpoint("ec2", state="pending")] + endpoints[1:]
    assert len(check([isolated], endpoints=pending)) == 1


def test_isolated_subnets_need_private_endpoint_access():
    isolated = classify(subnet("a"), table("r1", ["a"]))
    endpoints = [endpoint("ec2"), endpoint("ecr.api"), endpoint("ecr.dkr"), endpoint("s3", "Gateway", ["r1"])]
    [item] = check([isolated], endpoints=endpoints, cluster=dict(CLUSTER, endpoint_private_access=False))
    assert "private endpoint, which is turned off" in item["message"]
    assert item["fix"] == "aws eks update-cluster-config --name prod --resources-vpc-config endpointPrivateAccess=true"
