# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Bounded waits for a stack operation and a change set, reporting each new event as it arrives.

The describe calls come in as functions, so the waits are tested without any SDK; a caller that
can print as it goes (an action plugin) passes on_event, a module collects the events.
"""

import time
from typing import Any, Callable, Dict, List, Optional

# Statuses after which nothing more happens without a new request.
SUCCESS_STATUSES = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", "IMPORT_COMPLETE")
FAILURE_STATUSES = (
    "CREATE_FAILED",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "DELETE_FAILED",
    "UPDATE_FAILED",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED",
    "IMPORT_ROLLBACK_COMPLETE",
    "IMPORT_ROLLBACK_FAILED",
)
# A stack in one of these can only be deleted (and created again).
UNUSABLE_STATUSES = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED")
# A stack in review was made by a CREATE change set that never ran: it has no resources.
REVIEW_STATUS = "REVIEW_IN_PROGRESS"


def is_settled(status: Optional[str]) -> bool:
    """No operation is running on a stack in this status."""
    return status is None or status in SUCCESS_STATUSES or status in FAILURE_STATUSES or status == REVIEW_STATUS


class WaitTimeout(Exception):
    def __init__(self, message: str, last: Optional[Dict[str, Any]] = None):
        super().__init__(message)
        self.last = last


class Deadline:
    """One time budget shared by every step of a module run."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.seconds = seconds
        self.started = clock()
        self.at = self.started + seconds

    def remaining(self) -> float:
        return max(self.at - self.clock(), 0.0)

    def elapsed(self) -> float:
        return self.clock() - self.started

    def expired(self) -> bool:
        return self.clock() >= self.at


def _pauses(first: float, factor: float, longest: float):
    pause = first
    while True:
        yield pause
        pause = min(pause * factor, longest)


def wait_for_stack(
    describe: Callable[[], Optional[Dict[str, Any]]],
    new_events: Callable[[], List[Dict[str, Any]]],
    deadline: Deadline,
    on_event: Optional[Callable[[Dict[str, Any]], None]] = None,
    done: Callable[[Optional[str]], bool] = lambda status: status is None or status in SUCCESS_STATUSES or status in FAILURE_STATUSES,
    pause: Callable[[float], None] = time.sleep,
    first_pause: float = 1.0,
    longest_pause: float = 15.0,
) -> Optional[Dict[str, Any]]:
    """Poll until done(status); returns the last description (None once the stack is gone).

    new_events() returns the events that arrived since its previous call; each goes to on_event.
    Raises WaitTimeout, holding the last description, when the deadline passes first.
    """
    pauses = _pauses(first_pause, 1.5, longest_pause)
    while True:
        stack = describe()
        for event in new_events():
            if on_event is not None:
                on_event(event)
        status = stack.get("StackStatus") if stack else None
        if done(status):
            return stack
        if deadline.expired():
            raise WaitTimeout(f"the stack was still {status} after {deadline.seconds:g} seconds", stack)
        pause(min(next(pauses), max(deadline.remaining(), 0.0)))


def wait_for_change_set(
    describe: Callable[[], Optional[Dict[str, Any]]],
    deadline: Deadline,
    pause: Callable[[float], None] = time.sleep,
    first_pause: float = 0.5,
    longest_pause: float = 5.0,
) -> Optional[Dict[str, Any]]:
    """Poll a change set until CloudFormation has computed it (CREATE_COMPLETE) or refused it (FAILED)."""
    pauses = _pauses(first_pause, 1.5, longest_pause)
    while True:
        change_set = describe()
        status = change_set.get("Status") if change_set else None
        if status in (None, "CREATE_COMPLETE", "FAILED", "DELETE_COMPLETE", "DELETE_FAILED"):
            return change_set
        if deadline.expired():
            raise WaitTimeout(f"the change set was still {status} after {deadline.seconds:g} seconds", change_set)
        pause(min(next(pauses), max(deadline.remaining(), 0.0)))
