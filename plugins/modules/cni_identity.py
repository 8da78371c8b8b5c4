#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: cni_identity
version_added: 0.2.0
short_description: Give the VPC CNI (aws-node) its own IAM role and take the CNI policy off the node roles
description:
  - Moves C(AmazonEKS_CNI_Policy) (on an IPv6 cluster the customer managed C(AmazonEKS_CNI_IPv6_Policy), created when
    absent) from the node IAM roles to an IAM role for the C(kube-system/aws-node) service account, through IAM roles
    for service accounts (O(mechanism=irsa)) or EKS Pod Identity (O(mechanism=pod_identity)), as the EKS user guide
    recommends.
  - With IRSA, creates the IAM OIDC identity provider for the cluster's issuer when there is none (audience
    C(sts.amazonaws.com), no thumbprint, since IAM trusts the EKS issuer through its library of root certificate
    authorities), and the role with a trust policy that lets only C(system:serviceaccount:kube-system:aws-node) assume
    it with C(sts:AssumeRoleWithWebIdentity) and the audience C(sts.amazonaws.com).
  - With EKS Pod Identity, creates the role trusting C(pods.eks.amazonaws.com) for C(sts:AssumeRole) and
    C(sts:TagSession); the C(eks-pod-identity-agent) add-on must be installed.
  - The role is created with the tag C(eksnodes.windows/cni-identity-cluster) whose value is the cluster's ARN. A role
    is the collection's only with that tag and the trust policy above; only such a role is ever modified or deleted.
  - Attaches the policy to the role, then points aws-node at it. When vpc-cni is a managed add-on, through the
    add-on (its C(serviceAccountRoleArn), or its C(podIdentityAssociations)), since the add-on reverts a hand-made
    annotation and owns its associations; otherwise through the ServiceAccount's C(eks.amazonaws.com/role-arn)
    annotation, or an EKS Pod Identity association. Restarts the C(aws-node) DaemonSet and waits until every pod runs
    with the role and is Ready.
  - Only then detaches the policy from every node role that carries it (the instance profile roles of the cluster's
    nodes, the managed node groups' roles and O(node_role_names)). A failure midway leaves the policy attached where
    the running pods need it.
  - Each node role the policy is detached from is tagged C(eksnodes.windows/cni-policy-moved-to) with the role's name.
  - O(state=absent) first attaches the policy back to the node roles tagged so (removing the tag), to the roles of the
    nodes aws-node runs on and of the managed node groups, and to O(node_role_names); then points aws-node back at the
    node role, restarts it and waits, detaches the CNI policy from the role and deletes the role. The OIDC provider is
    kept.
  - Refuses before any change, in check mode too, when a role named O(role_name) exists that is not the collection's,
    that is without the tag C(eksnodes.windows/cni-identity-cluster) naming this cluster's ARN (a role created by hand
    or by an earlier version of the collection; tag it by hand only if the collection created it for this cluster), or
    with another trust policy; such a role is never modified. With O(state=absent), also when the collection's role
    carries policies the collection did not attach (they are not detached). With IRSA, also when the cluster has no
    OIDC issuer or O(oidc_provider_arn) is the provider of another issuer; with EKS Pod Identity, when the
    C(eks-pod-identity-agent) add-on is missing, an association gives aws-node another role, or aws-node has an IAM
    role for its service account (which the AWS SDK would use first).
author:
  - eksnodes.windows maintainers (@eksnodes)
options:
  cluster_name:
    description:
      - Name of the EKS cluster.
    type: str
    required: true
  state:
    description:
      - V(present) moves the policy to aws-node's own role, V(absent) moves it back to the node roles.
    type: str
    choices: [present, absent]
    default: present
  mechanism:
    description:
      - How aws-node gets the role. V(irsa) IAM roles for service accounts (the cluster's OIDC issuer);
        V(pod_identity) EKS Pod Identity (an association, through the C(eks-pod-identity-agent) add-on).
      - O(state=absent) takes away the role given through this mechanism.
    type: str
    choices: [irsa, pod_identity]
    default: irsa
    version_added: 0.2.0
  role_name:
    description:
      - Name of the IAM role for aws-node. Defaults to C(<cluster_name>-aws-node-cni).
      - An existing role of that name must be the collection's (tagged C(eksnodes.windows/cni-identity-cluster) with the
        cluster's ARN); any other is refused.
    type: str
  oidc_provider_arn:
    description:
      - ARN of an existing IAM OIDC provider for the cluster's issuer. Left unset, the provider for the issuer is
        looked up by its ARN and created when absent. Only with O(mechanism=irsa).
    type: str
  node_role_names:
    description:
      - Names of further node IAM roles to take the policy off (or, with O(state=absent), to put it back on), besides
        the roles of the cluster's nodes and managed node groups, which are found by themselves.
    type: list
    elements: str
    default: []
  wait_timeout:
    description:
      - How many seconds to wait for the add-on update and for the aws-node rollout.
    type: int
    default: 600
extends_documentation_fragment:
  - eksnodes.windows.cluster_facts
  - eksnodes.windows.kubernetes
  - eksnodes.windows.attributes
  - eksnodes.windows.attributes.action
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - EKS Pod Identity works on Linux nodes only (its agent is a Linux DaemonSet); aws-node runs on Linux nodes only.
  - See the collection's C(docs/cni-identity.md) for the order of the steps and what each guarantees.
"""

EXAMPLES = r"""
- name: Give the VPC CNI its own IAM role
  eksnodes.windows.cni_identity:
    cluster_name: prod

- name: See every change first
  eksnodes.windows.cni_identity:
    cluster_name: prod
  check_mode: true
  diff: true

- name: Give the VPC CNI its own IAM role through EKS Pod Identity
  eksnodes.windows.cni_identity:
    cluster_name: prod
    mechanism: pod_identity

- name: Put the CNI policy back on the node roles
  eksnodes.windows.cni_identity:
    cluster_name: prod
    state: absent
"""

RETURN = r"""
role_arn:
  description: ARN of aws-node's IAM role (also when it was only planned, in check mode).
  returned: always
  type: str
  sample: arn:aws:iam::123456789012:role/prod-aws-node-cni
oidc_provider_arn:
  description: ARN of the IAM OIDC provider for the cluster's issuer.
  returned: with O(mechanism=irsa), when the cluster has an issuer
  type: str
  sample: arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE
policy_arn:
  description: The CNI policy for the cluster's IP family.
  returned: always
  type: str
  sample: arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy
method:
  description:
    - How aws-node is given the role, V(addon) (the managed add-on's serviceAccountRoleArn or podIdentityAssociations),
      V(annotation) (the ServiceAccount's, with IRSA) or V(association) (an EKS Pod Identity association).
  returned: always
  type: str
  sample: annotation
node_roles:
  description: The node roles found, and whether each carries the CNI policy after the task.
  returned: always
  type: dict
  sample: {prod-linux-node-role: false, prod-windows-node-role: false}
changes:
  description: Every change made (in check mode, that would be made), in order.
  returned: always
  type: list
  elements: str
  sample:
    - >-
      create the IAM role prod-aws-node-cni for kube-system/aws-node, tagged
      eksnodes.windows/cni-identity-cluster=arn:aws:eks:us-east-1:123456789012:cluster/prod
    - detach arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy from node role prod-linux-node-role
"""

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_module import AWSModule
from ansible_collections.eksnodes.windows.plugins.module_utils.cni_identity.converge import CniIdentity
from ansible_collections.eksnodes.windows.plugins.module_utils.cni_identity.converge import CniIdentityError
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.lookup import known_cluster
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.names import eks_api_cluster_name_problem
from ansible_collections.eksnodes.windows.plugins.module_utils.ipam.kube import KubeApiError
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import KUBE_AUTH_ARG_SPEC
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import KubeClientError
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import api_client
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import has_explicit_kube_auth


def load_cluster(module, eks):
    """The cluster's facts (the given ones, else described)."""
    name = module.params["cluster_name"]
    problem = eks_api_cluster_name_problem(name)
    if problem:
        module.fail_json(msg=f"cluster_name: {problem}. Fix: give the exact name of an existing cluster (aws eks list-clusters).")
    cluster = known_cluster(module, eks, name)
    if cluster["status"] != "ACTIVE":
        module.fail_json(msg=f"Cluster {name} is {cluster['status']}, not ACTIVE. Fix: wait for it first.")
    return cluster


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        mechanism=dict(type="str", choices=["irsa", "pod_identity"], default="irsa"),
        role_name=dict(type="str"),
        oidc_provider_arn=dict(type="str"),
        node_role_names=dict(type="list", elements="str", default=[]),
        wait_timeout=dict(type="int", default=600),
        cluster=dict(type="dict"),
    )
    argument_spec.update(KUBE_AUTH_ARG_SPEC)
    module = AWSModule(argument_spec=argument_spec, supports_check_mode=True)
    eks = module.client("eks")
    cluster = load_cluster(module, eks)
    kube_client = []

    def kube():
        if not kube_client:
            sts = None if has_explicit_kube_auth(module.params) else module.client("sts")
            kube_client.append(api_client(module.params, cluster=cluster, sts_client=sts))
        return kube_client[0]

    runner = CniIdentity(iam=module.client("iam"), ec2=module.client("ec2"), eks=eks, kube_client=kube, cluster=cluster,
                         params=module.params, check_mode=module.check_mode)
    try:
        before = runner.read()
        before_summary = before.summary()
        facts = runner.present() if module.params["state"] == "present" else runner.absent()
    except CniIdentityError as error:
        module.fail_json(msg=str(error), changed=bool(runner.changes) and not module.check_mode, changes=runner.changes)
    except AnsibleAWSError as error:
        module.fail_json_aws_error(error)
    except (KubeClientError, KubeApiError) as error:
        module.fail_json(msg=str(error), changed=bool(runner.changes) and not module.check_mode, changes=runner.changes)
    after = runner.read().summary() if not module.check_mode else planned_summary(before_summary, facts, module.params["state"])
    result = dict(changed=bool(runner.changes), role_arn=facts.role_arn, policy_arn=facts.policy_arn, method=facts.method,
                  node_roles=after["node_roles"], changes=runner.changes)
    if facts.provider_arn:
        result["oidc_provider_arn"] = facts.provider_arn
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = {"before": before_summary, "after": after}
    module.exit_json(**result)


def planned_summary(before, facts, state):
    """What the summary would be after the changes (check mode reads nothing back)."""
    present = state == "present"
    key = f"{facts.method}_role_arn"
    return {
        "oidc_provider": facts.provider_arn if present else before["oidc_provider"],
        "role": {"name": facts.role_name, "policies": sorted(set(facts.role_policies) | {facts.policy_arn})} if present else None,
        key: facts.role_arn if present else None,
        "node_roles": {name: False if present else (had or name in set(facts.aws_node_roles) | set(facts.moved_from))
                       for name, had in before["node_roles"].items()},
    }


if __name__ == "__main__":
    main()
