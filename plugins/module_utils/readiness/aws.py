# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Thin, retrying wrappers over the AWS reads of the readiness wait and its diagnosis.

Calls amazon.aws already wraps (EC2 instances, subnets, route tables, NAT gateways, launch
template versions) are used from there; these are the rest.
"""

from typing import Any, Dict, List, Optional

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.eksnodes.windows.plugins.module_utils.retries import aws_retry


class ReadinessAWSError(AnsibleAWSError):
    pass


class ReadinessErrorHandler(AWSErrorHandler):
    _CUSTOM_EXCEPTION = ReadinessAWSError

    @classmethod
    def _is_missing(cls):
        return is_boto3_error_code(["ResourceNotFoundException", "NoSuchEntity", "ValidationError"])


@ReadinessErrorHandler.list_error_handler("describe the Auto Scaling group")
@aws_retry()
def describe_group(client, name: str) -> Optional[Dict[str, Any]]:
    groups = client.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return groups[0] if groups else None


@ReadinessErrorHandler.list_error_handler("describe scaling activities", default_value=[])
@aws_retry()
def scaling_activities(client, name: str, limit: int = 20) -> List[Dict[str, Any]]:
    return client.describe_scaling_activities(AutoScalingGroupName=name, MaxRecords=limit).get("Activities", [])


@ReadinessErrorHandler.list_error_handler("describe the launch configuration")
@aws_retry()
def describe_launch_configuration(client, name: str) -> Optional[Dict[str, Any]]:
    configs = client.describe_launch_configurations(LaunchConfigurationNames=[name])["LaunchConfigurations"]
    return configs[0] if configs else None


@ReadinessErrorHandler.list_error_handler("get the instance profile")
@aws_retry()
def get_instance_profile(client, name: str) -> Optional[Dict[str, Any]]:
    return client.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]


@ReadinessErrorHandler.list_error_handler("list access entries", default_value=[])
@aws_retry()
def list_access_entries(client, cluster_name: str) -> List[str]:
    paginator = client.get_paginator("list_access_entries")
    return paginator.paginate(clusterName=cluster_name).build_full_result().get("accessEntries", [])


@ReadinessErrorHandler.list_error_handler("describe an access entry")
@aws_retry()
def describe_access_entry(client, cluster_name: str, principal_arn: str) -> Optional[Dict[str, Any]]:
    return client.describe_access_entry(clusterName=cluster_name, principalArn=principal_arn)["accessEntry"]
