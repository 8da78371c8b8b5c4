# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Turning the aws_auth module's options into a checked request, before anything is read or written.

Every problem is reported with the option it is in (map_roles[2].rolearn, node_roles[0].arn, ...) and
what to do about it.
"""

from typing import Any, Dict, List, Optional, Tuple

from .arns import arn_key, check_account_id, check_role_arn, check_user_arn, role_path
from .mappings import ACCOUNTS, EXACT, IDENTITY_FIELD, ROLES, USERS, node_role_entry, requested_entry

SEPARATE_ROLES = (
    "The EKS documentation asks for separate IAM roles for Windows and Linux nodes, and an access entry can only "
    "be one of EC2_WINDOWS or EC2_LINUX. Give the Windows nodes a role of their own."
)


class RequestError(ValueError):
    """A request that contradicts itself; the message names the options involved."""


def _add(seen: Dict[str, Tuple[str, Dict[str, Any]]], field: str, request: Dict[str, Any]) -> bool:
    """Record request under its ARN; False when an identical one was already given, error when a different one was."""
    key = arn_key(request["arn"]) if request["key"] != ACCOUNTS else str(request["arn"])
    if key not in seen:
        seen[key] = (field, request)
        return True
    first_field, first = seen[key]
    if dict(first, arn=key) == dict(request, arn=key):
        return False
    if first["mode"] != EXACT and request["mode"] != EXACT:
        raise RequestError(
            f"{first_field} and {field}: {request['arn']} is given as both a windows and a linux node role. {SEPARATE_ROLES}"
        )
    raise RequestError(f"{first_field} and {field} both map {request['arn']}, differently; give each ARN once.")


Request = Dict[str, List[Dict[str, Any]]]


def build_request(state: str, map_roles: Optional[List[Dict[str, Any]]] = None, map_users: Optional[List[Dict[str, Any]]] = None,
                  map_accounts: Optional[List[Any]] = None, node_roles: Optional[List[Dict[str, Any]]] = None) -> Tuple[Request, List[str]]:
    """({mapRoles: [...], mapUsers: [...], mapAccounts: [...]} of requested entries, warnings).

    Raises ArnError for an ARN or account ID that cannot be used, RequestError for a contradiction.
    """
    request: Request = {ROLES: [], USERS: [], ACCOUNTS: []}
    warnings: List[str] = []
    seen: Dict[str, Tuple[str, Dict[str, Any]]] = {}

    def role_arn(value, field):
        arn, notes = check_role_arn(value, field)
        warnings.extend(notes)
        return arn

    for index, node in enumerate(node_roles or []):
        field = f"node_roles[{index}]"
        arn = role_arn(node.get("arn"), f"{field}.arn")
        os_name = node.get("os")
        if os_name not in ("windows", "linux"):
            raise RequestError(f"{field}.os: {os_name!r} is not one of windows, linux.")
        entry = node_role_entry(arn, os_name)
        if _add(seen, field, entry):
            request[ROLES].append(entry)
        if state == "absent" and role_path(node.get("arn")):
            request[ROLES].append(requested_entry(ROLES, str(node.get("arn")).strip(), mode=entry["mode"]))

    for key, items, option in ((ROLES, map_roles, "map_roles"), (USERS, map_users, "map_users")):
        field_name = IDENTITY_FIELD[key]
        for index, item in enumerate(items or []):
            field = f"{option}[{index}]"
            given = item.get(field_name)
            arn = role_arn(given, f"{field}.{field_name}") if key == ROLES else check_user_arn(given, f"{field}.{field_name}")
            username = item.get("username")
            if state == "present" and not username:
                raise RequestError(f"{field}.username: required with state=present; for example the Kubernetes user name {arn} acts as.")
            groups = item.get("groups")
            if groups is not None:
                groups = list(dict.fromkeys(str(group) for group in groups))
            entry = requested_entry(key, arn, username, groups, EXACT)
            if _add(seen, field, entry):
                request[key].append(entry)
            if state == "absent" and key == ROLES and role_path(given):
                request[key].append(requested_entry(key, str(given).strip(), mode=EXACT))

    for index, account in enumerate(map_accounts or []):
        ident = check_account_id(account, f"map_accounts[{index}]")
        entry = requested_entry(ACCOUNTS, ident, mode=EXACT)
        if _add(seen, f"map_accounts[{index}]", entry):
            request[ACCOUNTS].append(entry)
    return request, warnings


def check_node_role_conflicts(windows_arns: List[str], linux_roles: List[Dict[str, str]]) -> None:
    """Raise RequestError when a Windows node role is also a Linux node role ({arn, source} each)."""
    linux = {}
    for role in linux_roles:
        linux.setdefault(arn_key(role["arn"]), role)
    for arn in windows_arns:
        found = linux.get(arn_key(arn))
        if found:
            raise RequestError(f"{arn} is the Windows node role and also a Linux node role ({found['source']}). {SEPARATE_ROLES}")
