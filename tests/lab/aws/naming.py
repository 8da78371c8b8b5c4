"""How CloudFormation names the physical resources a template does not name."""

from __future__ import annotations

# Generated physical names: CloudFormation names a resource the template does not name <stack>-<logical id>-<12
# random characters>, cut to the service's limit. AWS does not document how. The names real stacks got show the rule
# below (it gives the IAM role of stack "ChineseboostAnalyticsStack" exactly:
# "ChineseboostAnalyticsStac-RainlyticsSummariesJobFun-UjecjFhpdr1d"): the tail and its hyphen are kept, and what is
# left, less one hyphen, is split between the stack name and the logical id, the logical id at most half and the stack
# name the rest. eksctl's node roles show the same cut on a NodeInstanceRole, "eksctl-test-eks-cluster-nodegrou-
# NodeInstanceRole-1CR0AFVMLFHSE" (from when the tail was 13 characters): a node role keeps about 33 characters of
# its stack's name, so an IAM policy scoped by a pattern of the stack name (role/*-nodegroup-*) does not match the
# role of a longer stack. moto 5.2.5 cuts only target groups, load balancers, buckets and policies.
NAME_LIMITS = {"AWS::IAM::Role": 64, "AWS::IAM::InstanceProfile": 128, "AWS::AutoScaling::AutoScalingGroup": 255}
# The tail of the names the lab's IAM enforcement checks on CloudFormation's behalf (moto's are random).
LAB_TAIL = "LABSUFFIX000"


def generated_name(resource_type: str, stack_name: str, logical_id: str, tail: str) -> str:
    """The name CloudFormation gives a resource of resource_type that the template does not name."""
    limit = NAME_LIMITS.get(resource_type)
    if limit is None or len(stack_name) + len(logical_id) + len(tail) + 2 <= limit:
        return f"{stack_name}-{logical_id}-{tail}"
    room = limit - len(tail) - 2
    logical = logical_id[:max(min(len(logical_id), room // 2), room - len(stack_name))]
    return f"{stack_name[:room - len(logical)]}-{logical}-{tail}"
