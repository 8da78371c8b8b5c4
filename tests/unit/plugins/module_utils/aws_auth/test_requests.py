import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.arns import ArnError
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.mappings import ACCOUNTS, NODE, ROLES, USERS
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.requests import RequestError, build_request, check_node_role_conflicts

LINUX = "arn:aws:iam::111122223333:role/linux-nodes"
WINDOWS = "arn:aws:iam::111122223333:role/windows-nodes"


def test_node_roles_become_node_entries():
    request, warnings = build_request("present", node_roles=[{"arn": WINDOWS, "os": "windows"}, {"arn": LINUX, "os": "linux"}])
    assert warnings == []
    assert [(e["arn"], e["mode"], e["groups"][-1]) for e in request[ROLES]] == [
        (WINDOWS, NODE, "eks:kube-proxy-windows"), (LINUX, NODE, "system:nodes")]


def test_same_role_as_windows_and_linux_is_an_error():
    with pytest.raises(RequestError) as error:
        build_request("present", node_roles=[{"arn": WINDOWS, "os": "windows"}, {"arn": WINDOWS.replace("windows-nodes", "Windows-Nodes"), "os": "linux"}])
    assert "node_roles[0] and node_roles[1]" in str(error.value) and "separate IAM roles" in str(error.value)


def test_same_role_with_and_without_path_is_the_same_role():
    with pytest.raises(RequestError, match="both a windows and a linux"):
        build_request("present", node_roles=[{"arn": WINDOWS, "os": "windows"},
                                             {"arn": "arn:aws:iam::111122223333:role/x/windows-nodes", "os": "linux"}])


def test_identical_repeats_are_given_once():
    request = build_request("present", node_roles=[{"arn": LINUX, "os": "linux"}] * 2, map_accounts=["111122223333", 111122223333])[0]
    assert len(request[ROLES]) == 1 and len(request[ACCOUNTS]) == 1


def test_conflicting_explicit_entries_are_an_error():
    with pytest.raises(RequestError, match=r"map_roles\[0\] and map_roles\[1\] both map"):
        build_request("present", map_roles=[{"rolearn": LINUX, "username": "a"}, {"rolearn": LINUX, "username": "b"}])
    with pytest.raises(RequestError, match=r"node_roles\[0\] and map_roles\[0\]"):
        build_request("present", node_roles=[{"arn": LINUX, "os": "linux"}], map_roles=[{"rolearn": LINUX, "username": "a"}])


def test_path_is_stripped_with_a_warning():
    request, warnings = build_request("present", node_roles=[{"arn": "arn:aws:iam::111122223333:role/eks/windows-nodes", "os": "windows"}])
    assert request[ROLES][0]["arn"] == WINDOWS
    assert len(warnings) == 1 and warnings[0].startswith("node_roles[0].arn:")


def test_absent_with_a_path_removes_both_spellings():
    request = build_request("absent", node_roles=[{"arn": "arn:aws:iam::111122223333:role/eks/windows-nodes", "os": "windows"}])[0]
    assert [e["arn"] for e in request[ROLES]] == [WINDOWS, "arn:aws:iam::111122223333:role/eks/windows-nodes"]


def test_instance_profile_is_refused_before_anything():
    with pytest.raises(ArnError, match=r"^map_roles\[0\]\.rolearn: .*instance profile"):
        build_request("present", map_roles=[{"rolearn": "arn:aws:iam::111122223333:instance-profile/p", "username": "x"}])


def test_username_is_required_to_add_but_not_to_remove():
    with pytest.raises(RequestError, match=r"map_users\[0\]\.username: required"):
        build_request("present", map_users=[{"userarn": "arn:aws:iam::111122223333:user/alice"}])
    request = build_request("absent", map_users=[{"userarn": "arn:aws:iam::111122223333:user/alice"}])[0]
    assert request[USERS][0]["arn"].endswith("user/alice")


def test_bad_os_and_accounts():
    with pytest.raises(RequestError, match=r"node_roles\[0\]\.os"):
        build_request("present", node_roles=[{"arn": LINUX, "os": "macos"}])
    with pytest.raises(ArnError, match=r"map_accounts\[1\]"):
        build_request("present", map_accounts=["111122223333", "12"])


def test_node_role_conflicts_name_the_source():
    check_node_role_conflicts([WINDOWS], [{"arn": LINUX, "source": "node group lab-linux"}])
    with pytest.raises(RequestError, match="node group lab-linux"):
        check_node_role_conflicts([LINUX], [{"arn": LINUX.replace("linux-nodes", "LINUX-nodes"), "source": "node group lab-linux"}])
