import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.eksnodes.windows.plugins.module_utils.eks.addons import (
    describe_addon,
    list_addons,
    update_addon,
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
