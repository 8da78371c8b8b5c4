"""Resolving the AMI through SSM and the DescribeImages fallback, against stubbed clients."""

from types import SimpleNamespace

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.eksnodes.windows.plugins.module_utils.ami.common import SsmParameterError
from ansible_collections.eksnodes.windows.plugins.module_utils.ami.lookup import AmiLookupError, resolve

PARAMETER = "/aws/service/ami-windows-latest/Windows_Server-2022-English-Core-EKS_Optimized-1.31/image_id"
FILTERS = [
    {"Name": "name", "Values": ["Windows_Server-2022-English-Core-EKS_Optimized-1.31-*"]},
    {"Name": "is-public", "Values": ["true"]},
    {"Name": "state", "Values": ["available"]},
]
IMAGES = [
    {"ImageId": "ami-0000000000000old", "Name": "Windows_Server-2022-English-Core-EKS_Optimized-1.31-2026.10.14",
     "CreationDate": "2026-10-14T00:00:00.000Z", "State": "available", "OwnerId": "801119661308"},
    {"ImageId": "ami-0000000000000new", "Name": "Windows_Server-2022-English-Core-EKS_Optimized-1.31-2026.11.12",
     "CreationDate": "2026-11-12T00:00:00.000Z", "State": "available", "OwnerId": "957547624766"},
]


DEFAULT_OWNERS = ["amazon", "801119661308", "957547624766", "055183720277"]
SQUATTER = {"ImageId": "ami-00000000000squat", "Name": "Windows_Server-2022-English-Core-EKS_Optimized-1.31-2026.12.01",
            "CreationDate": "2026-12-01T00:00:00.000Z", "State": "available", "OwnerId": "111122223333"}

pytestmark = pytest.mark.usefixtures("no_retry_sleep")


def fallback_responses(stub, trusted, everyone, owners=None):
    """The fallback's two DescribeImages calls: the trusted owners' images, then the same name from any owner."""
    stub.add_response("describe_images", {"Images": trusted}, {"Filters": FILTERS, "Owners": owners or DEFAULT_OWNERS})
    stub.add_response("describe_images", {"Images": everyone}, {"Filters": FILTERS})


@pytest.fixture
def clients():
    kwargs = dict(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    ssm, ec2 = boto3.client("ssm", **kwargs), boto3.client("ec2", **kwargs)
    with Stubber(ssm) as ssm_stub, Stubber(ec2) as ec2_stub:
        yield SimpleNamespace(ssm=ssm, ec2=ec2, ssm_stub=ssm_stub, ec2_stub=ec2_stub)
        ssm_stub.assert_no_pending_responses()
        ec2_stub.assert_no_pending_responses()


def parameter_value(stub, value):
    stub.add_response("get_parameter", {"Parameter": {"Name": PARAMETER, "Type": "String", "Value": value}}, {"Name": PARAMETER})


def test_ssm_first_then_the_image_details(clients):
    ssm, ec2, ssm_stub, ec2_stub = clients.ssm, clients.ec2, clients.ssm_stub, clients.ec2_stub
    parameter_value(ssm_stub, "ami-0000000000000new")
    ec2_stub.add_response("describe_images", {"Images": [IMAGES[1]]}, {"ImageIds": ["ami-0000000000000new"]})
    found = resolve(ssm, ec2, "2022", "core", "1.31")
    assert found["resolved_by"] == "ssm" and found["image"]["Name"].endswith("2026.11.12")
    assert found["ssm_parameter"] == PARAMETER and found["fallback_reason"] is None


def test_missing_parameter_falls_back_to_the_newest_image_of_amazon(clients):
    ssm, ec2, ssm_stub, ec2_stub = clients.ssm, clients.ec2, clients.ssm_stub, clients.ec2_stub
    ssm_stub.add_client_error("get_parameter", "ParameterNotFound", "not found", 400)
    fallback_responses(ec2_stub, IMAGES, IMAGES)
    found = resolve(ssm, ec2, "2022", "core", "1.31")
    assert found["resolved_by"] == "describe_images"
    assert found["image"]["ImageId"] == "ami-0000000000000new"
    assert found["fallback_reason"] == f"the SSM parameter {PARAMETER} does not exist"
    assert found["refused_images"] == [] and found["refused"] is None


def test_a_newer_image_of_a_stranger_with_the_same_name_is_refused(clients):
    ssm, ec2, ssm_stub, ec2_stub = clients.ssm, clients.ec2, clients.ssm_stub, clients.ec2_stub
    ssm_stub.add_client_error("get_parameter", "ParameterNotFound", "not found", 400)
    # even if a server returned the stranger's image for Owners, its owner is checked again
    fallback_responses(ec2_stub, IMAGES + [SQUATTER], IMAGES + [SQUATTER])
    found = resolve(ssm, ec2, "2022", "core", "1.31")
    assert found["image"]["ImageId"] == "ami-0000000000000new"
    assert found["refused_images"] == [f"ami-00000000000squat ({SQUATTER['Name']}, owner 111122223333)"]
    assert "owner 111122223333 is not one of the trusted owners (amazon, 801119661308" in found["refused"]
    assert "list it in owners, e.g. owners: [amazon, 801119661308, 957547624766, 055183720277, 111122223333]" in found["refused"]


def test_only_a_strangers_image_fails_naming_the_owner_and_the_fix(clients):
    ssm, ec2, ssm_stub, ec2_stub = clients.ssm, clients.ec2, clients.ssm_stub, clients.ec2_stub
    ssm_stub.add_client_error("get_parameter", "ParameterNotFound", "not found", 400)
    fallback_responses(ec2_stub, [], [SQUATTER])
    with pytest.raises(AmiLookupError) as raised:
        resolve(ssm, ec2, "2022", "core", "1.31")
    assert "refused ami-00000000000squat" in raised.value.message and "anyone can publish a public AMI" in raised.value.message
    assert raised.value.facts["refused_images"] == [f"ami-00000000000squat ({SQUATTER['Name']}, owner 111122223333)"]


def test_a_listed_owner_is_allowed(clients):
    ssm, ec2, ec2_stub = clients.ssm, clients.ec2, clients.ec2_stub
    fallback_responses(ec2_stub, [SQUATTER], IMAGES + [SQUATTER], owners=["111122223333"])
    found = resolve(ssm, ec2, "2022", "core", "1.31", lookup="describe_images", owners=["111122223333"])
    assert found["image"]["ImageId"] == "ami-00000000000squat" and found["refused_images"] == []


def test_govcloud_trusts_its_own_account():
    kwargs = dict(region_name="us-gov-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    ssm, ec2 = boto3.client("ssm", **kwargs), boto3.client("ec2", **kwargs)
    with Stubber(ec2) as ec2_stub:
        fallback_responses(ec2_stub, IMAGES, IMAGES, owners=["amazon", "077303321853"])
        with pytest.raises(AmiLookupError, match=r"\(owners amazon, 077303321853\)"):
            resolve(ssm, ec2, "2022", "core", "1.31", lookup="describe_images")


def test_unreadable_parameter_falls_back(clients):
    ssm, ec2, ssm_stub, ec2_stub = clients.ssm, clients.ec2, clients.ssm_stub, clients.ec2_stub
    ssm_stub.add_client_error("get_parameter", "AccessDeniedException", "not authorized", 400)
    fallback_responses(ec2_stub, IMAGES, IMAGES)
    found = resolve(ssm, ec2, "2022", "core", "1.31")
    assert found["fallback_reason"] == f"the SSM parameter {PARAMETER} is not readable (AccessDeniedException)"


def test_other_ssm_errors_are_raised(clients):
    ssm, ec2, ssm_stub = clients.ssm, clients.ec2, clients.ssm_stub
    ssm_stub.add_client_error("get_parameter", "InternalServerError", "boom", 500)
    with pytest.raises(SsmParameterError):
        resolve(ssm, ec2, "2022", "core", "1.31")


def test_throttling_is_retried(clients):
    ssm, ec2, ssm_stub, ec2_stub = clients.ssm, clients.ec2, clients.ssm_stub, clients.ec2_stub
    ssm_stub.add_client_error("get_parameter", "ThrottlingException", "Rate exceeded", 400)
    ssm_stub.add_client_error("get_parameter", "Throttling", "Rate exceeded", 400)
    parameter_value(ssm_stub, "ami-0000000000000new")
    ec2_stub.add_response("describe_images", {"Images": [IMAGES[1]]}, {"ImageIds": ["ami-0000000000000new"]})
    assert resolve(ssm, ec2, "2022", "core", "1.31")["resolved_by"] == "ssm"


def test_ssm_only_does_not_fall_back(clients):
    ssm, ec2, ssm_stub = clients.ssm, clients.ec2, clients.ssm_stub
    ssm_stub.add_client_error("get_parameter", "ParameterNotFound", "not found", 400)
    with pytest.raises(AmiLookupError, match="does not exist: EKS may not publish"):
        resolve(ssm, ec2, "2022", "core", "1.31", lookup="ssm")


def test_describe_images_only_with_owners(clients):
    ssm, ec2, ec2_stub = clients.ssm, clients.ec2, clients.ec2_stub
    fallback_responses(ec2_stub, IMAGES[:1], IMAGES, owners=["801119661308"])
    found = resolve(ssm, ec2, "2022", "core", "1.31", lookup="describe_images", owners=["801119661308"])
    assert found["image"]["ImageId"] == "ami-0000000000000old"
    assert found["refused_images"] == [f"ami-0000000000000new ({IMAGES[1]['Name']}, owner 957547624766)"]


def test_nothing_found_anywhere_is_an_error_naming_both(clients):
    ssm, ec2, ssm_stub, ec2_stub = clients.ssm, clients.ec2, clients.ssm_stub, clients.ec2_stub
    ssm_stub.add_client_error("get_parameter", "ParameterNotFound", "not found", 400)
    fallback_responses(ec2_stub, [], [])
    with pytest.raises(AmiLookupError) as raised:
        resolve(ssm, ec2, "2022", "core", "1.31")
    assert raised.value.message == (
        f"the SSM parameter {PARAMETER} does not exist, and no public, available image is named "
        "Windows_Server-2022-English-Core-EKS_Optimized-1.31-* (owners amazon, 801119661308, 957547624766, 055183720277): "
        "EKS may not publish this Windows Server release for this Kubernetes version"
    )


def test_parameter_pointing_at_a_private_image_still_returns_its_id(clients):
    ssm, ec2, ssm_stub, ec2_stub = clients.ssm, clients.ec2, clients.ssm_stub, clients.ec2_stub
    parameter_value(ssm_stub, "ami-0000000000000new")
    ec2_stub.add_response("describe_images", {"Images": []}, {"ImageIds": ["ami-0000000000000new"]})
    found = resolve(ssm, ec2, "2022", "core", "1.31")
    assert found["image"] == {"ImageId": "ami-0000000000000new"} and found["image_described"] is False
