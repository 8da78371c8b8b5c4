# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The windows_ipam_unchanged filter (documented in windows_ipam_unchanged.yml)."""

from ansible.module_utils.common.validation import check_type_bool, check_type_int

from ansible_collections.eksnodes.windows.plugins.module_utils.ipam.settings import SETTINGS, unchanged_outcome


def _as_the_module_takes_them(params):
    """The options converted as the module's argument spec converts them (variables may hold "false" or "2")."""
    converted = dict(params)
    for option, _key, _value, kind in SETTINGS:
        if converted.get(option) in ("", None):  # ansible-core before 2.19 renders "{{ none }}" as ""
            converted[option] = None
        else:
            converted[option] = check_type_bool(converted[option]) if kind == "bool" else check_type_int(converted[option])
    converted["remove_legacy_controllers"] = check_type_bool(converted.get("remove_legacy_controllers") or False)
    return converted


def windows_ipam_unchanged(preflight, params):
    """windows_ipam's outcome with params when preflight's reading shows it would change nothing; else {}."""
    checks = (preflight or {}).get("checks") or {}
    outcome = unchanged_outcome(_as_the_module_takes_them(params or {}), (preflight or {}).get("vpc_cni") or {}, checks.get("legacy_controllers"))
    return outcome or {}


class FilterModule:
    def filters(self):
        return {"windows_ipam_unchanged": windows_ipam_unchanged}
