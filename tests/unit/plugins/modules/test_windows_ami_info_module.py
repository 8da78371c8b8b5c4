"""windows_ami_info: the documented choices are the module_utils' ones; unsupported pairs fail before any AWS client."""

import json

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_module import AWSModule
from ansible_collections.eksnodes.windows.plugins.module_utils.ami import families
from ansible_collections.eksnodes.windows.plugins.modules import windows_ami_info

DOCS = yaml.safe_load(windows_ami_info.DOCUMENTATION)


def test_documented_choices_are_the_known_families_releases_and_editions():
    assert DOCS["options"]["ami_family"]["choices"] == list(families.AMI_FAMILIES)
    assert DOCS["options"]["os_version"]["choices"] == list(families.RELEASES)
    assert DOCS["options"]["edition"]["choices"] == list(families.EDITIONS)


def run(args, monkeypatch, capsys):
    def no_client(*_args, **_kwargs):
        raise AssertionError("an AWS client was made")
    monkeypatch.setattr(AWSModule, "client", no_client)
    with patch_module_args(dict({"region": "us-east-1"}, **args)), pytest.raises(SystemExit):
        windows_ami_info.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("args, message", [
    ({"kubernetes_version": "1.31", "os_version": "2025"}, "Windows Server 2025 EKS optimized AMIs need Kubernetes 1.35 or later"),
    ({"kubernetes_version": "1.23", "ami_family": "WindowsServer2022CoreContainer"}, "Windows Server 2022 EKS optimized AMIs need Kubernetes 1.24"),
    ({"kubernetes_version": "one"}, "kubernetes_version 'one' is not a Kubernetes version"),
    ({"kubernetes_version": "1.31", "cluster_name": "lab"}, "parameters are mutually exclusive: kubernetes_version|cluster_name"),
    ({}, "one of the following is required: kubernetes_version, cluster_name"),
])
def test_rejected_before_any_client(args, message, monkeypatch, capsys):
    result = run(args, monkeypatch, capsys)
    assert result["failed"] and message in result["msg"], result
