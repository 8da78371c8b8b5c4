"""The readiness waiter paces and bounds broken watches with the Kubernetes retry policy."""

import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.kube.retries import KubeRetry
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.nodes import group_target
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.waiter import (
    KubeReadError,
    NodeSource,
    WatchDropped,
    WatchExpired,
    wait_for_nodes,
)

GROUP = {"AutoScalingGroupName": "ng", "DesiredCapacity": 1, "Instances": [{"InstanceId": "i-1", "LifecycleState": "InService"}]}


def ready_node(version):
    return {"metadata": {"name": "a", "resourceVersion": version, "labels": {"kubernetes.io/os": "windows"}},
            "spec": {"providerID": "aws:///us-east-1a/i-1"},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ready"}]}}


class Clock:
    def __init__(self):
        self.now = 0.0
        self.pauses = []

    def __call__(self):
        return self.now

    def pause(self, seconds):
        self.pauses.append(seconds)
        self.now += seconds


class Source(NodeSource):
    """Each watch raises the next failure; with none left it sends the event that makes the node Ready."""

    def __init__(self, failures):
        self.failures = list(failures)
        self.lists = 0

    def list(self):
        self.lists += 1
        return {}, str(self.lists)

    def watch(self, resource_version, timeout):
        if self.failures:
            raise self.failures.pop(0)
        return iter([{"type": "ADDED", "object": ready_node("9")}])

    def reconnect(self):
        raise AssertionError("no reconnect expected")


def policy():
    return KubeRetry(max_attempts=4, base=0.5, cap=10.0, rand=lambda low, high: high)


def test_a_broken_watch_lists_again_after_the_policy_delay():
    clock = Clock()
    source = Source([WatchDropped("connection reset"), WatchDropped("503 in the stream")])
    outcome = wait_for_nodes(source, lambda: group_target(GROUP), timeout=600, clock=clock, pause=clock.pause, retry=policy())
    assert outcome.state.done and outcome.dropped == 2
    assert source.lists == 3 and clock.pauses == [0.5, 1.0]


def test_an_expired_watch_lists_again_at_once():
    clock = Clock()
    source = Source([WatchExpired("410 Gone")])
    outcome = wait_for_nodes(source, lambda: group_target(GROUP), timeout=600, clock=clock, pause=clock.pause, retry=policy())
    assert outcome.state.done and source.lists == 2 and clock.pauses == []


def test_watches_that_keep_breaking_end_the_wait_after_the_policy_attempts():
    clock = Clock()
    source = Source([WatchDropped(f"broken {n}") for n in range(1, 10)])
    with pytest.raises(KubeReadError, match="the node watch broke 4 times in a row, the last time with: broken 4"):
        wait_for_nodes(source, lambda: group_target(GROUP), timeout=600, clock=clock, pause=clock.pause, retry=policy())
    assert clock.pauses == [0.5, 1.0, 2.0]
