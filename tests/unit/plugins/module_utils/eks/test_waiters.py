import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.eks.waiters import AddonWaitError, ClusterWaitError, wait_for_active, wait_for_addon


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def statuses(*sequence):
    remaining = list(sequence)

    def describe():
        status = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        return None if status is None else {"name": "c", "status": status}
    return describe


def test_waits_through_creating_until_active():
    clock = Clock()
    cluster = wait_for_active(statuses("CREATING", "CREATING", "ACTIVE"), timeout=60, sleep=5, clock=clock, pause=clock.sleep)
    assert cluster["status"] == "ACTIVE"
    assert clock.now == 10


def test_times_out_with_the_last_status():
    clock = Clock()
    with pytest.raises(ClusterWaitError, match="still UPDATING after 30 seconds"):
        wait_for_active(statuses("UPDATING"), timeout=30, sleep=5, clock=clock, pause=clock.sleep)
    assert clock.now == 30


@pytest.mark.parametrize("status", ["FAILED", "DELETING"])
def test_terminal_status_fails_at_once(status):
    clock = Clock()
    with pytest.raises(ClusterWaitError, match=status):
        wait_for_active(statuses(status), timeout=600, clock=clock, pause=clock.sleep)
    assert clock.now == 0


def test_missing_cluster_fails():
    with pytest.raises(ClusterWaitError, match="does not exist"):
        wait_for_active(statuses(None), timeout=5)


def test_addon_waits_while_updating():
    clock = Clock()
    addon = wait_for_addon(statuses("UPDATING", "UPDATING", "ACTIVE"), timeout=60, sleep=5, clock=clock, pause=clock.sleep)
    assert addon["status"] == "ACTIVE"
    assert clock.now == 10


@pytest.mark.parametrize("status", ["ACTIVE", "DEGRADED", "UPDATE_FAILED"])
def test_addon_settled_statuses_return_at_once(status):
    clock = Clock()
    assert wait_for_addon(statuses(status), timeout=60, clock=clock, pause=clock.sleep)["status"] == status
    assert clock.now == 0


def test_addon_times_out_with_the_status():
    clock = Clock()
    with pytest.raises(AddonWaitError, match="still UPDATING after 20 seconds"):
        wait_for_addon(statuses("UPDATING"), timeout=20, sleep=5, clock=clock, pause=clock.sleep)


def test_vanished_addon_fails():
    with pytest.raises(AddonWaitError, match="add-on does not exist"):
        wait_for_addon(statuses(None), timeout=20)
