# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the VPC CNI's own IAM identity looks like, as pure functions (no API calls).

- the cluster's OIDC issuer gives the IAM OIDC provider's ARN (``oidc_provider_arn``);
- the role for ``kube-system/aws-node`` trusts that provider for ``sts:AssumeRoleWithWebIdentity``, with the
  ``sub`` and ``aud`` conditions of the EKS user guide (``irsa_trust_policy``); a role of that name whose trust
  policy is anything else is not ours (``trust_is_ours``) and is never modified; nor is one without the tag
  ``OWNER_TAG`` with the cluster's ARN, which the role gets when the collection creates it (``role_owner``);
- the policy is ``AmazonEKS_CNI_Policy`` on an IPv4 cluster, the customer managed ``AmazonEKS_CNI_IPv6_Policy``
  (created from ``IPV6_POLICY_DOCUMENT``) on an IPv6 one (``cni_policy_arn``);
- with EKS Pod Identity, the role trusts ``pods.eks.amazonaws.com`` for ``sts:AssumeRole`` and ``sts:TagSession``
  (``pod_identity_trust_policy``);
- an aws-node pod runs with an IAM role for its service account when the pod identity webhook put it in
  ``AWS_ROLE_ARN``, with EKS Pod Identity when it put the agent's ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` and no web
  identity, which the SDKs' credential chains try first (``pod_identity``); the rollout is over when every pod the
  DaemonSet wants exists, is Ready and runs with the identity wanted (``rollout_problem``).
"""

import json
from typing import Any, Dict, List, Mapping, Optional
from urllib.parse import unquote

SERVICE_ACCOUNT_NAMESPACE = "kube-system"
SERVICE_ACCOUNT_NAME = "aws-node"
DAEMONSET_NAME = "aws-node"
ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"
RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt"
AUDIENCE = "sts.amazonaws.com"
SUBJECT = f"system:serviceaccount:{SERVICE_ACCOUNT_NAMESPACE}:{SERVICE_ACCOUNT_NAME}"
IPV4_POLICY_NAME = "AmazonEKS_CNI_Policy"
IPV6_POLICY_NAME = "AmazonEKS_CNI_IPv6_Policy"
IAM_ROLE_NAME_MAX = 64
IRSA = "irsa"
POD_IDENTITY = "pod_identity"
POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"
POD_IDENTITY_AGENT_ADDON = "eks-pod-identity-agent"
# What pod_identity() says of a pod that gets its credentials from the EKS Pod Identity agent.
FROM_POD_IDENTITY_AGENT = "EKS Pod Identity"
# On a node role the CNI policy was moved off, the name of the role it went to: state=absent puts it back there.
MOVED_TAG = "eksnodes.windows/cni-policy-moved-to"
# On aws-node's role, written when the collection creates it, the cluster's ARN: only a role with it is ours (a role
# with the same trust policy may be anyone's: every EKS Pod Identity role has the one of pod_identity_trust_policy).
OWNER_TAG = "eksnodes.windows/cni-identity-cluster"

# From the EKS user guide ("Configure the Amazon VPC CNI plugin to use IRSA", IPv6 clusters): AWS publishes no
# managed policy for IPv6, each account creates this one.
IPV6_POLICY_DOCUMENT = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["ec2:AssignIpv6Addresses", "ec2:DescribeInstances", "ec2:DescribeTags",
                                       "ec2:DescribeNetworkInterfaces", "ec2:DescribeInstanceTypes"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["ec2:CreateTags"], "Resource": ["arn:aws:ec2:*:*:network-interface/*"]},
    ],
}


def issuer_host_path(issuer: str) -> str:
    """``https://oidc.eks.<region>.amazonaws.com/id/<id>`` -> ``oidc.eks.<region>.amazonaws.com/id/<id>``."""
    return issuer.split("://", 1)[-1].rstrip("/")


def arn_parts(arn: str) -> Dict[str, str]:
    parts = arn.split(":", 5)
    return {"partition": parts[1], "account": parts[4], "resource": parts[5]} if len(parts) == 6 else {}


def oidc_provider_arn(partition: str, account: str, issuer: str) -> str:
    return f"arn:{partition}:iam::{account}:oidc-provider/{issuer_host_path(issuer)}"


def default_role_name(cluster_name: str) -> str:
    return f"{cluster_name}-aws-node-cni"


def cni_policy_arn(partition: str, account: str, ip_family: str) -> str:
    if ip_family == "ipv6":
        return f"arn:{partition}:iam::{account}:policy/{IPV6_POLICY_NAME}"
    return f"arn:{partition}:iam::aws:policy/{IPV4_POLICY_NAME}"


def cluster_ip_family(cluster: Mapping[str, Any]) -> str:
    return str(cluster.get("ip_family") or "ipv4").lower()


def cluster_issuer(cluster: Mapping[str, Any]) -> Optional[str]:
    return cluster.get("oidc_issuer") or None


def irsa_trust_policy(provider_arn: str, issuer: str) -> Dict[str, Any]:
    host = issuer_host_path(issuer)
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {f"{host}:sub": SUBJECT, f"{host}:aud": AUDIENCE}},
        }],
    }


def pod_identity_trust_policy() -> Dict[str, Any]:
    """The EKS user guide's trust policy for a role of an EKS Pod Identity association."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": POD_IDENTITY_PRINCIPAL}, "Action": ["sts:AssumeRole", "sts:TagSession"]}],
    }


def as_document(document: Any) -> Dict[str, Any]:
    """IAM returns policy documents URL-encoded; boto3 usually decodes them already."""
    if isinstance(document, str):
        return json.loads(unquote(document))
    return dict(document or {})


def _normalized(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _normalized(item) for key, item in value.items() if key != "Sid"}
    if isinstance(value, list):
        items = [_normalized(item) for item in value]
        if len(items) == 1:
            return items[0]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    return value


def trust_is_ours(document: Any, provider_arn: Optional[str], issuer: Optional[str], mechanism: str = IRSA) -> bool:
    """The role's trust policy is exactly the one this collection writes for the mechanism (Sids and one-element lists aside)."""
    wanted = pod_identity_trust_policy() if mechanism == POD_IDENTITY else irsa_trust_policy(provider_arn or "", issuer or "")
    return _normalized(as_document(document)) == _normalized(wanted)


def owner_tags(owner: str) -> List[Dict[str, str]]:
    """The tags aws-node's role is created with (IAM's Tags form); owner is the cluster's ARN."""
    return [{"Key": OWNER_TAG, "Value": owner}]


def role_owner(role: Mapping[str, Any]) -> Optional[str]:
    """The cluster the role's OWNER_TAG names (GetRole returns the role's tags), or None when it has none."""
    return next((tag.get("Value") for tag in role.get("Tags") or [] if tag.get("Key") == OWNER_TAG), None)


def pod_role_arn(pod: Mapping[str, Any]) -> Optional[str]:
    """The role the pod identity webhook gave the pod (``AWS_ROLE_ARN`` of its first container), if any."""
    containers = (pod.get("spec") or {}).get("containers") or []
    for env in (containers[0].get("env") or []) if containers else []:
        if env.get("name") == "AWS_ROLE_ARN":
            return env.get("value")
    return None


def pod_identity(pod: Mapping[str, Any]) -> Optional[str]:
    """What the AWS SDK in the pod's first container authenticates with: its IAM role for service account (the role's
    ARN), the EKS Pod Identity agent (FROM_POD_IDENTITY_AGENT), or None (the node role, through IMDS)."""
    role_arn = pod_role_arn(pod)
    if role_arn:
        return role_arn
    containers = (pod.get("spec") or {}).get("containers") or []
    names = {env.get("name") for env in (containers[0].get("env") or [])} if containers else set()
    return FROM_POD_IDENTITY_AGENT if "AWS_CONTAINER_CREDENTIALS_FULL_URI" in names else None


def pod_ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def rollout_problem(daemonset: Mapping[str, Any], pods: List[Mapping[str, Any]], identity: Optional[str]) -> Optional[str]:
    """Why the aws-node rollout is not over yet (None: every wanted pod is Ready and runs with ``identity``, as
    ``pod_identity`` names it: a role ARN, FROM_POD_IDENTITY_AGENT, or None for the node role)."""
    meta, status = daemonset.get("metadata") or {}, daemonset.get("status") or {}
    if status.get("observedGeneration", 0) < meta.get("generation", 0):
        return "the DaemonSet controller has not seen the restart yet"
    live = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]
    wanted = int(status.get("desiredNumberScheduled") or 0)
    if len(live) != wanted:
        return f"{len(live)} aws-node pod(s) running, {wanted} wanted"
    others = sorted(p["metadata"]["name"] for p in live if pod_identity(p) != identity)
    if others:
        return f"pod(s) {', '.join(others)} still run with {'another identity' if identity else 'an identity of their own'}"
    unready = sorted(p["metadata"]["name"] for p in live if not pod_ready(p))
    if unready:
        return f"pod(s) {', '.join(unready)} not Ready"
    return None


def rolled_out(daemonset: Mapping[str, Any], pods: List[Mapping[str, Any]]) -> bool:
    """Whether the DaemonSet's latest restart is over: seen by its controller, every wanted pod there and Ready."""
    meta, status = daemonset.get("metadata") or {}, daemonset.get("status") or {}
    live = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]
    return (status.get("observedGeneration", 0) >= meta.get("generation", 0) and len(live) == int(status.get("desiredNumberScheduled") or 0)
            and all(pod_ready(p) for p in live))


def attached_arns(attached: List[Mapping[str, Any]]) -> List[str]:
    return sorted(policy["PolicyArn"] for policy in attached)


def instance_id_of(node: Mapping[str, Any]) -> Optional[str]:
    """``aws:///<az>/<instance id>`` -> the instance id."""
    provider_id = ((node.get("spec") or {}).get("providerID") or "")
    last = provider_id.rsplit("/", 1)[-1]
    return last if provider_id.startswith("aws://") and last.startswith("i-") else None


def runs_daemon_pod(template: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """Whether the DaemonSet's pod template selects the node by OS (aws-node's affinity and node selector are
    ``kubernetes.io/os``; without a DaemonSet, Linux nodes are assumed)."""
    labels = ((node.get("metadata") or {}).get("labels") or {})
    spec = template.get("spec") or {}
    wanted = (spec.get("nodeSelector") or {}).get("kubernetes.io/os")
    terms = ((((spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or {})
             .get("nodeSelectorTerms") or [])
    allowed = {value for term in terms for expression in term.get("matchExpressions") or []
               if expression.get("key") == "kubernetes.io/os" and expression.get("operator") == "In" for value in expression.get("values") or []}
    os_name = labels.get("kubernetes.io/os", "linux")
    if wanted:
        return os_name == wanted
    if allowed:
        return os_name in allowed
    return os_name == "linux"
