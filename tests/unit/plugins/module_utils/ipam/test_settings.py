import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.ipam import settings as ipam

PARAMS = {"enabled": True, "prefix_delegation": None, "warm_prefix_target": None, "warm_ip_target": 2, "minimum_ip_target": None,
          "cluster_name": "lab", "method": "auto"}


def test_unset_options_are_not_managed():
    assert ipam.wanted_settings(PARAMS) == {"enabled": True, "warm_ip_target": 2}


def test_config_map_data_is_strings_under_the_controller_keys():
    data = ipam.config_map_data({"enabled": True, "prefix_delegation": False, "warm_prefix_target": 1, "warm_ip_target": 0, "minimum_ip_target": 3})
    assert data == {"enable-windows-ipam": "true", "enable-windows-prefix-delegation": "false", "warm-prefix-target": "1",
                    "warm-ip-target": "0", "minimum-ip-target": "3"}


def test_addon_values_match_the_addon_schema_types():
    values = ipam.addon_values({"enabled": True, "prefix_delegation": True, "warm_prefix_target": 1, "minimum_ip_target": 3})
    assert values == {"enableWindowsIpam": "true", "enableWindowsPrefixDelegation": "true", "warmWindowsPrefixTarget": 1, "minimumWindowsIPTarget": 3}


def test_only_changed_keys_are_patched_and_others_are_left_out():
    current = {"enable-windows-ipam": "false", "warm-ip-target": "1", "branch-eni-cooldown": "60"}
    assert ipam.data_changes(current, {"enable-windows-ipam": "true", "warm-ip-target": "1"}) == {"enable-windows-ipam": "true"}
    assert ipam.data_changes(None, {"enable-windows-ipam": "true"}) == {"enable-windows-ipam": "true"}


def test_values_compare_by_meaning_not_by_type():
    current = {"enableWindowsIpam": "True", "warmWindowsIPTarget": "3", "env": {"X": "1"}}
    assert ipam.values_changes(current, {"enableWindowsIpam": "true", "warmWindowsIPTarget": 3}) == {}
    assert ipam.values_changes(current, {"enableWindowsIpam": "false"}) == {"enableWindowsIpam": "false"}
    assert ipam.values_changes({}, {"enableWindowsIpam": "true"}) == {"enableWindowsIpam": "true"}


def test_merge_keeps_every_other_value():
    current = {"env": {"WARM_IP_TARGET": "2"}, "enableNetworkPolicy": "true"}
    merged = ipam.merged_values(current, {"enableWindowsIpam": "true"})
    assert merged == {"env": {"WARM_IP_TARGET": "2"}, "enableNetworkPolicy": "true", "enableWindowsIpam": "true"}
    assert current == {"env": {"WARM_IP_TARGET": "2"}, "enableNetworkPolicy": "true"}


@pytest.mark.parametrize("text, expected", [
    (None, {}), ("", {}), ("  ", {}),
    ('{"enableWindowsIpam": "true"}', {"enableWindowsIpam": "true"}),
    ("enableWindowsIpam: 'true'\nenv:\n  A: '1'\n", {"enableWindowsIpam": "true", "env": {"A": "1"}}),
])
def test_configuration_values_are_json_or_yaml(text, expected):
    assert ipam.parse_configuration_values(text) == expected


@pytest.mark.parametrize("text", ["[1, 2]", "just words", "a: [b"])
def test_unreadable_configuration_values_are_refused(text):
    with pytest.raises(ipam.ConfigurationValuesError):
        ipam.parse_configuration_values(text)


def test_dumped_values_round_trip():
    values = {"enableWindowsIpam": "true", "warmWindowsIPTarget": 2}
    assert ipam.parse_configuration_values(ipam.dump_configuration_values(values)) == values


def test_problems_name_the_option():
    assert ipam.settings_problems({"enabled": True, "warm_ip_target": -1}) == ["warm_ip_target is -1; it must be 0 or more"]
    assert "prefix_delegation=true needs Windows IPAM" in ipam.settings_problems({"enabled": False, "prefix_delegation": True})[0]
    assert ipam.settings_problems({"enabled": False}) == []


@pytest.mark.parametrize("value, enabled", [("true", True), ("True", True), ("1", True), ("t", True), ("false", False), ("yes", False), (None, False)])
def test_enabled_reads_like_the_controller(value, enabled):
    data = {} if value is None else {"enable-windows-ipam": value}
    assert ipam.windows_ipam_enabled(data) is enabled


def test_an_update_says_which_fields_it_touches():
    touched = ipam.update_touches({"enableWindowsIpam": "true", "warmWindowsIPTarget": 2}, "PRESERVE")
    assert touched["configuration_values"] == ["enableWindowsIpam", "warmWindowsIPTarget"]
    assert touched["config_map_keys"] == ["kube-system/amazon-vpc-cni enable-windows-ipam", "kube-system/amazon-vpc-cni warm-ip-target"]
    assert touched["resolve_conflicts"] == "PRESERVE" and touched["fields_changed_by_hand"].startswith("fields changed by hand are kept")
    overwrite = ipam.update_touches({"enableWindowsIpam": "true"}, "OVERWRITE")["fields_changed_by_hand"]
    assert "reset to the add-on's value, cluster-wide" in overwrite and "WARM_IP_TARGET" in overwrite
