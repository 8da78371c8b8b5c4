# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The node group's own inputs that AWS would refuse only halfway through a stack operation: its subnets and its
instance type. They are checked where they are written, before a stack is created or updated to other subnets or
another instance type; a run that writes neither reads neither (an unchanged node group's rerun makes none of these
calls). Without subnets, a stack keeps the subnets it runs in, and a new one gets those of subnet_candidates whose
default route does not lead to an internet gateway (all of them with subnet_choice all)."""

import functools
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError

from ..preflight.aws import is_unauthorized, short_reason, unless_unauthorized
from ..preflight.findings import Finding, errors, unreadable, warnings
from ..preflight.subnets import instance_type_findings, read_subnets, subnet_findings
from . import changes as change_logic
from .parameters import OPTION_DEFAULTS
from .waiters import REVIEW_STATUS, UNUSABLE_STATUSES

KEPT, UNCHANGED, CHECKED, NOT_CHECKED = "kept", "unchanged", "checked", "not checked"


class InputError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def deployed_parameters(stack: Optional[Mapping[str, Any]]) -> Dict[str, str]:
    """The parameters the stack runs with: none for a stack to be created, or created again after a failure."""
    if not stack or stack.get("StackStatus") in UNUSABLE_STATUSES + (REVIEW_STATUS,):
        return {}
    return change_logic.stack_parameters(stack)


def deployed_subnets(deployed: Mapping[str, str]) -> List[str]:
    return change_logic.list_items(deployed.get("Subnets"))


def chosen_subnets(reports: Mapping[str, Mapping[str, Any]], candidates: Sequence[str], choice: str) -> List[str]:
    """The candidates that exist, in their order; with choice private, only those whose default route does not lead
    to an internet (or carrier) gateway."""
    return [subnet_id for subnet_id in candidates if subnet_id in reports and (choice == "all" or reports[subnet_id]["kind"] != "public")]


def describe(found: Sequence[Finding]) -> str:
    return " ".join(f"{item['check']}: {item['message']} {item['fix']}" for item in found)


def choose_and_check(make_ec2: Callable[[], Any], params: Mapping[str, Any], stack: Optional[Mapping[str, Any]], region: str,
                     check: bool = True) -> Tuple[List[str], Dict[str, str], List[str]]:
    """The node subnets, what was done about each input (kept, unchanged, checked, or not checked when check is false
    or when the caller may not read it) and the warnings. Raises InputError, before any write, when an input that would
    be written is refused. make_ec2 is called only when something is read: an EC2 client costs a module run about
    0.1 CPU-s."""
    ec2 = functools.lru_cache(maxsize=None)(make_ec2)
    overridden = sorted(set(params.get("template_parameters") or {}) & {"Subnets", "NodeInstanceType"})
    if overridden:
        raise InputError(f"template_parameters: {', '.join(overridden)} would bypass the checks of the collection's template; set "
                         "subnets and instance_type instead.")
    deployed = deployed_parameters(stack)
    subnets, done, found = list(params.get("subnets") or []), {}, []
    if not subnets and deployed_subnets(deployed):
        subnets, done["subnets"] = deployed_subnets(deployed), KEPT
    elif subnets and sorted(subnets) == sorted(deployed_subnets(deployed)):
        done["subnets"] = UNCHANGED
    elif subnets and not check:
        done["subnets"] = NOT_CHECKED
    else:
        subnets, done["subnets"], found = _subnets(ec2, params, subnets, region)
    instance_type = params.get("instance_type") or OPTION_DEFAULTS["instance_type"]
    if deployed.get("NodeInstanceType") == instance_type:
        done["instance_type"] = UNCHANGED
    elif not check:
        done["instance_type"] = NOT_CHECKED
    else:
        done["instance_type"], checked = _unless_unauthorized(lambda: instance_type_findings(ec2(), instance_type, region),
                                                              "instance_type", "the instance type")
        found += checked
    if errors(found):
        raise InputError(describe(errors(found)))
    return subnets, done, [describe([item]) for item in warnings(found)]


def _subnets(ec2: Callable[[], Any], params: Mapping[str, Any], given: List[str], region: str) -> Tuple[List[str], str, List[Finding]]:
    """The given subnets, or those chosen among subnet_candidates, checked; what was done; the findings."""
    candidates = list(params.get("subnet_candidates") or [])
    try:
        reports, missing = read_subnets(ec2(), given or candidates)
    except AnsibleAWSError as aws_error:
        if given and is_unauthorized(aws_error):
            return given, NOT_CHECKED, [unreadable("subnets", "the subnets and route tables", short_reason(aws_error))]
        if is_unauthorized(aws_error):
            raise InputError(f"subnet_candidates: the subnets could not be read to choose among them ({short_reason(aws_error)}): "
                             "allow ec2:DescribeSubnets and ec2:DescribeRouteTables, or give the nodes' subnets in subnets.") from aws_error
        raise
    subnets = given
    if not given:
        choice = params.get("subnet_choice") or "private"
        subnets = chosen_subnets(reports, candidates, choice)
        if not subnets:
            kind = "a private subnet (each routes 0.0.0.0/0 to an internet gateway, or does not exist)" if choice == "private" else "a subnet"
            raise InputError(f"subnet_candidates: none of {', '.join(candidates)} is {kind}: give the nodes' subnets in subnets.")
    cluster = {"vpc_id": params.get("vpc_id"), "name": params.get("cluster_name"), "endpoint_private_access": params.get("endpoint_private_access")}
    checked = [reports[item] for item in subnets if item in reports]
    done, found = _unless_unauthorized(lambda: subnet_findings(ec2(), checked, [item for item in subnets if item in missing], cluster, region),
                                       "subnets", "the VPC endpoints")
    return subnets, done, found


def _unless_unauthorized(check: Callable[[], List[Finding]], name: str, what: str) -> Tuple[str, List[Finding]]:
    """What was done about an input, and its findings (a warning instead when the caller may not read it, as preflight does)."""
    read, found = unless_unauthorized(name, what, check)
    return (CHECKED if read else NOT_CHECKED), found
