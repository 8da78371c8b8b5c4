# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Moving the VPC CNI's permissions from the node roles to aws-node's own identity (IRSA or EKS Pod Identity), and back.

The order is what keeps pod networking up: at every moment some identity aws-node runs with holds the CNI
policy, so a failure midway leaves the policy attached somewhere, never nowhere.

state=present:
1. read everything and refuse before any change (``Facts.problems``): a role of that name that is not ours (see
   below), no aws-node DaemonSet; with IRSA no OIDC issuer, an OIDC provider given for another issuer; with
   EKS Pod Identity no eks-pod-identity-agent add-on, an association of aws-node with another role, or an IAM
   role for aws-node's service account (which the SDK would use first);
2. with IRSA, the IAM OIDC provider for the cluster's issuer, when absent;
3. the IPv6 policy on an IPv6 cluster, when absent; the role, trusting only kube-system/aws-node's token (IRSA)
   or pods.eks.amazonaws.com (Pod Identity); the policy on the role;
4. the role on aws-node: the managed add-on's serviceAccountRoleArn (IRSA) or podIdentityAssociations (Pod
   Identity) when vpc-cni is a managed add-on (the add-on would put back its own annotation, and owns its
   associations), else the ServiceAccount's annotation or an EKS Pod Identity association;
5. a rollout restart of aws-node, when a pod does not run with the role yet, and a wait until every pod the
   DaemonSet wants runs with it and is Ready;
6. only then the policy off every node role that carries it (the pods are listed again just before).

state=absent: the policy back first on the node roles it was moved off (tagged ``eksnodes.windows/cni-policy-moved-to``
when it was), on those of the nodes aws-node runs on and of the managed node groups, and on node_role_names; aws-node back on the node role (annotation or
add-on), restart and wait until no pod runs with the role, then the CNI policy comes off the role and the role goes.
The OIDC provider stays: other service accounts may use it.

A role is ours only when it has the trust policy above and the tag ``eksnodes.windows/cni-identity-cluster`` with the
cluster's ARN, which it gets when it is created (in the same call). Any other role named role_name (one without the tag, as
any EKS Pod Identity role has the same trust policy) refuses state=present and state=absent before any change, and
so does our role with policies this collection did not attach at state=absent.

In check mode every step reports the change it would make (``changes``) and makes none.
"""

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from ansible_collections.amazon.aws.plugins.module_utils.iam import detach_iam_role_policy
from ansible_collections.amazon.aws.plugins.module_utils.iam import get_iam_role
from ansible_collections.amazon.aws.plugins.module_utils.iam import list_iam_role_attached_policies

from ansible_collections.eksnodes.windows.plugins.module_utils.eks.addons import describe_addon
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.addons import list_addons
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.clusters import describe_nodegroup
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.clusters import list_nodegroups
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.waiters import wait_for_addon

from . import aws
from . import kube
from . import policy

VPC_CNI_ADDON = "vpc-cni"
# How often the rollout and the ServiceAccount are read while waiting: a DaemonSet rollout takes seconds per node.
POLL_SECONDS = 2.0
# EKS Pod Identity associations "may take several seconds to be effective after the initial API call returns" (EKS API
# reference, CreatePodIdentityAssociation): pods made before the webhook sees a new one do not get it. A restart that
# is over with pods still on the old identity is restarted again, no sooner than this after the previous one.
RESTART_AGAIN_SECONDS = 5.0


class CniIdentityError(Exception):
    """A refusal or a failed wait; facts say where things stand (the policy is always attached somewhere)."""

    def __init__(self, message: str, **facts: Any):
        super().__init__(message)
        self.facts = facts


@dataclass
class Facts:
    """What is there before any change."""

    cluster_name: str
    partition: str
    account: str
    issuer: Optional[str]
    ip_family: str
    role_name: str
    provider_arn: Optional[str] = None
    provider: Optional[Dict[str, Any]] = None
    role: Optional[Dict[str, Any]] = None
    role_policies: List[str] = field(default_factory=list)
    policy_exists: bool = True
    managed_addon: bool = False
    addon_role: Optional[str] = None
    service_account_role: Optional[str] = None
    daemonset: Optional[Dict[str, Any]] = None
    mechanism: str = policy.IRSA
    association: Optional[Dict[str, Any]] = None          # the EKS Pod Identity association of kube-system/aws-node
    present_problems: List[str] = field(default_factory=list)   # what refuses state=present only
    node_roles: Dict[str, List[str]] = field(default_factory=dict)   # role name -> its attached policy ARNs
    aws_node_roles: List[str] = field(default_factory=list)   # node roles of nodes aws-node runs on, and of managed node groups
    moved_from: List[str] = field(default_factory=list)       # node roles tagged as having had the policy moved off
    problems: List[str] = field(default_factory=list)
    cluster_arn: Optional[str] = None

    @property
    def owner(self) -> str:
        """The value of aws-node's role's OWNER_TAG: the cluster's ARN (a cluster of the same name in another region is
        another cluster, and IAM roles are global), its name when the facts given have no ARN."""
        return self.cluster_arn or self.cluster_name

    @property
    def policy_arn(self) -> str:
        return policy.cni_policy_arn(self.partition, self.account, self.ip_family)

    @property
    def role_arn(self) -> str:
        return (self.role or {}).get("Arn") or f"arn:{self.partition}:iam::{self.account}:role/{self.role_name}"

    @property
    def method(self) -> str:
        if self.managed_addon:
            return "addon"
        return "annotation" if self.mechanism == policy.IRSA else "association"

    @property
    def irsa_role(self) -> Optional[str]:
        """The IAM role for aws-node's service account (the add-on's, or the ServiceAccount annotation)."""
        return self.addon_role if self.managed_addon else self.service_account_role

    @property
    def association_role(self) -> Optional[str]:
        return (self.association or {}).get("roleArn")

    @property
    def current_role(self) -> Optional[str]:
        """The role aws-node is told to use through the mechanism."""
        return self.irsa_role if self.mechanism == policy.IRSA else self.association_role

    @property
    def wanted_identity(self) -> str:
        """What aws-node's pods run with once the role is theirs (as policy.pod_identity names it)."""
        return self.role_arn if self.mechanism == policy.IRSA else policy.FROM_POD_IDENTITY_AGENT

    @property
    def identity_after_absent(self) -> Optional[str]:
        """What aws-node's pods run with once this mechanism's role is taken away: another identity that is not ours, or
        the node role (None)."""
        if self.mechanism == policy.IRSA:
            return None if self.current_role in (None, self.role_arn) else self.current_role
        if self.irsa_role:
            return self.irsa_role
        return policy.FROM_POD_IDENTITY_AGENT if self.association_role not in (None, self.role_arn) else None

    def summary(self) -> Dict[str, Any]:
        """The diff's view: what the module manages."""
        return {
            "oidc_provider": self.provider_arn if self.provider else None,
            "role": {"name": self.role_name, "policies": sorted(self.role_policies)} if self.role else None,
            f"{self.method}_role_arn": self.current_role,
            "node_roles": {name: self.policy_arn in arns for name, arns in sorted(self.node_roles.items())},
        }


class CniIdentity:
    """One run; clients are boto3 clients (iam, ec2, eks) and ``kube`` returns the Kubernetes ApiClient."""

    def __init__(self, *, iam, ec2, eks, kube_client: Callable[[], Any], cluster: Dict[str, Any], params: Dict[str, Any],
                 check_mode: bool, sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        self.iam, self.ec2, self.eks, self.kube = iam, ec2, eks, kube_client
        self.cluster = cluster
        self.params = params
        self.check_mode = check_mode
        self.sleep, self.clock = sleep, clock
        self.changes: List[str] = []
        self.facts: Optional[Facts] = None

    # 1. reading and refusing --------------------------------------------------------------------------
    def read(self) -> Facts:
        cluster = self.cluster
        parts = policy.arn_parts(cluster.get("arn") or "")
        name = cluster["name"]
        facts = Facts(cluster_name=name, partition=parts.get("partition", "aws"), account=parts.get("account", ""),
                      issuer=policy.cluster_issuer(cluster), ip_family=policy.cluster_ip_family(cluster),
                      role_name=self.params.get("role_name") or policy.default_role_name(name),
                      mechanism=self.params.get("mechanism") or policy.IRSA, cluster_arn=cluster.get("arn") or None)
        if len(facts.role_name) > policy.IAM_ROLE_NAME_MAX:
            facts.problems.append(f"role_name {facts.role_name!r} is longer than {policy.IAM_ROLE_NAME_MAX} characters; "
                                  "set role_name (cni_identity_role_name) to a shorter name")
        if facts.mechanism == policy.IRSA:
            self._read_provider(facts)
        self._read_role(facts)
        if facts.ip_family == "ipv6":
            facts.policy_exists = aws.get_policy(self.iam, facts.policy_arn) is not None
        addons = list_addons(self.eks, name)
        facts.managed_addon = VPC_CNI_ADDON in addons
        if facts.managed_addon:
            facts.addon_role = (describe_addon(self.eks, name, VPC_CNI_ADDON) or {}).get("serviceAccountRoleArn")
        facts.service_account_role = kube.service_account_role(kube.read_service_account(self.kube()))
        if facts.mechanism == policy.POD_IDENTITY:
            self._read_pod_identity(facts, policy.POD_IDENTITY_AGENT_ADDON in addons)
        facts.daemonset = kube.read_daemonset(self.kube())
        if facts.daemonset is None:
            facts.problems.append("there is no DaemonSet kube-system/aws-node: the VPC CNI is not installed the usual way, "
                                  "so its pods cannot be moved to another identity")
        self._read_node_roles(facts)
        self.facts = facts
        return facts

    def _read_provider(self, facts: Facts) -> None:
        if not facts.issuer:
            facts.problems.append(f"cluster {facts.cluster_name} has no OIDC issuer (identity.oidc.issuer), so no service account "
                                  "can have an IAM role; IRSA needs an EKS cluster that reports one")
            return
        wanted = policy.oidc_provider_arn(facts.partition, facts.account, facts.issuer)
        given = self.params.get("oidc_provider_arn")
        facts.provider_arn = given or wanted
        facts.provider = aws.get_oidc_provider(self.iam, facts.provider_arn)
        if given and facts.provider is None:
            facts.problems.append(f"oidc_provider_arn {given} does not exist; leave it unset to have the provider for the "
                                  f"cluster's issuer {facts.issuer} created")
        elif given and policy.issuer_host_path(str(facts.provider.get("Url"))) != policy.issuer_host_path(facts.issuer):
            facts.problems.append(f"oidc_provider_arn {given} is the provider for {facts.provider.get('Url')}, not for cluster "
                                  f"{facts.cluster_name}'s issuer {facts.issuer}; give the provider of that issuer, or leave "
                                  "oidc_provider_arn unset")
        elif facts.provider is not None and policy.AUDIENCE not in (facts.provider.get("ClientIDList") or []):
            facts.problems.append(f"the OIDC provider {facts.provider_arn} does not list {policy.AUDIENCE} among its client ids "
                                  f"(audiences), so STS would refuse aws-node's token; add it (aws iam "
                                  f"add-client-id-to-open-id-connect-provider --client-id {policy.AUDIENCE})")

    def _read_pod_identity(self, facts: Facts, agent_installed: bool) -> None:
        associations = aws.pod_identity_associations(self.eks, facts.cluster_name, policy.SERVICE_ACCOUNT_NAMESPACE, policy.SERVICE_ACCOUNT_NAME)
        facts.association = associations[0] if associations else None
        if not agent_installed:
            facts.present_problems.append(
                f"cluster {facts.cluster_name} has no {policy.POD_IDENTITY_AGENT_ADDON} add-on, so no pod can get credentials from an EKS "
                f"Pod Identity association; install it first (aws eks create-addon --cluster-name {facts.cluster_name} --addon-name "
                f"{policy.POD_IDENTITY_AGENT_ADDON}), or use mechanism irsa (cni_identity=irsa)")
        if facts.association_role not in (None, facts.role_arn):
            facts.present_problems.append(
                f"an EKS Pod Identity association ({facts.association.get('associationId')}) already gives kube-system/aws-node the role "
                f"{facts.association_role}, which is not {facts.role_name}; it is not modified. Delete it if it is a leftover, or set "
                "role_name (cni_identity_role_name) to that role's name if it is this collection's")
        if facts.irsa_role:
            facts.present_problems.append(
                f"aws-node has an IAM role for its service account ({facts.irsa_role}), which the AWS SDK uses before EKS Pod Identity; "
                "take it away first (eksnodes.windows.cni_identity with mechanism irsa and state absent), then run again")

    def _read_role(self, facts: Facts) -> None:
        """A role of that name is ours only with the trust policy this collection writes and the tag OWNER_TAG naming this
        cluster, which it gets at its creation: the trust policy alone proves nothing (every EKS Pod Identity role has the
        same). Any other role of that name is never modified, at present and at absent."""
        facts.role = get_iam_role(self.iam, facts.role_name)
        if facts.role is None:
            return
        facts.role_policies = policy.attached_arns(list_iam_role_attached_policies(self.iam, facts.role_name))
        fix = ("it is not modified. Set role_name (cni_identity_role_name) to another name, or delete that role yourself if it is a "
               "leftover")
        if facts.mechanism == policy.POD_IDENTITY:
            if not policy.trust_is_ours(facts.role.get("AssumeRolePolicyDocument"), None, None, policy.POD_IDENTITY):
                facts.problems.append(f"IAM role {facts.role_name} exists with a trust policy that is not the one for EKS Pod Identity "
                                      f"({policy.POD_IDENTITY_PRINCIPAL}, sts:AssumeRole and sts:TagSession); {fix}")
                return
        elif not facts.issuer:
            facts.problems.append(f"IAM role {facts.role_name} exists, and without an issuer its trust policy cannot be checked; "
                                  "it is not modified")
            return
        elif facts.provider_arn and not policy.trust_is_ours(facts.role.get("AssumeRolePolicyDocument"), facts.provider_arn, facts.issuer):
            facts.problems.append(f"IAM role {facts.role_name} exists with a trust policy that is not the one for kube-system/aws-node "
                                  f"through {facts.provider_arn}; {fix}")
            return
        owner = policy.role_owner(facts.role)
        if owner is None:
            facts.problems.append(
                f"IAM role {facts.role_name} exists without the tag {policy.OWNER_TAG}={facts.owner} that this collection gives "
                "the role it creates, so it is not this collection's (its trust policy proves nothing: any role for the same "
                f"{'EKS Pod Identity principal' if facts.mechanism == policy.POD_IDENTITY else 'service account'} has it); {fix}. "
                "Only if this collection created it for this cluster, before it tagged its roles, and nothing else uses it, tag it "
                f"and run again: aws iam tag-role --role-name {facts.role_name} --tags Key={policy.OWNER_TAG},Value={facts.owner}")
        elif owner != facts.owner:
            facts.problems.append(f"IAM role {facts.role_name} is tagged {policy.OWNER_TAG}={owner}: it is aws-node's role of another "
                                  f"cluster, not of {facts.owner}; {fix}")

    def _read_node_roles(self, facts: Facts) -> None:
        """Every node's instance profile role, each managed node group's role, and node_role_names; which of them need the
        policy back at state=absent (the roles of nodes aws-node runs on and of managed node groups, those tagged when the
        policy was moved off, and node_role_names), so that a Windows role that never had it does not get it."""
        given = set(self.params.get("node_role_names") or [])
        wanted_back = set(given)
        for group in list_nodegroups(self.eks, self.cluster["name"]):
            role_arn = (describe_nodegroup(self.eks, self.cluster["name"], group) or {}).get("nodeRole")
            if role_arn:
                wanted_back.add(role_arn.rsplit("/", 1)[-1])
        nodes = kube.list_nodes(self.kube())
        aws_node_spec = ((facts.daemonset or {}).get("spec") or {}).get("template") or {}
        by_instance = {policy.instance_id_of(n): policy.runs_daemon_pod(aws_node_spec, n) for n in nodes if policy.instance_id_of(n)}
        profiles: Dict[str, bool] = {}
        if by_instance:
            for instance in aws.describe_instances(self.ec2, sorted(by_instance)):
                arn = (instance.get("IamInstanceProfile") or {}).get("Arn")
                if arn:
                    name = arn.rsplit("/", 1)[-1]
                    profiles[name] = profiles.get(name, False) or by_instance.get(instance["InstanceId"], False)
        names = set(wanted_back)
        for profile, runs_aws_node in sorted(profiles.items()):
            roles = [role["RoleName"] for role in aws.instance_profile_roles(self.iam, profile) or []]
            names.update(roles)
            if runs_aws_node:
                wanted_back.update(roles)
        names.discard(facts.role_name)
        facts.node_roles = {name: policy.attached_arns(list_iam_role_attached_policies(self.iam, name)) for name in sorted(names)}
        facts.moved_from = sorted(name for name in names if aws.role_tags(self.iam, name).get(policy.MOVED_TAG) == facts.role_name)
        facts.aws_node_roles = sorted(wanted_back & names)

    # small steps ----------------------------------------------------------------------------------------
    def _change(self, text: str) -> bool:
        """Record a change; True when it is to be made (not check mode)."""
        self.changes.append(text)
        return not self.check_mode

    def _wait(self, what: str, problem: Callable[[], Optional[str]]) -> None:
        deadline = self.clock() + float(self.params.get("wait_timeout") or 0)
        while True:
            why = problem()
            if why is None:
                return
            if self.clock() >= deadline:
                raise CniIdentityError(f"Timed out after {self.params.get('wait_timeout')}s waiting for {what}: {why}. The CNI policy "
                                       "is still attached where aws-node's current pods need it; fix the cause and run again "
                                       "(raise wait_timeout / cni_identity_wait_timeout if the rollout is only slow).",
                                       changes=self.changes)
            self.sleep(POLL_SECONDS)

    def _point_aws_node_at(self, facts: Facts, role_arn: Optional[str]) -> None:
        if facts.current_role == role_arn:
            return
        if facts.mechanism == policy.POD_IDENTITY:
            self._associate_aws_node(facts, role_arn)
            return
        target = "the vpc-cni add-on's serviceAccountRoleArn" if facts.managed_addon else "ServiceAccount kube-system/aws-node"
        if not self._change(f"set {target} to {role_arn or '(none: the node role)'}"):
            return
        if facts.managed_addon:
            aws.set_addon_role(self.eks, facts.cluster_name, VPC_CNI_ADDON, role_arn)
            wait_for_addon(lambda: describe_addon(self.eks, facts.cluster_name, VPC_CNI_ADDON), float(self.params.get("wait_timeout") or 0))
            # EKS writes the annotation when it applies the add-on; pods created before that would get no role.
            self._wait("the vpc-cni add-on to annotate kube-system/aws-node",
                       lambda: None if kube.service_account_role(kube.read_service_account(self.kube())) == role_arn else "not yet")
        else:
            kube.set_service_account_role(self.kube(), role_arn)

    def _associate_aws_node(self, facts: Facts, role_arn: Optional[str]) -> None:
        """EKS Pod Identity: aws-node's association gets role_arn (None: goes). The managed add-on owns the associations
        of its service accounts (podIdentityAssociations); otherwise the association is made or deleted directly."""
        ours = facts.association if facts.association_role == facts.role_arn else None
        if role_arn is None and ours is None:
            return
        target = "the vpc-cni add-on's podIdentityAssociations" if facts.managed_addon else "the EKS Pod Identity association"
        if not self._change(f"set {target} of kube-system/aws-node to {role_arn or '(none: the node role)'}"):
            return
        name = facts.cluster_name
        if facts.managed_addon:
            aws.set_addon_pod_identity(self.eks, name, VPC_CNI_ADDON, policy.SERVICE_ACCOUNT_NAME, role_arn)
            wait_for_addon(lambda: describe_addon(self.eks, name, VPC_CNI_ADDON), float(self.params.get("wait_timeout") or 0))
        elif role_arn:
            aws.create_pod_identity_association(self.eks, name, policy.SERVICE_ACCOUNT_NAMESPACE, policy.SERVICE_ACCOUNT_NAME, role_arn)
        else:
            aws.delete_pod_identity_association(self.eks, name, ours["associationId"])

        def association_problem() -> Optional[str]:
            found = aws.pod_identity_associations(self.eks, name, policy.SERVICE_ACCOUNT_NAMESPACE, policy.SERVICE_ACCOUNT_NAME)
            now = found[0].get("roleArn") if found else None
            return None if now == role_arn else f"it gives {now or 'no role'}"
        # The webhook gives a new pod the agent's address only once the association exists: wait for it before the restart.
        self._wait(f"the EKS Pod Identity association of kube-system/aws-node to give {role_arn or 'no role'}", association_problem)

    def _roll_aws_node_to(self, identity: Optional[str]) -> None:
        """Restart aws-node unless every pod already runs with identity (policy.pod_identity); then wait for the rollout."""
        daemonset = kube.read_daemonset(self.kube()) or {}
        pods = kube.daemonset_pods(self.kube(), daemonset)
        restarted = [None]
        if any(policy.pod_identity(p) != identity for p in pods if not p["metadata"].get("deletionTimestamp")):
            if not self._change(f"restart DaemonSet kube-system/aws-node so that its pods run with {identity or 'the node role'}"):
                return
            kube.restart_daemonset(self.kube())
            restarted[0] = self.clock()
        if self.check_mode:
            return

        def problem() -> Optional[str]:
            current = kube.read_daemonset(self.kube()) or {}
            current_pods = kube.daemonset_pods(self.kube(), current)
            why = policy.rollout_problem(current, current_pods, identity)
            if why and restarted[0] is not None and policy.rolled_out(current, current_pods) and self.clock() - restarted[0] >= RESTART_AGAIN_SECONDS:
                kube.restart_daemonset(self.kube())
                restarted[0] = self.clock()
            return why
        self._wait(f"every aws-node pod to run with {identity or 'the node role'}", problem)

    # 2-6. present ----------------------------------------------------------------------------------------
    def present(self) -> Facts:
        facts = self.facts or self.read()
        if facts.problems or facts.present_problems:
            raise CniIdentityError("Refused before any change: " + "; ".join(facts.problems + facts.present_problems) + ".")
        irsa = facts.mechanism == policy.IRSA
        if irsa and facts.provider is None and self._change(f"create the IAM OIDC provider for {facts.issuer}"):
            facts.provider_arn = aws.create_oidc_provider(self.iam, facts.issuer, [policy.AUDIENCE])
        if not facts.policy_exists and self._change(f"create the IAM policy {policy.IPV6_POLICY_NAME}"):
            aws.create_policy(self.iam, policy.IPV6_POLICY_NAME, policy.IPV6_POLICY_DOCUMENT, "VPC CNI permissions on an IPv6 EKS cluster")
        if facts.role is None and self._change(f"create the IAM role {facts.role_name} for kube-system/aws-node, tagged "
                                               f"{policy.OWNER_TAG}={facts.owner}"):
            trust = policy.irsa_trust_policy(facts.provider_arn, facts.issuer) if irsa else policy.pod_identity_trust_policy()
            facts.role = aws.create_role(self.iam, facts.role_name, trust, f"VPC CNI (kube-system/aws-node) of EKS cluster {facts.cluster_name}",
                                         policy.owner_tags(facts.owner))
        if facts.policy_arn not in facts.role_policies and self._change(f"attach {facts.policy_arn} to {facts.role_name}"):
            aws.attach_role_policy(self.iam, facts.role_name, facts.policy_arn)
        self._point_aws_node_at(facts, facts.role_arn)
        self._roll_aws_node_to(facts.wanted_identity)
        carriers = [name for name, arns in facts.node_roles.items() if facts.policy_arn in arns and name != facts.role_name]
        if carriers and not self.check_mode:
            self._confirm_no_pod_needs_node_roles(facts)
        for name in carriers:
            if self._change(f"detach {facts.policy_arn} from node role {name}"):
                # The tag first: an interruption between the two leaves a tag on a role that still has the policy (harmless).
                aws.tag_role(self.iam, name, policy.MOVED_TAG, facts.role_name)
                detach_iam_role_policy(self.iam, facts.policy_arn, name)
        return facts

    def _confirm_no_pod_needs_node_roles(self, facts: Facts) -> None:
        daemonset = kube.read_daemonset(self.kube()) or {}
        problem = policy.rollout_problem(daemonset, kube.daemonset_pods(self.kube(), daemonset), facts.wanted_identity)
        if problem:
            raise CniIdentityError(f"Not detaching {facts.policy_arn} from the node roles: {problem}. Run again once every aws-node pod "
                                   f"runs with {facts.role_arn}.", changes=self.changes)

    # absent ----------------------------------------------------------------------------------------------
    def absent(self) -> Facts:
        facts = self.facts or self.read()
        # Without a role there is nothing of ours to remove, and no issuer is no obstacle to putting the policy back.
        blocking = [p for p in facts.problems if facts.role is not None or "no OIDC issuer" not in p]
        targets = sorted(set(facts.aws_node_roles) | set(facts.moved_from))
        if facts.current_role == facts.role_arn and not targets:
            blocking.append("no node role was found to put the CNI policy back on (no nodes, no managed node group); "
                            "list them in node_role_names (cni_identity_node_role_names)")
        if facts.role is not None and not facts.problems:
            blocking += self._foreign_policies(facts)
        if blocking:
            raise CniIdentityError("Refused before any change: " + "; ".join(blocking) + ".")
        for name in targets:
            if facts.policy_arn not in facts.node_roles.get(name, []) and self._change(f"attach {facts.policy_arn} to node role {name}"):
                aws.attach_role_policy(self.iam, name, facts.policy_arn)
        for name in facts.moved_from:
            if self._change(f"remove the tag {policy.MOVED_TAG} from node role {name}"):
                aws.untag_role(self.iam, name, policy.MOVED_TAG)
        if facts.current_role == facts.role_arn:
            self._point_aws_node_at(facts, None)
        if facts.daemonset is not None:
            self._roll_aws_node_to(facts.identity_after_absent)
        if facts.role is not None:
            # Ours (read() refused any other): only the policy this collection attached, then the role.
            if facts.policy_arn in facts.role_policies and self._change(f"detach {facts.policy_arn} from {facts.role_name}"):
                detach_iam_role_policy(self.iam, facts.policy_arn, facts.role_name)
            if self._change(f"delete the IAM role {facts.role_name}"):
                aws.delete_role(self.iam, facts.role_name)
        return facts

    def _foreign_policies(self, facts: Facts) -> List[str]:
        """Policies on our role that this collection did not put there: deleting the role would take them away (IAM
        deletes no role with policies), so absent refuses."""
        managed = [arn for arn in facts.role_policies if arn != facts.policy_arn]
        inline = aws.role_inline_policies(self.iam, facts.role_name)
        if not managed and not inline:
            return []
        found = ", ".join([f"managed policy {arn}" for arn in managed] + [f"inline policy {name}" for name in inline])
        return [f"IAM role {facts.role_name} also has {found}, which this collection did not attach; they are not detached, and the "
                "role cannot be deleted with them. If the role is no longer needed for them, detach them yourself and run again"]
