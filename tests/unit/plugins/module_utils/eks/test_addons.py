import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.eksnodes.windows.plugins.module_utils.eks.addons import (
    AddonWaitError,
    describe_addon,
    list_addons,
    update_addon,
    wait_for_addon,
)
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.common import EksError


@pytest.fixture
def eks():
    client = boto3.client("eks", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    with Stubber(client) as stubber:
        yield client, stubber


def test_missing_addon_is_none(eks):
    client, stubber = eks
    stubber.add_client_error("describe_addon", "ResourceNotFoundException", "No addon: vpc-cni")
    assert describe_addon(client, "lab", "vpc-cni") is None


def test_missing_cluster_has_no_addons(eks):
    client, stubber = eks
    stubber.add_client_error("list_addons", "ResourceNotFoundException", "No cluster found")
    assert list_addons(client, "lab") == []


def test_update_sends_the_values_and_the_conflict_rule(eks):
    client, stubber = eks
    stubber.add_response("update_addon", {"update": {"id": "u-1", "status": "InProgress"}},
                         {"clusterName": "lab", "addonName": "vpc-cni", "configurationValues": '{"enableWindowsIpam": "true"}',
                          "resolveConflicts": "OVERWRITE"})
    assert update_addon(client, "lab", "vpc-cni", '{"enableWindowsIpam": "true"}', "OVERWRITE")["id"] == "u-1"


def test_update_errors_are_wrapped(eks):
    client, stubber = eks
    stubber.add_client_error("update_addon", "InvalidParameterException", "ConfigurationValue provided in request is not supported")
    with pytest.raises(EksError, match="update add-on"):
        update_addon(client, "lab", "vpc-cni", "{}", "OVERWRITE")


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def sequence(*statuses):
    remaining = list(statuses)

    def describe():
        status = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        return None if status is None else {"addonName": "vpc-cni", "status": status}
    return describe


def test_waits_while_updating():
    clock = Clock()
    addon = wait_for_addon(sequence("UPDATING", "UPDATING", "ACTIVE"), timeout=60, sleep=5, clock=clock, pause=clock.sleep)
    assert addon["status"] == "ACTIVE"
    assert clock.now == 10


@pytest.mark.parametrize("status", ["ACTIVE", "DEGRADED", "UPDATE_FAILED"])
def test_settled_statuses_return_at_once(status):
    clock = Clock()
    assert wait_for_addon(sequence(status), timeout=60, clock=clock, pause=clock.sleep)["status"] == status
    assert clock.now == 0


def test_times_out_with_the_status():
    clock = Clock()
    with pytest.raises(AddonWaitError, match="still UPDATING after 20 seconds"):
        wait_for_addon(sequence("UPDATING"), timeout=20, sleep=5, clock=clock, pause=clock.sleep)


def test_vanished_addon_fails():
    with pytest.raises(AddonWaitError, match="no longer exists"):
        wait_for_addon(sequence(None), timeout=20)
