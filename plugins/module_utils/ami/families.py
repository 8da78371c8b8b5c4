# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure functions: EKS optimized Windows AMI families, names, SSM parameters, and choosing an image."""

import datetime
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

# Windows Server release -> the first Kubernetes version with EKS optimized AMIs of it.
RELEASES = {"2019": (1, 0), "2022": (1, 24), "2025": (1, 35)}
EDITIONS = {"core": "Core", "full": "Full"}
DEFAULT_RELEASE = "2022"
DEFAULT_EDITION = "core"

# eksctl's amiFamily names.
AMI_FAMILIES = {
    "WindowsServer2019CoreContainer": ("2019", "core"),
    "WindowsServer2019FullContainer": ("2019", "full"),
    "WindowsServer2022CoreContainer": ("2022", "core"),
    "WindowsServer2022FullContainer": ("2022", "full"),
    "WindowsServer2025CoreContainer": ("2025", "core"),
    "WindowsServer2025FullContainer": ("2025", "full"),
}

# EKS keeps its Windows AMIs public for about four months after release, then makes them private.
PUBLIC_LIFETIME_DAYS = 122

# Who may own the image the DescribeImages fallback picks. Anyone can publish a public AMI under an EKS AMI's name
# (Karpenter dropped owner-less name lookups for this), so only these owners are trusted unless the user lists others.
# DescribeImages' Owners takes the alias "amazon" for AWS-owned images; the accounts below have published EKS optimized
# Windows AMIs, some without that alias:
# - aws: 801119661308 (eksctl pkg/ami/auto_resolver.go); 957547624766 and 055183720277 (the March 2023 move reported in
#   aws-samples/eks-cluster-upgrade #92, terraform-aws-eks #2521 and defenseunicorns/delivery-aws-iac #172, where
#   Owners=["amazon"] found nothing);
# - aws-us-gov: 077303321853 (public Packer files and eksctl's AMI resolvers);
# - aws-cn: no account verified; the alias only.
AMAZON_OWNER_ALIAS = "amazon"
EKS_WINDOWS_AMI_ACCOUNTS = {
    "aws": ("801119661308", "957547624766", "055183720277"),
    "aws-us-gov": ("077303321853",),
    "aws-cn": (),
}

KUBERNETES_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?$")


class AmiSelectionError(ValueError):
    pass


def parse_kubernetes_version(version: Any) -> Tuple[int, int]:
    """'1.31' -> (1, 31); also accepts '1.31.2' and 'v1.31'."""
    match = KUBERNETES_VERSION.match(str(version or "").strip())
    if not match:
        raise AmiSelectionError(f"kubernetes_version {version!r} is not a Kubernetes version such as 1.31")
    return int(match.group(1)), int(match.group(2))


def kubernetes_minor(version: Any) -> str:
    major, minor = parse_kubernetes_version(version)
    return f"{major}.{minor}"


def family_name(release: str, edition: str) -> str:
    return f"WindowsServer{release}{EDITIONS[edition]}Container"


def select(os_version: Optional[str], edition: Optional[str], ami_family: Optional[str]) -> Tuple[str, str]:
    """(release, edition) from either ami_family or os_version/edition; Windows Server 2022 Core by default."""
    if ami_family:
        if os_version or edition:
            raise AmiSelectionError("ami_family already names the release and edition: leave os_version and edition unset")
        if ami_family not in AMI_FAMILIES:
            raise AmiSelectionError(f"ami_family {ami_family!r} is not one of {', '.join(AMI_FAMILIES)}")
        return AMI_FAMILIES[ami_family]
    release = str(os_version or DEFAULT_RELEASE)
    if release not in RELEASES:
        raise AmiSelectionError(f"os_version {release!r} is not one of {', '.join(RELEASES)}")
    edition = (edition or DEFAULT_EDITION).lower()
    if edition not in EDITIONS:
        raise AmiSelectionError(f"edition {edition!r} is not one of {', '.join(EDITIONS)}")
    return release, edition


def check_supported(release: str, kubernetes_version: Any) -> None:
    """Reject a Windows Server release that EKS does not publish for this Kubernetes version."""
    version = parse_kubernetes_version(kubernetes_version)
    first = RELEASES[release]
    if version < first:
        supported = [name for name, since in RELEASES.items() if version >= since]
        raise AmiSelectionError(
            f"Windows Server {release} EKS optimized AMIs need Kubernetes {first[0]}.{first[1]} or later; the cluster runs "
            f"{version[0]}.{version[1]}. Choose Windows Server {' or '.join(supported)}, or upgrade the cluster"
        )


def image_name_prefix(release: str, edition: str, kubernetes_version: Any) -> str:
    return f"Windows_Server-{release}-English-{EDITIONS[edition]}-EKS_Optimized-{kubernetes_minor(kubernetes_version)}"


def ssm_parameter_name(release: str, edition: str, kubernetes_version: Any) -> str:
    return f"/aws/service/ami-windows-latest/{image_name_prefix(release, edition, kubernetes_version)}/image_id"


def image_filters(release: str, edition: str, kubernetes_version: Any) -> List[Dict[str, Any]]:
    """DescribeImages filters for the fallback: public, available images named like the EKS ones (owners go apart)."""
    return [
        {"Name": "name", "Values": [image_name_prefix(release, edition, kubernetes_version) + "-*"]},
        {"Name": "is-public", "Values": ["true"]},
        {"Name": "state", "Values": ["available"]},
    ]


def partition_of_region(region: Optional[str]) -> str:
    region = region or ""
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws"


def default_owners(region: Optional[str]) -> List[str]:
    """The owners trusted when the user lists none: the alias amazon and the partition's EKS Windows AMI accounts."""
    return [AMAZON_OWNER_ALIAS, *EKS_WINDOWS_AMI_ACCOUNTS[partition_of_region(region)]]


def owned_by(image: Mapping[str, Any], owners: Iterable[str]) -> bool:
    """Whether DescribeImages' Owners would return the image: its account ID or its owner alias is listed.

    "self" (the caller's account) cannot be checked without the account ID; DescribeImages has already applied it.
    """
    owners = set(owners)
    return image.get("OwnerId") in owners or (bool(image.get("ImageOwnerAlias")) and image.get("ImageOwnerAlias") in owners) or "self" in owners


def _matches(image: Mapping[str, Any], prefix: str) -> bool:
    # The name filter's '*' would also match 1.3 against 1.31; the date suffix must follow directly.
    return bool(re.match(re.escape(prefix) + r"-\d{4}\.\d{2}\.\d{2}$", image.get("Name") or ""))


def _named(images: Iterable[Mapping[str, Any]], release: str, edition: str, kubernetes_version: Any) -> List[Dict[str, Any]]:
    prefix = image_name_prefix(release, edition, kubernetes_version)
    return [dict(image) for image in images if _matches(image, prefix) and image.get("State", "available") == "available"]


def newest(images: Iterable[Mapping[str, Any]], release: str, edition: str, kubernetes_version: Any,
           owners: Iterable[str]) -> Optional[Dict[str, Any]]:
    """The newest available image named exactly for this release, edition and version, of one of the owners.

    The owners are checked here too, not only by DescribeImages: a name alone never makes an image trusted.
    """
    owners = list(owners)
    candidates = [image for image in _named(images, release, edition, kubernetes_version) if owned_by(image, owners)]
    if not candidates:
        return None
    candidates.sort(key=lambda image: image.get("CreationDate") or "", reverse=True)
    return candidates[0]


def refused(images: Iterable[Mapping[str, Any]], release: str, edition: str, kubernetes_version: Any, owners: Iterable[str],
            chosen: Optional[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """Images of the family's exact name whose owner is not trusted and that would otherwise have won, newest first."""
    owners = list(owners)
    since = (chosen or {}).get("CreationDate") or ""
    found = [image for image in _named(images, release, edition, kubernetes_version)
             if not owned_by(image, owners) and (image.get("CreationDate") or "") > since]
    return sorted(found, key=lambda image: image.get("CreationDate") or "", reverse=True)


def refused_label(image: Mapping[str, Any]) -> str:
    return f"{image.get('ImageId')} ({image.get('Name')}, owner {image.get('OwnerId')})"


def refusal_message(images: List[Mapping[str, Any]], owners: List[str]) -> str:
    """Which owners were refused, why, and how to allow one."""
    accounts = sorted({str(image.get("OwnerId")) for image in images})
    listed = ", ".join(refused_label(image) for image in images[:3])
    return (f"refused {listed}: owner {', '.join(accounts)} is not one of the trusted owners ({', '.join(owners)}), and anyone "
            "can publish a public AMI under an EKS AMI's name. If you trust that account, list it in owners, e.g. owners: "
            f"[{', '.join(owners + accounts)}]")


def parse_time(value: Any) -> Optional[datetime.datetime]:
    if not value:
        return None
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    text = str(value).replace("Z", "+00:00")
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def retirement(image: Mapping[str, Any], now: datetime.datetime, warning_days: int) -> Dict[str, Any]:
    """When the image is expected to stop being usable, and whether that is close enough to warn.

    EKS makes its Windows AMIs private about four months after their release; an image may also
    carry a DeprecationTime. The earlier of the two counts.
    """
    created = parse_time(image.get("CreationDate"))
    deprecation = parse_time(image.get("DeprecationTime"))
    expected_private = created + datetime.timedelta(days=PUBLIC_LIFETIME_DAYS) if created else None
    candidates = [moment for moment in (deprecation, expected_private) if moment is not None]
    retire_at = min(candidates) if candidates else None
    days_left = None if retire_at is None else (retire_at - now).total_seconds() / 86400.0
    warning = None
    if days_left is not None and days_left <= warning_days:
        which = "its deprecation time" if retire_at == deprecation else "the end of the four months or so that EKS keeps its Windows AMIs public"
        when = retire_at.strftime("%Y-%m-%d")
        if days_left <= 0:
            warning = (
                f"AMI {image.get('ImageId')} ({image.get('Name')}) reached {which} on {when}: new instances may fail to "
                "launch with it; use a newer AMI"
            )
        else:
            warning = (
                f"AMI {image.get('ImageId')} ({image.get('Name')}) reaches {which} on {when}, in {int(days_left)} days: "
                "instances launched from it after that may fail; plan a move to a newer AMI"
            )
    return {
        "expected_private_after": expected_private.isoformat() if expected_private else None,
        "days_until_retirement": None if days_left is None else int(days_left),
        "warning": warning,
    }


def image_facts(image: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """What the module returns about an image, in snake_case."""
    image = image or {}
    return {
        "image_id": image.get("ImageId"),
        "name": image.get("Name"),
        "description": image.get("Description"),
        "creation_date": image.get("CreationDate"),
        "deprecation_time": image.get("DeprecationTime"),
        "owner_id": image.get("OwnerId"),
        "owner_alias": image.get("ImageOwnerAlias"),
        "platform": image.get("PlatformDetails") or image.get("Platform"),
        "architecture": image.get("Architecture"),
        "root_device_name": image.get("RootDeviceName"),
        "state": image.get("State"),
        "public": image.get("Public"),
    }


EKS_IMAGE_NAME = re.compile(r"^Windows_Server-(\d{4})-English-(Core|Full)-EKS_Optimized-(\d+\.\d+)-\d{4}\.\d{2}\.\d{2}$")


def parse_image_name(name: Optional[str]) -> Optional[Tuple[str, str, str]]:
    """(release, edition, kubernetes minor) of an EKS optimized Windows AMI name, or None for any other name."""
    match = EKS_IMAGE_NAME.match(name or "")
    if not match:
        return None
    return match.group(1), match.group(2).lower(), match.group(3)


def is_windows(image: Mapping[str, Any]) -> bool:
    return (image.get("Platform") or "").lower() == "windows" or (image.get("PlatformDetails") or "").lower().startswith("windows")


def image_problems(image: Optional[Mapping[str, Any]], image_id: str, kubernetes_version: Any, custom: bool = False) -> List[str]:
    """Why an image given by ID cannot run Windows nodes of this cluster; empty when it can.

    A custom image (built from an EKS optimized one, with its bootstrap script) only has to exist, be
    available and run Windows; otherwise the name must be an EKS optimized Windows AMI's for the
    cluster's Kubernetes version, since a node's kubelet comes from its AMI.
    """
    if not image:
        return [f"{image_id} does not exist in this region, or this account may not launch it"]
    problems = []
    if image.get("State", "available") != "available":
        problems.append(f"{image_id} is {image.get('State')}, not available")
    if not is_windows(image):
        problems.append(f"{image_id} ({image.get('Name')}) is not a Windows image (platform {image.get('PlatformDetails') or 'Linux/UNIX'})")
        return problems
    if custom:
        return problems
    parsed = parse_image_name(image.get("Name"))
    if parsed is None:
        problems.append(
            f"{image_id} ({image.get('Name')}) is not an EKS optimized Windows AMI: its name is not "
            "Windows_Server-<release>-English-<Core|Full>-EKS_Optimized-<version>-<date>"
        )
    elif parsed[2] != kubernetes_minor(kubernetes_version):
        problems.append(
            f"{image_id} ({image.get('Name')}) is built for Kubernetes {parsed[2]}, and the cluster runs "
            f"{kubernetes_minor(kubernetes_version)}"
        )
    return problems


def compare_current(current: Optional[Mapping[str, Any]], newest_image: Mapping[str, Any], release: str, edition: str,
                    kubernetes_version: Any) -> Dict[str, Any]:
    """Whether the image a node group runs is kept: it is, when it is of the asked release and edition.

    A newer AMI of the same family is only reported; moving to it replaces every node, which is done on
    purpose (update: true, or the upgrade playbook), never by a plain rerun.
    """
    current = current or {}
    parsed = parse_image_name(current.get("Name"))
    same_family = parsed is not None and parsed[:2] == (release, edition)
    newer = bool(current) and newest_image.get("ImageId") != current.get("ImageId") and (
        (newest_image.get("CreationDate") or "") > (current.get("CreationDate") or ""))
    version_moved = parsed is not None and parsed[2] != kubernetes_minor(kubernetes_version)
    return {"keep": same_family, "newer_available": same_family and (newer or version_moved)}
