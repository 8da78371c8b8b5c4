# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Draining nodes: taint, cordon, evict through the Eviction API, wait until only ignored pods are left.

kubernetes.core.k8s_drain cordons and evicts too, but its logic lives in the module file (not in
module_utils, so another module cannot import it), it fails at the first 429 a PodDisruptionBudget
answers instead of retrying, has no check mode and drains one node per task. This loop keeps its
rules (pods.py) and option names, and adds what a node group needs:

1. Order the nodes: those already cordoned first (a run that stopped is continued), then as given.
2. Work on at most ``parallel`` nodes at a time. For each: refuse before any change if it has pods
   the options do not allow to evict; taint it (optionally) and cordon it; evict each pod that is
   not ignored, with its grace period capped at ``max_grace_period``.
3. A 429 answer is retried with a growing backoff; the budget it names is looked up to say who
   blocks. A pod that stays blocked or terminating for ``eviction_timeout`` seconds stops the
   drain with the pod, the budget and the fix.
4. A node is drained when only DaemonSet and mirror pods are left on it.

Every decision is made again from the cluster each time, so running it again continues where it
stopped; the little that is remembered between steps (since when a pod is blocked, its next try)
lives in ``memo``, a plain dict the caller passes back.
"""

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from ..readiness.nodes import short_name
from .budgets import blocked_fix, blocking_budget, describe, is_multiple_budgets, status_of
from .pods import grace_seconds, is_terminating, pod_key, refusal_message, sort_pods

# Between two looks at the nodes being drained.
POLL_SECONDS = 1.0
# A refused eviction is tried again after 1, 2, 4, 8 s, then every BACKOFF_MAX_SECONDS (kubectl drain waits 5 s each time).
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 10.0
DEFAULT_TAINT = {"key": "eksnodes.windows/retiring", "value": "true", "effect": "NoSchedule"}


class EvictionRefused(Exception):
    """The API server answered an eviction with an error status (429 for a budget)."""

    def __init__(self, status: int, body: Any):
        super().__init__(f"{status}: {status_of(body).get('message') or body}")
        self.status = status
        self.body = body


class DrainStopped(Exception):
    """A node will not drain; facts says which node, pod and budget, and what to do."""

    def __init__(self, message: str, **facts: Any):
        super().__init__(message)
        self.facts = facts


class DrainApi:
    """What the loop needs from the API server. kube.py has the real one."""

    def node(self, name: str) -> Optional[Dict[str, Any]]:
        raise NotImplementedError

    def pods_on(self, name: str) -> List[Dict[str, Any]]:
        raise NotImplementedError

    def cordon(self, node: Dict[str, Any], taint: Optional[Dict[str, str]]) -> None:
        """Set spec.unschedulable and add taint (when given) to the node."""
        raise NotImplementedError

    def evict(self, pod: Dict[str, Any], grace: Optional[int]) -> None:
        """POST the pod's eviction; raises EvictionRefused. A pod already gone is not an error."""
        raise NotImplementedError

    def budgets(self, namespace: str) -> List[Dict[str, Any]]:
        raise NotImplementedError


@dataclass
class DrainOptions:
    taint: Optional[Dict[str, str]] = None
    force: bool = False
    delete_emptydir_data: bool = False
    max_grace_period: Optional[int] = None
    eviction_timeout: float = 600.0
    parallel: int = 1


def is_cordoned(node: Dict[str, Any]) -> bool:
    return bool((node.get("spec") or {}).get("unschedulable"))


def has_taint(node: Dict[str, Any], taint: Optional[Dict[str, str]]) -> bool:
    if not taint:
        return True
    return any(t.get("key") == taint["key"] and t.get("effect") == taint["effect"] for t in (node.get("spec") or {}).get("taints") or [])


def needs_cordon(node: Dict[str, Any], taint: Optional[Dict[str, str]]) -> bool:
    return not is_cordoned(node) or not has_taint(node, taint)


def backoff(attempts: int) -> float:
    return min(BACKOFF_FIRST_SECONDS * (2 ** max(attempts - 1, 0)), BACKOFF_MAX_SECONDS)


def drain_order(nodes: Dict[str, Optional[Dict[str, Any]]], names: List[str]) -> List[str]:
    """Nodes already cordoned first (a batch that was started), then in the order given."""
    return sorted(dict.fromkeys(names), key=lambda n: (not (nodes.get(n) and is_cordoned(nodes[n])), names.index(n)))


@dataclass
class DrainReport:
    """What a run did, for the module's result."""

    cordoned: List[str] = field(default_factory=list)
    evicted: List[Dict[str, str]] = field(default_factory=list)
    drained: List[str] = field(default_factory=list)
    lines: List[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.cordoned or self.evicted)


def preview(api: DrainApi, names: List[str], options: DrainOptions) -> Dict[str, Dict[str, Any]]:
    """Per node, what a drain would do: {exists, cordon, evict: [ns/pod], ignored: [ns/pod], refused}."""
    plan = {}
    for name in names:
        node = api.node(name)
        if node is None:
            plan[name] = {"exists": False, "cordon": False, "evict": [], "ignored": [], "refused": {}}
            continue
        pods = sort_pods(api.pods_on(name), options.force, options.delete_emptydir_data)
        plan[name] = {"exists": True, "cordon": needs_cordon(node, options.taint), "evict": pods.evict_keys,
                      "ignored": [pod_key(p) for p in pods.ignored], "refused": pods.refused}
    return plan


class Drainer:
    def __init__(self, api: DrainApi, options: DrainOptions, memo: Optional[Dict[str, Any]] = None,
                 clock: Callable[[], float] = time.time, pause: Callable[[float], None] = time.sleep,
                 emit: Optional[Callable[[str], None]] = None):
        self.api = api
        self.options = options
        # Wall-clock times: memo crosses processes (one per step of the action plugin).
        self.memo = memo if memo is not None else {}
        self.memo.setdefault("stuck", {})
        self.memo.setdefault("lines", {})
        self.clock = clock
        self.pause = pause
        self.report = DrainReport()
        self._emit = emit

    def emit(self, line: str) -> None:
        self.report.lines.append(line)
        if self._emit:
            self._emit(line)

    def run(self, names: List[str], deadline: float) -> bool:
        """Drain the nodes; True when all are drained, False when the deadline came first. Raises DrainStopped."""
        order = drain_order({n: self.api.node(n) for n in names}, names)
        finished: List[str] = []
        while True:
            active = [n for n in order if n not in finished][:max(self.options.parallel, 1)]
            if not active:
                return True
            for name in active:
                if self._advance(name):
                    finished.append(name)
            if len(finished) == len(order):
                return True
            now = self.clock()
            if now >= deadline:
                return False
            self.pause(min(POLL_SECONDS, deadline - now))

    def _advance(self, name: str) -> bool:
        """One look at one node: cordon, evict what is due; True when it is drained."""
        short = short_name(name)
        node = self.api.node(name)
        if node is None:
            self._forget(name, set())
            self.report.drained.append(name)
            self._line(name, f"{short}: no such Node, nothing to drain")
            return True
        pods = sort_pods(self.api.pods_on(name), self.options.force, self.options.delete_emptydir_data)
        if pods.refused:
            raise DrainStopped(refusal_message(name, pods.refused), node=name, refused=pods.refused)
        if needs_cordon(node, self.options.taint):
            self.api.cordon(node, None if has_taint(node, self.options.taint) else self.options.taint)
            self.report.cordoned.append(name)
            self.emit(f"{short}: {'tainted ' + self.options.taint['key'] + ':NoSchedule and ' if self.options.taint else ''}cordoned, "
                      f"{len(pods.evict)} pod(s) to evict")
        left = pods.evict
        self._forget(name, {pod_key(p) for p in left})
        if not left:
            self.report.drained.append(name)
            self._line(name, f"{short}: drained")
            return True
        now = self.clock()
        for pod in left:
            self._evict(name, pod, now)
        self._check_stuck(now)
        blocked = [f"{key} {entry['why']}" for key, entry in sorted(self.memo["stuck"].items()) if entry["node"] == name]
        self._line(name, f"draining {short}: {len(left)} pod(s) left" + (f"; {'; '.join(blocked)}" if blocked else ""))
        return False

    def _evict(self, name: str, pod: Dict[str, Any], now: float) -> None:
        key = pod_key(pod)
        stuck = self.memo["stuck"]
        if is_terminating(pod):
            entry = stuck.setdefault(key, {"node": name, "since": now, "attempts": 0, "next": now})
            entry["why"] = "terminating"
            return
        if key in stuck and stuck[key].get("next", 0) > now:
            return
        try:
            self.api.evict(pod, grace_seconds(pod, self.options.max_grace_period))
        except EvictionRefused as error:
            self._refused(name, pod, error, now)
            return
        stuck.pop(key, None)
        self.report.evicted.append({"pod": key, "node": name})
        self.emit(f"{short_name(name)}: evicted {key}")

    def _refused(self, name: str, pod: Dict[str, Any], error: EvictionRefused, now: float) -> None:
        key = pod_key(pod)
        if error.status == 404:
            return
        if error.status == 500 and is_multiple_budgets(error.body):
            raise DrainStopped(f"node {name} will not drain: pod {key} is selected by more than one PodDisruptionBudget, which the "
                               f"Eviction API refuses; make one budget select it (kubectl get pdb -n {key.split('/', maxsplit=1)[0]}), then run again",
                               node=name, pod=key, budget=None)
        if error.status not in (429, 500, 503, 504):
            raise DrainStopped(f"node {name} will not drain: the eviction of pod {key} failed: {error}", node=name, pod=key, budget=None)
        entry = self.memo["stuck"].setdefault(key, {"node": name, "since": now, "attempts": 0})
        entry["attempts"] += 1
        entry["next"] = now + backoff(entry["attempts"])
        if error.status == 429:
            budget = blocking_budget(pod, error.body, self.api.budgets(key.split("/", 1)[0]))
            entry["budget"] = (budget or {}).get("metadata", {}).get("name")
            entry["why"] = f"blocked by {describe(budget)}" if budget else f"refused: {error}"
            entry["fix"] = blocked_fix(budget, key)
        else:
            entry["why"] = f"eviction answered {error}, retrying"

    def _check_stuck(self, now: float) -> None:
        for key, entry in sorted(self.memo["stuck"].items()):
            if now - entry["since"] < self.options.eviction_timeout:
                continue
            waited = int(now - entry["since"])
            if entry.get("why") == "terminating":
                raise DrainStopped(f"node {entry['node']} will not drain: pod {key} is still terminating after {waited}s; see why it does "
                                   "not stop (kubectl describe pod), lower max_grace_period, or raise eviction_timeout, then run again",
                                   node=entry["node"], pod=key, budget=None)
            raise DrainStopped(f"node {entry['node']} will not drain: pod {key} could not be evicted for {waited}s, {entry.get('why')}. "
                               f"Fix: {entry.get('fix') or 'raise eviction_timeout'}",
                               node=entry["node"], pod=key, budget=entry.get("budget"))

    def _forget(self, name: str, present: set) -> None:
        """Drop the memo of pods of this node that are gone."""
        for key in [k for k, e in self.memo["stuck"].items() if e["node"] == name and k not in present]:
            del self.memo["stuck"][key]

    def _line(self, name: str, line: str) -> None:
        """Emit a node's status line when it differs from the last one."""
        if self.memo["lines"].get(name) != line:
            self.memo["lines"][name] = line
            self.emit(line)
