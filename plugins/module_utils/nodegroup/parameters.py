# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure functions: the module's snake_case options, validated and turned into template parameters.

Every error names the option and says how to fix it; nothing here calls AWS.
"""

import ipaddress
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from ..eks.transformations import dns_cluster_ip
from .template import LIST_PARAMETERS

# Option name -> the template parameter it sets (the AWS template's names where it has them).
OPTION_TO_PARAMETER = {
    "cluster_name": "ClusterName",
    "control_plane_security_group": "ClusterControlPlaneSecurityGroup",
    "nodegroup_name": "NodeGroupName",
    "min_size": "NodeAutoScalingGroupMinSize",
    "desired_capacity": "NodeAutoScalingGroupDesiredCapacity",
    "max_size": "NodeAutoScalingGroupMaxSize",
    "instance_type": "NodeInstanceType",
    "image_ssm_parameter": "NodeImageIdSSMParam",
    "image_id": "NodeImageId",
    "volume_size": "NodeVolumeSize",
    "key_name": "KeyName",
    "bootstrap_arguments": "BootstrapArguments",
    "disable_imdsv1": "DisableIMDSv1",
    "metadata_hop_limit": "HttpPutResponseHopLimit",
    "attach_cni_policy": "AttachCNIPolicy",
    "permissions_boundary": "NodeInstanceRolePermissionsBoundary",
    "api_server_endpoint": "ApiServerEndpoint",
    "certificate_authority_data": "CertificateAuthorityData",
    "service_cidr": "ServiceCidr",
    "dns_cluster_ip": "DnsClusterIp",
    "vpc_id": "VpcId",
    "security_groups": "NodeSecurityGroups",
    "subnets": "Subnets",
}
PARAMETER_TO_OPTION = {parameter: option for option, parameter in OPTION_TO_PARAMETER.items()}

# The options' defaults; they equal the template's parameter defaults (a unit test holds them to it).
# image_id and image_ssm_parameter have none (the template's NodeImageId and NodeImageIdSSMParam neither): the module
# passes image_id, resolved from image_ssm_parameter when it is not given, and image_ssm_parameter, empty when unset.
OPTION_DEFAULTS = {
    "min_size": 1,
    "desired_capacity": 2,
    "max_size": 3,
    "instance_type": "m5.large",
    "volume_size": 50,
    "key_name": "",
    "bootstrap_arguments": "",
    "disable_imdsv1": True,
    "metadata_hop_limit": 2,
    "attach_cni_policy": False,
    "permissions_boundary": "",
    "api_server_endpoint": "",
    "certificate_authority_data": "",
    "service_cidr": "",
    "dns_cluster_ip": "",
}

# What the built-in template cannot do without; and the image, from image_id or image_ssm_parameter.
REQUIRED_FOR_BUILTIN = ("cluster_name", "nodegroup_name", "control_plane_security_group", "vpc_id", "security_groups", "subnets")
IMAGE_OPTIONS = ("image_id", "image_ssm_parameter")
# Recorded for reference only: when the option is unset, a deployed stack keeps its value.
KEEP_DEPLOYED = ("NodeImageIdSSMParam",)
# Left unset when empty with another template, so that its own default applies (the AWS template's NodeImageIdSSMParam
# is SSM-typed: an empty value would fail).
UNSET_WHEN_EMPTY = ("NodeImageIdSSMParam", "NodeImageId")

MIN_VOLUME_SIZE = 50
STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")
NODEGROUP_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,62}$")
INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$")
RESOURCE_IDS = {
    "image_id": ("ami-", "an AMI ID", re.compile(r"^ami-[0-9a-f]{8,17}$")),
    "vpc_id": ("vpc-", "a VPC ID", re.compile(r"^vpc-[0-9a-f]{8,17}$")),
    "control_plane_security_group": ("sg-", "a security group ID", re.compile(r"^sg-[0-9a-f]{8,17}$")),
    "security_groups": ("sg-", "a security group ID", re.compile(r"^sg-[0-9a-f]{8,17}$")),
    "subnets": ("subnet-", "a subnet ID", re.compile(r"^subnet-[0-9a-f]{8,17}$")),
    "subnet_candidates": ("subnet-", "a subnet ID", re.compile(r"^subnet-[0-9a-f]{8,17}$")),
}
SSM_PARAMETER = re.compile(r"^/?[A-Za-z0-9_.\-/]+$")
# Start-EKSBootstrap.ps1 arguments the template sets from other options.
MANAGED_BOOTSTRAP_ARGUMENTS = {
    "-EKSClusterName": "cluster_name",
    "-APIServerEndpoint": "api_server_endpoint",
    "-Base64ClusterCA": "certificate_authority_data",
    "-ServiceCIDR": "service_cidr",
    "-DNSClusterIP": "dns_cluster_ip",
}


def _is_set(value: Any) -> bool:
    return value not in (None, "", [])


def validate_names(params: Mapping[str, Any]) -> List[str]:
    errors = []
    stack_name = params.get("stack_name") or ""
    if not STACK_NAME.match(stack_name):
        errors.append(
            f"stack_name {stack_name!r} is not a valid CloudFormation stack name: use 1 to 128 letters, digits "
            "and hyphens, starting with a letter"
        )
    cluster_name = params.get("cluster_name")
    if _is_set(cluster_name) and not CLUSTER_NAME.match(cluster_name):
        errors.append(
            f"cluster_name {cluster_name!r} is not a valid EKS cluster name: use 1 to 100 letters, digits, hyphens "
            "and underscores, starting with a letter or digit"
        )
    nodegroup_name = params.get("nodegroup_name")
    if _is_set(nodegroup_name) and not NODEGROUP_NAME.match(nodegroup_name):
        errors.append(
            f"nodegroup_name {nodegroup_name!r} is not valid: use 1 to 63 letters, digits, hyphens and underscores, "
            "starting with a letter or digit"
        )
    return errors


def validate_sizes(params: Mapping[str, Any]) -> List[str]:
    errors = []
    low, desired, high = params.get("min_size"), params.get("desired_capacity"), params.get("max_size")
    if low is not None and low < 0:
        errors.append(f"min_size ({low}) must be 0 or more")
    if high is not None and high < 1:
        errors.append(f"max_size ({high}) must be 1 or more")
    if None not in (low, desired) and desired < low:
        errors.append(f"desired_capacity ({desired}) must be at least min_size ({low}): raise desired_capacity or lower min_size")
    if None not in (desired, high) and desired > high:
        errors.append(f"desired_capacity ({desired}) must be at most max_size ({high}): lower desired_capacity or raise max_size")
    volume_size = params.get("volume_size")
    if volume_size is not None and volume_size < MIN_VOLUME_SIZE:
        errors.append(
            f"volume_size ({volume_size}) is below {MIN_VOLUME_SIZE} GiB, the size of the Windows AMI's root snapshot: "
            f"set volume_size to {MIN_VOLUME_SIZE} or more"
        )
    hop_limit = params.get("metadata_hop_limit")
    if hop_limit is not None and not 1 <= hop_limit <= 64:
        errors.append(f"metadata_hop_limit ({hop_limit}) must be between 1 and 64")
    return errors


def validate_ids(params: Mapping[str, Any]) -> List[str]:
    errors = []
    for option, (prefix, what, pattern) in RESOURCE_IDS.items():
        value = params.get(option)
        if not _is_set(value):
            continue
        values = value if isinstance(value, list) else [value]
        for index, item in enumerate(values):
            if not pattern.match(str(item)):
                where = f"{option}[{index}]" if isinstance(value, list) else option
                errors.append(f"{where} {item!r} is not {what} ({prefix}...): give the ID, not a name")
    instance_type = params.get("instance_type")
    if _is_set(instance_type) and not INSTANCE_TYPE.match(instance_type):
        errors.append(f"instance_type {instance_type!r} is not an EC2 instance type such as m5.large")
    ssm_parameter = params.get("image_ssm_parameter")
    if _is_set(ssm_parameter) and not SSM_PARAMETER.match(ssm_parameter):
        errors.append(f"image_ssm_parameter {ssm_parameter!r} is not an SSM parameter name such as /aws/service/.../image_id")
    return errors


def validate_cluster_access(params: Mapping[str, Any]) -> List[str]:
    errors = []
    endpoint, authority = params.get("api_server_endpoint"), params.get("certificate_authority_data")
    if _is_set(endpoint) != _is_set(authority):
        errors.append(
            "api_server_endpoint and certificate_authority_data go together (Start-EKSBootstrap.ps1 takes both or "
            "neither): set both from the cluster's endpoint and certificateAuthority.data, or neither"
        )
    if _is_set(endpoint) and not str(endpoint).startswith("https://"):
        errors.append(f"api_server_endpoint {endpoint!r} must be the cluster's https:// endpoint")
    service_cidr, dns_ip = params.get("service_cidr"), params.get("dns_cluster_ip")
    network = None
    if _is_set(service_cidr):
        try:
            network = ipaddress.IPv4Network(service_cidr, strict=False)
        except ValueError:
            errors.append(f"service_cidr {service_cidr!r} is not an IPv4 CIDR such as 10.100.0.0/16")
    if _is_set(dns_ip):
        try:
            address = ipaddress.IPv4Address(dns_ip)
        except ValueError:
            errors.append(f"dns_cluster_ip {dns_ip!r} is not an IPv4 address such as 10.100.0.10")
        else:
            if network is not None and address not in network:
                errors.append(f"dns_cluster_ip {dns_ip} is outside service_cidr {service_cidr}: the cluster DNS service lives in the service CIDR")
    arguments = params.get("bootstrap_arguments") or ""
    for argument, option in MANAGED_BOOTSTRAP_ARGUMENTS.items():
        if re.search(re.escape(argument) + r"(\s|=|$)", arguments, flags=re.IGNORECASE):
            errors.append(f"bootstrap_arguments must not set {argument}: the template sets it from {option}")
    return errors


def validate_tags(tags: Optional[Mapping[str, Any]]) -> List[str]:
    errors = []
    if not tags:
        return errors
    if len(tags) > 50:
        errors.append(f"tags has {len(tags)} entries; a stack takes at most 50")
    for key in tags:
        if str(key).lower().startswith("aws:"):
            errors.append(f"tags key {key!r} uses the reserved aws: prefix: choose another key")
    return errors


def validate(params: Mapping[str, Any]) -> List[str]:
    """Every problem with the options of state=present, before any AWS call."""
    errors = validate_names(params)
    if params.get("builtin_template", True):
        missing = [option for option in REQUIRED_FOR_BUILTIN if not _is_set(params.get(option))
                   and not (option == "subnets" and _is_set(params.get("subnet_candidates")))]
        for option in missing:
            errors.append(f"{option} is required with the collection's template: {_REQUIRED_HINTS[option]}")
        if not any(_is_set(params.get(option)) for option in IMAGE_OPTIONS) and not params.get("ami"):
            errors.append(
                "image_id is required with the collection's template: give the AMI ID that eksnodes.windows.windows_ami_info "
                "returns as image_id, or set image_ssm_parameter to an SSM parameter that holds it"
            )
    errors.extend(validate_sizes(params))
    errors.extend(validate_ids(params))
    errors.extend(validate_cluster_access(params))
    errors.extend(validate_tags(params.get("tags")))
    if params.get("wait_timeout") is not None and params["wait_timeout"] < 1:
        errors.append(f"wait_timeout ({params['wait_timeout']}) must be 1 second or more")
    return errors


_REQUIRED_HINTS = {
    "cluster_name": "give the EKS cluster name",
    "nodegroup_name": "give a name for the node group, for example windows",
    "control_plane_security_group": "give the cluster's control plane security group ID (its additional security group)",
    "vpc_id": "give the cluster's VPC ID",
    "security_groups": "give at least one security group ID, usually the Linux nodes' security group",
    "subnets": "give at least one subnet ID, preferably private subnets with a NAT gateway, or the cluster's subnets in "
               "subnet_candidates to choose from",
}


def format_value(value: Any) -> str:
    """A template parameter value as CloudFormation stores it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(sorted(str(item).strip() for item in value))
    if value is None:
        return ""
    return str(value)


def template_parameters(params: Mapping[str, Any]) -> Dict[str, str]:
    """Every parameter of the collection's template, as strings, from the module options."""
    values = {}
    for option, parameter in OPTION_TO_PARAMETER.items():
        value = params.get(option)
        if value is None:
            value = OPTION_DEFAULTS.get(option, "")
        values[parameter] = format_value(value)
    if not values["DnsClusterIp"] and values["ServiceCidr"]:
        values["DnsClusterIp"] = dns_cluster_ip(values["ServiceCidr"]) or ""
    return values


def needs_image_lookup(params: Mapping[str, Any]) -> bool:
    """Whether the module reads the AMI ID from image_ssm_parameter: only with the collection's template, and only
    when image_id is not given (CloudFormation never reads it: see the template's NodeImageIdSSMParam)."""
    return bool(params.get("builtin_template", True)) and not _is_set(params.get("image_id")) and _is_set(params.get("image_ssm_parameter"))


def image_lookup_error(name: str, value: Optional[str], region: Optional[str]) -> Optional[str]:
    """Why the value read from the SSM parameter is not an AMI ID (None when it is)."""
    if value is None:
        return (f"image_ssm_parameter {name} does not exist in {region}: check the name (the Kubernetes version in it may "
                "be retired), or give image_id")
    if not RESOURCE_IDS["image_id"][2].match(value):
        return f"image_ssm_parameter {name} holds {value!r}, not an AMI ID: give the name of a parameter that holds one, or image_id"
    return None


def with_extra(parameters: Mapping[str, str], extra: Optional[Mapping[str, Any]]) -> Dict[str, str]:
    """parameters overridden by the raw template_parameters option."""
    merged = dict(parameters)
    for name, value in (extra or {}).items():
        merged[str(name)] = format_value(value)
    return merged


def select_declared(
    parameters: Mapping[str, str], declared: Mapping[str, Optional[str]], extra: Optional[Mapping[str, Any]] = None
) -> Tuple[Dict[str, str], List[str], List[str]]:
    """Fit the parameters to another template's declarations.

    declared maps each parameter the template declares to its default (None when it has none).
    Returns (parameters to send, with the template's defaults filled in for the rest; the options
    that were set away from their defaults but that the template does not declare; the raw
    template_parameters the template does not declare).
    """
    extra = extra or {}
    selected: Dict[str, str] = {}
    for name, default in declared.items():
        if name in parameters and not (parameters[name] == "" and name in UNSET_WHEN_EMPTY and name not in extra):
            selected[name] = parameters[name]
        elif default is not None:
            selected[name] = default
    ignored = []
    for name, value in parameters.items():
        if name in declared or name in extra:
            continue
        option = PARAMETER_TO_OPTION.get(name)
        if option is None:
            continue
        default = format_value(OPTION_DEFAULTS.get(option, ""))
        if value != default:
            ignored.append(option)
    unknown = sorted(str(name) for name in extra if name not in declared)
    return selected, sorted(ignored), unknown


def declared_parameters(summary: Mapping[str, Any]) -> Dict[str, Optional[str]]:
    """GetTemplateSummary's parameter declarations: name -> default (None when required)."""
    return {item["ParameterKey"]: item.get("DefaultValue") for item in summary.get("Parameters") or []}


def list_parameter_names(summary: Optional[Mapping[str, Any]] = None) -> Iterable[str]:
    """The parameters whose values are lists (compared as sets)."""
    if summary is None:
        return LIST_PARAMETERS
    return tuple(
        item["ParameterKey"]
        for item in summary.get("Parameters") or []
        if str(item.get("ParameterType", "")).startswith("List<") or item.get("ParameterType") == "CommaDelimitedList"
    )
