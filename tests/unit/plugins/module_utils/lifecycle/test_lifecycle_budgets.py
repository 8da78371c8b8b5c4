"""Reading which PodDisruptionBudget refused an eviction."""

import json

from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.budgets import (
    blocked_fix, blocking_budget, budget_name, describe, is_multiple_budgets, selects)

# As kube-apiserver answers (metav1.StatusCause's Type is serialized as "reason").
REFUSED = json.dumps({
    "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "TooManyRequests", "code": 429,
    "message": "Cannot evict pod as it would violate the pod's disruption budget.",
    "details": {"causes": [{"reason": "DisruptionBudget", "message": "The disruption budget web-pdb needs 1 healthy pods and has 1 currently"}]},
})


def budget(name, namespace="shop", match=None, expressions=None, status=None, **spec):
    selector = {"matchLabels": match or {}}
    if expressions:
        selector["matchExpressions"] = expressions
    return {"metadata": {"name": name, "namespace": namespace}, "spec": dict(spec, selector=selector), "status": status or {}}


def pod(labels, namespace="shop"):
    return {"metadata": {"name": "web-1", "namespace": namespace, "labels": labels}}


def test_name_from_the_cause_whatever_the_body_type():
    assert budget_name(REFUSED) == "web-pdb"
    assert budget_name(REFUSED.encode()) == "web-pdb"
    assert budget_name(json.loads(REFUSED)) == "web-pdb"
    sync_failed = {"details": {"causes": [{"type": "DisruptionBudget",
                                           "message": "The disruption budget api does not allow evicting pods currently because it failed sync: x"}]}}
    assert budget_name(sync_failed) == "api"


def test_no_name_from_a_throttling_429_or_garbage():
    assert budget_name({"code": 429, "message": "Too many requests, please try again later.", "details": {"retryAfterSeconds": 1}}) is None
    assert budget_name("<html>bad gateway</html>") is None
    assert budget_name(None) is None


def test_multiple_budgets_answer():
    assert is_multiple_budgets({"code": 500, "message": "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."})
    assert not is_multiple_budgets(REFUSED)


def test_selectors():
    assert selects(budget("b", match={"app": "web"}), pod({"app": "web", "tier": "front"}))
    assert not selects(budget("b", match={"app": "web"}), pod({"app": "api"}))
    assert not selects(budget("b", match={"app": "web"}), pod({"app": "web"}, namespace="other"))
    assert selects(budget("b", expressions=[{"key": "app", "operator": "In", "values": ["web", "api"]}]), pod({"app": "api"}))
    assert not selects(budget("b", expressions=[{"key": "app", "operator": "DoesNotExist"}]), pod({"app": "api"}))
    assert selects(budget("b"), pod({"anything": "x"}))  # policy/v1: an empty selector selects every pod
    missing = {"metadata": {"name": "b", "namespace": "shop"}, "spec": {}}
    assert not selects(missing, pod({"app": "web"}))


def test_blocking_budget_prefers_the_named_one_then_the_only_match():
    budgets = [budget("web-pdb", match={"app": "web"}, minAvailable=1), budget("other", match={"app": "other"})]
    assert blocking_budget(pod({"app": "web"}), REFUSED, budgets)["metadata"]["name"] == "web-pdb"
    assert blocking_budget(pod({"app": "web"}), {"message": "throttled"}, budgets)["metadata"]["name"] == "web-pdb"
    # The answer names a budget this client cannot read: the name is enough.
    assert blocking_budget(pod({"app": "web"}), REFUSED, [])["metadata"] == {"name": "web-pdb", "namespace": "shop"}
    assert blocking_budget(pod({"app": "zzz"}), {"message": "throttled"}, budgets) is None


def test_describe_and_fix():
    text = describe(budget("web-pdb", minAvailable=1, status={"currentHealthy": 1, "desiredHealthy": 1, "disruptionsAllowed": 0}))
    assert text == "PodDisruptionBudget shop/web-pdb (minAvailable 1; 1 healthy of 1 desired, 0 disruptions allowed)"
    assert describe(budget("x", maxUnavailable=0)) == "PodDisruptionBudget shop/x (maxUnavailable 0)"
    fix = blocked_fix(budget("web-pdb"), "shop/web-1")
    assert "kubectl edit pdb web-pdb -n shop" in fix and "scale" in fix
