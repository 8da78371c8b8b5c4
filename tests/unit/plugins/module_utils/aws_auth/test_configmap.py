import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth import configmap
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.configmap import (
    ConflictRetriesExhausted,
    WriteConflict,
    converge,
    plan_change,
)
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.mappings import MalformedMappingsError
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
