# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The data-plane VPC resource controller and admission webhook that legacy Windows support installed.

Clusters below the platform versions of control-plane Windows support ran these in kube-system
(`eksctl utils install-vpc-controllers` or the vpc-resource-controller / vpc-admission-webhook manifests).
They must be removed before Windows support is enabled on the control plane. Both installers' names are
listed. The ClusterRoleBinding eks:kube-proxy-windows that legacy support also created is still needed
and is not listed.
"""

from typing import Any, Dict, List, NamedTuple, Optional, Sequence


class LegacyObject(NamedTuple):
    kind: str
    name: str
    namespace: Optional[str]
    # True for what runs or intercepts (Deployments, the webhook configuration); False for what is left behind.
    active: bool


NAMESPACE = "kube-system"

LEGACY_OBJECTS = (
    LegacyObject("Deployment", "vpc-resource-controller", NAMESPACE, True),
    LegacyObject("Deployment", "vpc-admission-webhook", NAMESPACE, True),
    LegacyObject("Deployment", "vpc-admission-webhook-deployment", NAMESPACE, True),
    LegacyObject("MutatingWebhookConfiguration", "vpc-admission-webhook-cfg", None, True),
    LegacyObject("Service", "vpc-admission-webhook", NAMESPACE, False),
    LegacyObject("Service", "vpc-admission-webhook-svc", NAMESPACE, False),
    LegacyObject("Secret", "vpc-admission-webhook-certs", NAMESPACE, False),
    LegacyObject("ServiceAccount", "vpc-resource-controller", NAMESPACE, False),
    LegacyObject("ClusterRoleBinding", "vpc-resource-controller", None, False),
    LegacyObject("ClusterRole", "vpc-resource-controller", None, False),
)


def as_result(obj: LegacyObject) -> Dict[str, Any]:
    return {"kind": obj.kind, "name": obj.name, "namespace": obj.namespace, "active": obj.active}


def describe(obj: LegacyObject) -> str:
    return f"{obj.kind} {obj.namespace}/{obj.name}" if obj.namespace else f"{obj.kind} {obj.name}"


def active(found: Sequence[LegacyObject]) -> List[LegacyObject]:
    return [obj for obj in found if obj.active]


def kubectl_delete_commands(found: Sequence[LegacyObject]) -> List[str]:
    """The kubectl commands that remove what was found, for messages."""
    commands = []
    for obj in found:
        namespace = f" -n {obj.namespace}" if obj.namespace else ""
        commands.append(f"kubectl delete {obj.kind.lower()}{namespace} {obj.name}")
    return commands
