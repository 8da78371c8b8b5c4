# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The retry decorator every AWS API wrapper of the collection uses."""

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

# EKS, SSM and others answer ThrottlingException, which AWSRetry only retries when told.
THROTTLING_CODES = ["ThrottlingException"]


def aws_retry():
    """AWSRetry.jittered_backoff with the throttling codes AWSRetry does not know by default."""
    return AWSRetry.jittered_backoff(catch_extra_error_codes=THROTTLING_CODES)
