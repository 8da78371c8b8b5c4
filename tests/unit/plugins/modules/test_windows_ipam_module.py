"""windows_ipam refuses bad input with the field and the fix, before any AWS client is made."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_module import AWSModule
from ansible_collections.eksnodes.windows.plugins.modules import windows_ipam


def run(args, monkeypatch, capsys):
    def no_client(*_args, **_kwargs):
        raise AssertionError("an AWS client was made")
    monkeypatch.setattr(AWSModule, "client", no_client)
    with patch_module_args(dict({"region": "us-east-1", "cluster_name": "lab"}, **args)), pytest.raises(SystemExit):
        windows_ipam.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("args, message", [
    ({"cluster_name": "-lab"}, "cluster_name: the cluster name '-lab' is not a valid EKS cluster name"),
    ({"warm_ip_target": -1, "minimum_ip_target": -3}, "Invalid options: warm_ip_target is -1; it must be 0 or more; minimum_ip_target is -3"),
    ({"enabled": False, "prefix_delegation": True}, "prefix_delegation=true needs Windows IPAM"),
    ({"wait_timeout": -5}, "wait_timeout is -5; it must be 0 or more"),
    ({"method": "helm"}, "value of method must be one of: auto, addon, config_map"),
])
def test_bad_input(args, message, monkeypatch, capsys):
    result = run(args, monkeypatch, capsys)
    assert result["failed"] and message in result["msg"]


def test_resolve_conflicts_defaults_to_preserve(monkeypatch):
    spec = {}

    class Captured(Exception):
        pass

    def capture(**kwargs):
        spec.update(kwargs["argument_spec"])
        raise Captured()

    monkeypatch.setattr(windows_ipam, "AWSModule", capture)
    with pytest.raises(Captured):
        windows_ipam.main()
    assert spec["resolve_conflicts"]["default"] == "PRESERVE"
    assert "default: PRESERVE" in windows_ipam.DOCUMENTATION
