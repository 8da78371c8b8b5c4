# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The aws-auth ConfigMap as a whole: planning a change to its data, and writing it safely.

plan_change() is pure: it takes the ConfigMap's data and a request and says what the data becomes.
Only the keys the change touches are re-rendered; every other key keeps its exact text.

converge() is the read-merge-write loop. Each round:
1. reads the ConfigMap;
2. plans the change from what it read;
3. lets a guard refuse the plan (extra groups on a node role, a ConfigMap too large to store), in check
   mode too, so that a refusal never follows a write;
4. stops there when nothing changes or in check mode;
5. calls before_write (the backup of what was read) and writes, carrying the resourceVersion that was
   read, so a concurrent writer's change is never overwritten: on a conflict it goes back to 1, a
   bounded number of times with jittered exponential backoff.
"""

import base64
import binascii
import random
import time
from typing import Any, Callable, Dict, List, Optional

from .mappings import ACCOUNTS, IDENTITY_FIELD, KEYS, duplicates, merge_entries, ordered_entry, parse_mappings, render_document, render_mappings

NAME = "aws-auth"
NAMESPACE = "kube-system"
SNAKE = {"mapRoles": "map_roles", "mapUsers": "map_users", "mapAccounts": "map_accounts"}
# kube-apiserver refuses a ConfigMap whose data values (and decoded binaryData) total more than this
# (ValidateConfigMap, core.MaxSecretSize): 422 "Too long: must have at most 1048576 bytes".
MAX_DATA_BYTES = 1024 * 1024


class ConfigMapTooLarge(Exception):
    """The ConfigMap after the change would be larger than kube-apiserver accepts."""

    def __init__(self, size: int, before_size: int):
        self.size = size
        self.before_size = before_size
        super().__init__(
            f"{NAMESPACE}/{NAME} would hold {size} bytes of data after this change ({before_size} now), above the "
            f"{MAX_DATA_BYTES}-byte (1 MiB) limit kube-apiserver accepts for a ConfigMap. Nothing was changed. Fix: remove "
            f"the entries that are no longer used (roles of deleted node groups, duplicates), or authorize principals "
            f"with EKS access entries (eksnodes.windows.access_entry, authentication mode API_AND_CONFIG_MAP) instead."
        )


class ExtraGroupsRefused(Exception):
    """A node role's existing entry has groups besides the node groups, and they were not allowed."""


class WriteConflict(Exception):
    """The ConfigMap changed (or was created) since it was read."""


class ConflictRetriesExhausted(Exception):
    pass


def parse_all(data: Optional[Dict[str, str]]) -> Dict[str, List[Any]]:
    """The entries of mapRoles, mapUsers and mapAccounts; raises MalformedMappingsError for any malformed one."""
    data = data or {}
    return {key: parse_mappings(data.get(key), key) for key in KEYS}


def _shown(entry: Any, key: str) -> str:
    if key == ACCOUNTS:
        return str(entry)
    parts = [str(entry.get(IDENTITY_FIELD[key]))]
    if entry.get("username") is not None:
        parts.append(f"username {entry['username']}")
    parts.append("groups " + (", ".join(entry.get("groups") or []) or "none"))
    return "; ".join(parts)


def summary(outcomes: Dict[str, Dict[str, Any]]) -> str:
    """Lines like '+ mapRoles: arn...; username ...; groups ...' for every entry added, changed or removed."""
    lines = []
    for key in KEYS:
        outcome = outcomes.get(key)
        if not outcome:
            continue
        lines += [f"+ {key}: {_shown(entry, key)}" for entry in outcome["added"]]
        for change in outcome["changed"]:
            lines.append(f"~ {key}: {_shown(change['before'], key)}")
            lines.append(f"  becomes {_shown(change['after'], key)}")
        lines += [f"- {key}: {_shown(entry, key)}" for entry in outcome["removed"]]
    return "".join(line + "\n" for line in lines)


def plan_change(data: Optional[Dict[str, str]], request: Dict[str, List[Dict[str, Any]]], state: str,
                show_before: bool = True) -> Dict[str, Any]:
    """What the ConfigMap data becomes.

    Returns {changed, data (the new data), entries (after, per key), before_entries (per key), added/changed/removed
    (per key), duplicates (already present, never added by us), summary, shown_before (None unless show_before: it
    renders the changed keys a second time, only worth it for a diff)}. Raises MalformedMappingsError, before
    anything is decided, when any of the three keys is malformed.
    """
    before = dict(data or {})
    parsed = parse_all(before)
    after = dict(before)
    shown_before = dict(before)
    outcomes: Dict[str, Dict[str, Any]] = {}
    for key in KEYS:
        requests = request.get(key) or []
        if not requests:
            outcomes[key] = {"entries": parsed[key], "added": [], "changed": [], "removed": []}
            continue
        outcome = merge_entries(parsed[key], requests, key, state)
        outcomes[key] = outcome
        if outcome["added"] or outcome["changed"] or outcome["removed"]:
            after[key] = render_mappings(outcome["entries"], key)
            if show_before and key in before:
                shown_before[key] = render_mappings(parsed[key], key)
    found_duplicates = []
    for key in KEYS:
        found_duplicates += duplicates(parsed[key], key)
    changed = after != before
    return {
        "changed": changed,
        "data": after,
        "entries": {key: [ordered_entry(entry, key) for entry in outcomes[key]["entries"]] for key in KEYS},
        "before_entries": parsed,
        "added": {key: outcomes[key]["added"] for key in KEYS},
        "changed_entries": {key: outcomes[key]["changed"] for key in KEYS},
        "removed": {key: outcomes[key]["removed"] for key in KEYS},
        "duplicates": found_duplicates,
        "summary": summary(outcomes),
        # the data before, with the keys that change rendered as they will be written, so that a diff
        # shows the entries that change and not formatting
        "shown_before": shown_before if show_before else None,
    }


def data_bytes(configmap_data: Optional[Dict[str, str]], binary_data: Optional[Dict[str, str]] = None) -> int:
    """The size kube-apiserver checks: UTF-8 bytes of the data values plus the decoded binaryData values."""
    size = sum(len(str(value).encode("utf-8")) for value in (configmap_data or {}).values())
    for value in (binary_data or {}).values():
        try:
            size += len(base64.b64decode(str(value), validate=True))
        except binascii.Error:
            size += len(str(value))
    return size


def check_size(current: Optional[Dict[str, Any]], plan: Dict[str, Any]) -> None:
    """Raise ConfigMapTooLarge when the planned data would not fit; a plan that changes nothing is never refused."""
    if not plan["changed"]:
        return
    binary = (current or {}).get("binaryData")
    size = data_bytes(plan["data"], binary)
    if size > MAX_DATA_BYTES:
        raise ConfigMapTooLarge(size, data_bytes((current or {}).get("data"), binary))


def extra_groups_message(found: List[Dict[str, Any]], labels: Dict[str, str], allowed: bool) -> str:
    """The refusal (or, when allowed, the warning) for node roles whose entries have extra groups.

    labels maps an ARN, compared regardless of case, to the option that named it (node_roles[0].arn, ...).
    """
    parts = []
    for item in found:
        label = labels.get(str(item["arn"]).strip().lower(), "node_roles")
        admin = " (system:masters makes every such node a cluster administrator)" if "system:masters" in item["groups"] else ""
        parts.append(f"{label}: {item['arn']} is mapped in {NAMESPACE}/{NAME} with the groups {', '.join(item['groups'])} "
                     f"besides the node groups; every node using the role gets them{admin}.")
    if allowed:
        return " ".join(parts) + " They are kept because allow_extra_groups is true."
    return (" ".join(parts) + " Nothing was changed. Fix: remove those groups from the entry (kubectl edit -n kube-system "
            "configmap/aws-auth) or give the nodes a role of their own; or, if the nodes really need them, set "
            "allow_extra_groups: true (node_auth_allow_extra_groups in the eksnodes.windows.node_auth role).")


def duplicate_warnings(found: List[Dict[str, Any]]) -> List[str]:
    return [
        f"data.{item['key']} of {NAMESPACE}/{NAME} maps {item['identity']} {item['count']} times; the authenticator uses "
        f"only one of them. Remove the extra entries (or name the ARN in this module, which merges them into one)."
        for item in found
    ]


def diff_document(data: Optional[Dict[str, str]]) -> str:
    """The ConfigMap data as a person reads it in a diff; '' when there is no ConfigMap."""
    if data is None:
        return ""
    return render_document({"data": dict(sorted(data.items()))})


def manifest(configmap: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """A ConfigMap as a manifest that kubectl apply/replace accepts: no uid, resourceVersion or status."""
    if configmap is None:
        return None
    metadata = configmap.get("metadata") or {}
    kept = {"name": metadata.get("name", NAME), "namespace": metadata.get("namespace", NAMESPACE)}
    for field in ("labels", "annotations"):
        if metadata.get(field):
            kept[field] = dict(metadata[field])
    document = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": kept, "data": dict(configmap.get("data") or {})}
    if configmap.get("binaryData"):
        document["binaryData"] = dict(configmap["binaryData"])
    return document


def backoff_delay(attempt: int, base: float = 0.2, cap: float = 5.0, rand: Callable[[float, float], float] = random.uniform) -> float:
    """Full-jitter exponential backoff before retry number `attempt` (1-based)."""
    return rand(0.0, min(cap, base * (2 ** (attempt - 1))))


def converge(read: Callable[[], Optional[Dict[str, Any]]],
             write: Callable[[Dict[str, Any], Dict[str, str]], Dict[str, Any]],
             create: Callable[[Dict[str, str]], Dict[str, Any]],
             plan: Callable[[Optional[Dict[str, str]]], Dict[str, Any]],
             check_mode: bool = False,
             retries: int = 10,
             sleep: Callable[[float], None] = time.sleep,
             delay: Callable[[int], float] = backoff_delay,
             guard: Optional[Callable[[Optional[Dict[str, Any]], Dict[str, Any]], None]] = None,
             before_write: Optional[Callable[[Optional[Dict[str, Any]]], None]] = None) -> Dict[str, Any]:
    """Read, plan, write; on WriteConflict read again and re-plan, at most `retries` more times.

    read() returns the ConfigMap as a dict (with data and metadata.resourceVersion) or None;
    write(current, data) replaces it carrying current's resourceVersion; create(data) creates it.
    Both raise WriteConflict when someone else got there first. plan(data) is plan_change bound to
    the request. guard(current, plan) raises to refuse a plan, in check mode too; before_write(current)
    runs right before each write. Returns {plan, before (the ConfigMap the plan was made from), after, attempts}.
    """
    attempt = 0
    while True:
        attempt += 1
        current = read()
        result = plan(None if current is None else dict(current.get("data") or {}))
        if guard is not None:
            guard(current, result)
        outcome = {"plan": result, "before": current, "after": current, "attempts": attempt}
        if not result["changed"] or check_mode:
            return outcome
        if before_write is not None:
            before_write(current)
        try:
            outcome["after"] = create(result["data"]) if current is None else write(current, result["data"])
            return outcome
        except WriteConflict as error:
            if attempt > retries:
                raise ConflictRetriesExhausted(
                    f"{NAMESPACE}/{NAME} kept changing under this write: {attempt} attempts met a conflict "
                    f"({error}). Another writer is updating it continuously; run again, or raise conflict_retries."
                ) from error
            sleep(delay(attempt))


def snake_entries(entries: Dict[str, List[Any]]) -> Dict[str, List[Any]]:
    return {SNAKE[key]: value for key, value in entries.items()}
