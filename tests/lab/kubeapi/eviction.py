"""pods/eviction as kube-apiserver serves it (pkg/registry/core/pod/storage/eviction.go), with PodDisruptionBudgets.

An eviction is a pod deletion that a PodDisruptionBudget may refuse: 429 TooManyRequests, message
"Cannot evict pod as it would violate the pod's disruption budget." and a ``DisruptionBudget`` cause
naming the budget.  An allowed eviction takes one disruption from the budget's status (and lists the pod in
``status.disruptedPods``) in the same step as it deletes the pod, so that two evictions in a row cannot
both use the last allowed disruption; the disruption controller (``lab.controllers``) recomputes the
status from the pods afterwards.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Optional

from .errors import ApiError, bad_request
from .registry import Registry, now_timestamp
from .resources import PDBS, PODS
from .selectors import LabelSelector

EVICTION_API_VERSIONS = ("policy/v1", "policy/v1beta1")
REFUSED_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget."
MAX_DISRUPTED_PODS = 2000


@dataclass
class EvictionOutcome:
    pod: dict
    pdb: Optional[str]


def _too_many_requests(cause: str, retry_after: int) -> ApiError:
    details: dict[str, Any] = {"causes": [{"reason": "DisruptionBudget", "message": cause}]}
    headers = {}
    if retry_after:
        details["retryAfterSeconds"] = retry_after
        headers["Retry-After"] = str(retry_after)
    return ApiError(429, "TooManyRequests", REFUSED_MESSAGE, details, headers)


def _denied_message(pdb: dict) -> str:
    status, name = pdb.get("status") or {}, pdb["metadata"]["name"]
    if status.get("currentHealthy", 0) <= status.get("desiredHealthy", 0):
        return f"The disruption budget {name} needs {status.get('desiredHealthy', 0)} healthy pods and has {status.get('currentHealthy', 0)} currently"
    return f"The disruption budget {name} does not allow evicting pods currently"


def pod_ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in (pod.get("status") or {}).get("conditions") or [])


def pdb_selects(pdb: dict, pod: dict) -> bool:
    """policy/v1: an empty selector selects every pod of the namespace; a missing one selects none."""
    selector = (pdb.get("spec") or {}).get("selector")
    if selector is None:
        return False
    return LabelSelector.from_spec(selector).matches((pod.get("metadata") or {}).get("labels") or {})


def _can_ignore_budgets(pod: dict) -> bool:
    """A pod that is pending, finished or already terminating disrupts nothing more when evicted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool(pod["metadata"].get("deletionTimestamp"))


def check_eviction_body(body: Any, name: str) -> dict:
    if not isinstance(body, dict):
        raise bad_request("the body of the request must be an Eviction object")
    if body.get("kind") not in (None, "", "Eviction"):
        raise bad_request(f'the object provided is unrecognized (must be of type Eviction): kind {body["kind"]!r}')
    if body.get("apiVersion") not in (None, "", *EVICTION_API_VERSIONS):
        raise bad_request(f'unsupported Eviction apiVersion {body["apiVersion"]!r}: use policy/v1')
    given = (body.get("metadata") or {}).get("name")
    if given and given != name:
        raise bad_request("name in URL does not match name in Eviction object")
    return body


def evict(registry: Registry, namespace: str, name: str, body: Any, dry_run: bool) -> EvictionOutcome:
    """Check the budgets and delete the pod, or raise the refusal; all under the store lock."""
    eviction = check_eviction_body(body, name)
    options = dict(eviction.get("deleteOptions") or {})
    dry_run = dry_run or "All" in (options.get("dryRun") or [])
    with registry.store.lock:
        pod = registry.get(PODS, namespace, name)
        pdb_name = None
        if not _can_ignore_budgets(pod):
            budgets = [pdb for pdb in registry.store.list(PDBS, namespace) if pdb_selects(pdb, pod)]
            if len(budgets) > 1:
                raise ApiError(500, "InternalError", "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")
            if budgets:
                pdb_name = budgets[0]["metadata"]["name"]
                if _budget_guards(budgets[0], pod):
                    _check_and_decrement(registry, budgets[0], name, dry_run)
        deleted, _gone = registry.delete(PODS, namespace, name, options, dry_run)
        return EvictionOutcome(deleted, pdb_name)


def _budget_guards(pdb: dict, pod: dict) -> bool:
    """Whether the budget must allow this eviction; an unready pod goes freely when the application is healthy anyway."""
    if pod_ready(pod):
        return True
    spec, status = pdb.get("spec") or {}, pdb.get("status") or {}
    if spec.get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
        return False
    return not (status.get("currentHealthy", 0) >= status.get("desiredHealthy", 0) > 0)


def _check_and_decrement(registry: Registry, pdb: dict, pod_name: str, dry_run: bool) -> None:
    status, name = pdb.get("status") or {}, pdb["metadata"]["name"]
    if status.get("observedGeneration", 0) < pdb["metadata"].get("generation", 1):
        raise _too_many_requests(f"The disruption budget {name} is still being processed by the server.", 10)
    if status.get("disruptionsAllowed", 0) < 0:
        raise ApiError(403, "Forbidden", f'poddisruptionbudgets.policy "{name}" is forbidden: pdb disruptions allowed is negative',
                       {"name": name, "group": "policy", "kind": "poddisruptionbudgets"})
    if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_PODS:
        raise ApiError(403, "Forbidden", f'poddisruptionbudgets.policy "{name}" is forbidden: DisruptedPods map too big - too many evictions '
                                         "not confirmed by PDB controller", {"name": name, "group": "policy", "kind": "poddisruptionbudgets"})
    if status.get("disruptionsAllowed", 0) == 0:
        raise _too_many_requests(_denied_message(pdb), 0)
    if dry_run:
        return
    updated = copy.deepcopy(pdb)
    new_status = updated.setdefault("status", {})
    new_status["disruptionsAllowed"] = status["disruptionsAllowed"] - 1
    new_status.setdefault("disruptedPods", {})[pod_name] = now_timestamp()
    if new_status["disruptionsAllowed"] == 0:
        conditions = [c for c in new_status.get("conditions") or [] if c.get("type") != "DisruptionAllowed"]
        new_status["conditions"] = conditions + [{"type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods", "message": "",
                                                  "observedGeneration": new_status.get("observedGeneration", 0),
                                                  "lastTransitionTime": now_timestamp()}]
    registry.store.write(PDBS, updated, pdb)
