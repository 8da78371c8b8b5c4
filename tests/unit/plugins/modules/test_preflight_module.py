"""preflight refuses bad input with the field and the fix, before any AWS client is made."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_module import AWSModule
from ansible_collections.eksnodes.windows.plugins.modules import preflight


def run(args, monkeypatch, capsys):
    def no_client(*_args, **_kwargs):
        raise AssertionError("an AWS client was made")
    monkeypatch.setattr(AWSModule, "client", no_client)
    with patch_module_args(dict({"region": "us-east-1", "cluster_name": "lab"}, **args)), pytest.raises(SystemExit):
        preflight.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("args, message", [
    ({"subnets": ["subnet-0123456789abcdef0", "sub-1"]}, "subnets: sub-1 is not a subnet ID. Fix: give IDs like subnet-0123456789abcdef0."),
    ({"subnets": []}, "subnets: the list is empty. Fix:"),
    ({"key_name": " "}, "key_name: the value is empty. Fix: give a value or leave key_name out."),
    ({"skip_checks": ["everything"]}, "value of skip_checks must be one or more of"),
    ({"windows_release": "2016"}, "value of windows_release must be one of: 2019, 2022, 2025"),
])
def test_bad_input(args, message, monkeypatch, capsys):
    result = run(args, monkeypatch, capsys)
    assert result["failed"] and message in result["msg"]


def test_clients_are_made_once_and_only_when_used():
    made = []

    class Module:
        @staticmethod
        def client(service):
            made.append(service)
            return object()

    clients = preflight.Clients(Module())
    assert clients["ec2"] is clients["ec2"]
    assert made == ["ec2"]
