# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Error handling shared by the CloudFormation and Auto Scaling wrappers of the node group stack."""

import sys

try:
    from botocore.exceptions import ClientError
except ImportError:
    ClientError = None  # Modules are responsible for handling this.

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError


class _NeverRaised(Exception):
    pass


def error_code(error) -> str:
    """The AWS error code of a botocore ClientError, or of the one an AnsibleAWSError wraps; "" otherwise."""
    error = getattr(error, "exception", None) or error
    response = getattr(error, "response", None) or {}
    return (response.get("Error") or {}).get("Code", "")


def error_message(error) -> str:
    error = getattr(error, "exception", None) or error
    response = getattr(error, "response", None) or {}
    return (response.get("Error") or {}).get("Message", "") or str(error)


class CloudFormationError(AnsibleAWSError):
    pass


class CloudFormationErrorHandler(AWSErrorHandler):
    """CloudFormation says "Stack with id X does not exist" with the generic ValidationError code."""

    _CUSTOM_EXCEPTION = CloudFormationError

    @classmethod
    def _is_missing(cls):
        error = sys.exc_info()[1]
        if ClientError is not None and isinstance(error, ClientError):
            if error_code(error) == "ValidationError" and "does not exist" in error_message(error):
                return ClientError
            if error_code(error) == "ChangeSetNotFound":
                return ClientError
        return _NeverRaised


class AutoScalingError(AnsibleAWSError):
    pass


class AutoScalingErrorHandler(AWSErrorHandler):
    _CUSTOM_EXCEPTION = AutoScalingError

    @classmethod
    def _is_missing(cls):
        return is_boto3_error_code("ResourceNotFound")
