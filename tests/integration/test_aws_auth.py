"""eksnodes.windows.aws_auth against the lab's API server: merging, validation, concurrency, check mode, diff, backup.

Every test puts kube-system/aws-auth back as it found it (fixture `aws_auth`), since the lab is shared.
"""

import multiprocessing
import uuid

import pytest
import yaml
from kubernetes import config
from kubernetes.client import CoreV1Api
from kubernetes.client.rest import ApiException

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.configmap import converge, plan_change
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.requests import build_request
from ansible_collections.eksnodes.windows.plugins.modules.aws_auth import ConfigMapStore

MODULE = "eksnodes.windows.aws_auth"
NAME, NAMESPACE = "aws-auth", "kube-system"
PATH = f"/api/v1/namespaces/{NAMESPACE}/configmaps/{NAME}"
NODE_USER = "system:node:{{EC2PrivateDNSName}}"
WINDOWS_GROUPS = ["system:bootstrappers", "system:nodes", "eks:kube-proxy-windows"]
LINUX_GROUPS = ["system:bootstrappers", "system:nodes"]
KUBECONFIG_ENV = ("K8S_AUTH_KUBECONFIG", "KUBECONFIG")


def run(ansible, *steps, **kwargs):
    """Several module tasks in one playbook run (one ansible-playbook start): {name: result}.

    Each step is (name, args) or (name, args, task_keywords); failures are returned, not raised.
    """
    tasks = []
    for step in steps:
        name, args = step[0], step[1]
        tasks.append(dict({"name": name, MODULE: args, "ignore_errors": True}, **(step[2] if len(step) > 2 else {})))
    result = ansible.playbook([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}], **kwargs)
    return {step[0]: result.result(step[0]) for step in steps}


def role(lab, name):
    return f"arn:aws:iam::{lab.facts['account_id']}:role/{name}"


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class AwsAuth:
    """Direct access to the ConfigMap, to seed it and to check what the module did."""

    def __init__(self, lab):
        self.core = CoreV1Api(lab.kube_api_client())

    def read(self):
        try:
            return self.core.read_namespaced_config_map(NAME, NAMESPACE)
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def data(self):
        current = self.read()
        return None if current is None else dict(current.data or {})

    def roles(self):
        return yaml.safe_load((self.data() or {}).get("mapRoles") or "[]") or []

    def put(self, data, labels=None, annotations=None):
        """Make the ConfigMap exactly this (created when missing)."""
        current = self.read()
        body = {"apiVersion": "v1", "kind": "ConfigMap", "data": dict(data),
                "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": labels, "annotations": annotations}}
        if current is None:
            return self.core.create_namespaced_config_map(NAMESPACE, body)
        body["metadata"]["resourceVersion"] = current.metadata.resource_version
        return self.core.replace_namespaced_config_map(NAME, NAMESPACE, body)

    def delete(self):
        if self.read() is not None:
            self.core.delete_namespaced_config_map(NAME, NAMESPACE)


@pytest.fixture
def aws_auth(lab):
    handle = AwsAuth(lab)
    saved = handle.read()
    yield handle
    lab.control.clear_kube_faults()
    if saved is None:
        handle.delete()
    else:
        handle.put(saved.data or {}, saved.metadata.labels, saved.metadata.annotations)


def test_creates_the_configmap_from_nothing_with_only_aws_credentials(lab, ansible, aws_auth):
    aws_auth.delete()
    windows, linux = role(lab, unique("win")), lab.facts["linux_node_role_arn"]
    args = {"cluster_name": lab.cluster_name, "node_roles": [{"arn": windows, "os": "windows"}, {"arn": linux, "os": "linux"}]}
    results = run(ansible, ("create", args), ("again", args), drop_env=KUBECONFIG_ENV)
    assert not results["create"].get("failed"), results["create"]
    assert results["create"]["changed"] and results["create"]["attempts"] == 1
    assert results["again"]["changed"] is False
    # what a person sees with kubectl: block style, rolearn/username/groups, nothing else
    assert aws_auth.data() == {"mapRoles": (
        f"- rolearn: {windows}\n  username: {NODE_USER}\n  groups:\n"
        "    - system:bootstrappers\n    - system:nodes\n    - eks:kube-proxy-windows\n"
        f"- rolearn: {linux}\n  username: {NODE_USER}\n  groups:\n    - system:bootstrappers\n    - system:nodes\n")}


def test_merge_preserves_every_other_entry_key_label_and_annotation(lab, ansible, aws_auth, tmp_path):
    managed = role(lab, "eks-managed-nodegroup-role")
    ops = role(lab, "ops")
    map_roles = (f"- rolearn: {managed}\n  username: {NODE_USER}\n  groups:\n  - system:bootstrappers\n  - system:nodes\n"
                 f"- {{rolearn: '{ops}', username: 'ops:{{{{SessionName}}}}', groups: [ops], x-team: platform}}\n")
    seeded = {"mapRoles": map_roles,
              "mapUsers": "- userarn: arn:aws:iam::123456789012:user/alice\n  username: alice\n  groups: [system:masters]\n",
              "mapAccounts": "- \"444455556666\"\n",
              "unrelated": "anything: [1, 2]\n"}
    labels, annotations = {"app.kubernetes.io/managed-by": "someone"}, {"note": "hands off"}
    before = aws_auth.put(seeded, labels, annotations)
    windows = role(lab, unique("win"))

    result = ansible.task(MODULE, {"node_roles": [{"arn": windows, "os": "windows"}], "backup": True,
                                   "backup_path": str(tmp_path)}, diff=True)
    assert not result.get("failed"), result
    after = aws_auth.read()
    assert {k: v for k, v in after.data.items() if k != "mapRoles"} == {k: v for k, v in seeded.items() if k != "mapRoles"}
    assert after.metadata.labels == labels and after.metadata.annotations == annotations
    entries = yaml.safe_load(after.data["mapRoles"])
    assert entries[:2] == yaml.safe_load(map_roles)  # the existing entries, extra keys included, unchanged
    assert entries[2] == {"rolearn": windows, "username": NODE_USER, "groups": WINDOWS_GROUPS}

    assert result["added"]["map_roles"] == [entries[2]] and result["removed"]["map_roles"] == []
    assert result["diff"]["prepared"] == f"+ mapRoles: {windows}; username {NODE_USER}; groups {', '.join(WINDOWS_GROUPS)}\n"
    assert f"- rolearn: {windows}" in result["diff"]["after"] and windows not in result["diff"]["before"]
    assert result["backup"]["data"] == seeded and result["backup"]["metadata"]["labels"] == labels
    backup_file = result["backup_file"]
    assert backup_file.startswith(str(tmp_path)) and f".{before.metadata.resource_version}." in backup_file
    assert yaml.safe_load(open(backup_file, encoding="utf-8")) == result["backup"]


def test_check_mode_predicts_and_changes_nothing(lab, ansible, aws_auth):
    version = aws_auth.read().metadata.resource_version
    windows = role(lab, unique("win"))
    result = ansible.task(MODULE, {"node_roles": [{"arn": windows, "os": "windows"}]}, check=True, diff=True)
    assert not result.get("failed"), result
    assert result["changed"] and any(e["rolearn"] == windows for e in result["map_roles"])
    assert aws_auth.read().metadata.resource_version == version


def test_absent_removes_only_the_named_entries(lab, ansible, aws_auth):
    windows, other = role(lab, unique("win")), role(lab, unique("other"))
    node_roles = [{"arn": windows, "os": "windows"}, {"arn": other, "os": "linux"}]
    results = run(ansible, ("add", {"node_roles": node_roles}), ("remove", {"state": "absent", "node_roles": node_roles[:1]}),
                  ("again", {"state": "absent", "node_roles": node_roles[:1]}), diff=True)
    assert results["add"]["changed"] and results["remove"]["changed"] and results["again"]["changed"] is False
    assert results["remove"]["diff"]["prepared"].startswith(f"- mapRoles: {windows};")
    arns = [e["rolearn"] for e in aws_auth.roles()]
    assert windows not in arns and other in arns and lab.facts["linux_node_role_arn"] in arns


def test_path_is_removed_with_a_warning_and_instance_profiles_are_refused(lab, ansible, aws_auth):
    name = unique("win")
    profile = lab.facts["linux_node_instance_profile_arn"]
    results = run(ansible,
                  ("profile", {"node_roles": [{"arn": profile, "os": "linux"}]}),
                  ("malformed", {"map_roles": [{"rolearn": "arn:aws:iam::123:role/x", "username": "x"}]}),
                  ("path", {"node_roles": [{"arn": role(lab, f"eks/nodes/{name}"), "os": "windows"}]}))
    assert results["profile"]["failed"]
    assert results["profile"]["msg"].startswith(f"node_roles[0].arn: {profile} is an instance profile ARN; a role ARN belongs here.")
    assert "aws iam get-instance-profile" in results["profile"]["msg"]
    assert results["malformed"]["failed"]
    assert results["malformed"]["msg"].startswith("map_roles[0].rolearn: 'arn:aws:iam::123:role/x' is not an IAM role ARN")
    assert results["path"]["changed"] and results["path"]["attempts"] == 1  # the refused tasks wrote nothing
    assert any("has the path /eks/nodes/" in w for w in results["path"]["warnings"])
    assert role(lab, name) in [e["rolearn"] for e in aws_auth.roles()]


def test_the_same_role_for_windows_and_linux_is_refused(lab, ansible, aws_auth):
    version = aws_auth.read().metadata.resource_version
    shared = role(lab, unique("shared"))
    linux = lab.facts["linux_node_role_arn"]
    results = run(ansible,
                  ("given twice", {"node_roles": [{"arn": shared, "os": "windows"}, {"arn": shared, "os": "linux"}]}),
                  # the lab's Linux managed node group role, found through the EKS API
                  ("node group role", {"cluster_name": lab.cluster_name, "discover_linux_node_roles": True,
                                       "node_roles": [{"arn": linux, "os": "windows"}]}))
    assert results["given twice"]["failed"] and "given as both a windows and a linux node role" in results["given twice"]["msg"]
    assert "separate IAM roles" in results["given twice"]["msg"]
    assert results["node group role"]["failed"]
    assert f"also a Linux node role (node group {lab.facts['linux_nodegroup_name']})" in results["node group role"]["msg"]
    assert aws_auth.read().metadata.resource_version == version


def test_discovery_keeps_the_node_group_role_mapped(lab, ansible, aws_auth):
    linux = lab.facts["linux_node_role_arn"]
    aws_auth.put({"mapRoles": "[]\n"})  # as if a tool had dropped it
    windows = role(lab, unique("win"))
    result = ansible.task(MODULE, {"cluster_name": lab.cluster_name, "discover_linux_node_roles": True,
                                   "node_roles": [{"arn": windows, "os": "windows"}]})
    assert not result.get("failed"), result
    assert {"arn": linux, "source": f"node group {lab.facts['linux_nodegroup_name']}"} in result["linux_node_roles"]
    assert {e["rolearn"]: e["groups"] for e in aws_auth.roles()} == {windows: WINDOWS_GROUPS, linux: LINUX_GROUPS}


def test_malformed_existing_yaml_is_refused_and_nothing_changes(lab, ansible, aws_auth):
    broken = {"mapRoles": aws_auth.data()["mapRoles"], "mapUsers": "- userarn: arn:aws:iam::123456789012:user/a\n  groups: [unclosed\n"}
    version = aws_auth.put(broken).metadata.resource_version
    result = ansible.task(MODULE, {"node_roles": [{"arn": role(lab, unique("win")), "os": "windows"}]})
    assert result["failed"]
    assert result["msg"].startswith("data.mapUsers of ConfigMap kube-system/aws-auth is not valid YAML")
    assert "Nothing was changed" in result["msg"]
    current = aws_auth.read()
    assert current.metadata.resource_version == version and current.data == broken


def test_existing_duplicates_are_reported_and_not_multiplied(lab, ansible, aws_auth):
    ops = role(lab, "ops")
    entry = f"- rolearn: {ops}\n  username: ops\n  groups: [ops]\n"
    aws_auth.put({"mapRoles": aws_auth.data()["mapRoles"] + entry + entry})
    windows = role(lab, unique("win"))
    results = run(ansible, ("other role", {"node_roles": [{"arn": windows, "os": "windows"}]}),
                  ("named", {"map_roles": [{"rolearn": ops, "username": "ops", "groups": ["ops"]}]}))
    assert results["other role"]["duplicates"] == [{"key": "mapRoles", "identity": ops, "count": 2}]
    assert any(f"maps {ops} 2 times" in w for w in results["other role"]["warnings"])
    assert [e["rolearn"] for e in results["other role"]["map_roles"]].count(ops) == 2  # not named: reported, left as it was
    assert results["named"]["changed"] and len(results["named"]["removed"]["map_roles"]) == 1
    assert [e["rolearn"] for e in aws_auth.roles()].count(ops) == 1


def test_conflicts_are_retried_with_a_fresh_read_and_bounded(lab, ansible, aws_auth):
    windows = role(lab, unique("win"))
    lab.control.kube_fault("PUT", f"{PATH}$", 409, count=3)
    result = ansible.task(MODULE, {"node_roles": [{"arn": windows, "os": "windows"}]})
    assert not result.get("failed"), result
    assert result["attempts"] == 4 and windows in [e["rolearn"] for e in aws_auth.roles()]

    version = aws_auth.read().metadata.resource_version
    lab.control.kube_fault("PUT", f"{PATH}$", 409, count=5)
    result = ansible.task(MODULE, {"node_roles": [{"arn": role(lab, unique("win")), "os": "windows"}], "conflict_retries": 2})
    assert result["failed"] and "3 attempts met a conflict" in result["msg"] and "conflict_retries" in result["msg"]
    assert aws_auth.read().metadata.resource_version == version


def _writer(kubeconfig, arn, barrier, results):
    """One writer process: the module's own read-merge-write loop, started at the same instant as the others."""
    store = ConfigMapStore(config.new_client_from_config(config_file=kubeconfig))
    request = build_request("present", node_roles=[{"arn": arn, "os": "linux"}])[0]
    barrier.wait()
    outcome = converge(store.read, store.write, store.create, lambda data: plan_change(data, request, "present"), retries=20)
    results.put((arn, outcome["attempts"]))


def test_ten_simultaneous_processes_all_end_up_present(lab, aws_auth):
    arns = [role(lab, unique(f"racer{i}")) for i in range(10)]
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(10), context.Queue()
    processes = [context.Process(target=_writer, args=(str(lab.kubeconfig), arn, barrier, results)) for arn in arns]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    attempts = dict(results.get(timeout=5) for _arn in arns)
    assert sorted(attempts) == sorted(arns)
    assert sum(attempts.values()) > len(arns), "the writers were expected to collide at least once"
    mapped = [e["rolearn"] for e in aws_auth.roles()]
    assert all(mapped.count(arn) == 1 for arn in arns + [lab.facts["linux_node_role_arn"]])


def _state(aws_auth):
    """What a refusal must leave byte for byte: the data and the resourceVersion."""
    current = aws_auth.read()
    return current.metadata.resource_version, dict(current.data or {})


def test_a_backup_path_in_a_missing_directory_is_refused_before_anything_is_written(lab, ansible, aws_auth, tmp_path):
    before = _state(aws_auth)
    missing = tmp_path / "no" / "such" / "dir"
    args = {"node_roles": [{"arn": role(lab, unique("win")), "os": "windows"}], "backup": True, "backup_path": str(missing / "aws-auth.yaml")}
    results = run(ansible, ("file in a missing directory", args), ("check mode", args, {"check_mode": True}),
                  ("missing directory", dict(args, backup_path=f"{missing}/")))
    for name, result in results.items():
        assert result["failed"] and result["changed"] is False, name
        assert result["msg"].startswith("backup_path: ") and f"mkdir -p {missing}" in result["msg"], result["msg"]
        assert "Nothing was read or written" in result["msg"]
    assert _state(aws_auth) == before
    assert not (tmp_path / "no").exists()


def test_the_backup_is_written_before_the_configmap_so_a_failed_write_keeps_it(lab, ansible, aws_auth, tmp_path):
    before = _state(aws_auth)
    windows = role(lab, unique("win"))
    lab.control.kube_fault("PUT", f"{PATH}$", 403, count=1)  # the write is forbidden (RBAC): the backup is already there
    result = ansible.task(MODULE, {"node_roles": [{"arn": windows, "os": "windows"}], "backup": True, "backup_path": str(tmp_path)})
    assert result["failed"] and "Forbidden" in result["msg"]
    assert _state(aws_auth) == before
    backup = yaml.safe_load(open(result["backup_file"], encoding="utf-8"))
    assert backup["data"] == before[1] and f".{before[0]}." in result["backup_file"]

    done = ansible.task(MODULE, {"node_roles": [{"arn": windows, "os": "windows"}], "backup": True, "backup_path": str(tmp_path / "b.yaml")})
    assert done["changed"] and done["backup_file"] == str(tmp_path / "b.yaml")
    assert yaml.safe_load(open(done["backup_file"], encoding="utf-8"))["data"] == before[1]
    assert windows in [e["rolearn"] for e in aws_auth.roles()]


def test_extra_groups_on_a_node_role_are_refused_unless_allowed(lab, ansible, aws_auth):
    windows = role(lab, unique("win"))
    admin_entry = f"- rolearn: {windows}\n  username: {NODE_USER}\n  groups:\n  - system:masters\n  - system:nodes\n"
    aws_auth.put({"mapRoles": aws_auth.data()["mapRoles"] + admin_entry})
    before = _state(aws_auth)
    args = {"node_roles": [{"arn": windows, "os": "windows"}]}
    results = run(ansible, ("refused", args), ("refused in check mode", args, {"check_mode": True}))
    for name, result in results.items():
        assert result["failed"], name
        assert result["msg"].startswith(f"node_roles[0].arn: {windows} is mapped in kube-system/aws-auth with the groups system:masters "
                                        "besides the node groups; every node using the role gets them (system:masters makes every such "
                                        "node a cluster administrator).")
        assert "Nothing was changed" in result["msg"] and "allow_extra_groups: true" in result["msg"]
    assert _state(aws_auth) == before

    allowed = ansible.task(MODULE, dict(args, allow_extra_groups=True))
    assert allowed["changed"] and any("kept because allow_extra_groups is true" in w and "system:masters" in w for w in allowed["warnings"])
    groups = {e["rolearn"]: e["groups"] for e in aws_auth.roles()}[windows]
    assert groups == ["system:masters", "system:nodes", "system:bootstrappers", "eks:kube-proxy-windows"]
    again = ansible.task(MODULE, args)  # unchanged, but still an administrator on every node: still refused
    assert again["failed"] and "system:masters" in again["msg"]


def test_a_change_that_would_make_the_configmap_too_large_is_refused_before_writing(lab, ansible, aws_auth):
    data = aws_auth.data()
    used = sum(len(value.encode()) for value in data.values())
    padding = "x" * (1024 * 1024 - used - 50)  # fits now; one more entry does not
    aws_auth.put(dict(data, notes=padding))
    before = _state(aws_auth)
    result = ansible.task(MODULE, {"node_roles": [{"arn": role(lab, unique("win")), "os": "windows"}]})
    assert result["failed"] and result["changed"] is False
    assert "kube-system/aws-auth would hold " in result["msg"] and f"({1024 * 1024 - 50} now)" in result["msg"]
    assert "above the 1048576-byte (1 MiB) limit kube-apiserver accepts" in result["msg"] and "access_entry" in result["msg"]
    assert _state(aws_auth) == before
    # removing an entry still works: it makes the ConfigMap smaller
    linux = lab.facts["linux_node_role_arn"]
    shrink = ansible.task(MODULE, {"state": "absent", "node_roles": [{"arn": linux, "os": "linux"}]})
    assert shrink["changed"], shrink


def test_a_windows_role_mapped_as_a_linux_node_is_refused_with_discovery_and_repaired_without(lab, ansible, aws_auth):
    windows = role(lab, unique("win"))
    linux_mapping = f"- rolearn: {windows}\n  username: {NODE_USER}\n  groups:\n  - system:bootstrappers\n  - system:nodes\n"
    aws_auth.put({"mapRoles": aws_auth.data()["mapRoles"] + linux_mapping})
    before = _state(aws_auth)
    args = {"cluster_name": lab.cluster_name, "discover_linux_node_roles": True, "node_roles": [{"arn": windows, "os": "windows"}]}
    results = run(ansible, ("discovering", args), ("discovering, check mode", args, {"check_mode": True}))
    for name, result in results.items():
        assert result["failed"], name
        assert result["msg"].startswith(f"node_roles[0].arn: {windows} is also a Linux node role (aws-auth linux node mapping, "
                                        "without eks:kube-proxy-windows).")
        assert "Give the Windows nodes a role of their own. Nothing was changed." in result["msg"]
        assert "run once without discover_linux_node_roles" in result["msg"]
    assert _state(aws_auth) == before

    repaired = ansible.task(MODULE, {"node_roles": [{"arn": windows, "os": "windows"}]})
    assert repaired["changed"] and any("it is now mapped for Windows nodes" in w for w in repaired["warnings"])
    assert {e["rolearn"]: e["groups"] for e in aws_auth.roles()}[windows] == WINDOWS_GROUPS
