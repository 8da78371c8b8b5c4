# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The entries of the aws-auth ConfigMap: parsing, rendering and merging, as pure functions.

`data.mapRoles`, `data.mapUsers` and `data.mapAccounts` each hold a YAML document: a list of
{rolearn|userarn, username, groups} mappings, or of account IDs. Entries are matched by their ARN
(or account ID) regardless of case, since IAM names are unique regardless of case.

A merge changes only the entries the request names: every other entry, and every other key an entry
carries, is kept as it was.
"""

import copy
from typing import Any, Dict, Iterable, List, Optional

try:
    import yaml
except ImportError:
    yaml = None  # modules check HAS_YAML and report PyYAML as missing

from .arns import arn_key
from .blocktext import parse_entries, render_entry

HAS_YAML = yaml is not None
# libyaml's parser when PyYAML was built with it: about 4x faster on a large mapRoles; the constructor and
# resolver are the same SafeLoader ones, so the result is the same.
_LOADER = getattr(yaml, "CSafeLoader", None) or getattr(yaml, "SafeLoader", None)

ROLES = "mapRoles"
USERS = "mapUsers"
ACCOUNTS = "mapAccounts"
KEYS = (ROLES, USERS, ACCOUNTS)
IDENTITY_FIELD = {ROLES: "rolearn", USERS: "userarn"}

NODE_USERNAME = "system:node:{{EC2PrivateDNSName}}"
LINUX_NODE_GROUPS = ("system:bootstrappers", "system:nodes")
WINDOWS_NODE_GROUPS = ("system:bootstrappers", "system:nodes", "eks:kube-proxy-windows")
NODE_GROUPS = {"linux": LINUX_NODE_GROUPS, "windows": WINDOWS_NODE_GROUPS}
KUBE_PROXY_WINDOWS = "eks:kube-proxy-windows"

# How a requested entry applies to an existing one with the same ARN:
# EXACT sets username and groups to what was asked (a None leaves that field as it is);
# NODE makes it a node mapping: the node username, and the node groups added to any it already has.
# Groups a NODE entry already had besides the node groups (extra_node_groups()) are kept only when the
# caller allows it: they would be given to every node with the role.
EXACT = "exact"
NODE = "node"


class MalformedMappingsError(ValueError):
    """An aws-auth key whose content is not YAML of the expected shape."""

    def __init__(self, key: str, problem: str):
        self.key = key
        self.problem = problem
        super().__init__(
            f"data.{key} of ConfigMap kube-system/aws-auth {problem}. Nothing was changed. "
            f"Fix it by hand (kubectl edit -n kube-system configmap/aws-auth) so that it is a YAML list "
            + ("of account IDs" if key == ACCOUNTS else f"of mappings each with a {IDENTITY_FIELD.get(key, 'rolearn')}")
            + ", then run again."
        )


# --- reading ---------------------------------------------------------------------------------------

def _check_entry(entry: Any, key: str, index: int) -> None:
    where = f"entry {index + 1}"
    if key == ACCOUNTS:
        if isinstance(entry, bool) or not isinstance(entry, (str, int)) or not str(entry).strip():
            raise MalformedMappingsError(key, f"has {where} {entry!r}, which is not an account ID")
        return
    field = IDENTITY_FIELD[key]
    if not isinstance(entry, dict):
        raise MalformedMappingsError(key, f"has {where} of type {type(entry).__name__}, not a mapping")
    if not isinstance(entry.get(field), str) or not entry[field].strip():
        raise MalformedMappingsError(key, f"has {where} without a {field} string")
    if "username" in entry and entry["username"] is not None and not isinstance(entry["username"], str):
        raise MalformedMappingsError(key, f"has {where} ({entry[field]}) whose username is not a string")
    groups = entry.get("groups")
    if groups is not None and (not isinstance(groups, list) or not all(isinstance(group, str) for group in groups)):
        raise MalformedMappingsError(key, f"has {where} ({entry[field]}) whose groups are not a list of strings")


def parse_mappings(text: Optional[str], key: str) -> List[Any]:
    """The entries of one aws-auth key (mapRoles, mapUsers: dicts; mapAccounts: account IDs as given).

    Empty or missing text is an empty list. Raises MalformedMappingsError when the text is not YAML
    or not a list of entries of the shape the key needs.
    """
    if key not in KEYS:
        raise ValueError(f"unknown aws-auth key {key!r}; expected one of {', '.join(KEYS)}")
    if text is None or not str(text).strip():
        return []
    loaded = parse_entries(str(text)) if key != ACCOUNTS else None
    if loaded is None:
        loaded = _load(str(text), key)
    if not isinstance(loaded, list):
        raise MalformedMappingsError(key, f"is a YAML {type(loaded).__name__}, not a list")
    for index, entry in enumerate(loaded):
        _check_entry(entry, key, index)
    return loaded


def _load(text: str, key: str) -> Any:
    """PyYAML's safe load of text, [] for null; MalformedMappingsError when it is not YAML."""
    try:
        loaded = yaml.load(text, Loader=_LOADER)  # nosec B506 - a safe loader (CSafeLoader or SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise MalformedMappingsError(key, f"is not valid YAML ({problem}{where})") from error
    return [] if loaded is None else loaded


def identity(entry: Any, key: str) -> str:
    """What an entry is matched by: its ARN, or the account ID, compared regardless of case."""
    if key == ACCOUNTS:
        return str(entry).strip()
    return arn_key(entry[IDENTITY_FIELD[key]])


def duplicates(entries: Iterable[Any], key: str) -> List[Dict[str, Any]]:
    """[{key, arn|account, count}] for every identity present more than once, in first-seen order."""
    counts: Dict[str, int] = {}
    first: Dict[str, Any] = {}
    for entry in entries:
        ident = identity(entry, key)
        counts[ident] = counts.get(ident, 0) + 1
        first.setdefault(ident, entry)
    found = []
    for ident, count in counts.items():
        if count > 1:
            shown = first[ident] if key == ACCOUNTS else first[ident][IDENTITY_FIELD[key]]
            found.append({"key": key, "identity": str(shown), "count": count})
    return found


def node_mapping_os(entry: Dict[str, Any]) -> Optional[str]:
    """'windows' or 'linux' for an EC2 node mapping of mapRoles, None for anything else (Fargate included)."""
    if not isinstance(entry, dict) or entry.get("username") != NODE_USERNAME:
        return None
    groups = entry.get("groups") or []
    if "system:nodes" not in groups:
        return None
    return "windows" if KUBE_PROXY_WINDOWS in groups else "linux"


# --- writing ---------------------------------------------------------------------------------------

_DUMPERS: Dict[str, Any] = {}


def _dumper(name: str):
    """Block style, lists indented under their key, no anchors: what people write by hand.

    "document" also writes multi-line strings as literal blocks (for showing a whole ConfigMap).
    Built on first use so that importing this module needs no PyYAML.
    """
    if not _DUMPERS:
        class BlockDumper(yaml.SafeDumper):  # pylint: disable=too-many-ancestors
            def increase_indent(self, flow=False, indentless=False):
                return super().increase_indent(flow, False)

            def ignore_aliases(self, data):
                return True

        class DocumentDumper(BlockDumper):  # pylint: disable=too-many-ancestors
            pass

        def literal_str(dumper, value):
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

        DocumentDumper.add_representer(str, literal_str)
        _DUMPERS.update(block=BlockDumper, document=DocumentDumper)
    return _DUMPERS[name]


def ordered_entry(entry: Any, key: str) -> Any:
    """The entry with its keys in the order ARN, username, groups, then any others as they were."""
    if key == ACCOUNTS or not isinstance(entry, dict):
        return entry
    first = (IDENTITY_FIELD[key], "username", "groups")
    ordered = {name: entry[name] for name in first if name in entry}
    ordered.update((name, value) for name, value in entry.items() if name not in first)
    return ordered


def render_mappings(entries: List[Any], key: str) -> str:
    """The YAML text of a key's entries: block style, stable key order."""
    if not entries:
        return "[]\n"
    if key == ACCOUNTS:
        return _dump(entries)
    parts = []
    for entry in entries:
        ordered = ordered_entry(entry, key)
        text = render_entry(ordered)
        # an entry PyYAML writes the same alone as in the list: no anchors, no document markers
        parts.append(text if text is not None else _dump([ordered]))
    return "".join(parts)


def _dump(entries: List[Any]) -> str:
    return yaml.dump(entries, Dumper=_dumper("block"), default_flow_style=False, sort_keys=False, allow_unicode=True, width=4096)


def render_document(document: Any) -> str:
    """Any structure as readable YAML, multi-line strings as literal blocks (for diffs and backups)."""
    return yaml.dump(document, Dumper=_dumper("document"), default_flow_style=False, sort_keys=False, allow_unicode=True, width=4096)


# --- requests --------------------------------------------------------------------------------------

def requested_entry(key: str, arn: str, username: Optional[str] = None, groups: Optional[List[str]] = None, mode: str = EXACT) -> Dict[str, Any]:
    """One entry of a request: what the named ARN should map to."""
    return {"key": key, "arn": arn, "username": username, "groups": None if groups is None else list(groups), "mode": mode}


def node_role_entry(arn: str, os_name: str) -> Dict[str, Any]:
    """The request for a node role: the node username and the node groups of its OS."""
    return requested_entry(ROLES, arn, NODE_USERNAME, list(NODE_GROUPS[os_name]), NODE)


def _same_groups(current: Optional[List[str]], wanted: List[str]) -> bool:
    current = list(current or [])
    return len(current) == len(set(current)) and set(current) == set(wanted)


def _apply(entry: Dict[str, Any], request: Dict[str, Any], key: str) -> Dict[str, Any]:
    """The entry after request applies to it; other keys of the entry are kept."""
    updated = copy.deepcopy(entry)
    updated[IDENTITY_FIELD[key]] = request["arn"]
    if request["mode"] == NODE:
        updated["username"] = NODE_USERNAME
        groups = list(updated.get("groups") or [])
        groups += [group for group in request["groups"] if group not in groups]
        updated["groups"] = groups
        return updated
    if request["username"] is not None:
        updated["username"] = request["username"]
    if request["groups"] is not None and not _same_groups(updated.get("groups"), request["groups"]):
        updated["groups"] = list(request["groups"])
    return updated


def _new_entry(request: Dict[str, Any], key: str) -> Dict[str, Any]:
    entry = {IDENTITY_FIELD[key]: request["arn"]}
    if request["username"] is not None:
        entry["username"] = request["username"]
    entry["groups"] = list(request["groups"] or [])
    return entry


def _collapse(entries: List[Dict[str, Any]], request: Dict[str, Any]) -> Dict[str, Any]:
    """Several existing entries for one named ARN made into one: the first, with the groups of all of them in
    NODE mode (nothing lost), or with the requested fields in EXACT mode."""
    merged = copy.deepcopy(entries[0])
    if request["mode"] == NODE:
        groups = list(merged.get("groups") or [])
        for other in entries[1:]:
            groups += [group for group in (other.get("groups") or []) if group not in groups]
        merged["groups"] = groups
    return merged


def merge_entries(existing: List[Any], requests: List[Dict[str, Any]], key: str, state: str) -> Dict[str, Any]:
    """Apply the requests for one key to its existing entries.

    Returns {entries, added, changed: [{before, after}], removed}. present adds the missing entries at
    the end and updates the named ones in place (several entries with a named ARN become one);
    absent removes every entry with a named ARN. Entries not named are returned as they were.
    """
    wanted: Dict[str, Any] = {}
    for request in requests:
        wanted.setdefault(identity(request["arn"], ACCOUNTS) if key == ACCOUNTS else arn_key(request["arn"]), request)

    result: List[Any] = []
    added: List[Any] = []
    changed: List[Dict[str, Any]] = []
    removed: List[Any] = []

    if state == "absent":
        for entry in existing:
            (removed if identity(entry, key) in wanted else result).append(entry)
        return {"entries": result, "added": added, "changed": changed, "removed": removed}

    if key == ACCOUNTS:
        present = set()
        for entry in existing:
            ident = identity(entry, key)
            if ident in wanted and ident in present:
                removed.append(entry)  # a further entry for a named account
                continue
            present.add(ident)
            result.append(entry)
        for ident in wanted:
            if ident not in present:
                result.append(ident)
                added.append(ident)
        return {"entries": result, "added": added, "changed": changed, "removed": removed}

    groups_of: Dict[str, List[Dict[str, Any]]] = {}
    for entry in existing:
        ident = identity(entry, key)
        if ident in wanted:
            groups_of.setdefault(ident, []).append(entry)

    placed = set()
    for entry in existing:
        ident = identity(entry, key)
        if ident not in wanted:
            result.append(entry)
            continue
        if ident in placed:
            removed.append(entry)  # a further entry for a named ARN, folded into the first
            continue
        placed.add(ident)
        current = _collapse(groups_of[ident], wanted[ident])
        updated = _apply(current, wanted[ident], key)
        if updated != entry:
            changed.append({"before": entry, "after": updated})
        result.append(updated)
    for ident, request in wanted.items():
        if ident not in placed:
            entry = _new_entry(request, key)
            result.append(entry)
            added.append(entry)
    return {"entries": result, "added": added, "changed": changed, "removed": removed}


def extra_node_groups(entries: List[Any], requests: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """[{arn, groups}] for each NODE request whose mapRoles entry (in entries, after a merge) has groups besides the
    node groups of either OS, in request order. Such groups go to every node with the role (system:masters: admin)."""
    node_groups = set(WINDOWS_NODE_GROUPS) | set(LINUX_NODE_GROUPS)
    by_arn = {}
    for entry in entries:
        if isinstance(entry, dict):
            by_arn.setdefault(arn_key(entry.get(IDENTITY_FIELD[ROLES], "")), entry)
    found = []
    for request in requests:
        entry = by_arn.get(arn_key(request["arn"]))
        if request["mode"] != NODE or entry is None:
            continue
        extra = [group for group in entry.get("groups") or [] if group not in node_groups]
        if extra:
            found.append({"arn": request["arn"], "groups": extra})
    return found
