"""Bounded waits with a fake clock: they end on a terminal status, report events, and time out."""

import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup import waiters as w


class Clock:
    def __init__(self):
        self.now = 0.0
        self.pauses = []

    def __call__(self):
        return self.now

    def pause(self, seconds):
        self.pauses.append(seconds)
        self.now += seconds


def scripted(statuses):
    answers = iter(statuses)

    def describe():
        status = next(answers)
        return None if status is None else {"StackStatus": status}

    return describe


def test_waits_until_a_terminal_status_and_reports_each_event_once():
    clock = Clock()
    batches = iter([[{"id": 1}], [], [{"id": 2}, {"id": 3}]])
    seen = []
    stack = w.wait_for_stack(scripted(["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE"]),
                             lambda: next(batches), w.Deadline(100, clock), on_event=seen.append, pause=clock.pause)
    assert stack == {"StackStatus": "UPDATE_COMPLETE"}
    assert seen == [{"id": 1}, {"id": 2}, {"id": 3}]
    assert clock.pauses == [1.0, 1.5]


def test_failure_statuses_end_the_wait_too():
    clock = Clock()
    stack = w.wait_for_stack(scripted(["ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]), lambda: [], w.Deadline(100, clock), pause=clock.pause)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"


def test_a_vanished_stack_ends_the_wait():
    clock = Clock()
    assert w.wait_for_stack(scripted(["DELETE_IN_PROGRESS", None]), lambda: [], w.Deadline(100, clock), pause=clock.pause) is None


def test_timeout_raises_with_the_last_description_and_never_sleeps_past_the_deadline():
    clock = Clock()
    with pytest.raises(w.WaitTimeout) as raised:
        w.wait_for_stack(lambda: {"StackStatus": "CREATE_IN_PROGRESS"}, lambda: [], w.Deadline(10, clock), pause=clock.pause)
    assert raised.value.last == {"StackStatus": "CREATE_IN_PROGRESS"}
    assert "still CREATE_IN_PROGRESS after 10 seconds" in str(raised.value)
    assert clock.now == 10
    assert max(clock.pauses) <= 15


def test_pauses_grow_to_the_longest():
    clock = Clock()
    with pytest.raises(w.WaitTimeout):
        w.wait_for_stack(lambda: {"StackStatus": "UPDATE_IN_PROGRESS"}, lambda: [], w.Deadline(200, clock), pause=clock.pause, longest_pause=4)
    assert clock.pauses[:5] == [1.0, 1.5, 2.25, 3.375, 4]


def test_custom_done_waits_for_settled():
    clock = Clock()
    stack = w.wait_for_stack(scripted(["UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE"]), lambda: [], w.Deadline(100, clock),
                             done=w.is_settled, pause=clock.pause)
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"


@pytest.mark.parametrize("status, settled", [
    (None, True), ("CREATE_COMPLETE", True), ("REVIEW_IN_PROGRESS", True), ("ROLLBACK_COMPLETE", True),
    ("UPDATE_ROLLBACK_FAILED", True), ("UPDATE_IN_PROGRESS", False), ("DELETE_IN_PROGRESS", False),
    ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", False),
])
def test_is_settled(status, settled):
    assert w.is_settled(status) is settled


def test_change_set_wait_ends_on_create_complete_or_failed_and_times_out():
    clock = Clock()
    answers = iter([{"Status": "CREATE_PENDING"}, {"Status": "CREATE_IN_PROGRESS"}, {"Status": "FAILED"}])
    assert w.wait_for_change_set(lambda: next(answers), w.Deadline(100, clock), pause=clock.pause) == {"Status": "FAILED"}
    with pytest.raises(w.WaitTimeout):
        w.wait_for_change_set(lambda: {"Status": "CREATE_PENDING"}, w.Deadline(3, clock), pause=clock.pause)
    assert w.wait_for_change_set(lambda: None, w.Deadline(3, clock), pause=clock.pause) is None


def test_deadline_shares_one_budget():
    clock = Clock()
    deadline = w.Deadline(30, clock)
    clock.now = 12
    assert deadline.remaining() == 18 and deadline.elapsed() == 12 and not deadline.expired()
    clock.now = 31
    assert deadline.remaining() == 0 and deadline.expired()
