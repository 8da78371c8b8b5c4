"""access_entry: input refused before any call, and the node group check."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_module import AWSModule
from ansible_collections.eksnodes.windows.plugins.modules import access_entry

ROLE = "arn:aws:iam::111122223333:role/nodes"


def run(args, monkeypatch, capsys):
    def no_client(*_args, **_kwargs):
        raise AssertionError("an AWS client was made")
    monkeypatch.setattr(AWSModule, "client", no_client)
    with patch_module_args(dict({"region": "us-east-1", "cluster_name": "lab"}, **args)), pytest.raises(SystemExit):
        access_entry.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("args, message", [
    ({"principal_arn": "arn:aws:iam::111122223333:instance-profile/p", "type": "EC2_WINDOWS"}, "principal_arn: "),
    ({"principal_arn": "arn:aws:iam::111122223333:user/alice", "type": "EC2_LINUX"},
     "principal_arn: 'arn:aws:iam::111122223333:user/alice' is not an IAM role ARN"),
    ({"principal_arn": "not-an-arn", "type": "STANDARD"}, "principal_arn: 'not-an-arn' is not an IAM role or user ARN"),
    ({"principal_arn": ROLE}, "state is present but all of the following are missing: type"),
])
def test_bad_input_is_refused_before_any_call(args, message, monkeypatch, capsys):
    result = run(args, monkeypatch, capsys)
    assert result["failed"] and result["msg"].startswith(message)


class FakeEks:
    def __init__(self, nodegroups):
        self.nodegroups = {ng["nodegroupName"]: ng for ng in nodegroups}

    def get_paginator(self, _name):
        nodegroups = list(self.nodegroups)

        class Pages:
            @staticmethod
            def paginate(**_kwargs):
                class Result:
                    @staticmethod
                    def build_full_result():
                        return {"nodegroups": nodegroups}
                return Result()
        return Pages()

    def describe_nodegroup(self, clusterName, nodegroupName):  # pylint: disable=invalid-name
        return {"nodegroup": self.nodegroups[nodegroupName]}


def test_node_group_conflicts():
    eks = FakeEks([{"nodegroupName": "linux", "nodeRole": "arn:aws:iam::111122223333:role/eks/nodes", "amiType": "AL2023_x86_64_STANDARD"},
                   {"nodegroupName": "win", "nodeRole": "arn:aws:iam::111122223333:role/win", "amiType": "WINDOWS_CORE_2022_x86_64"}])
    message = access_entry.node_group_conflict(eks, "lab", ROLE, "EC2_WINDOWS")
    assert message.startswith(f"principal_arn: {ROLE} is the role of Linux node group linux, so it cannot be EC2_WINDOWS.")
    assert access_entry.node_group_conflict(eks, "lab", ROLE, "EC2_LINUX") is None
    assert "Windows node group win" in access_entry.node_group_conflict(eks, "lab", "arn:aws:iam::111122223333:role/win", "EC2_LINUX")
