# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Kubernetes, EKS platform and Windows Server versions that Windows nodes need."""

import re
from typing import Optional, Tuple

Version = Tuple[int, int]

# The oldest Kubernetes version with EKS-optimized Windows AMIs still published.
OLDEST_WINDOWS_KUBERNETES: Version = (1, 24)

# The first platform version of each Kubernetes version with Windows support in the control plane.
# Later Kubernetes versions have it from their first platform version.
MIN_WINDOWS_PLATFORM = {
    (1, 24): 2,
    (1, 25): 1,
    (1, 26): 1,
    (1, 27): 1,
    (1, 28): 1,
    (1, 29): 1,
    (1, 30): 2,
    (1, 31): 4,
}
NEWEST_LISTED = max(MIN_WINDOWS_PLATFORM)

# The oldest Kubernetes version each Windows Server release of the EKS-optimized AMIs is published for.
WINDOWS_RELEASES = {
    "2019": OLDEST_WINDOWS_KUBERNETES,
    "2022": (1, 24),
    "2025": (1, 35),
}

_KUBERNETES = re.compile(r"^v?(\d+)\.(\d+)")
_PLATFORM = re.compile(r"^eks\.(\d+)$")


def parse_kubernetes(version: Optional[str]) -> Optional[Version]:
    match = _KUBERNETES.match(version or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def parse_platform(platform_version: Optional[str]) -> Optional[int]:
    """eks.20 -> 20; None for other schemes (for example local clusters on Outposts)."""
    match = _PLATFORM.match(platform_version or "")
    return int(match.group(1)) if match else None


def show(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def min_platform(version: Version) -> Optional[int]:
    """The first eks.N with Windows support for this Kubernetes version (None: every one has it)."""
    if version > NEWEST_LISTED:
        return None
    return MIN_WINDOWS_PLATFORM.get(version)


def release_minimum(release: str) -> Optional[Version]:
    return WINDOWS_RELEASES.get(str(release))
