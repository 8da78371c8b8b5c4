"""The eksnodes.windows.node_auth role against the lab, in each authentication mode."""

import json
import uuid

import pytest

from integration_helpers import AnsibleRunner
from test_aws_auth import AwsAuth

ROLE = "eksnodes.windows.node_auth"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
WINDOWS_GROUPS = ["system:bootstrappers", "system:nodes", "eks:kube-proxy-windows"]
LINUX_GROUPS = ["system:bootstrappers", "system:nodes"]


def make_role(lab, prefix, path="/"):
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    return lab.aws_client("iam").create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]


def cluster_facts(lab, mode):
    """The part of the prerequisites role's prerequisites_cluster fact node_auth reads."""
    return {"name": lab.cluster_name, "arn": lab.facts["cluster_arn"], "authentication_mode": mode}


def case(name, role_vars, tasks_from="main"):
    """Tasks running the role once: 'NAME: outcome' on success, 'NAME: failed' with the failed result otherwise.
    With tasks_from check, the check the playbooks run before their first change; its outcome is its plan."""
    return [{"name": f"{name}: run", "block": [
        {"name": f"{name}: role", "ansible.builtin.include_role": {"name": ROLE, "tasks_from": tasks_from}, "vars": role_vars},
        {"name": f"{name}: outcome", "ansible.builtin.debug": {"var": "node_auth_outcome" if tasks_from == "main" else "node_auth_plan"}},
    ], "rescue": [
        {"name": f"{name}: failed", "ansible.builtin.debug": {"var": "ansible_failed_result"}},
    ]}]


def play(*cases, play_vars=None):
    return [{"hosts": "localhost", "gather_facts": False, "vars": play_vars or {}, "tasks": [task for tasks in cases for task in tasks]}]


def outcome(result, name):
    """node_auth_outcome of a case, or node_auth_plan of a check's."""
    shown = result.result(f"{name}: outcome")
    return shown["node_auth_outcome"] if "node_auth_outcome" in shown else shown["node_auth_plan"]


def failure(result, name):
    return result.result(f"{name}: failed")["ansible_failed_result"]


@pytest.fixture
def aws_auth(lab):
    handle = AwsAuth(lab)
    saved = handle.read()
    yield handle
    handle.put(saved.data or {}, saved.metadata.labels, saved.metadata.annotations)


def test_config_map_cluster_uses_aws_auth_from_the_earlier_roles_facts(lab, ansible, aws_auth):
    windows = f"arn:aws:iam::{lab.facts['account_id']}:role/win-{uuid.uuid4().hex[:8]}"
    linux = lab.facts["linux_node_role_arn"]
    aws_auth.put({"mapRoles": "[]\n", "mapUsers": "- userarn: arn:aws:iam::123456789012:user/alice\n  username: alice\n"})
    facts = {"prerequisites_cluster": cluster_facts(lab, "CONFIG_MAP"), "nodegroup_facts": {"node_instance_role_arn": windows}}
    result = ansible.playbook(play(case("first", {}), case("second", {}), play_vars=facts))
    assert result.returncode == 0, result.stdout[-3000:]
    first, second = outcome(result, "first"), outcome(result, "second")
    assert first == {"mechanism": "aws_auth", "authentication_mode": "CONFIG_MAP", "windows_role_arn": windows,
                     "linux_role_arns": [linux], "changed": True}
    assert second["changed"] is False
    data = aws_auth.data()
    assert data["mapUsers"] == "- userarn: arn:aws:iam::123456789012:user/alice\n  username: alice\n"
    # the Linux node group role, dropped from aws-auth, is mapped again next to the Windows role
    assert {e["rolearn"]: e["groups"] for e in aws_auth.roles()} == {windows: WINDOWS_GROUPS, linux: LINUX_GROUPS}


def test_refusals_happen_before_any_change(lab, ansible, aws_auth):
    version = aws_auth.read().metadata.resource_version
    linux = lab.facts["linux_node_role_arn"]
    windows = f"arn:aws:iam::{lab.facts['account_id']}:role/win-{uuid.uuid4().hex[:8]}"
    config_map = cluster_facts(lab, "CONFIG_MAP")
    result = ansible.playbook(play(
        case("shared role", {"node_auth_cluster": config_map, "node_auth_windows_role_arn": linux}),
        case("access entries on CONFIG_MAP", {"node_auth_cluster": config_map, "node_auth_windows_role_arn": windows,
                                              "node_auth_mechanism": "access_entry"}),
        case("aws-auth on API", {"node_auth_cluster": cluster_facts(lab, "API"), "node_auth_windows_role_arn": windows,
                                 "node_auth_mechanism": "aws_auth"}),
        case("no facts", {"node_auth_windows_role_arn": windows}),
    ))
    assert f"also a Linux node role (node group {lab.facts['linux_nodegroup_name']})" in failure(result, "shared role")["msg"]
    assert "is in authentication mode CONFIG_MAP, where access_entry does not authorize nodes" in failure(result, "access entries on CONFIG_MAP")["msg"]
    assert "is in authentication mode API, where aws_auth does not authorize nodes" in failure(result, "aws-auth on API")["msg"]
    assert "run the eksnodes.windows.prerequisites role first" in failure(result, "no facts")["msg"]
    assert aws_auth.read().metadata.resource_version == version


def test_the_check_refuses_what_the_authorization_would(lab, ansible, aws_auth):
    """The check the playbooks run before their first change: the inputs, the mechanism the mode allows, and the
    mechanism's own refusals, each naming the role's variable."""
    version = aws_auth.read().metadata.resource_version
    linux = lab.facts["linux_node_role_arn"]
    windows = f"arn:aws:iam::{lab.facts['account_id']}:role/win-{uuid.uuid4().hex[:8]}"
    config_map = cluster_facts(lab, "CONFIG_MAP")
    result = ansible.playbook(play(
        case("shared role", {"node_auth_cluster": config_map, "node_auth_windows_role_arn": linux}, tasks_from="check"),
        case("access entries on CONFIG_MAP", {"node_auth_cluster": config_map, "node_auth_windows_role_arn": windows,
                                              "node_auth_mechanism": "access_entry"}, tasks_from="check"),
        case("instance profile", {"node_auth_cluster": config_map, "node_auth_windows_role_arn": windows,
                                  "node_auth_linux_role_arns": [linux.replace(":role/", ":instance-profile/")]}, tasks_from="check"),
        case("windows role that is no ARN", {"node_auth_cluster": config_map, "node_auth_windows_role_arn": "win-nodes"},
             tasks_from="check"),
        case("backup path in a missing directory", {"node_auth_cluster": config_map, "node_auth_windows_role_arn": windows,
                                                    "node_auth_backup": True, "node_auth_backup_path": "/nonexistent/aws-auth.yaml"},
             tasks_from="check"),
    ))
    shared = failure(result, "shared role")["msg"]
    assert shared.startswith(f"node_auth_windows_role_arn: {linux} (in the launch playbook, the NodeInstanceRole of the nodegroup_name "
                             "node group's stack) cannot be mapped for Windows nodes.") and "Nothing was changed" in shared
    assert "is in authentication mode CONFIG_MAP, where access_entry does not authorize nodes" in failure(result, "access entries on CONFIG_MAP")["msg"]
    assert "Set node_auth_mechanism to auto" in failure(result, "access entries on CONFIG_MAP")["msg"]
    assert failure(result, "instance profile")["msg"].startswith(
        f"node_auth_linux_role_arns: '{linux.replace(':role/', ':instance-profile/')}' is not an IAM role ARN")
    assert "aws iam get-instance-profile" in failure(result, "instance profile")["msg"]
    assert failure(result, "windows role that is no ARN")["msg"].startswith("node_auth_windows_role_arn: 'win-nodes' is not an IAM role ARN")
    assert "/nonexistent" in failure(result, "backup path in a missing directory")["msg"]
    assert aws_auth.read().metadata.resource_version == version


def test_api_and_config_map_uses_access_entries_unless_told(mixed_lab):
    ansible = AnsibleRunner(mixed_lab.env)
    eks = mixed_lab.aws_client("eks")
    handle = AwsAuth(mixed_lab)
    windows, extra_linux = make_role(mixed_lab, "win", path="/eks/"), make_role(mixed_lab, "linux")
    version = handle.read().metadata.resource_version
    facts = {"node_auth_cluster": cluster_facts(mixed_lab, "API_AND_CONFIG_MAP"), "node_auth_windows_role_arn": windows}
    result = ansible.playbook(play(case("entries", dict(facts, node_auth_linux_role_arns=[extra_linux])),
                                   case("entries again", dict(facts, node_auth_linux_role_arns=[extra_linux]))))
    assert result.returncode == 0, result.stdout[-3000:]
    entries = outcome(result, "entries")
    assert entries["mechanism"] == "access_entry" and entries["changed"] is True
    assert sorted(entries["linux_role_arns"]) == sorted([mixed_lab.facts["linux_node_role_arn"], extra_linux])
    assert outcome(result, "entries again")["changed"] is False
    discovery = result.result(f"{ROLE} : Find the Linux node roles, changing nothing")
    assert discovery["changed"] is False and not any("path" in w for w in discovery.get("warnings", []))
    types = {arn: eks.describe_access_entry(clusterName=mixed_lab.cluster_name, principalArn=arn)["accessEntry"]["type"]
             for arn in (windows, extra_linux, mixed_lab.facts["linux_node_role_arn"])}
    assert types == {windows: "EC2_WINDOWS", extra_linux: "EC2_LINUX", mixed_lab.facts["linux_node_role_arn"]: "EC2_LINUX"}
    assert handle.read().metadata.resource_version == version  # aws-auth was only read

    other = make_role(mixed_lab, "win")
    chosen = ansible.playbook(play(case("aws-auth", {"node_auth_cluster": facts["node_auth_cluster"], "node_auth_windows_role_arn": other,
                                                     "node_auth_mechanism": "aws_auth"})))
    assert outcome(chosen, "aws-auth")["mechanism"] == "aws_auth"
    assert {e["rolearn"]: e["groups"] for e in handle.roles()}[other] == WINDOWS_GROUPS


def test_each_include_reports_what_its_own_mechanism_did(mixed_lab):
    """The role runs only the chosen mechanism's tasks: an earlier include's registers of the other mechanism (a changed
    access entry) must not make a later, unchanged aws-auth run report a change."""
    ansible = AnsibleRunner(mixed_lab.env)
    cluster = cluster_facts(mixed_lab, "API_AND_CONFIG_MAP")
    mapped, entered = make_role(mixed_lab, "win"), make_role(mixed_lab, "win")
    by_aws_auth = {"node_auth_cluster": cluster, "node_auth_windows_role_arn": mapped, "node_auth_mechanism": "aws_auth"}
    result = ansible.playbook(play(case("aws-auth", by_aws_auth),
                                   case("entry", {"node_auth_cluster": cluster, "node_auth_windows_role_arn": entered}),
                                   case("aws-auth again", by_aws_auth)))
    assert result.returncode == 0, result.stdout[-3000:]
    assert (outcome(result, "aws-auth")["mechanism"], outcome(result, "aws-auth")["changed"]) == ("aws_auth", True)
    assert (outcome(result, "entry")["mechanism"], outcome(result, "entry")["changed"]) == ("access_entry", True)
    assert (outcome(result, "aws-auth again")["mechanism"], outcome(result, "aws-auth again")["changed"]) == ("aws_auth", False)
    skipped = [task["name"] for task in result.tasks if task["result"].get("skipped") and task["name"].startswith(f"{ROLE} : ")]
    assert not [name for name in skipped if "access entry" in name or "aws-auth" in name], skipped


def test_with_access_entries_the_check_refuses_before_any_change_and_finds_the_entries_in_place(mixed_lab):
    """The check runs the access-entry tasks in check mode: an entry of another type for a role is refused there, naming
    the variable that holds the role; once the entries exist, the authorization after the check has nothing to run."""
    ansible = AnsibleRunner(mixed_lab.env)
    eks = mixed_lab.aws_client("eks")
    cluster = cluster_facts(mixed_lab, "API_AND_CONFIG_MAP")
    standard, linux, windows = make_role(mixed_lab, "ops"), make_role(mixed_lab, "linux"), make_role(mixed_lab, "win")
    eks.create_access_entry(clusterName=mixed_lab.cluster_name, principalArn=standard, type="STANDARD")
    entries = eks.list_access_entries(clusterName=mixed_lab.cluster_name)["accessEntries"]
    refused = ansible.playbook(play(
        case("windows role", {"node_auth_cluster": cluster, "node_auth_windows_role_arn": standard}, tasks_from="check"),
        case("linux role", {"node_auth_cluster": cluster, "node_auth_windows_role_arn": windows, "node_auth_linux_role_arns": [standard]},
             tasks_from="check"),
    ))
    message = failure(refused, "windows role")["msg"]
    assert message.startswith(f"node_auth_windows_role_arn: {standard} (in the launch playbook, the NodeInstanceRole of the nodegroup_name "
                              f"node group's stack): The access entry for {standard} has type STANDARD, not EC2_WINDOWS.")
    assert message.endswith("Nothing was changed.") and f"aws eks delete-access-entry --cluster-name lab --principal-arn {standard}" in message
    assert failure(refused, "linux role")["msg"].startswith(
        f"node_auth_linux_role_arns: The access entry for {standard} has type STANDARD, not EC2_LINUX.")
    assert eks.list_access_entries(clusterName=mixed_lab.cluster_name)["accessEntries"] == entries

    role_vars = {"node_auth_cluster": cluster, "node_auth_windows_role_arn": windows, "node_auth_linux_role_arns": [linux]}
    result = ansible.playbook(play(case("plan", role_vars, tasks_from="check"), case("first", role_vars),
                                   case("plan again", role_vars, tasks_from="check"), case("again", role_vars)))
    assert result.returncode == 0, result.stdout[-3000:]
    assert outcome(result, "plan")["in_place"] is False and outcome(result, "plan again")["in_place"] is True
    assert outcome(result, "first")["changed"] is True and outcome(result, "again")["changed"] is False
    assert sorted(outcome(result, "again")["linux_role_arns"]) == sorted([mixed_lab.facts["linux_node_role_arn"], linux])
    first_include, second_include = [task["result"] for task in result.tasks if task["name"] == f"{ROLE} : Authorize the Windows node role"]
    assert not first_include.get("skipped") and second_include.get("skipped")
    planned = [task["result"] for task in result.tasks
               if task["name"] == f"{ROLE} : Create the EC2_WINDOWS access entry of the Windows node role (plan, in check mode, before any change)"]
    assert [item["changed"] for item in planned] == [False, False] and planned[0]["actions"] == ["create"]
    assert {arn: eks.describe_access_entry(clusterName=mixed_lab.cluster_name, principalArn=arn)["accessEntry"]["type"]
            for arn in (windows, linux)} == {windows: "EC2_WINDOWS", linux: "EC2_LINUX"}


def test_api_cluster_without_aws_auth(lab_factory):
    api_lab = lab_factory(auth_mode="API")
    ansible = AnsibleRunner(api_lab.env)
    windows = make_role(api_lab, "win")
    assert AwsAuth(api_lab).read() is None
    result = ansible.playbook(play(case("api", {"node_auth_cluster": cluster_facts(api_lab, "API"), "node_auth_windows_role_arn": windows})))
    assert result.returncode == 0, result.stdout[-3000:]
    assert outcome(result, "api")["mechanism"] == "access_entry" and outcome(result, "api")["changed"] is True
    entry = api_lab.aws_client("eks").describe_access_entry(clusterName=api_lab.cluster_name, principalArn=windows)["accessEntry"]
    assert entry["type"] == "EC2_WINDOWS"
    assert AwsAuth(api_lab).read() is None


def _state(handle):
    current = handle.read()
    return current.metadata.resource_version, dict(current.data or {})


def test_a_windows_role_that_is_a_linux_node_role_fails_before_any_change(lab, ansible, aws_auth):
    account = lab.facts["account_id"]
    self_managed_linux = f"arn:aws:iam::{account}:role/linux-self-managed-{uuid.uuid4().hex[:8]}"
    given_linux = f"arn:aws:iam::{account}:role/win-{uuid.uuid4().hex[:8]}"
    linux_entry = f"- rolearn: {self_managed_linux}\n  username: system:node:{{{{EC2PrivateDNSName}}}}\n  groups:\n  - system:bootstrappers\n  - system:nodes\n"
    aws_auth.put({"mapRoles": aws_auth.data()["mapRoles"] + linux_entry})
    before = _state(aws_auth)
    config_map = cluster_facts(lab, "CONFIG_MAP")
    result = ansible.playbook(play(
        # mapped in aws-auth as a Linux node (a self-managed Linux node group), the role given with a path
        case("mapped as linux", {"node_auth_cluster": config_map,
                                 "node_auth_windows_role_arn": self_managed_linux.replace(":role/", ":role/eks/")}),
        case("given as linux", {"node_auth_cluster": config_map, "node_auth_windows_role_arn": given_linux,
                                "node_auth_linux_role_arns": [given_linux]}),
        case("no role yet", {"node_auth_cluster": config_map, "node_auth_windows_role_arn": None}),
    ))
    mapped = failure(result, "mapped as linux")["msg"]
    assert mapped.startswith(f"node_auth_windows_role_arn: {self_managed_linux.replace(':role/', ':role/eks/')} (in the launch playbook, "
                             "the NodeInstanceRole of the nodegroup_name node group's stack) cannot be mapped for Windows nodes. ")
    assert f"{self_managed_linux} is also a Linux node role (aws-auth linux node mapping" in mapped
    assert "Nothing was changed" in mapped and "new nodegroup_name" in mapped and "os: windows" in mapped
    given = failure(result, "given as linux")["msg"]
    assert given.startswith(f"node_auth_windows_role_arn: {given_linux} ") and "given as both a windows and a linux node role" in given
    assert "node_auth_windows_role_arn" in failure(result, "no role yet")["msg"]
    assert _state(aws_auth) == before


def test_extra_groups_of_the_windows_role_need_node_auth_allow_extra_groups(lab, ansible, aws_auth):
    windows = f"arn:aws:iam::{lab.facts['account_id']}:role/win-{uuid.uuid4().hex[:8]}"
    admin_entry = f"- rolearn: {windows}\n  username: admin\n  groups:\n  - system:masters\n"
    aws_auth.put({"mapRoles": aws_auth.data()["mapRoles"] + admin_entry})
    before = _state(aws_auth)
    role_vars = {"node_auth_cluster": cluster_facts(lab, "CONFIG_MAP"), "node_auth_windows_role_arn": windows}
    refused = ansible.playbook(play(case("refused", role_vars)))
    message = failure(refused, "refused")["msg"]
    assert message.startswith(f"node_roles[0].arn: {windows} is mapped in kube-system/aws-auth with the groups system:masters")
    assert "node_auth_allow_extra_groups" in message
    assert _state(aws_auth) == before

    # As the launch playbook runs it: the check first (which must allow what the authorization allows), then the role;
    # then both again, when the check finds the mapping in place and the authorization writes nothing.
    allowed_vars = dict(role_vars, node_auth_allow_extra_groups=True)
    check = [{"name": "check", "ansible.builtin.include_role": {"name": ROLE, "tasks_from": "check"}, "vars": allowed_vars}]
    allowed = ansible.playbook(play(check, case("allowed", allowed_vars), check, case("again", allowed_vars)))
    assert outcome(allowed, "allowed")["changed"] is True, allowed.stdout[-3000:]
    map_task = f"{ROLE} : Map the Windows node role in aws-auth, keeping the Linux node roles mapped"
    (first_write,) = [task["result"] for task in allowed.tasks if task["name"] == map_task]
    assert any("kept because allow_extra_groups is true" in w for w in first_write["warnings"])
    assert {e["rolearn"]: e["groups"] for e in aws_auth.roles()}[windows] == ["system:masters"] + WINDOWS_GROUPS
    # The second time, the mapping is in place: the authorization is not even included, and the first write's
    # registered result (still set in this play) does not make the outcome changed.
    first_include, second_include = [task["result"] for task in allowed.tasks if task["name"] == f"{ROLE} : Authorize the Windows node role"]
    assert not first_include.get("skipped") and second_include.get("skipped")
    assert outcome(allowed, "again")["changed"] is False
    assert outcome(allowed, "again")["windows_role_arn"] == windows


def test_check_mode_before_the_node_group_exists_reports_the_pending_authorization(lab, ansible, aws_auth):
    before = _state(aws_auth)
    facts = {"prerequisites_cluster": cluster_facts(lab, "CONFIG_MAP"), "nodegroup_facts": {"node_instance_role_arn": None}}
    result = ansible.playbook(play(case("check", {}), play_vars=facts), check=True)
    assert result.returncode == 0, result.stdout[-3000:]
    pending = outcome(result, "check")
    assert pending["changed"] is True and pending["windows_role_arn"] == "" and pending["mechanism"] == "aws_auth"
    assert pending["pending"].startswith("Check mode: the Windows node role does not exist yet (unset)")
    assert _state(aws_auth) == before
    # outside check mode the same input is an error that names the variable
    failed = ansible.playbook(play(case("real", {}), play_vars=facts))
    assert "node_auth_windows_role_arn" in failure(failed, "real")["msg"]


def test_with_access_entries_a_windows_role_mapped_as_a_linux_node_fails_before_any_change(mixed_lab):
    ansible = AnsibleRunner(mixed_lab.env)
    eks = mixed_lab.aws_client("eks")
    handle = AwsAuth(mixed_lab)
    shared = make_role(mixed_lab, "linux-self-managed")
    entry = f"- rolearn: {shared}\n  username: system:node:{{{{EC2PrivateDNSName}}}}\n  groups:\n  - system:bootstrappers\n  - system:nodes\n"
    saved = handle.read()
    handle.put(dict(saved.data, mapRoles=saved.data["mapRoles"] + entry))
    try:
        before, entries = _state(handle), eks.list_access_entries(clusterName=mixed_lab.cluster_name)["accessEntries"]
        result = ansible.playbook(play(case("entries", {"node_auth_cluster": cluster_facts(mixed_lab, "API_AND_CONFIG_MAP"),
                                                        "node_auth_windows_role_arn": shared})))
        message = failure(result, "entries")["msg"]
        assert message.startswith(f"node_auth_windows_role_arn: {shared} (in the launch playbook, the NodeInstanceRole of the "
                                  "nodegroup_name node group's stack) is also a Linux node role (aws-auth linux node mapping).")
        assert "an access entry is either EC2_WINDOWS or EC2_LINUX" in message and "Nothing was changed" in message
        assert _state(handle) == before
        assert eks.list_access_entries(clusterName=mixed_lab.cluster_name)["accessEntries"] == entries
    finally:
        handle.put(saved.data, saved.metadata.labels, saved.metadata.annotations)
