# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The aws-auth ConfigMap as a whole: planning a change to its data, and writing it safely.

plan_change() is pure: it takes the ConfigMap's data and a request and says what the data becomes.
Only the keys the change touches are re-rendered; every other key keeps its exact text.

converge() is the read-merge-write loop. Each write carries the resourceVersion that was read, so a
concurrent writer's change is never overwritten: on a conflict it reads again, merges again and
retries, a bounded number of times with jittered exponential backoff.
"""

import random
import time
from typing import Any, Callable, Dict, List, Optional

from .mappings import ACCOUNTS, IDENTITY_FIELD, KEYS, duplicates, merge_entries, ordered_entry, parse_mappings, render_document, render_mappings

NAME = "aws-auth"
NAMESPACE = "kube-system"
SNAKE = {"mapRoles": "map_roles", "mapUsers": "map_users", "mapAccounts": "map_accounts"}


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


def plan_change(data: Optional[Dict[str, str]], request: Dict[str, List[Dict[str, Any]]], state: str) -> Dict[str, Any]:
    """What the ConfigMap data becomes.

    Returns {changed, data (the new data), entries (after, per key), added/changed/removed (per key),
    duplicates (already present, never added by us), summary}. Raises MalformedMappingsError, before
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
            if key in before:
                shown_before[key] = render_mappings(parsed[key], key)
    found_duplicates = []
    for key in KEYS:
        found_duplicates += duplicates(parsed[key], key)
    changed = after != before
    return {
        "changed": changed,
        "data": after,
        "entries": {key: [ordered_entry(entry, key) for entry in outcomes[key]["entries"]] for key in KEYS},
        "added": {key: outcomes[key]["added"] for key in KEYS},
        "changed_entries": {key: outcomes[key]["changed"] for key in KEYS},
        "removed": {key: outcomes[key]["removed"] for key in KEYS},
        "duplicates": found_duplicates,
        "summary": summary(outcomes),
        # the data before, with the keys that change rendered as they will be written, so that a diff
        # shows the entries that change and not formatting
        "shown_before": shown_before,
    }


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
             delay: Callable[[int], float] = backoff_delay) -> Dict[str, Any]:
    """Read, plan, write; on WriteConflict read again and re-plan, at most `retries` more times.

    read() returns the ConfigMap as a dict (with data and metadata.resourceVersion) or None;
    write(current, data) replaces it carrying current's resourceVersion; create(data) creates it.
    Both raise WriteConflict when someone else got there first. plan(data) is plan_change bound to
    the request. Returns {plan, before (the ConfigMap the plan was made from), after, attempts}.
    """
    attempt = 0
    while True:
        attempt += 1
        current = read()
        result = plan(None if current is None else dict(current.get("data") or {}))
        outcome = {"plan": result, "before": current, "after": current, "attempts": attempt}
        if not result["changed"] or check_mode:
            return outcome
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
