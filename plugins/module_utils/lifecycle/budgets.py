# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""PodDisruptionBudgets: which one refused an eviction, and how to say so.

An eviction that would break a budget is answered 429 with a Status whose details carry a cause of
type DisruptionBudget, "The disruption budget <name> needs <n> healthy pods and has <m> currently"
(kube-apiserver pkg/registry/core/pod/storage/eviction.go). The name is read from there; when an
API server says less, the budgets of the pod's namespace whose selector matches the pod are used.
"""

import json
import re
from typing import Any, Dict, List, Optional

DISRUPTION_BUDGET_CAUSE = "DisruptionBudget"
BUDGET_NAME = re.compile(r"disruption budget (?P<name>[a-z0-9]([-a-z0-9.]*[a-z0-9])?)", re.IGNORECASE)
MULTIPLE_BUDGETS = "more than one PodDisruptionBudget"


def status_of(body: Any) -> Dict[str, Any]:
    """An API error body (bytes, str or dict) as a Status dict; {} when it is not one."""
    if isinstance(body, dict):
        return body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        parsed = json.loads(body or "")
    except (TypeError, ValueError):
        return {"message": str(body or "")}
    return parsed if isinstance(parsed, dict) else {}


def budget_cause(body: Any) -> Optional[str]:
    """The DisruptionBudget cause's message of a 429 eviction answer, or None."""
    status = status_of(body)
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("type") == DISRUPTION_BUDGET_CAUSE or cause.get("reason") == DISRUPTION_BUDGET_CAUSE:
            return cause.get("message") or ""
    message = status.get("message") or ""
    return message if BUDGET_NAME.search(message) else None


def budget_name(body: Any) -> Optional[str]:
    """The name of the budget that refused an eviction, from the answer alone."""
    cause = budget_cause(body)
    match = BUDGET_NAME.search(cause or "")
    return match.group("name") if match else None


def is_multiple_budgets(body: Any) -> bool:
    return MULTIPLE_BUDGETS in (status_of(body).get("message") or "")


def _expression_holds(labels: Dict[str, str], expression: Dict[str, Any]) -> bool:
    key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
    if operator == "In":
        return labels.get(key) in values
    if operator == "NotIn":
        return labels.get(key) not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    return False


def selects(budget: Dict[str, Any], pod: Dict[str, Any]) -> bool:
    """Whether the budget's selector picks the pod (same namespace; an empty selector picks every pod, as in policy/v1)."""
    if (budget.get("metadata") or {}).get("namespace") != (pod.get("metadata") or {}).get("namespace"):
        return False
    selector = (budget.get("spec") or {}).get("selector")
    if selector is None:
        return False
    labels = (pod.get("metadata") or {}).get("labels") or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    return all(_expression_holds(labels, e) for e in selector.get("matchExpressions") or [])


def budgets_of(pod: Dict[str, Any], budgets: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [b for b in budgets if selects(b, pod)]


def describe(budget: Dict[str, Any]) -> str:
    """'PodDisruptionBudget ns/name (minAvailable 1; 1 healthy of 1 desired, 0 disruptions allowed)'."""
    metadata = budget.get("metadata") or {}
    spec = budget.get("spec") or {}
    status = budget.get("status") or {}
    rule = f"minAvailable {spec['minAvailable']}" if "minAvailable" in spec else f"maxUnavailable {spec.get('maxUnavailable')}"
    facts = [rule]
    if "currentHealthy" in status or "desiredHealthy" in status:
        facts.append(f"{status.get('currentHealthy', 0)} healthy of {status.get('desiredHealthy', 0)} desired, "
                     f"{status.get('disruptionsAllowed', 0)} disruptions allowed")
    return f"PodDisruptionBudget {metadata.get('namespace')}/{metadata.get('name')} ({'; '.join(facts)})"


def blocking_budget(pod: Dict[str, Any], body: Any, budgets: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The budget that refused the pod's eviction: the one the answer names, else the only one that selects the pod."""
    name = budget_name(body)
    namespace = (pod.get("metadata") or {}).get("namespace")
    if name:
        named = [b for b in budgets if (b.get("metadata") or {}).get("name") == name and (b.get("metadata") or {}).get("namespace") == namespace]
        return named[0] if named else {"metadata": {"name": name, "namespace": namespace}, "spec": {}}
    matching = budgets_of(pod, budgets)
    return matching[0] if len(matching) == 1 else None


def blocked_fix(budget: Optional[Dict[str, Any]], pod_key: str) -> str:
    namespace, _pod = pod_key.split("/", 1)
    if budget is None:
        return "the API server refused the eviction (429): see which PodDisruptionBudget selects the pod (kubectl get pdb -n " + namespace + ")"
    name = (budget.get("metadata") or {}).get("name")
    return (f"scale the workload up so that it has a replica to spare, or relax the budget (kubectl edit pdb {name} -n {namespace}: "
            "lower minAvailable or raise maxUnavailable), then run again: the nodes already drained stay drained")
