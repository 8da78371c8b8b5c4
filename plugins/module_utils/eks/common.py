# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Error handling shared by the EKS API wrappers."""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError


class EksError(AnsibleAWSError):
    pass


class EksErrorHandler(AWSErrorHandler):
    _CUSTOM_EXCEPTION = EksError

    @classmethod
    def _is_missing(cls):
        return is_boto3_error_code("ResourceNotFoundException")
