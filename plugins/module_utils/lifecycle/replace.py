# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A rolling replacement: drain a batch of old nodes, terminate them in the group, wait for the new ones.

The loop asks rolling.decide() what to do next from a fresh look at the group and the cluster,
does it, and looks again:

- drain: the Drainer cordons and drains the batch; when it is drained, each instance is
  terminated in its Auto Scaling group without decrementing the desired capacity, so the group
  launches a replacement from its current launch template version;
- wait: for the replacements' Nodes to be Ready (readiness' watch), at most
  ``replacement_timeout`` seconds after the last termination;
- floor: stop, no old node can leave without going under ``min_in_service``;
- done: every instance runs what the group launches now.

The AWS and readiness calls are behind ReplaceOps so the loop is unit tested without a server.
"""

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..readiness.nodes import format_duration, short_name
from .drain import Drainer
from .rolling import DONE, DRAIN, FLOOR, WAIT, LaunchTarget, decide, floor_message


class ReplaceStopped(Exception):
    def __init__(self, message: str, **facts: Any):
        super().__init__(message)
        self.facts = facts


class ReplaceOps:
    def observe(self) -> Tuple[List[Dict[str, Any]], int, LaunchTarget]:
        """(the group's instances as aws.instance_facts gives them, its desired capacity, what it launches now)."""
        raise NotImplementedError

    def terminate(self, instance_id: str) -> None:
        raise NotImplementedError

    def wait_ready(self, seconds: float) -> Optional[str]:
        """Wait up to seconds for the group's nodes to be Ready (returns earlier when they are); a progress line."""
        raise NotImplementedError


@dataclass
class ReplaceOptions:
    batch_size: int = 1
    min_in_service: Optional[int] = None
    replacement_timeout: float = 1800.0


@dataclass
class ReplaceReport:
    terminated: List[Dict[str, Any]] = field(default_factory=list)


def node_label(instance: Dict[str, Any]) -> str:
    return short_name(instance.get("node_name")) or instance["instance_id"]


class Replacer:
    def __init__(self, ops: ReplaceOps, drainer: Drainer, options: ReplaceOptions, memo: Optional[Dict[str, Any]] = None,
                 clock: Callable[[], float] = time.time, emit: Optional[Callable[[str], None]] = None):
        self.ops = ops
        self.drainer = drainer
        self.options = options
        self.memo = memo if memo is not None else {}
        self.clock = clock
        self.report = ReplaceReport()
        self._emit = emit or drainer.emit

    def min_in_service(self, desired: int) -> int:
        if self.options.min_in_service is not None:
            return self.options.min_in_service
        return max(desired - self.options.batch_size, 0)

    def run(self, deadline: float) -> bool:
        """Replace every old instance; True when done, False when the deadline came first. Raises ReplaceStopped/DrainStopped."""
        while True:
            instances, desired, target = self.ops.observe()
            floor = self.min_in_service(desired)
            # A step that follows the one that terminated knows it from the memo (waiting_since), not from its report.
            replacing = bool(self.report.terminated) or "waiting_since" in self.memo
            decision = decide(instances, desired, target, self.options.batch_size, floor, replacing=replacing)
            now = self.clock()
            if decision.action == DONE:
                self.memo.pop("waiting_since", None)
                return True
            if decision.action == FLOOR:
                raise ReplaceStopped(floor_message(decision, desired, floor), old=[i["instance_id"] for i in decision.instances])
            if decision.action == WAIT:
                since = self.memo.setdefault("waiting_since", now)
                if now - since > self.options.replacement_timeout:
                    raise ReplaceStopped(
                        f"the replacement nodes are not Ready after {format_duration(now - since)} ({decision.reason}: "
                        f"{', '.join(node_label(i) for i in decision.instances) or 'not launched yet'}); run "
                        "eksnodes.windows.nodes_ready on the group for a diagnosis, fix it, then run again (raise "
                        "replacement_timeout if they are only slow)", waiting=[i["instance_id"] for i in decision.instances])
                self._line(f"waiting for replacements: {decision.reason}")
                if now >= deadline:
                    return False
                status = self.ops.wait_ready(deadline - now)
                if status:
                    self._line(f"waiting for replacements: {status}")
                if self.clock() >= deadline:
                    return False
                continue
            self.memo.pop("waiting_since", None)
            if decision.action == DRAIN:
                if not self._replace(decision.instances, deadline):
                    return False

    def _replace(self, batch: List[Dict[str, Any]], deadline: float) -> bool:
        self._line(f"replacing {', '.join(node_label(i) for i in batch)} ({batch[0].get('old_because') or 'old'})")
        names = [i["node_name"] for i in batch if i.get("node_name")]
        if names and not self.drainer.run(names, deadline):
            return False
        for instance in batch:
            self.ops.terminate(instance["instance_id"])
            self.report.terminated.append({"instance_id": instance["instance_id"], "node": instance.get("node_name"),
                                           "reason": instance.get("old_because")})
            self._emit(f"{node_label(instance)}: terminated {instance['instance_id']} in its Auto Scaling group (a replacement launches)")
        self.memo["waiting_since"] = self.clock()
        return True

    def _line(self, line: str) -> None:
        if self.memo.get("line") != line:
            self.memo["line"] = line
            self._emit(line)
