import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth import configmap
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.configmap import (
    ConflictRetriesExhausted,
    WriteConflict,
    converge,
    plan_change,
)
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.mappings import MalformedMappingsError, extra_node_groups
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.requests import build_request

LINUX = "arn:aws:iam::111122223333:role/linux-nodes"
WINDOWS = "arn:aws:iam::111122223333:role/windows-nodes"
SEEDED_ROLES = f"- groups:\n  - system:bootstrappers\n  - system:nodes\n  rolearn: {LINUX}\n  username: system:node:{{{{EC2PrivateDNSName}}}}\n"
USERS_TEXT = "- {userarn: 'arn:aws:iam::111122223333:user/alice', username: alice, groups: [system:masters]}\n"
DATA = {"mapRoles": SEEDED_ROLES, "mapUsers": USERS_TEXT, "mapAccounts": "- '444455556666'\n", "other": "keep: me\n"}


def windows_request(state="present"):
    return build_request(state, node_roles=[{"arn": WINDOWS, "os": "windows"}])[0]


def test_only_the_touched_key_is_rewritten():
    plan = plan_change(DATA, windows_request(), "present")
    assert plan["changed"]
    assert plan["data"]["mapUsers"] == USERS_TEXT
    assert plan["data"]["mapAccounts"] == DATA["mapAccounts"]
    assert plan["data"]["other"] == "keep: me\n"
    assert WINDOWS in plan["data"]["mapRoles"] and LINUX in plan["data"]["mapRoles"]
    assert plan["summary"].startswith(f"+ mapRoles: {WINDOWS}; username system:node:")


def test_no_change_leaves_even_odd_formatting_alone():
    plan = plan_change(DATA, build_request("present", node_roles=[{"arn": LINUX, "os": "linux"}])[0], "present")
    assert not plan["changed"] and plan["data"] == DATA and plan["summary"] == ""


def test_creates_from_nothing():
    plan = plan_change(None, windows_request(), "present")
    assert plan["changed"] and list(plan["data"]) == ["mapRoles"]


def test_absent_from_nothing_is_no_change():
    assert not plan_change(None, windows_request("absent"), "absent")["changed"]


def test_malformed_other_key_fails_the_whole_plan():
    with pytest.raises(MalformedMappingsError, match="data.mapUsers"):
        plan_change(dict(DATA, mapUsers="- userarn: [unclosed\n"), windows_request(), "present")


def test_duplicates_are_reported():
    data = {"mapRoles": SEEDED_ROLES + SEEDED_ROLES}
    plan = plan_change(data, windows_request(), "present")
    assert plan["duplicates"] == [{"key": "mapRoles", "identity": LINUX, "count": 2}]
    assert "2 times" in configmap.duplicate_warnings(plan["duplicates"])[0]


def test_manifest_keeps_labels_and_annotations_and_drops_server_fields():
    current = {"metadata": {"name": "aws-auth", "namespace": "kube-system", "resourceVersion": "7", "uid": "u",
                            "labels": {"a": "b"}, "annotations": {"c": "d"}}, "data": {"mapRoles": "[]\n"}}
    assert configmap.manifest(current) == {"apiVersion": "v1", "kind": "ConfigMap",
                                           "metadata": {"name": "aws-auth", "namespace": "kube-system", "labels": {"a": "b"}, "annotations": {"c": "d"}},
                                           "data": {"mapRoles": "[]\n"}}
    assert configmap.manifest(None) is None


def test_diff_document_shows_literal_blocks():
    text = configmap.diff_document({"mapRoles": "- rolearn: x\n"})
    assert text == "data:\n  mapRoles: |\n    - rolearn: x\n"
    assert configmap.diff_document(None) == ""


def test_backoff_is_bounded_and_grows():
    top = [configmap.backoff_delay(n, rand=lambda low, high: high) for n in range(1, 10)]
    assert top[0] == pytest.approx(0.2) and top[1] == pytest.approx(0.4) and max(top) == 5.0


class FakeStore:
    """A ConfigMap with a resourceVersion; `interfere` runs before each write, as a concurrent writer would."""

    def __init__(self, data=None, interfere=None):
        self.obj = None if data is None else {"metadata": {"resourceVersion": "1"}, "data": dict(data)}
        self.interfere = interfere or (lambda store, attempt: None)
        self.writes = 0
        self.attempt = 0

    def read(self):
        return None if self.obj is None else {"metadata": dict(self.obj["metadata"]), "data": dict(self.obj["data"])}

    def _bump(self, data):
        version = int(self.obj["metadata"]["resourceVersion"]) + 1 if self.obj else 1
        self.obj = {"metadata": {"resourceVersion": str(version)}, "data": dict(data)}
        return self.read()

    def write(self, current, data):
        self.attempt += 1
        self.interfere(self, self.attempt)
        if current["metadata"]["resourceVersion"] != self.obj["metadata"]["resourceVersion"]:
            raise WriteConflict("the object has been modified")
        self.writes += 1
        return self._bump(data)

    def create(self, data):
        self.attempt += 1
        self.interfere(self, self.attempt)
        if self.obj is not None:
            raise WriteConflict("already exists")
        self.writes += 1
        return self._bump(data)


def run(store, request, state="present", **kwargs):
    return converge(store.read, store.write, store.create, lambda data: plan_change(data, request, state), sleep=lambda s: None, **kwargs)


def test_converge_writes_once():
    store = FakeStore(DATA)
    outcome = run(store, windows_request())
    assert outcome["attempts"] == 1 and store.writes == 1
    assert outcome["after"]["metadata"]["resourceVersion"] == "2"
    assert outcome["before"]["data"] == DATA


def test_converge_check_mode_writes_nothing():
    store = FakeStore(DATA)
    outcome = run(store, windows_request(), check_mode=True)
    assert store.writes == 0 and outcome["plan"]["changed"]


def test_conflict_rereads_and_keeps_the_other_writers_entry():
    other = "arn:aws:iam::111122223333:role/other-writer"

    def interfere(store, attempt):
        if attempt == 1:  # someone adds their role between our read and our write
            plan = plan_change(store.obj["data"], build_request("present", node_roles=[{"arn": other, "os": "linux"}])[0], "present")
            store._bump(plan["data"])

    store = FakeStore(DATA, interfere)
    outcome = run(store, windows_request())
    assert outcome["attempts"] == 2
    final = store.obj["data"]["mapRoles"]
    assert other in final and WINDOWS in final and LINUX in final


def test_create_race_becomes_a_merge():
    def interfere(store, attempt):
        if attempt == 1:
            store._bump({"mapRoles": SEEDED_ROLES})

    store = FakeStore(None, interfere)
    outcome = run(store, windows_request())
    assert outcome["attempts"] == 2 and LINUX in store.obj["data"]["mapRoles"] and WINDOWS in store.obj["data"]["mapRoles"]


def test_conflicts_are_bounded():
    def always(store, attempt):
        store._bump(store.obj["data"])

    store = FakeStore(DATA, always)
    with pytest.raises(ConflictRetriesExhausted, match="4 attempts"):
        run(store, windows_request(), retries=3)
    assert store.writes == 0


def test_a_change_made_by_someone_else_meanwhile_ends_with_no_change():
    def same(store, attempt):
        if attempt == 1:
            store._bump(plan_change(store.obj["data"], windows_request(), "present")["data"])

    store = FakeStore(DATA, same)
    outcome = run(store, windows_request())
    assert not outcome["plan"]["changed"] and outcome["attempts"] == 2


def test_diff_before_shows_changed_keys_as_they_will_be_written():
    plan = plan_change(DATA, windows_request(), "present")
    shown = plan["shown_before"]
    assert shown["mapUsers"] == USERS_TEXT  # untouched: as it is
    assert shown["mapRoles"] == f"- rolearn: {LINUX}\n  username: system:node:{{{{EC2PrivateDNSName}}}}\n  groups:\n" \
                                "    - system:bootstrappers\n    - system:nodes\n"
    assert plan["data"]["mapRoles"].startswith(shown["mapRoles"])  # so the diff is only the added entry


ADMIN_WINDOWS = f"- rolearn: {WINDOWS}\n  username: system:node:{{{{EC2PrivateDNSName}}}}\n  groups: [system:masters, system:nodes]\n"


def test_extra_groups_of_a_node_role_are_found_after_the_merge():
    plan = plan_change({"mapRoles": ADMIN_WINDOWS + SEEDED_ROLES}, windows_request(), "present")
    request = windows_request()
    assert extra_node_groups(plan["entries"]["mapRoles"], request["mapRoles"]) == [{"arn": WINDOWS, "groups": ["system:masters"]}]
    # the merge itself keeps them: refusing or keeping is the caller's decision, made before any write
    assert plan["entries"]["mapRoles"][0]["groups"] == ["system:masters", "system:nodes", "system:bootstrappers", "eks:kube-proxy-windows"]
    # groups of the other OS's node mapping are not extra, nor are entries that are not node requests
    linux_with_windows_group = f"- rolearn: {LINUX}\n  username: x\n  groups: [system:nodes, eks:kube-proxy-windows]\n"
    linux = build_request("present", node_roles=[{"arn": LINUX, "os": "linux"}])[0]
    assert extra_node_groups(plan_change({"mapRoles": linux_with_windows_group}, linux, "present")["entries"]["mapRoles"], linux["mapRoles"]) == []
    ops = build_request("present", map_roles=[{"rolearn": WINDOWS, "username": "ops", "groups": ["system:masters"]}])[0]
    assert extra_node_groups(plan_change(None, ops, "present")["entries"]["mapRoles"], ops["mapRoles"]) == []


def test_extra_groups_message_names_the_option_and_both_fixes():
    found = [{"arn": WINDOWS, "groups": ["system:masters"]}]
    refusal = configmap.extra_groups_message(found, {WINDOWS.lower(): "node_roles[0].arn"}, allowed=False)
    assert refusal.startswith(f"node_roles[0].arn: {WINDOWS} is mapped in kube-system/aws-auth with the groups system:masters")
    assert "cluster administrator" in refusal and "Nothing was changed" in refusal and "allow_extra_groups: true" in refusal
    assert configmap.extra_groups_message(found, {}, allowed=True).endswith("They are kept because allow_extra_groups is true.")


def test_a_guard_refusal_comes_before_any_write_in_check_mode_too():
    for check_mode in (False, True):
        store = FakeStore({"mapRoles": ADMIN_WINDOWS})
        calls = []

        def guard(current, plan):
            calls.append(current["metadata"]["resourceVersion"])
            raise RuntimeError("refused")

        with pytest.raises(RuntimeError):
            run(store, windows_request(), check_mode=check_mode, guard=guard, before_write=lambda current: calls.append("backup"))
        assert calls == ["1"] and store.writes == 0


def test_before_write_runs_before_each_write_with_what_that_write_replaces():
    def interfere(store, attempt):
        if attempt == 1:
            store._bump(dict(store.obj["data"], other="x"))

    store = FakeStore(DATA, interfere)
    seen = []
    outcome = run(store, windows_request(), before_write=lambda current: seen.append((current["metadata"]["resourceVersion"], store.writes)))
    assert seen == [("1", 0), ("2", 0)] and outcome["attempts"] == 2 and store.writes == 1
    nothing = FakeStore(DATA)
    run(nothing, build_request("present", node_roles=[{"arn": LINUX, "os": "linux"}])[0], before_write=lambda current: seen.append("no"))
    assert "no" not in seen  # no change, no write, no backup


def test_size_counts_value_bytes_and_decoded_binary_data():
    assert configmap.data_bytes({"a": "é" * 3, "b": "xy"}) == 8
    assert configmap.data_bytes({}, {"bin": "AAEC"}) == 3  # base64 of three bytes


def test_a_change_that_would_not_fit_is_refused_with_sizes_and_a_fix():
    big = {"mapRoles": SEEDED_ROLES, "padding": "x" * (configmap.MAX_DATA_BYTES - len(SEEDED_ROLES))}
    plan = plan_change(big, windows_request(), "present")
    assert plan["changed"]
    with pytest.raises(configmap.ConfigMapTooLarge) as raised:
        configmap.check_size({"data": big}, plan)
    message = str(raised.value)
    assert f"{raised.value.size} bytes of data after this change ({configmap.MAX_DATA_BYTES} now)" in message
    assert "1048576-byte (1 MiB) limit" in message and "Nothing was changed" in message and "access_entry" in message
    # an unchanged ConfigMap is never refused, even when it is already too large
    configmap.check_size({"data": big}, plan_change(big, build_request("present", node_roles=[{"arn": LINUX, "os": "linux"}])[0], "present"))
    store = FakeStore(big)
    with pytest.raises(configmap.ConfigMapTooLarge):
        run(store, windows_request(), guard=configmap.check_size)
    assert store.writes == 0
