"""windows_ipam_unchanged: windows_ipam's outcome when preflight's reading shows the module would change nothing, else {}."""

import pytest

from ansible_collections.eksnodes.windows.plugins.filter.windows_ipam_unchanged import FilterModule

windows_ipam_unchanged = FilterModule().filters()["windows_ipam_unchanged"]
ON = {"enable-windows-ipam": "true", "enable-windows-prefix-delegation": "true", "warm-prefix-target": "2"}


def preflight(data: object = "on", managed_addon=False, legacy="passed"):
    data = dict(ON) if data == "on" else data
    return {"checks": {"legacy_controllers": legacy}, "vpc_cni": {"managed_addon": managed_addon, "config_map_data": data}}


def test_what_the_config_map_already_has_is_the_modules_no_op_outcome():
    assert windows_ipam_unchanged(preflight(), {"enabled": True, "method": "auto", "prefix_delegation": None}) == {
        "method": "config_map", "enabled": True, "changed": False, "settings": {"enabled": True},
        "legacy_controllers": [], "legacy_controllers_removed": []}
    # Other settings count when asked, with the types the module gives them (a variable may hold text).
    outcome = windows_ipam_unchanged(preflight(), {"enabled": "true", "prefix_delegation": "true", "warm_prefix_target": "2"})
    assert outcome["settings"] == {"enabled": True, "prefix_delegation": True, "warm_prefix_target": 2}


def test_a_setting_rendered_empty_is_one_not_asked_for():
    # ansible-core before 2.19 renders the roles' "{{ prerequisites_warm_ip_target | default(none) }}" as "".
    unset = {"prefix_delegation": "", "warm_prefix_target": "", "warm_ip_target": "", "minimum_ip_target": ""}
    assert windows_ipam_unchanged(preflight(), {"enabled": True, "method": "auto", **unset}) == \
        windows_ipam_unchanged(preflight(), {"enabled": True, "method": "auto"})
    assert windows_ipam_unchanged(preflight(), {"enabled": True, **unset})["settings"] == {"enabled": True}


@pytest.mark.parametrize("reading, params", [
    (preflight(data={"enable-windows-ipam": "false"}), {"enabled": True}),                      # a value to change
    (preflight(data={"enable-windows-ipam": "True"}), {"enabled": True}),                       # not the exact value written
    (preflight(), {"enabled": True, "prefix_delegation": "false"}),                             # another setting to change
    (preflight(), {"enabled": True, "warm_ip_target": 1}),                                      # a key not there
    (preflight(data={}), {"enabled": True}),                                                    # no ConfigMap
    (preflight(data=None), {"enabled": True}),                                                  # the ConfigMap was not read
    (preflight(managed_addon=True), {"enabled": True}),                                         # the add-on's values decide
    (preflight(managed_addon=None), {"enabled": True}),                                         # add-ons not listed
    (preflight(legacy="failed"), {"enabled": True}),                                            # legacy controllers found
    (preflight(legacy="skipped"), {"enabled": True}),                                           # not looked for
    (preflight(), {"enabled": True, "remove_legacy_controllers": "true"}),                      # asked to remove them
    (preflight(), {"enabled": True, "method": "addon"}),                                        # the add-on path
    ({}, {"enabled": True}),                                                                    # no preflight reading
])
def test_the_module_must_run(reading, params):
    assert windows_ipam_unchanged(reading, params) == {}
