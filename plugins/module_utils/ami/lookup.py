# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Resolving the EKS optimized Windows AMI: the SSM public parameter first, DescribeImages after."""

from typing import Any, Dict, List, Optional

from ansible_collections.eksnodes.windows.plugins.module_utils.retries import aws_retry

from . import families
from .common import ImageErrorHandler, SsmParameterError, SsmParameterErrorHandler, error_code

# SSM answers for a parameter the caller may not read: fall back to DescribeImages.
NOT_READABLE = ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "UnrecognizedClientException")
LOOKUPS = ("auto", "ssm", "describe_images")


class AmiLookupError(Exception):
    def __init__(self, message: str, **facts: Any):
        super().__init__(message)
        self.message = message
        self.facts = facts


@SsmParameterErrorHandler.list_error_handler("get SSM parameter")
@aws_retry()
def get_parameter_value(client, name: str) -> Optional[str]:
    """The parameter's value, or None when it does not exist."""
    return client.get_parameter(Name=name)["Parameter"]["Value"]


@ImageErrorHandler.list_error_handler("describe images", default_value=[])
@aws_retry()
def describe_images(client, filters: Optional[List[Dict[str, Any]]] = None, image_ids: Optional[List[str]] = None,
                    owners: Optional[List[str]] = None) -> List[Dict[str, Any]]:
    kwargs: Dict[str, Any] = {}
    if filters:
        kwargs["Filters"] = filters
    if image_ids:
        kwargs["ImageIds"] = image_ids
    if owners:
        kwargs["Owners"] = owners
    paginator = client.get_paginator("describe_images")
    return paginator.paginate(**kwargs).build_full_result().get("Images") or []


def resolve(ssm, ec2, release: str, edition: str, kubernetes_version: str, lookup: str = "auto",
            owners: Optional[List[str]] = None) -> Dict[str, Any]:
    """Find the AMI; returns image (raw), ssm_parameter, resolved_by and fallback_reason."""
    parameter = families.ssm_parameter_name(release, edition, kubernetes_version)
    found: Dict[str, Any] = {"ssm_parameter": parameter, "fallback_reason": None}
    reason = None
    if lookup in ("auto", "ssm"):
        try:
            value = get_parameter_value(ssm, parameter)
        except SsmParameterError as error:
            if lookup != "auto" or error_code(error) not in NOT_READABLE:
                raise
            reason = f"the SSM parameter {parameter} is not readable ({error_code(error)})"
        else:
            if value and value.startswith("ami-"):
                images = describe_images(ec2, image_ids=[value])
                found.update(image=images[0] if images else {"ImageId": value}, resolved_by="ssm", image_described=bool(images))
                return found
            reason = f"the SSM parameter {parameter} does not exist" if value is None else f"the SSM parameter {parameter} holds {value!r}, not an AMI ID"
        if lookup == "ssm":
            raise AmiLookupError(f"{reason}: EKS may not publish this Windows Server release for this Kubernetes version yet", **found)
    pattern = families.image_name_prefix(release, edition, kubernetes_version) + "-*"
    trusted = list(owners or families.default_owners(ec2.meta.region_name))
    filters = families.image_filters(release, edition, kubernetes_version)
    image = families.newest(describe_images(ec2, filters=filters, owners=trusted), release, edition, kubernetes_version, trusted)
    # The same name from any owner, only to say which newer images were refused and how to allow their owner.
    refused = families.refused(describe_images(ec2, filters=filters), release, edition, kubernetes_version, trusted, image)
    if image is None:
        message = f"no public, available image is named {pattern} (owners {', '.join(trusted)})"
        if reason:
            message = f"{reason}, and {message}"
        message += ": EKS may not publish this Windows Server release for this Kubernetes version"
        if refused:
            message += "; " + families.refusal_message(refused, trusted)
        raise AmiLookupError(message, refused_images=[families.refused_label(item) for item in refused], **found)
    found.update(image=image, resolved_by="describe_images", fallback_reason=reason, image_described=True,
                 refused=families.refusal_message(refused, trusted) if refused else None,
                 refused_images=[families.refused_label(item) for item in refused])
    return found
