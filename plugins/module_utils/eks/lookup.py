# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Finding a cluster by name in the module's region, optionally waiting until it is ACTIVE (cluster_info and preflight).

A region botocore does not list is looked in once before it is waited on or reported as "no such cluster", so that a
typo in the region is named as such; a region of no partition's shape is refused before any call.
"""

from typing import Any, Dict, Optional

from ansible.module_utils.common.warnings import warn

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError

from .clusters import describe_cluster
from .regions import LISTED, MALFORMED, botocore_regions, classify, region_message
from .transformations import GIVEN_FACTS_NEEDED, cluster_facts
from .waiters import ClusterWaitError, wait_for_active


def check_region(module, name: str):
    """Fails on a region of no partition's shape. For a region botocore does not list, returns (the refusal to use if
    nothing is found there, the warning to give if the cluster is found there); else None."""
    region = module.region
    if not region:
        return None
    listed, patterns, version = botocore_regions("eks")
    kind = classify(region, listed, patterns)
    if kind == LISTED:
        return None
    option = "region" if module.params.get("region") else "region (here from AWS_REGION, AWS_DEFAULT_REGION or the profile)"
    message = region_message(region, kind, option, listed, version)
    if kind == MALFORMED:
        module.fail_json(msg=message, exists=False, cluster={})
    return message, (f"{option}: {region} is not listed for EKS in the endpoint data of botocore {version}, but the cluster "
                     f"{name} was found there; upgrade botocore and boto3 to a release that knows {region}.")


def health_issues(cluster: Optional[Dict[str, Any]]) -> str:
    issues = ((cluster or {}).get("health") or {}).get("issues") or []
    return "; ".join(f"{issue.get('code')}: {issue.get('message')}" for issue in issues)


def wait(module, eks, name: str, timeout: int, sleep: int) -> Dict[str, Any]:
    seen: Dict[str, Any] = {}

    def describe():
        seen["cluster"] = describe_cluster(eks, name)
        return seen["cluster"]

    try:
        return wait_for_active(describe, timeout=timeout, sleep=sleep)
    except ClusterWaitError as error:
        last = seen.get("cluster")
        status = (last or {}).get("status")
        msg = f"Cluster {name} in {module.region}: {error}."
        issues = health_issues(last)
        if issues:
            msg += f" Health issues: {issues}."
        if status in ("FAILED", "DELETING"):
            msg += f" Fix: use a healthy cluster; see aws eks describe-cluster --name {name} --query cluster.health."
        elif last is None:
            msg += f" Fix: check the name and the region (aws eks list-clusters --region {module.region})."
        else:
            msg += " Fix: wait longer (wait_timeout), or see why the cluster is not ACTIVE in the EKS console."
        module.fail_json(msg=msg, exists=last is not None, cluster=cluster_facts(last) if last else {})
        raise AssertionError("fail_json returned")  # for type checkers: fail_json exits


# How find_cluster waits, as the modules that wait for the cluster (cluster_info, preflight) take it.
WAIT_ARGUMENT_SPEC = {
    "wait": {"type": "bool", "default": False},
    "wait_timeout": {"type": "int", "default": 1200},
    "wait_sleep": {"type": "int", "default": 10},
}


def check_wait_options(module) -> None:
    """Fails on a negative wait_timeout or a wait_sleep below one second."""
    for option, lowest in (("wait_timeout", 0), ("wait_sleep", 1)):
        if module.params[option] < lowest:
            module.fail_json(msg=f"{option} is {module.params[option]}; it must be {lowest} or more.")


def find_cluster_as_asked(module, eks, name: str):
    """find_cluster with the module's wait, wait_timeout and wait_sleep options (WAIT_ARGUMENT_SPEC)."""
    return find_cluster(module, eks, name, module.params["wait"], module.params["wait_timeout"], module.params["wait_sleep"])


def find_cluster(module, eks, name: str, wait_for: bool = False, wait_timeout: int = 1200, wait_sleep: int = 10):
    """The cluster's DescribeCluster answer, or None when there is none. With wait_for, a cluster found not ACTIVE is
    waited for (failing on FAILED, DELETING or at the timeout)."""
    unlisted = check_region(module, name)
    try:
        described = describe_cluster(eks, name)
        if unlisted:
            # an unknown region must not be waited on, nor reported as "no such cluster"
            if described is None:
                module.fail_json(msg=f"{unlisted[0]} No cluster named {name} was found there.", exists=False, cluster={})
            warn(unlisted[1])
        if described is not None and wait_for and described.get("status") != "ACTIVE":
            described = wait(module, eks, name, wait_timeout, wait_sleep)
        return described
    except AnsibleAWSError as error:
        if unlisted:
            first_line = (str(error).splitlines() or [""])[0]
            module.fail_json(msg=f"{unlisted[0]} The EKS API there could not be used: {first_line}", exists=False, cluster={})
        module.fail_json_aws_error(error)
    return None


def given_cluster(module, name: str) -> Optional[Dict[str, Any]]:
    """The cluster facts passed in the module's cluster option (doc fragment cluster_facts), checked against the cluster
    name; None when none were passed."""
    facts = module.params.get("cluster")
    if not facts:
        return None
    missing = [key for key in GIVEN_FACTS_NEEDED if not facts.get(key)]
    if missing:
        module.fail_json(msg=f"cluster: the facts have no {', '.join(missing)}. Fix: pass the cluster returned by "
                         "eksnodes.windows.cluster_info or eksnodes.windows.preflight, or leave cluster out.")
    if facts["name"] != name:
        module.fail_json(msg=f"cluster: the facts are cluster {facts['name']}'s, not {name}'s. Fix: pass the facts of {name}, "
                         "or leave cluster out.")
    return dict(facts)


def known_cluster(module, eks, name: str) -> Dict[str, Any]:
    """The cluster's facts: those given in the module's cluster option, else described; fails when there is no such
    cluster."""
    facts = given_cluster(module, name)
    if facts is not None:
        return facts
    described = describe_cluster(eks, name)
    if described is None:
        module.fail_json(msg=f"cluster_name: there is no EKS cluster named {name} in {module.region}. Fix: check cluster_name and "
                         f"the region (aws eks list-clusters --region {module.region}).")
    return cluster_facts(described)
