"""Which AWS identity an aws-node pod runs with, and whether that identity may do the VPC CNI's work.

Three pieces, each what a real component does:

1. The EKS pod identity webhook (``amazon-eks-pod-identity-webhook``) mutates a pod at creation:
   when the pod's ServiceAccount carries ``eks.amazonaws.com/role-arn``, the containers get
   ``AWS_ROLE_ARN``, ``AWS_WEB_IDENTITY_TOKEN_FILE`` and ``AWS_STS_REGIONAL_ENDPOINTS``; when an EKS Pod
   Identity association exists for the service account, ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` (the
   agent's address) and ``AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`` (``webhook_env``). A later change of the
   annotation, or a new association, reaches only pods created after it, which is why the DaemonSet must be
   restarted. (The association's role is looked up when credentials are asked for, not at creation.)
2. The AWS SDK's credential chain in the pod, in its order: with ``AWS_WEB_IDENTITY_TOKEN_FILE`` set it calls
   ``AssumeRoleWithWebIdentity`` and nothing else: a refused call leaves the pod without
   credentials, it does not fall back to the instance profile. Otherwise, with
   ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` it asks the EKS Pod Identity agent (the ``eks-pod-identity-agent``
   add-on), which gets the association's role from EKS Auth when the role trusts ``pods.eks.amazonaws.com``
   for ``sts:AssumeRole`` and ``sts:TagSession`` (``pod_identity_refusal``). Without either, the instance
   profile's role (IMDS) is used.

   STS accepts the projected token (``iss`` = the cluster's issuer, ``sub`` =
   ``system:serviceaccount:<ns>:<sa>``, ``aud`` = ``sts.amazonaws.com``) when an IAM OIDC provider for
   the issuer exists, lists the audience among its client ids, and the role's trust policy allows
   ``sts:AssumeRoleWithWebIdentity`` for that ``Federated`` provider with every ``StringEquals`` /
   ``StringLike`` condition on ``<issuer>:sub`` / ``<issuer>:aud`` satisfied (``web_identity_refusal``).

   Associations are eventually consistent: "may take several seconds to be effective after the initial API call
   returns successfully" (EKS API reference, CreatePodIdentityAssociation). The webhook and the agent see a new one
   only POD_IDENTITY_PROPAGATION_SECONDS after its creation (``association_effective``); a deletion is seen at once,
   but a running pod keeps the credentials it got until its session expires (the node simulator).
3. IPAMD needs EC2 permissions: ``cni_permission_gap`` reports the actions of ``AmazonEKS_CNI_Policy``
   (IPv4) or ``AmazonEKS_CNI_IPv6_Policy`` (IPv6) that none of the identity's policies allows.
"""

from __future__ import annotations

import fnmatch
from typing import Any, Iterable, Mapping, Optional

ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"
AUDIENCE_ANNOTATION = "eks.amazonaws.com/audience"
DEFAULT_AUDIENCE = "sts.amazonaws.com"
TOKEN_FILE = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
WEB_IDENTITY_ACTION = "sts:AssumeRoleWithWebIdentity"
POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"
POD_IDENTITY_ACTIONS = ("sts:AssumeRole", "sts:TagSession")
POD_IDENTITY_AGENT_URI = "http://169.254.170.23/v1/credentials"
POD_IDENTITY_TOKEN_FILE = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"
POD_IDENTITY_PROPAGATION_SECONDS = 3.0

# What IPAMD calls that only the CNI policy grants (the rest of the policy is Describe*/tagging).
CNI_ACTIONS = {
    "ipv4": ("ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:AttachNetworkInterface", "ec2:DescribeNetworkInterfaces"),
    "ipv6": ("ec2:AssignIpv6Addresses", "ec2:DescribeNetworkInterfaces"),
}


def webhook_env(service_account: Optional[Mapping[str, Any]], region: str, associated: bool = False) -> list:
    """The environment the pod identity webhook adds to each container of a new pod (empty: none); ``associated``: an EKS
    Pod Identity association exists for the pod's service account."""
    annotations = ((service_account or {}).get("metadata") or {}).get("annotations") or {}
    role_arn = annotations.get(ROLE_ARN_ANNOTATION)
    env = []
    if role_arn or associated:
        env += [{"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"},
                {"name": "AWS_DEFAULT_REGION", "value": region}, {"name": "AWS_REGION", "value": region}]
    if role_arn:
        env += [{"name": "AWS_ROLE_ARN", "value": role_arn}, {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": TOKEN_FILE}]
    if associated:
        env += [{"name": "AWS_CONTAINER_CREDENTIALS_FULL_URI", "value": POD_IDENTITY_AGENT_URI},
                {"name": "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "value": POD_IDENTITY_TOKEN_FILE}]
    return env


def association_effective(association: Mapping[str, Any], now: float) -> bool:
    """Whether a described association (its createdAt, a datetime) is seen by the webhook and the agent at ``now`` (epoch)."""
    created = association.get("createdAt")
    return created is None or created.timestamp() <= now - POD_IDENTITY_PROPAGATION_SECONDS


def uses_pod_identity(pod: Mapping[str, Any]) -> bool:
    """Whether the SDK in the pod's first container asks the Pod Identity agent (no web identity before it in the chain)."""
    containers = (pod.get("spec") or {}).get("containers") or []
    names = {env.get("name") for env in (containers[0].get("env") or [])} if containers else set()
    return "AWS_CONTAINER_CREDENTIALS_FULL_URI" in names and "AWS_WEB_IDENTITY_TOKEN_FILE" not in names


def pod_identity_refusal(trust_policy: Mapping[str, Any]) -> Optional[str]:
    """Why EKS Auth refuses to assume the association's role for a pod (None: it does not)."""
    for statement in _as_list(trust_policy.get("Statement") or []):
        if statement.get("Effect") != "Allow" or statement.get("Condition"):
            continue
        services = _as_list((statement.get("Principal") or {}).get("Service") or [])
        actions = _as_list(statement.get("Action") or [])
        if POD_IDENTITY_PRINCIPAL in services and all(any(fnmatch.fnmatchcase(wanted, a) for a in actions) for wanted in POD_IDENTITY_ACTIONS):
            return None
    return f"the role's trust policy does not allow {' and '.join(POD_IDENTITY_ACTIONS)} by {POD_IDENTITY_PRINCIPAL}"


def pod_role_arn(pod: Mapping[str, Any]) -> Optional[str]:
    """The role the webhook gave the pod's first container, if any."""
    containers = (pod.get("spec") or {}).get("containers") or []
    for env in (containers[0].get("env") or []) if containers else []:
        if env.get("name") == "AWS_ROLE_ARN":
            return env.get("value")
    return None


def issuer_host_path(issuer: str) -> str:
    return issuer.split("://", 1)[-1].rstrip("/")


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _conditions_hold(conditions: Mapping[str, Any], claims: Mapping[str, str]) -> bool:
    for operator, tests in conditions.items():
        if operator not in ("StringEquals", "StringLike"):
            return False  # an operator the token cannot satisfy in the lab's reading: refuse rather than guess
        for key, wanted in (tests or {}).items():
            if key not in claims:
                return False
            match = (lambda v, w: v == w) if operator == "StringEquals" else fnmatch.fnmatchcase
            if not any(match(claims[key], w) for w in _as_list(wanted)):
                return False
    return True


def web_identity_refusal(trust_policy: Mapping[str, Any], provider: Optional[Mapping[str, Any]], provider_arn: str, issuer: str,
                         namespace: str, service_account: str, audience: str = DEFAULT_AUDIENCE) -> Optional[str]:
    """Why STS refuses ``AssumeRoleWithWebIdentity`` for the service account's token (None: accepted)."""
    if provider is None:
        return f"no IAM OIDC provider {provider_arn}"
    if audience not in (provider.get("ClientIDList") or []):
        return f"the OIDC provider's client ids do not include {audience}"
    prefix = issuer_host_path(issuer)
    claims = {f"{prefix}:sub": f"system:serviceaccount:{namespace}:{service_account}", f"{prefix}:aud": audience}
    for statement in _as_list(trust_policy.get("Statement") or []):
        if statement.get("Effect") != "Allow":
            continue
        actions = _as_list(statement.get("Action") or [])
        if not any(fnmatch.fnmatchcase(WEB_IDENTITY_ACTION, a) for a in actions):
            continue
        federated = _as_list((statement.get("Principal") or {}).get("Federated") or [])
        if provider_arn in federated and _conditions_hold(statement.get("Condition") or {}, claims):
            return None
    return f"the role's trust policy does not allow {WEB_IDENTITY_ACTION} by {provider_arn} for system:serviceaccount:{namespace}:{service_account}"


def _statement_allows(statement: Mapping[str, Any], action: str) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    return any(fnmatch.fnmatchcase(action.lower(), str(a).lower()) for a in _as_list(statement.get("Action") or []))


def cni_permission_gap(policy_documents: Iterable[Mapping[str, Any]], ip_family: str) -> list:
    """The CNI actions that no statement of the documents allows (Deny statements are ignored: none of ours has one)."""
    statements = [s for doc in policy_documents for s in _as_list(doc.get("Statement") or [])]
    return [action for action in CNI_ACTIONS[ip_family] if not any(_statement_allows(s, action) for s in statements)]
