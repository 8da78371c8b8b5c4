from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.mappings import NODE_USERNAME
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.node_roles import (
    linux_node_group_roles,
    node_roles_in_mappings,
    windows_node_group_roles,
    windows_roles_mapped_as_linux,
)

NODEGROUPS = [
    {"nodegroupName": "lab-linux", "nodeRole": "arn:aws:iam::111122223333:role/eks/linux", "amiType": "AL2023_x86_64_STANDARD"},
    {"nodegroupName": "more-linux", "nodeRole": "arn:aws:iam::111122223333:role/linux", "amiType": "BOTTLEROCKET_x86_64"},
    {"nodegroupName": "win", "nodeRole": "arn:aws:iam::111122223333:role/win", "amiType": "WINDOWS_CORE_2022_x86_64"},
    {"nodegroupName": "no-role"},
]


def test_linux_node_groups_roles_once_without_path():
    assert linux_node_group_roles(NODEGROUPS) == [{"arn": "arn:aws:iam::111122223333:role/linux", "source": "node group lab-linux"}]


def test_windows_node_groups_roles():
    assert windows_node_group_roles(NODEGROUPS) == [{"arn": "arn:aws:iam::111122223333:role/win", "source": "node group win"}]


def test_node_roles_in_mappings():
    entries = [
        {"rolearn": "arn:aws:iam::111122223333:role/linux", "username": NODE_USERNAME, "groups": ["system:bootstrappers", "system:nodes"]},
        {"rolearn": "arn:aws:iam::111122223333:role/win", "username": NODE_USERNAME, "groups": ["system:nodes", "eks:kube-proxy-windows"]},
        {"rolearn": "arn:aws:iam::111122223333:role/ops", "username": "ops", "groups": ["system:masters"]},
    ]
    assert [r["arn"] for r in node_roles_in_mappings(entries, "linux")] == ["arn:aws:iam::111122223333:role/linux"]
    assert [r["arn"] for r in node_roles_in_mappings(entries, "windows")] == ["arn:aws:iam::111122223333:role/win"]


def test_windows_roles_mapped_as_linux_nodes():
    linux_mapped = "arn:aws:iam::111122223333:role/Shared"
    entries = [
        {"rolearn": linux_mapped, "username": NODE_USERNAME, "groups": ["system:bootstrappers", "system:nodes"]},
        {"rolearn": "arn:aws:iam::111122223333:role/win", "username": NODE_USERNAME,
         "groups": ["system:bootstrappers", "system:nodes", "eks:kube-proxy-windows"]},
        {"rolearn": "arn:aws:iam::111122223333:role/ops", "username": "ops", "groups": ["system:nodes"]},
    ]
    windows = ["arn:aws:iam::111122223333:role/shared", "arn:aws:iam::111122223333:role/win", "arn:aws:iam::111122223333:role/ops"]
    assert windows_roles_mapped_as_linux(windows, entries) == ["arn:aws:iam::111122223333:role/shared"]
    assert windows_roles_mapped_as_linux(windows, []) == []
