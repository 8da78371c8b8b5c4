# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Telling an unknown region from a real one, from botocore's own endpoint data (no list of ours to go stale).

1. botocore_regions() reads, for every partition botocore knows, the regions it lists for a service
   (Session.get_available_regions) and the partition's region name pattern (the `regionRegex` of its
   endpoint data).
2. classify() says what a region is: LISTED for the service, UNLISTED (the shape of a partition's
   regions, like eu-nowhere-9, but not listed: a typo, or a region newer than this botocore) or
   MALFORMED (no partition's shape, like us-east1).
3. region_message() says so, naming the option and the fix, with the closest listed region.

Callers refuse MALFORMED before any call. An UNLISTED region is refused only once the API has not
found what was asked there: a real region added after this botocore was released still works, since
botocore builds its endpoint from the partition's template.
"""

import difflib
import re
from typing import Dict, List, Optional, Tuple

LISTED = "listed"
UNLISTED = "unlisted"
MALFORMED = "malformed"

Regions = Dict[str, List[str]]  # partition -> regions listed for the service


def botocore_regions(service: str) -> Tuple[Regions, Dict[str, str], str]:
    """(regions per partition listed for service, region pattern per partition, botocore version)."""
    import botocore
    import botocore.session

    session = botocore.session.get_session()
    listed = {partition: session.get_available_regions(service, partition_name=partition)
              for partition in session.get_available_partitions()}
    endpoints = session.get_component("data_loader").load_data("endpoints")
    patterns = {entry["partition"]: entry["regionRegex"] for entry in endpoints.get("partitions", []) if entry.get("regionRegex")}
    return listed, patterns, botocore.__version__


def classify(region: str, listed: Regions, patterns: Dict[str, str]) -> str:
    if any(region in regions for regions in listed.values()):
        return LISTED
    if any(re.match(pattern, region) for pattern in patterns.values()):
        return UNLISTED
    return MALFORMED


def closest(region: str, listed: Regions) -> Optional[str]:
    candidates = sorted({name for regions in listed.values() for name in regions})
    found = difflib.get_close_matches(region, candidates, n=1, cutoff=0.6)
    return found[0] if found else None


def region_message(region: str, kind: str, option: str, listed: Regions, version: str, service: str = "EKS") -> str:
    """The refusal for a MALFORMED region, or for an UNLISTED one where nothing was found."""
    near = closest(region, listed)
    hint = f" Did you mean {near}?" if near else ""
    example = near or "us-east-1"
    if kind == MALFORMED:
        return (f"{option}: {region!r} is not an AWS region name (regions look like us-east-1, eu-west-2, "
                f"cn-north-1 or us-gov-west-1).{hint} Fix: set {option} to the cluster's region, for example {example}.")
    return (f"{option}: {region} is not a region botocore {version} knows for {service}.{hint} Fix: set {option} to the "
            f"cluster's region, for example {example}; if {region} is a region newer than this botocore, upgrade "
            f"botocore and boto3.")
