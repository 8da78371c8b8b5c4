# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Choosing a node group's AMI: the one given, checked; else the newest EKS optimized one, or the one the node group
runs kept. The result is windows_ami_info's; nodegroup_stack returns it too (its ami option), so that the node group's
plan chooses the AMI in the same module run."""

import datetime
from typing import Any, Callable, Dict, Mapping, Optional

from . import families
from .lookup import AmiLookupError, describe_images, resolve

# The options that decide the choice, with windows_ami_info's defaults.
DEFAULTS = {"lookup": "auto", "owners": None, "image_id": None, "custom_image": False, "current_image_id": None, "update": False,
            "expiry_warning_days": 30}


def choose(client: Callable[[str], Any], release: str, edition: str, version: str, options: Mapping[str, Any],
           warn: Callable[[str], None]) -> Dict[str, Any]:
    """windows_ami_info's result for the release, edition and Kubernetes version. client(service) gives a boto3 client.
    Raises families.AmiSelectionError and AmiLookupError with the message to fail with."""
    options = dict(DEFAULTS, **{key: value for key, value in options.items() if value is not None})
    if options["image_id"]:
        found = check_given_image(client("ec2"), version, options["image_id"], options["custom_image"])
    else:
        families.check_supported(release, version)
        found = resolve(client("ssm"), client("ec2"), release, edition, version, options["lookup"], options["owners"])
        found.update(keep_or_update(client("ec2"), found["image"], release, edition, version, options, warn))

    image = found["image"]
    if found.get("refused"):
        warn("The DescribeImages fallback " + found["refused"])
    if not found.get("image_described"):
        warn(f"AMI {image['ImageId']} from {found['ssm_parameter']} could not be described; it may no longer be public")
    retirement = families.retirement(image, datetime.datetime.now(datetime.timezone.utc), options["expiry_warning_days"])
    if retirement["warning"]:
        warn(retirement["warning"])
    release, edition = found.get("family") or (release, edition)
    return dict(
        image_id=image["ImageId"],
        ssm_parameter=found.get("ssm_parameter"),
        resolved_by=found["resolved_by"],
        fallback_reason=found.get("fallback_reason"),
        refused_images=found.get("refused_images", []),
        kubernetes_version=families.kubernetes_minor(version),
        os_version=release,
        edition=edition,
        ami_family=families.family_name(release, edition),
        image=families.image_facts(image),
        expected_private_after=retirement["expected_private_after"],
        days_until_retirement=retirement["days_until_retirement"],
        newest_image_id=found.get("newest", {}).get("ImageId"),
        newest_creation_date=found.get("newest", {}).get("CreationDate"),
        kept_current=found.get("kept_current", False),
        update_available=found.get("update_available", False),
    )


def check_given_image(ec2, version: str, image_id: str, custom_image: bool) -> Dict[str, Any]:
    """The image the user named, checked before anything is launched from it."""
    images = describe_images(ec2, image_ids=[image_id])
    image = images[0] if images else None
    problems = families.image_problems(image, image_id, version, custom_image)
    if problems:
        raise AmiLookupError(
            f"image_id {image_id}: " + "; ".join(problems) + ". Use an EKS optimized Windows AMI for Kubernetes "
            f"{families.kubernetes_minor(version)} (leave the image unset to find it), or set custom_image for an image built from one",
            image_id=image_id, problems=problems)
    parsed = families.parse_image_name(image.get("Name"))
    if parsed:
        families.check_supported(parsed[0], version)
    return {"image": image, "resolved_by": "image_id", "image_described": True, "family": parsed[:2] if parsed else None}


def describe_current(ec2, current_id: str, newest: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """The image the node group runs; the newest one's description serves when it is that image (the usual rerun)."""
    if newest.get("ImageId") == current_id and newest.get("Name"):
        return dict(newest)
    images = describe_images(ec2, image_ids=[current_id])
    return images[0] if images else None


def keep_or_update(ec2, newest: Dict[str, Any], release: str, edition: str, version: str, options: Mapping[str, Any],
                   warn: Callable[[str], None]) -> Dict[str, Any]:
    """Keep the node group's current AMI unless it is of another family or an update is asked for."""
    current_id = options["current_image_id"]
    outcome: Dict[str, Any] = {"newest": newest}
    if not current_id:
        return outcome
    described = describe_current(ec2, current_id, newest)
    current = described or {"ImageId": current_id, "Name": None}
    decision = families.compare_current(described, newest, release, edition, version)
    if described is None:
        # Already private or deregistered: the running nodes keep it, but no new instance can start from it.
        warn(f"AMI {current_id} that the node group runs can no longer be described: new instances (scaling, replacements) "
             f"will fail to launch from it. Move to {newest['ImageId']} (launch with node_ami_update: true, or the upgrade playbook)")
        decision = {"keep": not options["update"], "newer_available": True}
    elif decision["keep"] and decision["newer_available"] and not options["update"]:
        retirement = families.retirement(current, datetime.datetime.now(datetime.timezone.utc), options["expiry_warning_days"])
        left = retirement["days_until_retirement"]
        warn(f"A newer EKS optimized Windows AMI exists: {newest['ImageId']} ({newest.get('Name')}, created "
             f"{newest.get('CreationDate')}). The node group keeps {current_id} ({current.get('Name')})"
             + (f", which has about {left} days left before AWS retires it" if left is not None else "")
             + ". Moving to it replaces every node: launch with node_ami_update: true, or run the upgrade playbook")
    keep = decision["keep"] and not options["update"]
    outcome.update(kept_current=keep, update_available=decision["newer_available"])
    if keep:
        outcome.update(image=current, resolved_by="current", image_described=described is not None)
    return outcome
