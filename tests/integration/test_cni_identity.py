"""eksnodes.windows.cni_identity (role and module): IRSA with a self-managed vpc-cni against the shared lab; with the
managed add-on, and EKS Pod Identity both ways, on labs of their own.

The lab turns a node NotReady when its aws-node pod's identity lacks the CNI permissions, and records which identity
each aws-node pod runs with; a thread samples every node's readiness every second while the policy moves."""

import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from integration_helpers import REPO, ReadinessSampler

ROLE = "eksnodes.windows.cni_identity"
MODULE = "eksnodes.windows.cni_identity"
CNI = "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"
ROLE_NAME = "lab-aws-node-cni"
OWNER_TAG = "eksnodes.windows/cni-identity-cluster"


def play(*tasks):
    return [{"hosts": "localhost", "gather_facts": False, "tasks": list(tasks)}]


def role_case(name, role_vars):
    return [{"name": f"{name}: run", "block": [
        {"name": f"{name}: role", "ansible.builtin.include_role": {"name": ROLE}, "vars": role_vars},
        {"name": f"{name}: outcome", "ansible.builtin.debug": {"var": "cni_identity_outcome"}},
    ], "rescue": [
        {"name": f"{name}: failed", "ansible.builtin.debug": {"var": "ansible_failed_result"}},
    ]}]


def outcome(result, name):
    try:
        return result.result(f"{name}: outcome")["cni_identity_outcome"]
    except KeyError as error:
        raise AssertionError(f"{name} failed: {result.result(f'{name}: failed')}") from error


def iam_state(iam, node_role):
    roles = sorted(r["RoleName"] for r in iam.list_roles()["Roles"])
    providers = sorted(p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"])
    attached = sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=node_role)["AttachedPolicies"])
    return {"roles": roles, "providers": providers, "node_role_policies": attached}


def kube_state(core, apps):
    account = json.loads(core.read_namespaced_service_account("aws-node", "kube-system", _preload_content=False).data)
    daemonset = json.loads(apps.read_namespaced_daemon_set("aws-node", "kube-system", _preload_content=False).data)
    return {"service_account": account["metadata"]["resourceVersion"], "annotations": account["metadata"].get("annotations"),
            "daemonset_generation": daemonset["metadata"]["generation"]}


def aws_node_roles(core):
    pods = json.loads(core.list_namespaced_pod("kube-system", label_selector="k8s-app=aws-node", _preload_content=False).data)["items"]
    return {p["metadata"]["name"]: next((e["value"] for e in p["spec"]["containers"][0].get("env") or [] if e["name"] == "AWS_ROLE_ARN"), None)
            for p in pods if not p["metadata"].get("deletionTimestamp")}


def kill_in_the_stall(runner, lab, plays, timeout=120):
    """Run the plays with ansible-playbook, and kill it and every process under it (SIGKILL) once it has made the call the
    lab's Stall rule holds; return once the lab has served that call (AWS completes a call whatever becomes of its
    client). Ansible's task workers call setsid(), so the module is not in ansible-playbook's process group."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "playbook.yml"
        path.write_text(yaml.safe_dump(plays, sort_keys=False))
        command = [str(REPO / ".venv/bin/ansible-playbook"), "-i", "localhost,", "-c", "local", str(path)]
        process = subprocess.Popen(command, env=runner.environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        try:
            deadline = time.monotonic() + timeout
            while any(rule["code"] == "Stall" for rule in lab.control.aws.faults()):
                assert process.poll() is None, "the run ended before it made the stalled call"
                assert time.monotonic() < deadline, "the run did not reach the stalled call"
                time.sleep(0.1)
        finally:
            for pid in [*descendants(process.pid), process.pid]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            process.wait()
        served_by = time.monotonic() + 30
        while lab.control.aws.held_calls():
            assert time.monotonic() < served_by, "the lab did not serve the stalled call"
            time.sleep(0.1)


def descendants(pid):
    """Every process under pid (Linux /proc), children first."""
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return [grandchild for child in children for grandchild in descendants(child)] + children


@pytest.fixture
def clients(lab):
    from kubernetes import client as kclient  # pylint: disable=import-outside-toplevel
    api = lab.kube_api_client()
    iam = lab.aws_client("iam")
    providers_before = {p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]}
    core, apps = kclient.CoreV1Api(api), kclient.AppsV1Api(api)
    yield iam, core, apps
    # Whatever the test left (a failure midway included), the shared lab's aws-node goes back to the node role with the
    # policy, so that later tests find the Linux node Ready.
    iam.attach_role_policy(RoleName=lab.facts["linux_node_role_name"], PolicyArn=CNI)
    if (kube_state(core, apps)["annotations"] or {}).get("eks.amazonaws.com/role-arn"):
        core.patch_namespaced_service_account("aws-node", "kube-system", {"metadata": {"annotations": {"eks.amazonaws.com/role-arn": None}}},
                                              _content_type="application/merge-patch+json")
        apps.patch_namespaced_daemon_set("aws-node", "kube-system",
                                         {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "teardown"}}}}})
    # The module keeps the OIDC provider at state absent; the shared lab gets back the world it had.
    for provider in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        if provider["Arn"] not in providers_before:
            iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=provider["Arn"])


@pytest.mark.long
def test_irsa_moves_the_policy_without_a_not_ready_moment_and_back(ansible, lab, clients):
    iam, core, apps = clients
    node_role = lab.facts["linux_node_role_name"]
    assert CNI in iam_state(iam, node_role)["node_role_policies"]
    sampler = ReadinessSampler(core)
    assert lab.facts["linux_node_name"] in sampler.watched
    sampler.start()
    try:
        aws_before, kube_before = iam_state(iam, node_role), kube_state(core, apps)
        check = ansible.playbook(play(*role_case("check", {"cni_identity_cluster_name": "lab"})), check=True, diff=True)
        planned = outcome(check, "check")
        assert (iam_state(iam, node_role), kube_state(core, apps)) == (aws_before, kube_before)
        assert planned["changed"] is True
        assert planned["changes"][0].startswith("create the IAM OIDC provider for https://oidc.eks.")
        assert f"detach {CNI} from node role {node_role}" in planned["changes"]

        # The process killed between "every pod runs with the role" and "the policy is off the node roles" (while IAM
        # holds its tagging of the node role, the step before the detach): the policy stays on the node role, aws-node's
        # role has it too, and the next run finishes the move.
        lab.control.aws.add_fault("iam", "TagRole", "Stall", stall_seconds=4)
        kill_in_the_stall(ansible, lab, play(*role_case("interrupted", {"cni_identity_cluster_name": "lab"})))
        assert CNI in iam_state(iam, node_role)["node_role_policies"]
        assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=ROLE_NAME)["AttachedPolicies"]] == [CNI]
        assert len(set(aws_node_roles(core).values())) == 1 and None not in aws_node_roles(core).values()

        run = ansible.playbook(play(*role_case("present", {"cni_identity_cluster_name": "lab"}),
                                    *role_case("rerun", {"cni_identity_cluster_name": "lab"})))
        present, rerun = outcome(run, "present"), outcome(run, "rerun")
        role_arn = present["role_arn"]
        assert role_arn.endswith(f":role/{ROLE_NAME}") and f"detach {CNI} from node role {node_role}" in present["changes"]
        assert all(change.startswith(f"detach {CNI} from node role ") for change in present["changes"]), present["changes"]
        assert present["node_roles"].get(node_role) is False
        assert iam.list_role_tags(RoleName=ROLE_NAME)["Tags"] == [{"Key": OWNER_TAG, "Value": lab.facts["cluster_arn"]}]
        assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=ROLE_NAME)["AttachedPolicies"]] == [CNI]
        assert CNI not in iam_state(iam, node_role)["node_role_policies"]
        assert set(aws_node_roles(core).values()) == {role_arn}
        seen = lab.control.nodesim()["aws_node"][lab.facts["linux_node_name"]]
        assert (seen["source"], seen["role_arn"], seen["problem"]) == ("web identity", role_arn, None)
        assert rerun["changed"] is False and rerun["changes"] == []

        back = ansible.playbook(play(*role_case("absent", {"cni_identity_cluster_name": "lab", "cni_identity_state": "absent"})))
        absent = outcome(back, "absent")
        assert absent["changed"] is True and absent["node_roles"].get(node_role) is True
        assert CNI in iam_state(iam, node_role)["node_role_policies"]
        assert ROLE_NAME not in iam_state(iam, node_role)["roles"]
        assert set(aws_node_roles(core).values()) == {None}
        assert "eks.amazonaws.com/role-arn" not in (kube_state(core, apps)["annotations"] or {})
    finally:
        sampler.stop.set()
        sampler.join()
    assert sampler.samples >= 5
    assert sampler.not_ready == []


def test_refusals_change_nothing(ansible, lab, clients):
    iam, core, apps = clients
    node_role = lab.facts["linux_node_role_name"]
    foreign = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="lab-foreign-cni", AssumeRolePolicyDocument=json.dumps(foreign))
    other = iam.create_open_id_connect_provider(Url="https://oidc.eks.us-east-1.amazonaws.com/id/SOMEOTHERCLUSTER",
                                                ClientIDList=["sts.amazonaws.com"])["OpenIDConnectProviderArn"]
    try:
        aws_before, kube_before = iam_state(iam, node_role), kube_state(core, apps)
        trust_before = iam.get_role(RoleName="lab-foreign-cni")["Role"]["AssumeRolePolicyDocument"]
        foreign_role = ansible.task(MODULE, {"cluster_name": "lab", "role_name": "lab-foreign-cni"})
        other_issuer = ansible.task(MODULE, {"cluster_name": "lab", "oidc_provider_arn": other})
        issuer = lab.aws_client("eks").describe_cluster(name="lab")["cluster"]["identity"]["oidc"]["issuer"]
        lab.control.aws.set_cluster_issuer("lab", None)
        try:
            no_issuer = ansible.task(MODULE, {"cluster_name": "lab"})
        finally:
            lab.control.aws.set_cluster_issuer("lab", issuer)
        assert no_issuer["failed"] and "cluster lab has no OIDC issuer" in no_issuer["msg"]
        assert foreign_role["failed"] and "IAM role lab-foreign-cni exists with a trust policy that is not the one" in foreign_role["msg"]
        assert "cni_identity_role_name" in foreign_role["msg"]
        assert other_issuer["failed"] and f"oidc_provider_arn {other} is the provider for" in other_issuer["msg"]
        assert (iam_state(iam, node_role), kube_state(core, apps)) == (aws_before, kube_before)
        assert iam.get_role(RoleName="lab-foreign-cni")["Role"]["AssumeRolePolicyDocument"] == trust_before
        assert iam.list_attached_role_policies(RoleName="lab-foreign-cni")["AttachedPolicies"] == []
    finally:
        iam.delete_role(RoleName="lab-foreign-cni")
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=other)


S3_READ = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
POD_IDENTITY_TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
                                                              "Action": ["sts:AssumeRole", "sts:TagSession"]}]}


def role_state(iam, name):
    """Everything IAM says of the role: itself (trust, description, tags...), its managed and inline policies, its tags."""
    return {"role": iam.get_role(RoleName=name)["Role"],
            "attached": sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]),
            "inline": iam.list_role_policies(RoleName=name)["PolicyNames"],
            "tags": iam.list_role_tags(RoleName=name)["Tags"]}


def refusal(result, name):
    """The message of the role run that had to fail."""
    with pytest.raises(KeyError):
        result.result(f"{name}: outcome")
    return result.result(f"{name}: failed")["ansible_failed_result"]["msg"]


def delete_role_if_there(iam, name):
    try:
        for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
        iam.delete_role(RoleName=name)
    except iam.exceptions.NoSuchEntityException:
        pass


def test_a_role_of_that_name_that_is_not_ours_is_never_touched(ansible, lab, clients):
    """A role made by someone else with the very trust policy the collection writes (any EKS Pod Identity role has it; a
    hand-made <cluster>-aws-node-cni may have the IRSA one) is not ours: state=absent does not detach its policies nor
    delete it, state=present does not attach to it nor hand it to aws-node; both refuse before any change, check mode
    too, saying which variable to change."""
    iam, core, apps = clients
    eks = lab.aws_client("eks")
    node_role = lab.facts["linux_node_role_name"]
    issuer = eks.describe_cluster(name="lab")["cluster"]["identity"]["oidc"]["issuer"]
    host = issuer.split("://", 1)[1]
    provider = f"arn:aws:iam::{lab.facts['account_id']}:oidc-provider/{host}"
    irsa_trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{host}:sub": "system:serviceaccount:kube-system:aws-node", f"{host}:aud": "sts.amazonaws.com"}}}]}
    iam.create_role(RoleName="team-app-pod-role", AssumeRolePolicyDocument=json.dumps(POD_IDENTITY_TRUST), Description="team app",
                    Tags=[{"Key": "team", "Value": "app"}])
    iam.attach_role_policy(RoleName="team-app-pod-role", PolicyArn=S3_READ)
    iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(irsa_trust), Description="made by hand")
    for arn in (CNI, S3_READ):
        iam.attach_role_policy(RoleName=ROLE_NAME, PolicyArn=arn)
    try:
        before = {name: role_state(iam, name) for name in ("team-app-pod-role", ROLE_NAME)}
        aws_before, kube_before = iam_state(iam, node_role), kube_state(core, apps)

        def unchanged():
            assert {name: role_state(iam, name) for name in before} == before
            assert (iam_state(iam, node_role), kube_state(core, apps), aws_node_associations(eks)) == (aws_before, kube_before, [])

        pod_identity = {"cni_identity_cluster_name": "lab", "cni_identity_mechanism": "pod_identity", "cni_identity_role_name": "team-app-pod-role"}
        for state, check in (("absent", True), ("absent", False), ("present", True), ("present", False)):
            name = f"pod identity {state}{' check' if check else ''}"
            message = refusal(ansible.playbook(play(*role_case(name, dict(pod_identity, cni_identity_state=state))), check=check), name)
            assert "team-app-pod-role" in message and "cni_identity_role_name" in message and "another name" in message, message
            unchanged()

        # The default name, <cluster>-aws-node-cni, made by hand with the IRSA trust policy, through the module.
        for state, check in (("absent", True), ("absent", False), ("present", True), ("present", False)):
            result = ansible.task(MODULE, {"cluster_name": "lab", "state": state}, check=check)
            assert result["failed"] and result["changed"] is False, result
            assert "Refused before any change" in result["msg"] and f"IAM role {ROLE_NAME}" in result["msg"], result["msg"]
            assert "role_name (cni_identity_role_name)" in result["msg"] and "another name" in result["msg"], result["msg"]
            unchanged()
    finally:
        delete_role_if_there(iam, "team-app-pod-role")
        delete_role_if_there(iam, ROLE_NAME)


@pytest.mark.long
def test_irsa_with_the_managed_add_on_uses_its_service_account_role(lab_factory):
    from kubernetes import client as kclient  # pylint: disable=import-outside-toplevel
    from integration_helpers import AnsibleRunner  # pylint: disable=import-outside-toplevel
    managed = lab_factory(managed_vpc_cni=True)
    runner, iam, eks = AnsibleRunner(managed.env), managed.aws_client("iam"), managed.aws_client("eks")
    core = kclient.CoreV1Api(managed.kube_api_client())
    node_role = managed.facts["linux_node_role_name"]
    sampler = ReadinessSampler(core)
    sampler.start()
    try:
        run = runner.playbook(play({"name": "present", MODULE: {"cluster_name": "lab"}, "ignore_errors": True},
                                   {"name": "rerun", MODULE: {"cluster_name": "lab"}, "ignore_errors": True}))
        present, rerun = run.result("present"), run.result("rerun")
        assert not present.get("failed"), present
        assert present["method"] == "addon" and rerun["changed"] is False
        assert eks.describe_addon(clusterName="lab", addonName="vpc-cni")["addon"]["serviceAccountRoleArn"] == present["role_arn"]
        assert set(aws_node_roles(core).values()) == {present["role_arn"]}
        assert CNI not in iam_state(iam, node_role)["node_role_policies"]
        absent = runner.task(MODULE, {"cluster_name": "lab", "state": "absent"})
        assert absent["changed"] is True and not absent.get("failed"), absent
        assert "serviceAccountRoleArn" not in eks.describe_addon(clusterName="lab", addonName="vpc-cni")["addon"]
        assert set(aws_node_roles(core).values()) == {None}
        assert CNI in iam_state(iam, node_role)["node_role_policies"]
    finally:
        sampler.stop.set()
        sampler.join()
    assert sampler.not_ready == []


def test_launch_refuses_an_unsupported_cni_identity_before_any_change(ansible, lab):
    cloudformation = lab.aws_client("cloudformation")
    stacks = sorted(s["StackName"] for s in cloudformation.list_stacks()["StackSummaries"])
    result = ansible.playbook("eksnodes.windows.launch", extra_vars={"cluster_name": "lab", "cni_identity": "kiam"})
    assert result.returncode != 0
    failed = result.result("Check the launch variables")
    assert "cni_identity" in failed["msg"] and "irsa" in failed["msg"] and "pod_identity" in failed["msg"], failed["msg"]
    assert sorted(s["StackName"] for s in cloudformation.list_stacks()["StackSummaries"]) == stacks


def aws_node_identities(core):
    """Each aws-node pod's identity as the module names it: a role ARN (IRSA), "EKS Pod Identity", or None (the node role)."""
    pods = json.loads(core.list_namespaced_pod("kube-system", label_selector="k8s-app=aws-node", _preload_content=False).data)["items"]
    identities = {}
    for pod in pods:
        if pod["metadata"].get("deletionTimestamp"):
            continue
        names = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0].get("env") or []}
        identities[pod["metadata"]["name"]] = names.get("AWS_ROLE_ARN") or ("EKS Pod Identity" if "AWS_CONTAINER_CREDENTIALS_FULL_URI" in names else None)
    return identities


def aws_node_associations(eks):
    found = eks.list_pod_identity_associations(clusterName="lab", namespace="kube-system", serviceAccount="aws-node")["associations"]
    return [eks.describe_pod_identity_association(clusterName="lab", associationId=a["associationId"])["association"] for a in found]


@pytest.mark.long
@pytest.mark.parametrize("managed", [False, True], ids=["self-managed vpc-cni", "managed add-on"])
def test_pod_identity_moves_the_policy_without_a_not_ready_moment_and_back(lab_factory, managed):
    from kubernetes import client as kclient  # pylint: disable=import-outside-toplevel
    from integration_helpers import AnsibleRunner  # pylint: disable=import-outside-toplevel
    # As the launch user, with only the shipped permissions (docs/iam): the enforcing lab checks every AWS call and RBAC.
    lab = lab_factory(managed_vpc_cni=managed, enforce_iam=True)
    assert lab.env["AWS_ACCESS_KEY_ID"] == lab.info["iam"]["users"]["launch"]["access_key_id"]
    runner, iam, eks = AnsibleRunner(lab.env), lab.aws_client("iam"), lab.aws_client("eks")
    api = lab.kube_api_client()
    core, apps = kclient.CoreV1Api(api), kclient.AppsV1Api(api)
    node_role = lab.facts["linux_node_role_name"]
    role_vars = {"cni_identity_cluster_name": "lab", "cni_identity_mechanism": "pod_identity"}

    # Refused before any change: no agent add-on; then aws-node with an IAM role for its service account (which the SDK
    # would use first).
    aws_before, kube_before = iam_state(iam, node_role), kube_state(core, apps)
    no_agent = runner.playbook(play(*role_case("no agent", role_vars)))
    assert "has no eks-pod-identity-agent add-on" in no_agent.result("no agent: failed")["ansible_failed_result"]["msg"]
    assert (iam_state(iam, node_role), kube_state(core, apps), aws_node_associations(eks)) == (aws_before, kube_before, [])
    eks.create_addon(clusterName="lab", addonName="eks-pod-identity-agent")
    if not managed:
        core.patch_namespaced_service_account("aws-node", "kube-system", {"metadata": {"annotations": {
            "eks.amazonaws.com/role-arn": f"arn:aws:iam::{lab.facts['account_id']}:role/by-hand"}}}, _content_type="application/merge-patch+json")
        kube_before = kube_state(core, apps)
        with_irsa = runner.playbook(play(*role_case("with irsa", role_vars)))
        assert "which the AWS SDK uses before EKS Pod Identity" in with_irsa.result("with irsa: failed")["ansible_failed_result"]["msg"]
        assert (iam_state(iam, node_role), kube_state(core, apps), aws_node_associations(eks)) == (aws_before, kube_before, [])
        core.patch_namespaced_service_account("aws-node", "kube-system", {"metadata": {"annotations": {"eks.amazonaws.com/role-arn": None}}},
                                              _content_type="application/merge-patch+json")

    sampler = ReadinessSampler(core)
    assert lab.facts["linux_node_name"] in sampler.watched
    sampler.start()
    try:
        planned = outcome(runner.playbook(play(*role_case("check", role_vars)), check=True, diff=True), "check")
        target = "the vpc-cni add-on's podIdentityAssociations" if managed else "the EKS Pod Identity association"
        assert planned["changed"] and f"set {target} of kube-system/aws-node to arn:aws:iam::" in "\n".join(planned["changes"])
        assert aws_node_associations(eks) == [] and CNI in iam_state(iam, node_role)["node_role_policies"]

        run = runner.playbook(play(*role_case("present", role_vars), *role_case("rerun", role_vars)))
        present, rerun = outcome(run, "present"), outcome(run, "rerun")
        role_arn = present["role_arn"]
        assert role_arn.endswith(f":role/{ROLE_NAME}") and rerun["changed"] is False and rerun["changes"] == []
        trust = iam.get_role(RoleName=ROLE_NAME)["Role"]["AssumeRolePolicyDocument"]
        assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
        # Created with its owner tag, as the launch user (iam:TagRole on it, the marker key only).
        assert iam.list_role_tags(RoleName=ROLE_NAME)["Tags"] == [{"Key": OWNER_TAG, "Value": lab.facts["cluster_arn"]}]
        associations = aws_node_associations(eks)
        assert [a["roleArn"] for a in associations] == [role_arn]
        addon = eks.describe_addon(clusterName="lab", addonName="vpc-cni")["addon"] if managed else None
        if managed:
            assert addon["podIdentityAssociations"] == [associations[0]["associationArn"]] and "serviceAccountRoleArn" not in addon
        else:
            assert "ownerArn" not in associations[0]
        assert set(aws_node_identities(core).values()) == {"EKS Pod Identity"}
        seen = lab.control.nodesim()["aws_node"][lab.facts["linux_node_name"]]
        assert (seen["source"], seen["role_arn"], seen["problem"]) == ("pod identity", role_arn, None)
        assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=ROLE_NAME)["AttachedPolicies"]] == [CNI]
        assert CNI not in iam_state(iam, node_role)["node_role_policies"]

        # state=absent is no playbook's, and the launch policy does not allow it (iam:DeleteRole, eks:DeletePodIdentityAssociation):
        # as the administrator.
        admin = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "K8S_AUTH_KUBECONFIG": str(lab.kubeconfig)}
        absent = outcome(runner.playbook(play(*role_case("absent", dict(role_vars, cni_identity_state="absent"))), env=admin), "absent")
        assert absent["changed"] is True and absent["node_roles"].get(node_role) is True
        assert aws_node_associations(eks) == [] and set(aws_node_identities(core).values()) == {None}
        assert CNI in iam_state(iam, node_role)["node_role_policies"] and ROLE_NAME not in iam_state(iam, node_role)["roles"]
    finally:
        sampler.stop.set()
        sampler.join()
    assert sampler.samples >= 3
    assert sampler.not_ready == []


@pytest.mark.long
def test_an_ipv6_cluster_gets_the_ipv6_policy_created_and_used(lab_factory):
    """No AmazonEKS_CNI_IPv6_Policy in the account yet (the Linux node role has the same permissions inline): it is
    created with the EKS user guide's document, and aws-node's pods, which need ec2:AssignIpv6Addresses, run with it."""
    from kubernetes import client as kclient  # pylint: disable=import-outside-toplevel
    from integration_helpers import AnsibleRunner  # pylint: disable=import-outside-toplevel
    lab = lab_factory(ip_family="ipv6")
    runner, iam, eks = AnsibleRunner(lab.env), lab.aws_client("iam"), lab.aws_client("eks")
    core = kclient.CoreV1Api(lab.kube_api_client())
    account = lab.facts["account_id"]
    ipv6_policy = f"arn:aws:iam::{account}:policy/AmazonEKS_CNI_IPv6_Policy"
    assert eks.describe_cluster(name="lab")["cluster"]["kubernetesNetworkConfig"]["ipFamily"] == "ipv6"
    sampler = ReadinessSampler(core)
    assert lab.facts["linux_node_name"] in sampler.watched
    sampler.start()
    try:
        present = runner.task(MODULE, {"cluster_name": "lab"})
        assert not present.get("failed"), present
        assert present["policy_arn"] == ipv6_policy and "create the IAM policy AmazonEKS_CNI_IPv6_Policy" in present["changes"]
        version = iam.get_policy(PolicyArn=ipv6_policy)["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=ipv6_policy, VersionId=version)["PolicyVersion"]["Document"]
        assert "ec2:AssignIpv6Addresses" in document["Statement"][0]["Action"]
        assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=ROLE_NAME)["AttachedPolicies"]] == [ipv6_policy]
        seen = lab.control.nodesim()["aws_node"][lab.facts["linux_node_name"]]
        assert (seen["source"], seen["role_arn"], seen["problem"]) == ("web identity", present["role_arn"], None)
        rerun = runner.task(MODULE, {"cluster_name": "lab"})
        assert rerun["changed"] is False, rerun
    finally:
        sampler.stop.set()
        sampler.join()
    assert sampler.not_ready == []

    # Windows nodes are not supported on IPv6 clusters: the launch refuses before any change.
    cloudformation = lab.aws_client("cloudformation")
    vpc_cni = core.read_namespaced_config_map("amazon-vpc-cni", "kube-system").data
    launch = runner.playbook("eksnodes.windows.launch", extra_vars={"cluster_name": "lab", "nodegroup_name": "v6"}, callback="default")
    assert launch.returncode != 0 and "Windows nodes are not supported on IPv6 clusters" in launch.stdout, launch.stdout[-3000:]
    assert cloudformation.list_stacks()["StackSummaries"] == [] and core.read_namespaced_config_map("amazon-vpc-cni", "kube-system").data == vpc_cni
