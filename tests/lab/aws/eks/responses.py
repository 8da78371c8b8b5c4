"""EKS request handlers: moto's, plus the operations moto 5.2.5 does not route (access entries, add-ons, updates).

moto parses each request from the EKS service model and serializes the result with it, so the handlers
only read parameters and return the output members.
"""

from __future__ import annotations

from typing import Any, Optional

from moto.core.responses import ActionResult, EmptyResult
from moto.eks.responses import DEFAULT_MAX_RESULTS, EKSResponse

from lab.aws.eks.models import LabEksBackend


class LabEksResponse(EKSResponse):
    """moto's EKS responses with the lab's additional operations."""

    @property
    def lab_backend(self) -> LabEksBackend:
        backend = self.eks_backend
        assert isinstance(backend, LabEksBackend), "lab.aws.patches must be installed before moto's EKS backend is created"
        return backend

    def _cluster_name(self) -> str:
        return str(self._get_param("clusterName") or self._get_param("name"))

    def _page(self) -> tuple[int, Optional[str]]:
        return self._get_int_param("maxResults", DEFAULT_MAX_RESULTS), self._get_param("nextToken")

    # clusters and updates ----------------------------------------------------------------------------
    def create_cluster(self) -> ActionResult:
        cluster = self.lab_backend.create_cluster(
            name=self._get_param("name"), version=self._get_param("version"), role_arn=self._get_param("roleArn"),
            resources_vpc_config=self._get_param("resourcesVpcConfig") or {},
            kubernetes_network_config=self._get_param("kubernetesNetworkConfig"), logging=self._get_param("logging"),
            client_request_token=self._get_param("clientRequestToken"), tags=self._get_param("tags"),
            encryption_config=self._get_param("encryptionConfig"), remote_network_config=self._get_param("remoteNetworkConfig"),
            access_config=self._get_param("accessConfig"))
        return ActionResult({"cluster": cluster})

    def update_cluster_config(self) -> ActionResult:
        update = self.lab_backend.update_cluster(self._get_param("name"), access_config=self._get_param("accessConfig"),
                                                 logging=self._get_param("logging"),
                                                 resources_vpc_config=self._get_param("resourcesVpcConfig"))
        return ActionResult({"update": update.to_api()})

    def update_cluster_version(self) -> ActionResult:
        update = self.lab_backend.update_cluster_version(self._get_param("name"), self._get_param("version"))
        return ActionResult({"update": update.to_api()})

    def describe_update(self) -> ActionResult:
        update = self.lab_backend.describe_update(self._get_param("name"), self._get_param("updateId"))
        return ActionResult({"update": update.to_api()})

    def list_updates(self) -> ActionResult:
        max_results, next_token = self._page()
        ids, token = self.lab_backend.list_updates(self._get_param("name"), self._get_param("nodegroupName"),
                                                   self._get_param("addonName"), max_results, next_token)
        return ActionResult({"updateIds": ids, "nextToken": token})

    def create_nodegroup(self) -> ActionResult:
        result = super().create_nodegroup()
        self.lab_backend.complete_nodegroup(self._get_param("name"), self._get_param("nodegroupName"),
                                            version_given=bool(self._get_param("version")),
                                            release_given=bool(self._get_param("releaseVersion")))
        return result

    # access entries ----------------------------------------------------------------------------------
    def create_access_entry(self) -> ActionResult:
        entry = self.lab_backend.create_access_entry(
            self._cluster_name(), self._get_param("principalArn"), self._get_param("type"), self._get_param("username"),
            self._get_param("kubernetesGroups"), self._get_param("tags"))
        return ActionResult({"accessEntry": entry.to_api()})

    def describe_access_entry(self) -> ActionResult:
        entry = self.lab_backend.describe_access_entry(self._cluster_name(), self._get_param("principalArn"))
        return ActionResult({"accessEntry": entry.to_api()})

    def list_access_entries(self) -> ActionResult:
        max_results, next_token = self._page()
        arns, token = self.lab_backend.list_access_entries(self._cluster_name(), self._get_param("associatedPolicyArn"),
                                                           max_results, next_token)
        return ActionResult({"accessEntries": arns, "nextToken": token})

    def update_access_entry(self) -> ActionResult:
        entry = self.lab_backend.update_access_entry(self._cluster_name(), self._get_param("principalArn"),
                                                     self._get_param("username"), self._get_param("kubernetesGroups"))
        return ActionResult({"accessEntry": entry.to_api()})

    def delete_access_entry(self) -> ActionResult:
        self.lab_backend.delete_access_entry(self._cluster_name(), self._get_param("principalArn"))
        return EmptyResult()

    def associate_access_policy(self) -> ActionResult:
        cluster_name, principal_arn = self._cluster_name(), self._get_param("principalArn")
        association = self.lab_backend.associate_access_policy(cluster_name, principal_arn, self._get_param("policyArn"),
                                                               self._get_param("accessScope"))
        return ActionResult({"clusterName": cluster_name, "principalArn": principal_arn, "associatedAccessPolicy": association})

    def list_associated_access_policies(self) -> ActionResult:
        cluster_name, principal_arn = self._cluster_name(), self._get_param("principalArn")
        policies = self.lab_backend.list_associated_access_policies(cluster_name, principal_arn)
        return ActionResult({"clusterName": cluster_name, "principalArn": principal_arn, "associatedAccessPolicies": policies})

    def disassociate_access_policy(self) -> ActionResult:
        self.lab_backend.disassociate_access_policy(self._cluster_name(), self._get_param("principalArn"), self._get_param("policyArn"))
        return EmptyResult()

    def list_access_policies(self) -> ActionResult:
        return ActionResult({"accessPolicies": self.lab_backend.list_access_policies()})

    # add-ons -----------------------------------------------------------------------------------------
    def create_addon(self) -> ActionResult:
        addon = self.lab_backend.create_addon(
            self._cluster_name(), self._get_param("addonName"), self._get_param("addonVersion"), self._get_param("configurationValues"),
            self._get_param("serviceAccountRoleArn"), self._get_param("resolveConflicts"), self._get_param("tags"),
            self._get_param("podIdentityAssociations"))
        return ActionResult({"addon": addon.to_api()})

    def describe_addon(self) -> ActionResult:
        return ActionResult({"addon": self.lab_backend.describe_addon(self._cluster_name(), self._get_param("addonName")).to_api()})

    def list_addons(self) -> ActionResult:
        max_results, next_token = self._page()
        names, token = self.lab_backend.list_addons(self._cluster_name(), max_results, next_token)
        return ActionResult({"addons": names, "nextToken": token})

    def update_addon(self) -> ActionResult:
        update = self.lab_backend.update_addon(
            self._cluster_name(), self._get_param("addonName"), self._get_param("addonVersion"), self._get_param("configurationValues"),
            self._get_param("serviceAccountRoleArn"), self._get_param("resolveConflicts"), self._get_param("podIdentityAssociations"))
        return ActionResult({"update": update.to_api()})

    def delete_addon(self) -> ActionResult:
        return ActionResult({"addon": self.lab_backend.delete_addon(self._cluster_name(), self._get_param("addonName")).to_api()})

    def describe_addon_versions(self) -> ActionResult:
        addons: list[dict[str, Any]] = self.lab_backend.describe_addon_versions(self._get_param("kubernetesVersion"),
                                                                                self._get_param("addonName"))
        return ActionResult({"addons": addons})

    def describe_addon_configuration(self) -> ActionResult:
        return ActionResult(self.lab_backend.describe_addon_configuration(self._get_param("addonName"), self._get_param("addonVersion")))

    # EKS Pod Identity associations -------------------------------------------------------------------
    def create_pod_identity_association(self) -> ActionResult:
        association = self.lab_backend.create_pod_identity_association(
            self._cluster_name(), self._get_param("namespace"), self._get_param("serviceAccount"), self._get_param("roleArn"),
            self._get_param("tags"))
        return ActionResult({"association": association.to_api()})

    def describe_pod_identity_association(self) -> ActionResult:
        association = self.lab_backend.describe_pod_identity_association(self._cluster_name(), self._get_param("associationId"))
        return ActionResult({"association": association.to_api()})

    def list_pod_identity_associations(self) -> ActionResult:
        max_results, next_token = self._page()
        found, token = self.lab_backend.list_pod_identity_associations(self._cluster_name(), self._get_param("namespace"),
                                                                       self._get_param("serviceAccount"), max_results, next_token)
        return ActionResult({"associations": found, "nextToken": token})

    def update_pod_identity_association(self) -> ActionResult:
        association = self.lab_backend.update_pod_identity_association(self._cluster_name(), self._get_param("associationId"),
                                                                       self._get_param("roleArn"))
        return ActionResult({"association": association.to_api()})

    def delete_pod_identity_association(self) -> ActionResult:
        association = self.lab_backend.delete_pod_identity_association(self._cluster_name(), self._get_param("associationId"))
        return ActionResult({"association": association.to_api()})
