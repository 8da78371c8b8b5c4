"""cluster_info refuses bad input with the field and the fix, before any AWS client is made."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_module import AWSModule
from ansible_collections.eksnodes.windows.plugins.module_utils.eks import lookup
from ansible_collections.eksnodes.windows.plugins.modules import cluster_info


def run(args, monkeypatch, capsys):
    def no_client(*_args, **_kwargs):
        raise AssertionError("an AWS client was made")
    monkeypatch.setattr(AWSModule, "client", no_client)
    with patch_module_args(dict({"region": "us-east-1"}, **args)), pytest.raises(SystemExit):
        cluster_info.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("args, message", [
    ({"name": "bad name"}, "name: the cluster name 'bad name' is not a valid EKS cluster name"),
    ({"name": "x" * 101}, "name: the cluster name is 101 characters long"),
    ({"name": "lab", "wait_timeout": -1}, "wait_timeout is -1; it must be 0 or more."),
    ({"name": "lab", "wait_sleep": 0}, "wait_sleep is 0; it must be 1 or more."),
])
def test_bad_input(args, message, monkeypatch, capsys):
    result = run(args, monkeypatch, capsys)
    assert result["failed"] and result["msg"].startswith(message)


def test_health_issues_are_worded_for_the_message():
    cluster = {"health": {"issues": [{"code": "Ec2SubnetNotFound", "message": "subnet-1 is gone"}]}}
    assert lookup.health_issues(cluster) == "Ec2SubnetNotFound: subnet-1 is gone"
    assert lookup.health_issues(None) == ""
