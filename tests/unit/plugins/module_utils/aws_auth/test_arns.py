import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth import arns
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.arns import ArnError

ROLE = "arn:aws:iam::111122223333:role/NodeInstanceRole"


@pytest.mark.parametrize("arn, expected", [
    (ROLE, ROLE),
    ("arn:aws:iam::111122223333:role/eks/nodes/NodeInstanceRole", ROLE),
    ("arn:aws-cn:iam::111122223333:role/a/NodeInstanceRole", "arn:aws-cn:iam::111122223333:role/NodeInstanceRole"),
    ("arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123",
     "arn:aws:iam::111122223333:role/AWSReservedSSO_Admin_0123"),
    ("arn:aws:iam::111122223333:user/path/alice", "arn:aws:iam::111122223333:user/path/alice"),
    ("not an arn", "not an arn"),
])
def test_strip_role_path(arn, expected):
    assert arns.strip_role_path(arn) == expected


def test_instance_profile_detection():
    assert arns.is_instance_profile_arn("arn:aws:iam::111122223333:instance-profile/eks-windows-NodeInstanceProfile-ABC")
    assert arns.is_instance_profile_arn("arn:aws:iam::111122223333:instance-profile/path/x")
    assert not arns.is_instance_profile_arn(ROLE)
    assert not arns.is_instance_profile_arn(None)


def test_instance_profile_arn_is_refused_with_the_fix():
    with pytest.raises(ArnError) as error:
        arns.check_role_arn("arn:aws:iam::111122223333:instance-profile/win-profile", "node_roles[0].arn")
    message = str(error.value)
    assert message.startswith("node_roles[0].arn: ")
    assert "instance profile ARN" in message
    assert "get-instance-profile --instance-profile-name win-profile" in message


def test_assumed_role_arn_is_refused_naming_the_role_arn():
    with pytest.raises(ArnError, match=r"use the role's own ARN, arn:aws:iam::111122223333:role/Admin"):
        arns.check_role_arn("arn:aws:sts::111122223333:assumed-role/Admin/alice", "map_roles[0].rolearn")


def test_role_path_is_stripped_with_a_warning():
    arn, warnings = arns.check_role_arn("arn:aws:iam::111122223333:role/eks/NodeInstanceRole", "f")
    assert arn == ROLE
    assert len(warnings) == 1 and "/eks/" in warnings[0] and ROLE in warnings[0]
    assert arns.check_role_arn(ROLE, "f") == (ROLE, [])


@pytest.mark.parametrize("bad", [
    "", None, "arn:aws:iam::1111:role/x", "arn:aws:iam::111122223333:role/", "arn:aws:iam::111122223333:user/alice",
    "arn:aws:iam::111122223333:role/has space", "arn:aws:eks:us-east-1:111122223333:cluster/x", "role/x",
    "arn:aws:iam::111122223333:role/" + "n" * 65,
])
def test_malformed_role_arns(bad):
    with pytest.raises(ArnError, match="^field: "):
        arns.check_role_arn(bad, "field")


def test_user_arns_keep_their_path():
    assert arns.check_user_arn("arn:aws:iam::111122223333:user/ops/alice", "u") == "arn:aws:iam::111122223333:user/ops/alice"
    with pytest.raises(ArnError, match="role ARN: map it with map_roles"):
        arns.check_user_arn(ROLE, "u")


@pytest.mark.parametrize("value, ok", [("111122223333", True), (111122223333, True), ("11112222333", False), ("abc", False), (None, False)])
def test_account_ids(value, ok):
    if ok:
        assert arns.check_account_id(value, "a") == str(value)
    else:
        with pytest.raises(ArnError, match="12 digits"):
            arns.check_account_id(value, "a")


def test_principal_arns_for_access_entries():
    with_path = "arn:aws:iam::111122223333:role/eks/NodeInstanceRole"
    assert arns.check_principal_arn(with_path, "p") == with_path
    assert arns.check_principal_arn("arn:aws:iam::111122223333:user/alice", "p").endswith("user/alice")
    with pytest.raises(ArnError, match="role ARN"):
        arns.check_principal_arn("arn:aws:iam::111122223333:user/alice", "p", roles_only=True)
    with pytest.raises(ArnError, match="instance profile"):
        arns.check_principal_arn("arn:aws:iam::111122223333:instance-profile/x", "p")


def test_partition_and_keys():
    assert arns.partition_of("arn:aws-us-gov:iam::111122223333:role/x") == "aws-us-gov"
    assert arns.partition_of("garbage") == "aws"
    assert arns.arn_key(" ARN:aws:IAM::1:role/X ") == "arn:aws:iam::1:role/x"
