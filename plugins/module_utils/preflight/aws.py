# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Thin, retrying wrappers for the read-only AWS calls of the preflight checks that amazon.aws does not wrap."""

from typing import Any, Callable, Dict, List, Optional, Tuple

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.eksnodes.windows.plugins.module_utils.retries import aws_retry

from ..eks.common import EksErrorHandler
from .findings import Finding, unreadable

# Error codes meaning "the caller may not read this", for checks that are skipped with a warning then.
UNAUTHORIZED_CODES = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException", "AuthorizationError")


class InstanceTypeError(AnsibleAWSError):
    pass


class InstanceTypeErrorHandler(AWSErrorHandler):
    _CUSTOM_EXCEPTION = InstanceTypeError

    @classmethod
    def _is_missing(cls):
        return is_boto3_error_code(["InvalidInstanceType", "InvalidParameterValue"])


@InstanceTypeErrorHandler.list_error_handler("describe instance type")
@aws_retry()
def describe_instance_type(client, instance_type: str) -> Optional[Dict[str, Any]]:
    """The instance type's description, or None when no such type exists."""
    found = client.describe_instance_types(InstanceTypes=[instance_type])["InstanceTypes"]
    return found[0] if found else None


@InstanceTypeErrorHandler.list_error_handler("describe instance type offerings", default_value=False)
@aws_retry()
def instance_type_offered(client, instance_type: str) -> bool:
    """Whether the region offers the instance type."""
    paginator = client.get_paginator("describe_instance_type_offerings")
    pages = paginator.paginate(LocationType="region", Filters=[{"Name": "instance-type", "Values": [instance_type]}])
    return bool(pages.build_full_result()["InstanceTypeOfferings"])


@EksErrorHandler.list_error_handler("list access entries", default_value=[])
@aws_retry()
def list_access_entries(client, cluster_name: str) -> List[str]:
    paginator = client.get_paginator("list_access_entries")
    return paginator.paginate(clusterName=cluster_name).build_full_result()["accessEntries"]


@EksErrorHandler.list_error_handler("describe access entry")
@aws_retry()
def describe_access_entry(client, cluster_name: str, principal_arn: str) -> Optional[Dict[str, Any]]:
    return client.describe_access_entry(clusterName=cluster_name, principalArn=principal_arn)["accessEntry"]


@aws_retry()
def _get_caller_identity(client) -> Dict[str, Any]:
    return client.get_caller_identity()


def caller_arn(client) -> Optional[str]:
    """Who the AWS credentials are, for messages; None when STS cannot tell."""
    try:
        return _get_caller_identity(client).get("Arn")
    except Exception:  # pylint: disable=broad-exception-caught
        # Only used to word a fix; any failure just leaves the caller unnamed.
        return None


def error_code(error: AnsibleAWSError) -> Optional[str]:
    response = getattr(error.exception, "response", None) or {}
    return (response.get("Error") or {}).get("Code")


def is_unauthorized(error: AnsibleAWSError) -> bool:
    return error_code(error) in UNAUTHORIZED_CODES


def short_reason(error: AnsibleAWSError) -> str:
    response = getattr(error.exception, "response", None) or {}
    details = response.get("Error") or {}
    if details:
        return f"{details.get('Code')}: {details.get('Message')}"
    return str(error)


def unless_unauthorized(check: str, what: str, call: Callable[[], List[Finding]]) -> Tuple[bool, List[Finding]]:
    """(True, a check's findings), or (False, a warning that it was skipped) when AWS does not let the caller read what
    the check needs; any other AWS error is raised."""
    try:
        return True, call()
    except AnsibleAWSError as aws_error:
        if not is_unauthorized(aws_error):
            raise
        return False, [unreadable(check, what, short_reason(aws_error))]
