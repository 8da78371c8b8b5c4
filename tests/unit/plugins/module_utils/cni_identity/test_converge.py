"""The CNI identity's sequence against an in-memory world: the order of the changes, check mode, refusals.

The world checks after every change that each aws-node pod's identity (its web identity role, else its node's role)
carries the CNI policy, so a step taken too early fails the test."""

import json
import sys
from typing import Any, Dict, List, Optional

import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.cni_identity import converge, policy

ACCOUNT = "123456789012"
ISSUER = "https://oidc.eks.us-east-1.amazonaws.com/id/ABC"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"
CNI = "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"
CLUSTER = {"name": "lab", "arn": f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/lab", "oidc_issuer": ISSUER, "ip_family": "ipv4"}


class World:
    def __init__(self) -> None:
        self.providers: Dict[str, Dict[str, Any]] = {}
        self.roles: Dict[str, Dict[str, Any]] = {
            "linux-node": {"Arn": f"arn:aws:iam::{ACCOUNT}:role/linux-node", "policies": {CNI, "worker"}},
            "windows-node": {"Arn": f"arn:aws:iam::{ACCOUNT}:role/windows-node", "policies": {CNI, "worker"}},
        }
        self.sa_role: Optional[str] = None
        self.nodes = {"n1": "linux-node", "n2": "windows-node"}
        self.pod_roles = {"n1": None}          # aws-node runs on Linux nodes only
        self.generation = 1
        self.tags: Dict[str, Dict[str, str]] = {}
        self.log: List[str] = []
        self.violations: List[str] = []

    def check(self, what: str) -> None:
        self.log.append(what)
        for node, role_arn in self.pod_roles.items():
            name = role_arn.rsplit("/", 1)[-1] if role_arn else self.nodes[node]
            if CNI not in self.roles.get(name, {}).get("policies", set()):
                self.violations.append(f"after {what}: aws-node on {node} runs as {name} without the CNI policy")

    # the functions converge calls
    def get_role(self, _client, name):
        role = self.roles.get(name)
        if role is None:
            return None
        found = {"RoleName": name, "Arn": role["Arn"], "AssumeRolePolicyDocument": role.get("trust", {})}
        return dict(found, Tags=role["tags"]) if role.get("tags") else found

    def attached(self, _client, name):
        return [{"PolicyArn": arn} for arn in sorted(self.roles[name]["policies"])]

    def attach(self, _client, name, arn):
        self.roles[name]["policies"].add(arn)
        self.check(f"attach {name}")

    def detach(self, _client, arn, name):
        self.roles[name]["policies"].discard(arn)
        self.check(f"detach {name}")

    def create_role(self, _client, name, trust, _description, tags):
        self.roles[name] = {"Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}", "trust": trust, "policies": set(), "tags": tags}
        self.check(f"create role {name}")
        return {"RoleName": name, "Arn": self.roles[name]["Arn"]}

    def delete_role(self, _client, name):
        assert not self.roles[name]["policies"] and not self.roles[name].get("inline"), "a role is deleted with its policies detached first"
        del self.roles[name]
        self.check(f"delete role {name}")

    def create_provider(self, _client, issuer, client_ids):
        arn = policy.oidc_provider_arn("aws", ACCOUNT, issuer)
        self.providers[arn] = {"Url": issuer.split("://")[1], "ClientIDList": client_ids}
        self.check("create provider")
        return arn

    def set_sa(self, _kube, role_arn):
        self.sa_role = role_arn
        self.check("annotate")
        return {}

    def restart(self, _kube):
        self.generation += 1
        self.pod_roles = {node: self.sa_role for node in self.pod_roles}
        self.check("restart")
        return {}

    def daemonset(self, _kube):
        return {"metadata": {"generation": self.generation, "uid": "ds"},
                "status": {"observedGeneration": self.generation, "desiredNumberScheduled": len(self.pod_roles)}}

    def pods(self, _kube, _daemonset):
        return [{"metadata": {"name": f"aws-node-{node}"},
                 "spec": {"containers": [{"env": [{"name": "AWS_ROLE_ARN", "value": role}] if role else []}]},
                 "status": {"conditions": [{"type": "Ready", "status": "True"}]}} for node, role in self.pod_roles.items()]


@pytest.fixture
def world(monkeypatch):
    w = World()
    patches = {
        "get_iam_role": w.get_role, "list_iam_role_attached_policies": w.attached, "detach_iam_role_policy": w.detach,
        "list_addons": lambda _c, _n: [], "describe_addon": lambda *_: None, "list_nodegroups": lambda _c, _n: [],
        "describe_nodegroup": lambda *_: None,
    }
    for name, value in patches.items():
        monkeypatch.setattr(converge, name, value)
    aws_patches = {"role_tags": lambda _c, name: dict(w.tags.get(name, {})),
                   "tag_role": lambda _c, name, key, value: w.tags.setdefault(name, {}).update({key: value}),
                   "untag_role": lambda _c, name, key: w.tags.get(name, {}).pop(key, None),
                   "get_oidc_provider": lambda _c, arn: w.providers.get(arn), "create_oidc_provider": w.create_provider,
                   "create_role": w.create_role, "delete_role": w.delete_role, "attach_role_policy": w.attach,
                   "get_policy": lambda *_: {"Arn": "x"},
                   "role_inline_policies": lambda _c, name: sorted(w.roles[name].get("inline", ())),
                   "pod_identity_associations": lambda *_: [],
                   "describe_instances": lambda _c, ids: [{"InstanceId": i, "IamInstanceProfile": {"Arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/{i}"}}
                                                          for i in ids],
                   "instance_profile_roles": lambda _c, name: [{"RoleName": w.nodes[name.replace("i-", "")]}]}
    for name, value in aws_patches.items():
        monkeypatch.setattr(converge.aws, name, value)
    kube_patches = {"read_service_account": lambda _k: {"metadata": {"annotations": {policy.ROLE_ARN_ANNOTATION: w.sa_role} if w.sa_role else {}}},
                    "set_service_account_role": w.set_sa, "read_daemonset": w.daemonset, "daemonset_pods": w.pods,
                    "restart_daemonset": w.restart,
                    "list_nodes": lambda _k: [{"metadata": {"labels": {"kubernetes.io/os": "linux" if n in w.pod_roles else "windows"}},
                                               "spec": {"providerID": f"aws:///us-east-1a/i-{n}"}} for n in w.nodes]}
    for name, value in kube_patches.items():
        monkeypatch.setattr(converge.kube, name, value)
    return w


def run(world, state="present", check_mode=False, cluster=None, **params):
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds
    runner = converge.CniIdentity(iam=None, ec2=None, eks=None, kube_client=lambda: None, cluster=cluster or CLUSTER,
                                  params={"wait_timeout": 5, **params}, check_mode=check_mode, sleep=sleep, clock=lambda: now[0])
    runner.read()
    facts = runner.present() if state == "present" else runner.absent()
    return runner, facts


def test_present_moves_the_policy_in_a_safe_order_and_a_rerun_changes_nothing(world):
    runner, facts = run(world)
    assert world.violations == []
    assert world.log == ["create provider", "create role lab-aws-node-cni", "attach lab-aws-node-cni", "annotate", "restart",
                         "detach linux-node", "detach windows-node"]
    assert CNI in world.roles["lab-aws-node-cni"]["policies"]
    assert all(CNI not in world.roles[n]["policies"] for n in ("linux-node", "windows-node"))
    assert policy.trust_is_ours(world.roles["lab-aws-node-cni"]["trust"], PROVIDER, ISSUER)
    assert world.roles["lab-aws-node-cni"]["tags"] == [{"Key": policy.OWNER_TAG, "Value": CLUSTER["arn"]}]
    assert facts.role_arn == world.sa_role
    again, _result = run(world)
    assert again.changes == []


def test_check_mode_lists_every_change_and_makes_none(world):
    before = json.dumps(world.roles, default=sorted, sort_keys=True)
    runner, _result = run(world, check_mode=True)
    assert json.dumps(world.roles, default=sorted, sort_keys=True) == before and world.log == []
    assert [c.split(" ")[0] for c in runner.changes] == ["create", "create", "attach", "set", "restart", "detach", "detach"]


def test_absent_puts_the_policy_back_first(world):
    run(world)
    world.log.clear()
    runner, _result = run(world, state="absent")
    assert world.violations == []
    assert world.log == ["attach linux-node", "attach windows-node", "annotate", "restart", "detach lab-aws-node-cni",
                         "delete role lab-aws-node-cni"]
    assert world.sa_role is None and "lab-aws-node-cni" not in world.roles
    assert run(world, state="absent")[0].changes == []


def test_no_detach_while_a_pod_keeps_the_node_role(world, monkeypatch):
    monkeypatch.setattr(converge.kube, "restart_daemonset", lambda _k: {})  # the restart never reaches the pods
    with pytest.raises(converge.CniIdentityError, match="Timed out .* still run"):
        run(world)
    assert all(CNI in world.roles[n]["policies"] for n in ("linux-node", "windows-node"))
    assert world.violations == []


@pytest.mark.parametrize("setup, message", [
    (lambda w: None, "has no OIDC issuer"),
    (lambda w: w.roles.update({"lab-aws-node-cni": {"Arn": "arn:aws:iam::1:role/lab-aws-node-cni", "policies": set(),
                                                    "trust": {"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}}]}}}),
     "trust policy that is not the one"),
])
def test_refusals_change_nothing(world, setup, message):
    setup(world)
    cluster = dict(CLUSTER, oidc_issuer=None) if message == "has no OIDC issuer" else CLUSTER
    with pytest.raises(converge.CniIdentityError, match=message):
        run(world, cluster=cluster)
    assert world.log == []


def test_a_provider_of_another_issuer_is_refused(world):
    other = f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/OTHER"
    world.providers[other] = {"Url": "oidc.eks.us-east-1.amazonaws.com/id/OTHER", "ClientIDList": ["sts.amazonaws.com"]}
    with pytest.raises(converge.CniIdentityError, match="is the provider for oidc.eks.us-east-1.amazonaws.com/id/OTHER"):
        run(world, oidc_provider_arn=other)
    assert world.log == []


def test_ipv6_cluster_gets_the_ipv6_policy_created_and_used(world, monkeypatch):
    ipv6 = f"arn:aws:iam::{ACCOUNT}:policy/AmazonEKS_CNI_IPv6_Policy"
    for role in ("linux-node", "windows-node"):
        world.roles[role]["policies"] = {ipv6, "worker"}
    created = []
    monkeypatch.setattr(converge.aws, "get_policy", lambda _c, arn: None)
    monkeypatch.setattr(converge.aws, "create_policy", lambda _c, name, document, _d: created.append((name, document)) or {"Arn": ipv6})
    monkeypatch.setattr(sys.modules[__name__], "CNI", ipv6)
    runner, facts = run(world, cluster=dict(CLUSTER, ip_family="ipv6"))
    assert facts.policy_arn == ipv6 and [name for name, _document in created] == ["AmazonEKS_CNI_IPv6_Policy"]
    assert "ec2:AssignIpv6Addresses" in created[0][1]["Statement"][0]["Action"]
    assert world.roles["lab-aws-node-cni"]["policies"] == {ipv6}
    assert all(ipv6 not in world.roles[n]["policies"] for n in ("linux-node", "windows-node"))
    assert world.violations == []


def test_absent_gives_the_policy_only_to_roles_that_had_it_or_run_aws_node(world):
    world.roles["windows-node"]["policies"].discard(CNI)      # as the nodegroup template leaves it
    run(world)
    assert world.tags == {"linux-node": {policy.MOVED_TAG: "lab-aws-node-cni"}}
    run(world, state="absent")
    assert CNI in world.roles["linux-node"]["policies"] and CNI not in world.roles["windows-node"]["policies"]
    assert world.tags == {"linux-node": {}} and world.violations == []


def test_the_provider_of_the_issuer_may_be_given(world):
    world.providers[PROVIDER] = {"Url": "oidc.eks.us-east-1.amazonaws.com/id/ABC", "ClientIDList": ["sts.amazonaws.com"]}
    runner, facts = run(world, oidc_provider_arn=PROVIDER)
    assert facts.provider_arn == PROVIDER and "create provider" not in world.log and world.violations == []


def test_a_restart_that_missed_the_new_identity_is_restarted_again(world, monkeypatch):
    """The webhook may see a new identity only seconds later (EKS Pod Identity associations are eventually consistent):
    a restart that is over with pods on the old identity is done again, and the policy leaves the node roles after."""
    restarts = []

    def restart_too_early(_kube):
        restarts.append(world.generation)
        world.generation += 1
        if len(restarts) > 1:  # the second restart's pods get the role
            world.pod_roles = {node: world.sa_role for node in world.pod_roles}
        world.check("restart")
        return {}
    monkeypatch.setattr(converge.kube, "restart_daemonset", restart_too_early)
    runner, _facts = run(world, cluster=dict(CLUSTER, identity={"oidc": {"issuer": ISSUER}}), wait_timeout=60)
    assert len(restarts) == 2 and world.violations == []
    assert all(CNI not in world.roles[n]["policies"] for n in ("linux-node", "windows-node"))
    assert sum(change.startswith("restart DaemonSet") for change in runner.changes) == 1


POD_IDENTITY_TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
                                                              "Action": ["sts:AssumeRole", "sts:TagSession"]}]}


def snapshot(world):
    return json.dumps({"roles": world.roles, "tags": world.tags, "sa": world.sa_role, "pods": world.pod_roles}, default=sorted, sort_keys=True)


@pytest.mark.parametrize("state", ["present", "absent"])
@pytest.mark.parametrize("check_mode", [True, False], ids=["check mode", "for real"])
@pytest.mark.parametrize("tags, why", [
    (None, "exists without the tag eksnodes.windows/cni-identity-cluster="),
    ([{"Key": policy.OWNER_TAG, "Value": "arn:aws:eks:eu-west-1:123456789012:cluster/lab"}],
     "is tagged eksnodes.windows/cni-identity-cluster=arn:aws:eks:eu-west-1:123456789012:cluster/lab"),
], ids=["untagged", "another cluster's"])
def test_a_role_with_our_trust_policy_that_we_did_not_create_is_never_touched(world, state, check_mode, tags, why):
    """Every EKS Pod Identity role has the trust policy this collection writes: without the owner tag for this cluster,
    the role is someone else's, and both states refuse before any change, naming the variable to change."""
    world.roles["team-app-pod-role"] = {"Arn": f"arn:aws:iam::{ACCOUNT}:role/team-app-pod-role", "trust": POD_IDENTITY_TRUST,
                                        "policies": {"arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"}, "tags": tags}
    before = snapshot(world)
    runner = converge.CniIdentity(iam=None, ec2=None, eks=None, kube_client=lambda: None, cluster=CLUSTER,
                                  params={"wait_timeout": 5, "mechanism": "pod_identity", "role_name": "team-app-pod-role"},
                                  check_mode=check_mode)
    runner.read()
    with pytest.raises(converge.CniIdentityError) as refused:
        runner.present() if state == "present" else runner.absent()
    message = str(refused.value)
    assert message.startswith("Refused before any change: IAM role team-app-pod-role ") and why in message, message
    assert "role_name (cni_identity_role_name) to another name" in message and "delete that role yourself" in message
    assert runner.changes == [] and world.log == [] and snapshot(world) == before


def test_an_untagged_role_says_how_to_adopt_it(world):
    world.roles["lab-aws-node-cni"] = {"Arn": f"arn:aws:iam::{ACCOUNT}:role/lab-aws-node-cni", "policies": {CNI},
                                       "trust": policy.irsa_trust_policy(PROVIDER, ISSUER)}
    with pytest.raises(converge.CniIdentityError) as refused:
        run(world, state="absent")
    assert ("aws iam tag-role --role-name lab-aws-node-cni --tags Key=eksnodes.windows/cni-identity-cluster,"
            f"Value={CLUSTER['arn']}") in str(refused.value)
    assert CNI in world.roles["lab-aws-node-cni"]["policies"] and world.log == []


@pytest.mark.parametrize("extra", [{"policies": {"arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"}}, {"inline": {"by-hand"}}],
                         ids=["managed", "inline"])
def test_absent_detaches_only_the_cni_policy_and_refuses_when_others_are_there(world, extra):
    run(world)
    role = world.roles["lab-aws-node-cni"]
    role["policies"] |= extra.get("policies", set())
    role["inline"] = extra.get("inline", set())
    before = snapshot(world)
    world.log.clear()
    with pytest.raises(converge.CniIdentityError, match="which this collection did not attach; they are not detached") as refused:
        run(world, state="absent")
    assert ("managed policy arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess" if "policies" in extra else "inline policy by-hand") in str(refused.value)
    assert snapshot(world) == before and world.log == []
