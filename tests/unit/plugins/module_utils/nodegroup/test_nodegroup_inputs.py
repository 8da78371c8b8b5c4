"""The node group's subnets and instance type: chosen, kept or checked, and read only when they would be written."""

import pytest
from botocore.exceptions import ClientError

from ansible_collections.amazon.aws.plugins.module_utils.ec2 import AnsibleEC2Error
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup import inputs
from ansible_collections.eksnodes.windows.plugins.module_utils.preflight import subnets

SUBNETS = {
    "subnet-a": {"SubnetId": "subnet-a", "VpcId": "vpc-1", "AvailabilityZone": "us-east-1a", "MapPublicIpOnLaunch": False},
    "subnet-b": {"SubnetId": "subnet-b", "VpcId": "vpc-1", "AvailabilityZone": "us-east-1b", "MapPublicIpOnLaunch": False},
    "subnet-c": {"SubnetId": "subnet-c", "VpcId": "vpc-1", "AvailabilityZone": "us-east-1c", "MapPublicIpOnLaunch": True},
}
TABLES = [
    {"RouteTableId": "rtb-private", "VpcId": "vpc-1", "Associations": [{"SubnetId": "subnet-a"}, {"SubnetId": "subnet-b"}],
     "Routes": [{"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1", "State": "active"}]},
    {"RouteTableId": "rtb-public", "VpcId": "vpc-1", "Associations": [{"SubnetId": "subnet-c"}],
     "Routes": [{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"}]},
]
PARAMS = {"cluster_name": "prod", "vpc_id": "vpc-1", "instance_type": "m5.large", "subnets": [], "subnet_candidates": ["subnet-a", "subnet-b", "subnet-c"]}


def stack(status="UPDATE_COMPLETE", subnets="subnet-a,subnet-b", instance_type="m5.large"):
    return {"StackStatus": status, "Parameters": [{"ParameterKey": "Subnets", "ParameterValue": subnets},
                                                  {"ParameterKey": "NodeInstanceType", "ParameterValue": instance_type}]}


def client_of(reads):
    """An EC2 client factory that records that it was called."""
    return lambda: reads.append("client")


@pytest.fixture
def reads(monkeypatch):
    """The EC2 reads, answered as a VPC with two private subnets and a public one; returns the calls made."""
    calls = []

    def call(name, value):
        calls.append(name)
        return value

    monkeypatch.setattr(subnets, "describe_subnets", lambda client, SubnetIds: call("subnets", [SUBNETS[i] for i in SubnetIds if i in SUBNETS]))
    monkeypatch.setattr(subnets, "describe_route_tables", lambda client, Filters: call("route_tables", TABLES))
    monkeypatch.setattr(subnets, "describe_availability_zones", lambda client, **kw: call("zones", []))
    monkeypatch.setattr(subnets, "describe_vpc_endpoints", lambda client, Filters: call("endpoints", []))
    monkeypatch.setattr(subnets, "describe_instance_type", lambda client, name: call("instance_type", None if name == "m5.nope" else {
        "ProcessorInfo": {"SupportedArchitectures": ["x86_64"]}, "NetworkInfo": {"Ipv4AddressesPerInterface": 10},
        "MemoryInfo": {"SizeInMiB": 8192}}))
    monkeypatch.setattr(subnets, "instance_type_offered", lambda client, name: call("offered", True))
    return calls


def test_a_new_stack_gets_the_private_candidates_and_both_inputs_are_checked(reads):
    chosen, done, warnings = inputs.choose_and_check(client_of(reads), PARAMS, None, "us-east-1")
    assert chosen == ["subnet-a", "subnet-b"]
    assert done == {"subnets": "checked", "instance_type": "checked"} and warnings == []
    assert reads == ["client", "subnets", "route_tables", "zones", "instance_type", "offered"]


def test_an_unchanged_stack_keeps_its_subnets_and_reads_nothing(reads):
    chosen, done, _warnings = inputs.choose_and_check(client_of(reads), PARAMS, stack(), "us-east-1")
    assert chosen == ["subnet-a", "subnet-b"] and done == {"subnets": "kept", "instance_type": "unchanged"}
    assert reads == []
    # The same subnets given in another order are the stack's: not read either.
    chosen, done, _warnings = inputs.choose_and_check(client_of(reads), dict(PARAMS, subnets=["subnet-b", "subnet-a"]), stack(), "us-east-1")
    assert done["subnets"] == "unchanged" and reads == []


def test_only_what_changes_is_checked(reads):
    _chosen, done, _warnings = inputs.choose_and_check(client_of(reads), dict(PARAMS, instance_type="m5.xlarge"), stack(), "us-east-1")
    assert done == {"subnets": "kept", "instance_type": "checked"} and reads == ["client", "instance_type", "offered"]
    reads.clear()
    chosen, done, _warnings = inputs.choose_and_check(client_of(reads), dict(PARAMS, subnets=["subnet-a"]), stack(), "us-east-1")
    assert chosen == ["subnet-a"] and done == {"subnets": "checked", "instance_type": "unchanged"}
    assert reads == ["client", "subnets", "route_tables", "zones"]


def test_without_checks_given_inputs_are_taken_as_they_are(reads):
    chosen, done, _warnings = inputs.choose_and_check(client_of(reads), dict(PARAMS, subnets=["subnet-a"], instance_type="m5.nope"), None, "us-east-1",
                                                      check=False)
    assert chosen == ["subnet-a"] and done == {"subnets": "not checked", "instance_type": "not checked"} and reads == []


@pytest.mark.parametrize("status", ["ROLLBACK_COMPLETE", "CREATE_FAILED", "REVIEW_IN_PROGRESS"])
def test_a_stack_to_be_created_again_has_its_inputs_checked(reads, status):
    chosen, done, _warnings = inputs.choose_and_check(client_of(reads), PARAMS, stack(status), "us-east-1")
    assert chosen == ["subnet-a", "subnet-b"] and done == {"subnets": "checked", "instance_type": "checked"}


def test_refusals_name_the_option_and_the_fix(reads, monkeypatch):
    with pytest.raises(inputs.InputError) as refused:
        inputs.choose_and_check(client_of(reads), dict(PARAMS, subnet_candidates=["subnet-c"]), None, "us-east-1")
    assert refused.value.message.startswith("subnet_candidates: none of subnet-c is a private subnet")
    with pytest.raises(inputs.InputError) as refused:
        inputs.choose_and_check(client_of(reads), dict(PARAMS, subnets=["subnet-a", "subnet-0000000f"], instance_type="m5.nope"), stack(), "us-east-1")
    message = refused.value.message
    assert "subnets: subnet subnet-0000000f does not exist in us-east-1." in message
    assert "instance_type: the instance type m5.nope does not exist." in message
    # A public subnet that gives no public address cannot take nodes.
    monkeypatch.setitem(SUBNETS, "subnet-c", dict(SUBNETS["subnet-c"], MapPublicIpOnLaunch=False))
    with pytest.raises(inputs.InputError) as refused:
        inputs.choose_and_check(client_of(reads), dict(PARAMS, subnets=["subnet-c"]), None, "us-east-1")
    assert "subnet subnet-c is public" in refused.value.message


def test_without_private_networking_every_candidate_is_chosen(reads):
    chosen, done, _warnings = inputs.choose_and_check(client_of(reads), dict(PARAMS, subnet_choice="all"), None, "us-east-1")
    assert chosen == ["subnet-a", "subnet-b", "subnet-c"] and done["subnets"] == "checked"


def test_template_parameters_cannot_bypass_the_checks(reads):
    with pytest.raises(inputs.InputError) as refused:
        inputs.choose_and_check(client_of(reads), dict(PARAMS, template_parameters={"NodeInstanceType": "x1.nope", "Subnets": "subnet-z"}),
                                stack(), "us-east-1")
    assert refused.value.message.startswith("template_parameters: NodeInstanceType, Subnets would bypass the checks")
    assert reads == []


def denied(*_args, **_kwargs):
    raise AnsibleEC2Error(message="Failed to describe", exception=ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "no"}}, "Describe"))


def test_what_the_caller_may_not_read_is_not_checked_with_a_warning_unless_it_must_be_chosen(reads, monkeypatch):
    monkeypatch.setattr(subnets, "describe_instance_type", denied)
    monkeypatch.setattr(subnets, "describe_subnets", denied)
    chosen, done, warnings = inputs.choose_and_check(client_of(reads), dict(PARAMS, subnets=["subnet-a"]), None, "us-east-1")
    assert chosen == ["subnet-a"] and done == {"subnets": "not checked", "instance_type": "not checked"}
    assert [warning.split(":")[0] for warning in warnings] == ["subnets", "instance_type"]
    assert "UnauthorizedOperation: no" in warnings[1]
    with pytest.raises(inputs.InputError) as refused:
        inputs.choose_and_check(client_of(reads), PARAMS, None, "us-east-1")
    assert "allow ec2:DescribeSubnets and ec2:DescribeRouteTables, or give the nodes' subnets in subnets" in refused.value.message
