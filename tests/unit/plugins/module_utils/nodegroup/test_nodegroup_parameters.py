"""Validation of the module options and their translation to template parameters."""

import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup import parameters as p

VALID = {
    "stack_name": "lab-nodegroup-windows",
    "cluster_name": "lab",
    "nodegroup_name": "windows",
    "control_plane_security_group": "sg-0123456789abcdef0",
    "vpc_id": "vpc-0123456789abcdef0",
    "security_groups": ["sg-0fedcba9876543210"],
    "subnets": ["subnet-0123456789abcdef0", "subnet-00000000000000001"],
    "image_id": "ami-0123456789abcdef0",
    **p.OPTION_DEFAULTS,
    "wait_timeout": 600,
}


def errors_for(**changes):
    params = dict(VALID)
    params.update(changes)
    return p.validate(params)


def test_valid_options_have_no_errors():
    assert p.validate(VALID) == []


@pytest.mark.parametrize("option", p.REQUIRED_FOR_BUILTIN)
def test_each_required_option_is_named_with_a_hint(option):
    (error,) = errors_for(**{option: [] if option in ("subnets", "security_groups") else None})
    assert error.startswith(f"{option} is required with the collection's template: give")


def test_another_template_does_not_require_the_builtin_options():
    assert errors_for(builtin_template=False, vpc_id=None, subnets=None, security_groups=None, control_plane_security_group=None,
                      image_id=None) == []


def test_the_image_comes_from_image_id_or_image_ssm_parameter():
    (error,) = errors_for(image_id=None, image_ssm_parameter=None)
    assert error.startswith("image_id is required with the collection's template: give the AMI ID that eksnodes.windows.windows_ami_info")
    assert "image_ssm_parameter" in error
    assert errors_for(image_id="", image_ssm_parameter="/aws/service/ami-windows-latest/x/image_id") == []


@pytest.mark.parametrize("params, lookup", [
    ({"image_id": None, "image_ssm_parameter": "/a/image_id"}, True),
    ({"image_id": "", "image_ssm_parameter": "/a/image_id", "builtin_template": True}, True),
    ({"image_id": "ami-0123456789abcdef0", "image_ssm_parameter": "/a/image_id"}, False),  # recorded only
    ({"image_id": None, "image_ssm_parameter": "/a/image_id", "builtin_template": False}, False),  # the template decides
    ({"image_id": None, "image_ssm_parameter": None}, False),
])
def test_the_module_reads_ssm_only_without_image_id_and_with_its_own_template(params, lookup):
    assert p.needs_image_lookup(params) is lookup


def test_image_lookup_errors_name_the_option_and_the_fix():
    assert p.image_lookup_error("/a/image_id", "ami-0123456789abcdef0", "us-east-1") is None
    missing = p.image_lookup_error("/a/image_id", None, "us-east-1")
    assert missing.startswith("image_ssm_parameter /a/image_id does not exist in us-east-1") and "give image_id" in missing
    assert p.image_lookup_error("/a/image_id", '{"x": 1}', "us-east-1").startswith(
        "image_ssm_parameter /a/image_id holds '{\"x\": 1}', not an AMI ID")


@pytest.mark.parametrize("changes, expected", [
    ({"stack_name": "1-starts-with-digit"}, "stack_name '1-starts-with-digit' is not a valid CloudFormation stack name"),
    ({"stack_name": "has_underscore"}, "stack_name 'has_underscore' is not a valid"),
    ({"cluster_name": "-lab"}, "cluster_name '-lab' is not a valid EKS cluster name"),
    ({"nodegroup_name": "w" * 64}, "nodegroup_name '" + "w" * 64 + "' is not valid: use 1 to 63"),
])
def test_names(changes, expected):
    (error,) = errors_for(**changes)
    assert error.startswith(expected)


@pytest.mark.parametrize("changes, expected", [
    ({"min_size": 3, "desired_capacity": 2, "max_size": 4}, "desired_capacity (2) must be at least min_size (3)"),
    ({"min_size": 1, "desired_capacity": 5, "max_size": 4}, "desired_capacity (5) must be at most max_size (4)"),
    ({"min_size": -1, "desired_capacity": 0, "max_size": 1}, "min_size (-1) must be 0 or more"),
    ({"min_size": 0, "desired_capacity": 0, "max_size": 0}, "max_size (0) must be 1 or more"),
    ({"desired_capacity": 4, "max_size": 3}, "desired_capacity (4) must be at most max_size (3)"),
    ({"volume_size": 30}, "volume_size (30) is below 50 GiB, the size of the Windows AMI's root snapshot: set volume_size to 50"),
    ({"metadata_hop_limit": 0}, "metadata_hop_limit (0) must be between 1 and 64"),
    ({"wait_timeout": 0}, "wait_timeout (0) must be 1 second or more"),
])
def test_sizes(changes, expected):
    (error,) = errors_for(**changes)
    assert error.startswith(expected)


def test_desired_equal_to_max_is_allowed_with_another_template():
    assert errors_for(builtin_template=False, desired_capacity=3, max_size=3) == []


@pytest.mark.parametrize("changes, expected", [
    ({"subnets": ["subnet-0123456789abcdef0", "private-a"]}, "subnets[1] 'private-a' is not a subnet ID (subnet-...): give the ID, not a name"),
    ({"security_groups": ["default"]}, "security_groups[0] 'default' is not a security group ID"),
    ({"vpc_id": "lab-vpc"}, "vpc_id 'lab-vpc' is not a VPC ID"),
    ({"control_plane_security_group": "sg-xyz"}, "control_plane_security_group 'sg-xyz' is not a security group ID"),
    ({"image_id": "ami-nothex!"}, "image_id 'ami-nothex!' is not an AMI ID"),
    ({"instance_type": "large"}, "instance_type 'large' is not an EC2 instance type"),
    ({"image_ssm_parameter": "not a name"}, "image_ssm_parameter 'not a name' is not an SSM parameter name"),
])
def test_ids(changes, expected):
    (error,) = errors_for(**changes)
    assert error.startswith(expected)


@pytest.mark.parametrize("changes, expected", [
    ({"api_server_endpoint": "https://api"}, "api_server_endpoint and certificate_authority_data go together"),
    ({"certificate_authority_data": "Q0E="}, "api_server_endpoint and certificate_authority_data go together"),
    ({"api_server_endpoint": "http://api", "certificate_authority_data": "Q0E="}, "api_server_endpoint 'http://api' must be the cluster's https:// endpoint"),
    ({"service_cidr": "10.100.0.0/33"}, "service_cidr '10.100.0.0/33' is not an IPv4 CIDR"),
    ({"dns_cluster_ip": "10.100.0.300"}, "dns_cluster_ip '10.100.0.300' is not an IPv4 address"),
    ({"service_cidr": "10.100.0.0/16", "dns_cluster_ip": "172.20.0.10"}, "dns_cluster_ip 172.20.0.10 is outside service_cidr 10.100.0.0/16"),
    ({"bootstrap_arguments": "-EKSClusterName other"}, "bootstrap_arguments must not set -EKSClusterName: the template sets it from cluster_name"),
    ({"bootstrap_arguments": "-KubeletExtraArgs '--x' -dnsclusterip 10.0.0.10"}, "bootstrap_arguments must not set -DNSClusterIP"),
    ({"tags": {"aws:cloudformation:x": "y"}}, "tags key 'aws:cloudformation:x' uses the reserved aws: prefix"),
    ({"tags": {f"k{i}": "v" for i in range(51)}}, "tags has 51 entries; a stack takes at most 50"),
])
def test_cluster_access_bootstrap_and_tags(changes, expected):
    (error,) = errors_for(**changes)
    assert error.startswith(expected)


def test_several_errors_are_reported_together():
    errors = errors_for(vpc_id=None, volume_size=20, subnets=["public-a"])
    assert len(errors) == 3


def test_template_parameters_are_strings_lists_sorted_booleans_lowercase():
    values = p.template_parameters(dict(VALID, subnets=["subnet-b", "subnet-a"], disable_imdsv1=False, desired_capacity=2))
    assert values["Subnets"] == "subnet-a,subnet-b"
    assert values["DisableIMDSv1"] == "false"
    assert values["AttachCNIPolicy"] == "false"
    assert values["NodeAutoScalingGroupDesiredCapacity"] == "2"
    assert values["KeyName"] == ""
    assert set(values) == set(p.OPTION_TO_PARAMETER.values())


def test_unset_options_take_the_template_defaults():
    values = p.template_parameters({"cluster_name": "lab"})
    assert values["NodeInstanceType"] == "m5.large"
    assert values["HttpPutResponseHopLimit"] == "2"
    assert values["ApiServerEndpoint"] == ""


def test_dns_cluster_ip_is_computed_from_the_service_cidr():
    assert p.template_parameters(dict(VALID, service_cidr="172.20.0.0/16"))["DnsClusterIp"] == "172.20.0.10"
    assert p.template_parameters(dict(VALID, service_cidr="172.20.0.0/16", dns_cluster_ip="172.20.0.53"))["DnsClusterIp"] == "172.20.0.53"


def test_extra_template_parameters_override():
    values = p.with_extra({"A": "1", "B": "x"}, {"B": ["z", "y"], "C": True})
    assert values == {"A": "1", "B": "y,z", "C": "true"}


def test_select_declared_keeps_declared_fills_defaults_and_reports_the_rest():
    values = p.template_parameters(dict(VALID, metadata_hop_limit=1, attach_cni_policy=False))
    declared = {"ClusterName": None, "KeyName": None, "NodeImageId": "", "Extra": "x", "OnlyExtra": None}
    selected, ignored, unknown = p.select_declared(values, declared, {"OnlyExtra": "1", "Missing": "2"})
    assert selected == {"ClusterName": "lab", "KeyName": "", "NodeImageId": "ami-0123456789abcdef0", "Extra": "x"}
    # hop limit 1 is not the default: the user asked for something the template cannot do
    assert "metadata_hop_limit" in ignored and "attach_cni_policy" not in ignored
    assert unknown == ["Missing"]


def test_an_unset_image_leaves_another_templates_default():
    # The AWS template's NodeImageIdSSMParam is SSM-typed with a default: an empty value would fail to resolve.
    values = p.template_parameters(dict(VALID, image_id=None, image_ssm_parameter=None))
    declared = {"NodeImageIdSSMParam": "/aws/service/ami-windows-latest/x/image_id", "NodeImageId": ""}
    selected, _ignored, _unknown = p.select_declared(values, declared)
    assert selected == declared
    chosen = p.template_parameters(dict(VALID, image_ssm_parameter="/aws/service/ami-windows-latest/y/image_id"))
    assert p.select_declared(chosen, declared)[0]["NodeImageIdSSMParam"] == "/aws/service/ami-windows-latest/y/image_id"
    assert p.select_declared(values, declared, {"NodeImageIdSSMParam": ""})[0]["NodeImageIdSSMParam"] == ""


def test_declared_parameters_and_list_names_from_a_template_summary():
    summary = {"Parameters": [
        {"ParameterKey": "Subnets", "ParameterType": "List<AWS::EC2::Subnet::Id>"},
        {"ParameterKey": "Names", "ParameterType": "CommaDelimitedList", "DefaultValue": "a,b"},
        {"ParameterKey": "KeyName", "ParameterType": "AWS::EC2::KeyPair::KeyName"},
    ]}
    assert p.declared_parameters(summary) == {"Subnets": None, "Names": "a,b", "KeyName": None}
    assert p.list_parameter_names(summary) == ("Subnets", "Names")
