# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Windows IPAM settings: the same wish written as amazon-vpc-cni ConfigMap data or as vpc-cni add-on values.

Pure functions only; the module decides where the settings go and the API wrappers write them.
"""

import json
from typing import Any, Dict, List, Mapping, Optional, Tuple

try:
    import yaml
except ImportError:
    yaml = None

CONFIG_MAP_NAME = "amazon-vpc-cni"
CONFIG_MAP_NAMESPACE = "kube-system"
ADDON_NAME = "vpc-cni"

# (module option, amazon-vpc-cni ConfigMap key, vpc-cni add-on configuration value, kind)
SETTINGS: Tuple[Tuple[str, str, str, str], ...] = (
    ("enabled", "enable-windows-ipam", "enableWindowsIpam", "bool"),
    ("prefix_delegation", "enable-windows-prefix-delegation", "enableWindowsPrefixDelegation", "bool"),
    ("warm_prefix_target", "warm-prefix-target", "warmWindowsPrefixTarget", "int"),
    ("warm_ip_target", "warm-ip-target", "warmWindowsIPTarget", "int"),
    ("minimum_ip_target", "minimum-ip-target", "minimumWindowsIPTarget", "int"),
)
OPTIONS = tuple(option for option, _key, _value, _kind in SETTINGS)


class ConfigurationValuesError(ValueError):
    pass


def wanted_settings(params: Mapping[str, Any]) -> Dict[str, Any]:
    """The settings the task asks for: options left unset are not managed."""
    return {option: params[option] for option in OPTIONS if params.get(option) is not None}


def settings_problems(settings: Mapping[str, Any]) -> List[str]:
    """Input mistakes, each naming the option and the fix."""
    problems = []
    for option, _key, _value, kind in SETTINGS:
        value = settings.get(option)
        if kind == "int" and value is not None and value < 0:
            problems.append(f"{option} is {value}; it must be 0 or more")
    if settings.get("enabled") is False and settings.get("prefix_delegation"):
        problems.append("prefix_delegation=true needs Windows IPAM; set enabled=true, or leave prefix_delegation unset to disable IPAM")
    return problems


def _as_text(kind: str, value: Any) -> str:
    if kind == "bool":
        return "true" if value else "false"
    return str(value)


def config_map_data(settings: Mapping[str, Any]) -> Dict[str, str]:
    """The amazon-vpc-cni ConfigMap keys for the settings (the VPC resource controller reads strings)."""
    return {key: _as_text(kind, settings[option]) for option, key, _value, kind in SETTINGS if option in settings}


def addon_values(settings: Mapping[str, Any]) -> Dict[str, Any]:
    """The vpc-cni add-on configuration values for the settings: booleans as "true"/"false", targets as integers."""
    values: Dict[str, Any] = {}
    for option, _key, value_name, kind in SETTINGS:
        if option in settings:
            values[value_name] = _as_text(kind, settings[option]) if kind == "bool" else int(settings[option])
    return values


def data_changes(current: Optional[Mapping[str, str]], wanted: Mapping[str, str]) -> Dict[str, str]:
    """The ConfigMap keys whose value must change (all of them when the ConfigMap or its data is missing)."""
    current = current or {}
    return {key: value for key, value in wanted.items() if current.get(key) != value}


def unchanged_outcome(params: Mapping[str, Any], vpc_cni: Mapping[str, Any], legacy_check: Optional[str]) -> Optional[Dict[str, Any]]:
    """windows_ipam's outcome (method, enabled, changed, settings and the legacy controllers) when, from what preflight
    has just read (its vpc_cni result and the status of its legacy_controllers check), a run with params would change
    nothing and call nothing the reading did not; None when the module must run.

    That is the ConfigMap path (VPC CNI self-managed: with the managed add-on, its own values decide) with every wanted
    key already there, and no legacy controller found or to remove. The module's apply_config_map compares the same way.
    """
    if params.get("method", "auto") not in ("auto", "config_map") or params.get("remove_legacy_controllers"):
        return None
    if legacy_check != "passed" or vpc_cni.get("managed_addon") is not False:
        return None
    data = vpc_cni.get("config_map_data")
    settings = wanted_settings(params)
    if not data or data_changes(data, config_map_data(settings)):
        return None
    return {"method": "config_map", "enabled": windows_ipam_enabled(data), "changed": False, "settings": settings,
            "legacy_controllers": [], "legacy_controllers_removed": []}


def parse_configuration_values(text: Optional[str]) -> Dict[str, Any]:
    """An add-on's configurationValues (JSON or YAML) as a dictionary; empty when unset."""
    if text is None or not text.strip():
        return {}
    try:
        values = json.loads(text)
    except ValueError:
        if yaml is None:
            raise ConfigurationValuesError("the add-on's configuration values are not JSON, and PyYAML is not installed to read them as YAML")
        try:
            values = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ConfigurationValuesError(f"the add-on's configuration values are neither JSON nor YAML: {error}") from error
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigurationValuesError(f"the add-on's configuration values are a {type(values).__name__}, not a mapping")
    return values


def _normal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().lower()


def values_changes(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> Dict[str, Any]:
    """The add-on values that differ from what is set ("true" and true, 3 and "3" count as the same)."""
    return {key: value for key, value in wanted.items() if key not in current or _normal(current[key]) != _normal(value)}


def merged_values(current: Mapping[str, Any], changes: Mapping[str, Any]) -> Dict[str, Any]:
    """The add-on's configuration values with the changes applied and every other value kept as it was."""
    merged = dict(current)
    merged.update(changes)
    return merged


def dump_configuration_values(values: Mapping[str, Any]) -> str:
    return json.dumps(values, separators=(", ", ": "))


def is_true(value: Any) -> bool:
    """How the VPC resource controller reads a boolean key (strconv.ParseBool)."""
    return _normal(value) in ("1", "t", "true")


def windows_ipam_enabled(data: Optional[Mapping[str, Any]], key: str = "enable-windows-ipam") -> bool:
    return is_true((data or {}).get(key, "false"))


# What UpdateAddon's resolveConflicts does to fields of the add-on's objects changed outside the add-on (botocore's EKS
# model, UpdateAddon): OVERWRITE resets them to the add-on's values, PRESERVE keeps them, NONE fails on a conflict.
RESOLVE_CONFLICTS_EFFECT = {
    "OVERWRITE": "every field of the add-on's objects changed by hand (amazon-vpc-cni keys, aws-node env such as WARM_IP_TARGET) "
                 "is reset to the add-on's value, cluster-wide",
    "PRESERVE": "fields changed by hand are kept; only fields nobody changed take the new values",
    "NONE": "the update fails if a field it sets was changed by hand",
}


def update_touches(changes: Mapping[str, Any], resolve_conflicts: str) -> Dict[str, Any]:
    """What an add-on update with these configuration value changes touches, for the diff and the result."""
    keys = {value_name: key for _option, key, value_name, _kind in SETTINGS}
    return {
        "configuration_values": sorted(changes),
        "config_map_keys": sorted(f"{CONFIG_MAP_NAMESPACE}/{CONFIG_MAP_NAME} {keys[name]}" for name in changes if name in keys),
        "resolve_conflicts": resolve_conflicts,
        "fields_changed_by_hand": RESOLVE_CONFLICTS_EFFECT[resolve_conflicts],
    }
