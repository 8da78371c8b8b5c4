# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Thin, retrying wrappers over the IAM, EC2 and EKS calls the CNI identity needs that amazon.aws's
module_utils/iam.py (used for roles and their attached policies) has no helper for: OIDC providers,
role creation (with tags) and deletion, a role's inline policy names, attaching a managed policy, creating one,
instance profile roles, instances, EKS Pod Identity associations (amazon.aws has no EKS helpers for them either)."""

import json
from typing import Any, Dict, List, Optional

from ansible_collections.amazon.aws.plugins.module_utils.iam import IAMErrorHandler

from ansible_collections.eksnodes.windows.plugins.module_utils.eks.common import EksErrorHandler
from ansible_collections.eksnodes.windows.plugins.module_utils.retries import aws_retry


@IAMErrorHandler.list_error_handler("get OIDC provider")
@aws_retry()
def get_oidc_provider(client, arn: str) -> Optional[Dict[str, Any]]:
    """The provider (Url, ClientIDList, ThumbprintList), or None when there is none with that ARN."""
    return client.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)


@IAMErrorHandler.common_error_handler("create OIDC provider")
@aws_retry()
def create_oidc_provider(client, issuer: str, client_ids: List[str]) -> str:
    # No ThumbprintList: IAM verifies the EKS issuer's certificate with its library of trusted root CAs, and the
    # API has not required thumbprints since then (see docs/cni-identity.md).
    return client.create_open_id_connect_provider(Url=issuer, ClientIDList=client_ids)["OpenIDConnectProviderArn"]


@IAMErrorHandler.common_error_handler("create role")
@aws_retry()
def create_role(client, name: str, trust_policy: Dict[str, Any], description: str, tags: List[Dict[str, str]]) -> Dict[str, Any]:
    """The tags come with the role in the same call (which takes iam:TagRole as well as iam:CreateRole): a role of ours
    never exists without them."""
    return client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust_policy), Description=description, Tags=tags)["Role"]


@IAMErrorHandler.deletion_error_handler("delete role")
@aws_retry()
def delete_role(client, name: str) -> bool:
    client.delete_role(RoleName=name)
    return True


@IAMErrorHandler.common_error_handler("attach role policy")
@aws_retry()
def attach_role_policy(client, role_name: str, policy_arn: str) -> None:
    client.attach_role_policy(RoleName=role_name, PolicyArn=policy_arn)


@IAMErrorHandler.list_error_handler("get policy")
@aws_retry()
def get_policy(client, arn: str) -> Optional[Dict[str, Any]]:
    return client.get_policy(PolicyArn=arn)["Policy"]


@IAMErrorHandler.common_error_handler("create policy")
@aws_retry()
def create_policy(client, name: str, document: Dict[str, Any], description: str) -> Dict[str, Any]:
    return client.create_policy(PolicyName=name, PolicyDocument=json.dumps(document), Description=description)["Policy"]


@IAMErrorHandler.list_error_handler("get instance profile")
@aws_retry()
def instance_profile_roles(client, name: str) -> Optional[List[Dict[str, Any]]]:
    return client.get_instance_profile(InstanceProfileName=name)["InstanceProfile"].get("Roles", [])


@IAMErrorHandler.list_error_handler("list role policies", [])
@aws_retry()
def role_inline_policies(client, name: str) -> List[str]:
    paginator = client.get_paginator("list_role_policies")
    return paginator.paginate(RoleName=name).build_full_result().get("PolicyNames", [])


@IAMErrorHandler.list_error_handler("list role tags", {})
@aws_retry()
def role_tags(client, name: str) -> Dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in client.list_role_tags(RoleName=name).get("Tags", [])}


@IAMErrorHandler.common_error_handler("tag role")
@aws_retry()
def tag_role(client, name: str, key: str, value: str) -> None:
    client.tag_role(RoleName=name, Tags=[{"Key": key, "Value": value}])


@IAMErrorHandler.deletion_error_handler("untag role")
@aws_retry()
def untag_role(client, name: str, key: str) -> bool:
    client.untag_role(RoleName=name, TagKeys=[key])
    return True


@aws_retry()
def describe_instances(client, instance_ids: List[str]) -> List[Dict[str, Any]]:
    paginator = client.get_paginator("describe_instances")
    pages = paginator.paginate(Filters=[{"Name": "instance-id", "Values": sorted(instance_ids)}]).build_full_result()
    return [instance for reservation in pages.get("Reservations", []) for instance in reservation.get("Instances", [])]


@EksErrorHandler.common_error_handler("update add-on")
@aws_retry()
def set_addon_role(client, cluster_name: str, addon_name: str, role_arn: Optional[str]) -> Dict[str, Any]:
    """An UpdateAddon without serviceAccountRoleArn puts the add-on back on the node role (the API refuses an empty
    value), so role_arn None clears it. PRESERVE keeps the settings changed by hand."""
    kwargs = {"serviceAccountRoleArn": role_arn} if role_arn else {}
    return client.update_addon(clusterName=cluster_name, addonName=addon_name, resolveConflicts="PRESERVE", **kwargs)["update"]


@EksErrorHandler.common_error_handler("update add-on")
@aws_retry()
def set_addon_pod_identity(client, cluster_name: str, addon_name: str, service_account: str, role_arn: Optional[str]) -> Dict[str, Any]:
    """The add-on's podIdentityAssociations: the service account's role, or none (an empty list removes the associations
    the add-on owns; the EKS user guide, "Remove Pod Identity associations from an Amazon EKS add-on")."""
    associations = [{"serviceAccount": service_account, "roleArn": role_arn}] if role_arn else []
    return client.update_addon(clusterName=cluster_name, addonName=addon_name, resolveConflicts="PRESERVE",
                               podIdentityAssociations=associations)["update"]


@EksErrorHandler.list_error_handler("list EKS Pod Identity associations", [])
@aws_retry()
def pod_identity_associations(client, cluster_name: str, namespace: str, service_account: str) -> List[Dict[str, Any]]:
    """The associations of the service account, each described (its roleArn and ownerArn)."""
    found = client.list_pod_identity_associations(clusterName=cluster_name, namespace=namespace, serviceAccount=service_account)
    return [client.describe_pod_identity_association(clusterName=cluster_name, associationId=item["associationId"])["association"]
            for item in found.get("associations", [])]


@EksErrorHandler.common_error_handler("create EKS Pod Identity association")
@aws_retry()
def create_pod_identity_association(client, cluster_name: str, namespace: str, service_account: str, role_arn: str) -> Dict[str, Any]:
    return client.create_pod_identity_association(clusterName=cluster_name, namespace=namespace, serviceAccount=service_account,
                                                  roleArn=role_arn)["association"]


@EksErrorHandler.deletion_error_handler("delete EKS Pod Identity association")
@aws_retry()
def delete_pod_identity_association(client, cluster_name: str, association_id: str) -> bool:
    client.delete_pod_identity_association(clusterName=cluster_name, associationId=association_id)
    return True
