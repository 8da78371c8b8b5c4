# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Checking and normalising the ARNs and account IDs that node authorization works with.

aws-auth matches the role a node presents by its ARN without any path (the authenticator turns the
caller's assumed-role ARN into arn:<partition>:iam::<account>:role/<name>), so a role ARN written with
a path never matches. Instance-profile ARNs and STS assumed-role ARNs are common mistakes in the
place of a role ARN; each gets an error that says which ARN to use instead.
"""

import re
from typing import List, Optional, Tuple

PARTITION = r"aws(?:-[a-z]+)*"
ACCOUNT = r"\d{12}"
IAM_NAME = r"[\w+=,.@-]{1,64}"
# An IAM path is / or /segment/.../ of printable ASCII without /.
PATH_SEGMENT = r"[\x21-\x2e\x30-\x7e]+"

ROLE_ARN = re.compile(
    rf"^arn:(?P<partition>{PARTITION}):iam::(?P<account>{ACCOUNT}):role/(?P<path>(?:{PATH_SEGMENT}/)*)(?P<name>{IAM_NAME})$"
)
USER_ARN = re.compile(
    rf"^arn:(?P<partition>{PARTITION}):iam::(?P<account>{ACCOUNT}):user/(?P<path>(?:{PATH_SEGMENT}/)*)(?P<name>{IAM_NAME})$"
)
INSTANCE_PROFILE_ARN = re.compile(
    rf"^arn:(?P<partition>{PARTITION}):iam::(?P<account>{ACCOUNT}):instance-profile/(?:{PATH_SEGMENT}/)*(?P<name>{IAM_NAME})$"
)
ASSUMED_ROLE_ARN = re.compile(
    rf"^arn:(?P<partition>{PARTITION}):sts::(?P<account>{ACCOUNT}):assumed-role/(?P<name>{IAM_NAME})/(?P<session>[^/]+)$"
)
ACCOUNT_ID = re.compile(rf"^{ACCOUNT}$")


class ArnError(ValueError):
    """An ARN that cannot be used where it was given; the message names the field and the fix."""


def is_instance_profile_arn(arn: str) -> bool:
    return bool(INSTANCE_PROFILE_ARN.match(str(arn or "")))


def is_role_arn(arn: str) -> bool:
    return bool(ROLE_ARN.match(str(arn or "")))


def role_path(arn: str) -> str:
    """The path of a role ARN ('' for none); '' for anything that is not a role ARN."""
    match = ROLE_ARN.match(str(arn or ""))
    return match.group("path") if match else ""


def strip_role_path(arn: str) -> str:
    """arn:aws:iam::111122223333:role/some/path/name -> arn:aws:iam::111122223333:role/name.

    Anything that is not a role ARN is returned unchanged.
    """
    match = ROLE_ARN.match(str(arn or ""))
    if not match or not match.group("path"):
        return arn
    return f"arn:{match.group('partition')}:iam::{match.group('account')}:role/{match.group('name')}"


def arn_key(arn) -> str:
    """The form two ARNs are compared in: IAM names are unique regardless of case."""
    return str(arn).strip().lower()


def partition_of(arn: str, default: str = "aws") -> str:
    parts = str(arn or "").split(":")
    return parts[1] if len(parts) > 1 and parts[0] == "arn" and parts[1] else default


def check_role_arn(arn, field: str, strip_path: bool = True) -> Tuple[str, List[str]]:
    """Validate a role ARN given in field; return (the ARN to use, warnings).

    With strip_path, a role ARN with a path is returned without it and a warning says so.
    Raises ArnError for instance-profile ARNs, assumed-role ARNs and anything else malformed.
    """
    text = str(arn or "").strip()
    if not text:
        raise ArnError(f"{field}: a role ARN is required, like arn:aws:iam::111122223333:role/NodeInstanceRole")
    profile = INSTANCE_PROFILE_ARN.match(text)
    if profile:
        raise ArnError(
            f"{field}: {text} is an instance profile ARN; a role ARN belongs here. Use the ARN of the role the "
            f"instance profile holds, for example from `aws iam get-instance-profile --instance-profile-name "
            f"{profile.group('name')} --query 'InstanceProfile.Roles[0].Arn'` "
            f"(the nodegroup stack's NodeInstanceRole output)."
        )
    assumed = ASSUMED_ROLE_ARN.match(text)
    if assumed:
        raise ArnError(
            f"{field}: {text} is an STS assumed-role session ARN; use the role's own ARN, "
            f"arn:{assumed.group('partition')}:iam::{assumed.group('account')}:role/{assumed.group('name')}."
        )
    match = ROLE_ARN.match(text)
    if not match:
        raise ArnError(
            f"{field}: {text!r} is not an IAM role ARN; expected arn:<partition>:iam::<12-digit account>:role/<name>, "
            f"like arn:aws:iam::111122223333:role/NodeInstanceRole."
        )
    warnings = []
    if strip_path and match.group("path"):
        stripped = strip_role_path(text)
        warnings.append(
            f"{field}: {text} has the path /{match.group('path')}; aws-auth matches roles only without a path, "
            f"so it is written as {stripped}."
        )
        text = stripped
    return text, warnings


def check_user_arn(arn, field: str) -> str:
    text = str(arn or "").strip()
    if not USER_ARN.match(text):
        hint = ""
        if ROLE_ARN.match(text):
            hint = " It is a role ARN: map it with map_roles or node_roles instead."
        raise ArnError(
            f"{field}: {text!r} is not an IAM user ARN; expected arn:<partition>:iam::<12-digit account>:user/<name>, "
            f"like arn:aws:iam::111122223333:user/ops.{hint}"
        )
    return text


def check_account_id(account, field: str) -> str:
    text = str(account if account is not None else "").strip()
    if not ACCOUNT_ID.match(text):
        raise ArnError(f"{field}: {text!r} is not an AWS account ID; expected 12 digits, like '111122223333' (quote it in YAML).")
    return text


def check_principal_arn(arn, field: str, roles_only: bool = False) -> str:
    """An IAM role or user ARN for an access entry, kept as given (access entries accept paths)."""
    text = str(arn or "").strip()
    if is_instance_profile_arn(text) or ASSUMED_ROLE_ARN.match(text):
        check_role_arn(text, field)  # raises with the fix
    if ROLE_ARN.match(text):
        return text
    if USER_ARN.match(text) and not roles_only:
        return text
    wanted = "an IAM role ARN" if roles_only else "an IAM role or user ARN"
    raise ArnError(
        f"{field}: {text!r} is not {wanted}; expected arn:<partition>:iam::<12-digit account>:role/<name>"
        + ("" if roles_only else " or ...:user/<name>")
        + "."
    )


def account_of(arn: str) -> Optional[str]:
    parts = str(arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[0] == "arn" else None
