# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Error handling shared by the SSM and EC2 image wrappers."""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError


class SsmParameterError(AnsibleAWSError):
    pass


class SsmParameterErrorHandler(AWSErrorHandler):
    _CUSTOM_EXCEPTION = SsmParameterError

    @classmethod
    def _is_missing(cls):
        return is_boto3_error_code("ParameterNotFound")


class ImageError(AnsibleAWSError):
    pass


class ImageErrorHandler(AWSErrorHandler):
    _CUSTOM_EXCEPTION = ImageError

    @classmethod
    def _is_missing(cls):
        return is_boto3_error_code(["InvalidAMIID.NotFound", "InvalidAMIID.Unavailable", "InvalidAMIID.Malformed"])


def error_code(error) -> str:
    """The AWS error code behind an AnsibleAWSError (or of a botocore ClientError); "" otherwise."""
    error = getattr(error, "exception", None) or error
    response = getattr(error, "response", None) or {}
    return (response.get("Error") or {}).get("Code", "")
