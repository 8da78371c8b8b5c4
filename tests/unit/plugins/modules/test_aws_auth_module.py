"""aws_auth: input refused before any client is made, and the ConfigMap store's mapping of API answers."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args
from kubernetes.client.rest import ApiException

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_module import AWSModule
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.backup import write_backup
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.configmap import WriteConflict
from ansible_collections.eksnodes.windows.plugins.modules import aws_auth

WINDOWS = "arn:aws:iam::111122223333:role/windows-nodes"


def run(args, monkeypatch, capsys):
    def no_client(*_args, **_kwargs):
        raise AssertionError("a client was made")
    monkeypatch.setattr(AWSModule, "client", no_client)
    monkeypatch.setattr(aws_auth, "api_client", no_client)
    with patch_module_args(dict({"region": "us-east-1"}, **args)), pytest.raises(SystemExit):
        aws_auth.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("args, message", [
    ({"node_roles": [{"arn": "arn:aws:iam::111122223333:instance-profile/p", "os": "windows"}]},
     "node_roles[0].arn: arn:aws:iam::111122223333:instance-profile/p is an instance profile ARN"),
    ({"node_roles": [{"arn": WINDOWS, "os": "windows"}, {"arn": WINDOWS, "os": "linux"}]},
     "node_roles[0] and node_roles[1]: arn:aws:iam::111122223333:role/windows-nodes is given as both a windows and a linux node role"),
    ({"map_users": [{"userarn": "arn:aws:iam::111122223333:user/alice"}]}, "map_users[0].username: required with state=present"),
    ({"map_accounts": ["1234"]}, "map_accounts[0]: '1234' is not an AWS account ID"),
    ({"state": "absent", "cluster_name": "lab", "discover_linux_node_roles": True}, "discover_linux_node_roles: only with state=present"),
    ({"conflict_retries": -1}, "conflict_retries: must be 0 or more."),
    ({"discover_linux_node_roles": True}, "discover_linux_node_roles is True but all of the following are missing: cluster_name"),
])
def test_bad_input_is_refused_before_any_connection(args, message, monkeypatch, capsys):
    result = run(args, monkeypatch, capsys)
    assert result["failed"] and result["msg"].startswith(message)


class FakeCore:
    def __init__(self, read=None, error=None):
        self._read, self.error, self.sent = read, error, None

    def read_namespaced_config_map(self, name, namespace):
        if self._read is None:
            raise ApiException(status=404, reason="Not Found")
        return self._read

    def replace_namespaced_config_map(self, name, namespace, body):
        self.sent = body
        if self.error:
            raise self.error
        return body

    def create_namespaced_config_map(self, namespace, body):
        return self.replace_namespaced_config_map(None, namespace, body)


class FakeClient:
    @staticmethod
    def sanitize_for_serialization(obj):
        return obj


def store_with(core):
    store = aws_auth.ConfigMapStore.__new__(aws_auth.ConfigMapStore)
    store.client, store.core = FakeClient(), core
    return store


def test_read_of_a_missing_configmap_is_none():
    assert store_with(FakeCore()).read() is None


def test_write_carries_the_resource_version_and_drops_managed_fields():
    current = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"mapRoles": "[]\n"},
               "metadata": {"name": "aws-auth", "resourceVersion": "42", "labels": {"a": "b"}, "managedFields": [{"manager": "x"}]}}
    core = FakeCore(current)
    store_with(core).write(current, {"mapRoles": "- rolearn: x\n"})
    assert core.sent["metadata"] == {"name": "aws-auth", "resourceVersion": "42", "labels": {"a": "b"}}
    assert core.sent["data"] == {"mapRoles": "- rolearn: x\n"}


@pytest.mark.parametrize("method", ["write", "create"])
def test_409_is_a_write_conflict(method):
    core = FakeCore({"metadata": {}}, ApiException(status=409, reason="Conflict"))
    store = store_with(core)
    with pytest.raises(WriteConflict):
        store.write({"metadata": {}}, {}) if method == "write" else store.create({})


def test_other_api_errors_pass_through():
    store = store_with(FakeCore({"metadata": {}}, ApiException(status=403, reason="Forbidden")))
    with pytest.raises(ApiException):
        store.write({"metadata": {}}, {})


def test_backup_file_in_a_directory(tmp_path):
    path = write_backup(str(tmp_path), {"kind": "ConfigMap", "data": {"mapRoles": "[]\n"}}, "7")
    assert path.startswith(str(tmp_path / "aws-auth.7.")) and path.endswith(".yaml")
    assert oct((tmp_path / path.rsplit("/", 1)[1]).stat().st_mode & 0o777) == "0o600"
    assert open(path, encoding="utf-8").read() == "kind: ConfigMap\ndata:\n  mapRoles: |\n    []\n"
