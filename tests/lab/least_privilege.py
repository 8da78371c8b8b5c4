"""The lab's enforcing mode (``--enforce-iam``): the collection runs as IAM users that hold only the shipped policies.

For each of ``docs/iam/{launch,upgrade,remove}-policy.json`` the lab creates an IAM user
``eksnodes-<playbook>`` with that document as its only (inline) policy and an access key; the env
file exports the launch user's key. On the Kubernetes side ``docs/iam/kubernetes-rbac.yaml`` is
applied and the users are mapped to its group (aws-auth ``mapUsers``, and an access entry in the
``API`` modes), so that the EKS tokens the collection mints from those keys are authorized by RBAC.
The seed, the node simulator and the lab controllers keep the administrator's key (``testing``)
and the admin token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import yaml

REPO_DIR = Path(__file__).resolve().parents[2]
IAM_DOCS = REPO_DIR / "docs" / "iam"
PLAYBOOKS = ("launch", "upgrade", "remove")
RBAC_MANIFEST = IAM_DOCS / "kubernetes-rbac.yaml"
KUBERNETES_GROUP = "eksnodes:operators"   # the group the RBAC manifest binds
USER_PREFIX = "eksnodes-"


def policy_path(playbook: str) -> Path:
    return IAM_DOCS / f"{playbook}-policy.json"


def rbac_objects() -> list[dict]:
    manifest = yaml.safe_load(RBAC_MANIFEST.read_text(encoding="utf-8"))
    return manifest["items"] if manifest.get("kind") == "List" else [manifest]


def create_users(iam: Any) -> dict[str, dict]:
    """One IAM user per playbook, holding only that playbook's policy; returns their ARNs and keys by playbook."""
    users = {}
    for playbook in PLAYBOOKS:
        name = f"{USER_PREFIX}{playbook}"
        arn = iam.create_user(UserName=name)["User"]["Arn"]
        iam.put_user_policy(UserName=name, PolicyName=f"eksnodes-{playbook}", PolicyDocument=policy_path(playbook).read_text(encoding="utf-8"))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        users[playbook] = {"user_name": name, "arn": arn, "access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"],
                           "policy_file": str(policy_path(playbook))}
    return users


def map_users(aws_auth: dict, users: dict[str, dict]) -> dict:
    """aws-auth with ``mapUsers`` entries mapping each user to the RBAC manifest's group."""
    entries = [{"userarn": user["arn"], "username": user["user_name"], "groups": [KUBERNETES_GROUP]} for user in users.values()]
    aws_auth.setdefault("data", {})["mapUsers"] = yaml.safe_dump(entries, default_flow_style=False, sort_keys=False)
    return aws_auth


def create_access_entries(eks: Any, cluster_name: str, users: dict[str, dict]) -> None:
    for user in users.values():
        eks.create_access_entry(clusterName=cluster_name, principalArn=user["arn"], username=user["user_name"], kubernetesGroups=[KUBERNETES_GROUP])


def eks_identity_resolver(account_id: str, region: str, cluster_name: str, auth_mode: str,
                          read_aws_auth: Callable[[], Optional[dict]]) -> Callable[[str], Any]:
    """access key id -> the Kubernetes identity EKS maps its principal to (an access entry wins over aws-auth)."""
    from lab.kubeapi.auth import ADMIN, Identity  # pylint: disable=import-outside-toplevel

    def resolve(access_key_id: str) -> Optional[Identity]:
        from moto.eks.models import eks_backends  # pylint: disable=import-outside-toplevel
        from moto.iam.access_control import CreateAccessKeyFailure, IAMUserAccessKey  # pylint: disable=import-outside-toplevel
        try:
            principal_arn = IAMUserAccessKey(account_id, "aws", access_key_id, {}).arn
        except CreateAccessKeyFailure:
            return ADMIN  # the administrator's key: EKS makes the cluster's creator an administrator
        if auth_mode != "CONFIG_MAP":
            cluster = eks_backends[account_id][region].clusters.get(cluster_name)
            entry = cluster.access_entries.get(principal_arn) if cluster is not None else None
            if entry is not None:
                return Identity(entry.username or principal_arn, tuple(entry.kubernetes_groups))
        if auth_mode != "API":
            data = (read_aws_auth() or {}).get("data") or {}
            try:
                mapped = yaml.safe_load(data.get("mapUsers") or "[]") or []
            except yaml.YAMLError:
                mapped = []
            for entry in reversed(mapped if isinstance(mapped, list) else []):
                if isinstance(entry, dict) and str(entry.get("userarn", "")).lower() == principal_arn.lower():
                    return Identity(str(entry.get("username") or principal_arn), tuple(entry.get("groups") or ()))
        return None

    return resolve
