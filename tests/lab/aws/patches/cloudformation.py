"""CloudFormation template parameters: resolution and how they are reported.

AWS: an ``AWS::SSM::Parameter::Value<...>`` parameter resolves the SSM parameter the caller passed (the
template ``Default`` only when nothing was passed); a missing SSM parameter is a ValidationError ("Unable to
fetch parameters [...] from parameter store for this account."). Values of AWS-specific types (key pair,
VPC, subnet, security group, and their List<> forms) must exist, and ``AllowedValues`` is enforced.
DescribeStacks reports each parameter as the caller gave it: List<> and CommaDelimitedList values as
``a,b``; SSM parameters with the SSM name as ``ParameterValue`` and the value as ``ResolvedValue``.
moto 5.2.5: resolves the template Default of an SSM parameter even when it is overridden (HTTP 500 if that
default does not exist), never validates values, and reports the resolved Python value: the SSM value, and
``"['a', 'b']"`` for lists.

Not a rule but a cost: moto parses a template with PyYAML's pure Python loader, several times per change set, and
the lab shares the machine's cores with the code under test, where AWS parses templates on its own machines. Where
libyaml is built, moto's CloudFormation code parses with it instead: the same loader classes (yaml.Loader's
constructor and resolver, libyaml's parser), so the same documents and errors, in a tenth of the time.
"""

from __future__ import annotations

import types
from typing import Any, Callable, Optional

import moto.cloudformation.models
import moto.cloudformation.parsing
import moto.cloudformation.responses
import yaml
from moto.cloudformation.exceptions import MissingParameterError, ValidationError
from moto.cloudformation.models import Stack
from moto.cloudformation.parsing import ResourceMap
from moto.ec2.models import ec2_backends
from moto.ssm import ssm_backends

from lab.aws.naming import NAME_LIMITS, generated_name

SSM_PREFIX = "AWS::SSM::Parameter::"


def _existing_ids(account_id: str, region: str) -> dict[str, Callable[[], set[str]]]:
    ec2 = ec2_backends[account_id][region]
    return {
        "AWS::EC2::KeyPair::KeyName": lambda: set(ec2.key_pairs),
        "AWS::EC2::VPC::Id": lambda: set(ec2.vpcs),
        "AWS::EC2::Subnet::Id": lambda: {subnet_id for subnets in ec2.subnets.values() for subnet_id in subnets},
        "AWS::EC2::SecurityGroup::Id": lambda: {group_id for groups in ec2.groups.values() for group_id in groups},
    }


def _is_list_type(value_type: str) -> bool:
    return value_type == "CommaDelimitedList" or value_type.startswith("List<") or ("<List<" in value_type)


def _number(text: Any) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


def _resolve_ssm(resource_map: ResourceMap, name: str, value_type: str) -> Any:
    parameter = ssm_backends[resource_map._account_id][resource_map._region_name].get_parameter(name)  # pylint: disable=protected-access
    if parameter is None:
        raise ValidationError(message=f"Unable to fetch parameters [{name}] from parameter store for this account.")
    return parameter.value.split(",") if "List<" in value_type else parameter.value


def _check_value(resource_map: ResourceMap, key: str, slot: dict[str, Any], raw: str) -> None:
    value_type = slot.get("Type", "String")
    allowed = slot.get("AllowedValues")
    if allowed is not None and raw not in [str(item) for item in allowed]:
        raise ValidationError(message=f"Parameter '{key}' must be one of AllowedValues")
    base_type = value_type[5:-1] if value_type.startswith("List<") else value_type
    lookup = _existing_ids(resource_map._account_id, resource_map._region_name).get(base_type)  # pylint: disable=protected-access
    if lookup is None:
        return
    existing = lookup()
    for item in raw.split(",") if value_type.startswith("List<") else [raw]:
        if item.strip() not in existing:
            raise ValidationError(message=f"Parameter validation failed: parameter value {item.strip()} for parameter name {key} does not exist. "
                                          "Rollback requested by user.")


def _resolve(resource_map: ResourceMap, key: str, slot: dict[str, Any], raw: str) -> Any:
    value_type = slot.get("Type", "String")
    if value_type.startswith(SSM_PREFIX):
        return _resolve_ssm(resource_map, raw, value_type)
    _check_value(resource_map, key, slot, raw)
    if _is_list_type(value_type):
        items = raw.split(",") if raw != "" else []
        return [_number(item) for item in items] if value_type == "List<Number>" else items
    if value_type == "Number":
        return _number(raw)
    return raw


def raw_parameter_values(template: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Optional[str]]:
    """Each template parameter's value as a string: the input if given, else the Default (None when neither)."""
    values: dict[str, Optional[str]] = {}
    for key, slot in (template.get("Parameters") or {}).items():
        value = inputs.get(key, slot.get("Default"))
        if isinstance(value, list):
            value = ",".join(str(item) for item in value)
        values[key] = None if value is None else str(value)
    return values


def load_parameters(self: ResourceMap) -> None:
    """Replacement for ``ResourceMap.load_parameters``."""
    slots = self._template.get("Parameters", {})  # pylint: disable=protected-access
    self.no_echo_parameter_keys = [key for key, slot in slots.items() if slot.get("NoEcho") and key in self.input_parameters]
    for key, raw in raw_parameter_values(self._template, self.input_parameters).items():  # pylint: disable=protected-access
        if raw is None:
            raise MissingParameterError(key)
        self.resolved_parameters[key] = _resolve(self, key, slots[key], raw)
    self._parsed_resources.update(self.resolved_parameters)  # pylint: disable=protected-access


def parameter_list(self: Stack) -> list[dict[str, Any]]:
    """Replacement for ``Stack.parameter_list`` (the Parameters of DescribeStacks)."""
    slots = self.template_dict.get("Parameters") or {}
    resource_map = self.resource_map
    raw_values = raw_parameter_values(self.template_dict, resource_map.input_parameters)
    result = []
    for key, resolved in resource_map.resolved_parameters.items():
        entry: dict[str, Any] = {"ParameterKey": key, "ParameterValue": raw_values.get(key) or ""}
        if str(slots.get(key, {}).get("Type", "")).startswith(SSM_PREFIX):
            entry["ResolvedValue"] = ",".join(resolved) if isinstance(resolved, list) else str(resolved)
        if key in getattr(resource_map, "no_echo_parameter_keys", []):
            entry["ParameterValue"] = "****"
        result.append(entry)
    return result


class _YamlWithLibyaml(types.ModuleType):
    """PyYAML as moto's CloudFormation modules call it (yaml.load with yaml.Loader, yaml.add_multi_constructor), with
    yaml.Loader's libyaml twin in its place."""

    Loader = getattr(yaml, "CLoader", None)

    def __getattr__(self, name: str) -> Any:
        return getattr(yaml, name)

    @staticmethod
    def add_multi_constructor(tag_prefix: str, multi_constructor: Callable[..., Any], Loader: Any = None) -> None:  # pylint: disable=invalid-name
        yaml.add_multi_constructor(tag_prefix, multi_constructor, Loader=Loader or yaml.CLoader)


_moto_generate_resource_name = moto.cloudformation.parsing.generate_resource_name


def generate_resource_name(resource_type: str, stack_name: str, logical_id: str) -> str:
    """moto names the resources the template does not name; the lab cuts them as CloudFormation does (naming.py)."""
    if resource_type in NAME_LIMITS:
        return generated_name(resource_type, stack_name, logical_id, moto.cloudformation.parsing.random_suffix())
    return _moto_generate_resource_name(resource_type, stack_name, logical_id)


def install() -> None:
    moto.cloudformation.parsing.generate_resource_name = generate_resource_name
    if _YamlWithLibyaml.Loader is not None:
        moto.cloudformation.models.yaml = moto.cloudformation.responses.yaml = _YamlWithLibyaml("yaml")
    ResourceMap.load_parameters = load_parameters  # type: ignore[method-assign]
    Stack.parameter_list = property(parameter_list)  # type: ignore[method-assign,assignment]
