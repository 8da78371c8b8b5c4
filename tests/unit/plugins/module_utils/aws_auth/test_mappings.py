import pytest
import yaml

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth import mappings
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.mappings import (
    ACCOUNTS,
    NODE_USERNAME,
    ROLES,
    USERS,
    MalformedMappingsError,
    merge_entries,
    node_role_entry,
    parse_mappings,
    render_mappings,
    requested_entry,
)

LINUX = "arn:aws:iam::111122223333:role/linux-nodes"
WINDOWS = "arn:aws:iam::111122223333:role/windows-nodes"
OPS = "arn:aws:iam::111122223333:role/ops"

EKS_SEEDED = """- groups:
  - system:bootstrappers
  - system:nodes
  rolearn: arn:aws:iam::111122223333:role/linux-nodes
  username: system:node:{{EC2PrivateDNSName}}
"""


def linux_entry(arn=LINUX):
    return {"rolearn": arn, "username": NODE_USERNAME, "groups": ["system:bootstrappers", "system:nodes"]}


# --- parse_mappings --------------------------------------------------------------------------------

def test_parses_what_eks_writes():
    assert parse_mappings(EKS_SEEDED, ROLES) == [linux_entry()]


@pytest.mark.parametrize("text", [None, "", "   \n", "null", "[]"])
def test_empty_is_an_empty_list(text):
    assert parse_mappings(text, ROLES) == []


def test_accounts_may_be_unquoted():
    assert parse_mappings("- 111122223333\n- '444455556666'\n", ACCOUNTS) == [111122223333, "444455556666"]


@pytest.mark.parametrize("key, text, problem", [
    (ROLES, "- rolearn: x\n  groups: [a\n", "is not valid YAML"),
    (ROLES, "rolearn: x\n", "is a YAML dict, not a list"),
    (ROLES, "- just a string\n", "entry 1 of type str, not a mapping"),
    (ROLES, "- username: x\n", "entry 1 without a rolearn string"),
    (ROLES, "- rolearn: a\n  groups: system:nodes\n", "groups are not a list of strings"),
    (ROLES, "- rolearn: a\n  username: [x]\n", "username is not a string"),
    (USERS, "- rolearn: a\n", "without a userarn string"),
    (ACCOUNTS, "- {a: b}\n", "not an account ID"),
    (ACCOUNTS, "- true\n", "not an account ID"),
])
def test_malformed_input_raises_a_clear_error(key, text, problem):
    with pytest.raises(MalformedMappingsError) as error:
        parse_mappings(text, key)
    assert problem in str(error.value)
    assert error.value.key == key
    assert f"data.{key}" in str(error.value) and "Nothing was changed" in str(error.value)


def test_yaml_error_reports_the_line():
    with pytest.raises(MalformedMappingsError, match=r"line \d+"):
        parse_mappings("- rolearn: a\n  groups:\n    - x\n   - y\n", ROLES)


def test_unknown_key_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown aws-auth key"):
        parse_mappings("[]", "mapNodes")


# --- rendering -------------------------------------------------------------------------------------

def test_renders_block_style_in_stable_order():
    entry = {"groups": ["system:bootstrappers", "system:nodes"], "x-note": "kept", "username": NODE_USERNAME, "rolearn": LINUX}
    assert render_mappings([entry], ROLES) == (
        "- rolearn: arn:aws:iam::111122223333:role/linux-nodes\n"
        "  username: system:node:{{EC2PrivateDNSName}}\n"
        "  groups:\n"
        "    - system:bootstrappers\n"
        "    - system:nodes\n"
        "  x-note: kept\n"
    )


def test_renders_accounts_quoted_and_empty_lists():
    assert render_mappings(["111122223333"], ACCOUNTS) == "- '111122223333'\n"
    assert render_mappings([], ROLES) == "[]\n"


def test_shared_lists_are_not_rendered_as_anchors():
    groups = ["a"]
    text = render_mappings([{"rolearn": LINUX, "groups": groups}, {"rolearn": WINDOWS, "groups": groups}], ROLES)
    assert "&" not in text and "*" not in text


def test_round_trip():
    entries = [linux_entry(), {"rolearn": OPS, "username": "ops:{{SessionName}}", "groups": []}]
    assert parse_mappings(render_mappings(entries, ROLES), ROLES) == entries


# --- merging ---------------------------------------------------------------------------------------

def test_adds_a_windows_node_role_after_the_existing_entries():
    outcome = merge_entries([linux_entry()], [node_role_entry(WINDOWS, "windows")], ROLES, "present")
    assert outcome["entries"][0] == linux_entry()
    assert outcome["entries"][1] == {"rolearn": WINDOWS, "username": NODE_USERNAME,
                                     "groups": ["system:bootstrappers", "system:nodes", "eks:kube-proxy-windows"]}
    assert outcome["added"] == [outcome["entries"][1]] and not outcome["changed"] and not outcome["removed"]


def test_node_role_gets_the_missing_windows_group_and_keeps_others():
    existing = [{"rolearn": WINDOWS, "username": NODE_USERNAME, "groups": ["system:nodes", "custom"], "note": "x"}]
    outcome = merge_entries(existing, [node_role_entry(WINDOWS, "windows")], ROLES, "present")
    assert outcome["entries"] == [{"rolearn": WINDOWS, "username": NODE_USERNAME, "note": "x",
                                   "groups": ["system:nodes", "custom", "system:bootstrappers", "eks:kube-proxy-windows"]}]
    assert outcome["changed"] == [{"before": existing[0], "after": outcome["entries"][0]}]


def test_linux_node_role_already_mapped_is_left_alone():
    existing = [linux_entry()]
    outcome = merge_entries(existing, [node_role_entry(LINUX, "linux")], ROLES, "present")
    assert outcome["entries"] == existing and not (outcome["added"] or outcome["changed"] or outcome["removed"])


def test_explicit_entry_sets_username_and_groups_ignoring_group_order():
    existing = [{"rolearn": OPS, "username": "old", "groups": ["b", "a"]}]
    same = merge_entries(existing, [requested_entry(ROLES, OPS, "old", ["a", "b"])], ROLES, "present")
    assert same["entries"] == existing and not same["changed"]
    new = merge_entries(existing, [requested_entry(ROLES, OPS, "new", ["c"])], ROLES, "present")
    assert new["entries"] == [{"rolearn": OPS, "username": "new", "groups": ["c"]}]


def test_groups_not_given_are_left_as_they_are():
    existing = [{"rolearn": OPS, "username": "old", "groups": ["b"]}]
    outcome = merge_entries(existing, [requested_entry(ROLES, OPS, "new")], ROLES, "present")
    assert outcome["entries"] == [{"rolearn": OPS, "username": "new", "groups": ["b"]}]


def test_arns_match_regardless_of_case():
    outcome = merge_entries([linux_entry(LINUX.replace("linux-nodes", "Linux-Nodes"))],
                            [node_role_entry(LINUX, "linux")], ROLES, "present")
    assert len(outcome["entries"]) == 1 and not outcome["added"]


def test_duplicates_of_a_named_arn_become_one_keeping_all_groups():
    existing = [linux_entry(), {"rolearn": OPS, "username": "ops"}, {"rolearn": LINUX, "username": NODE_USERNAME, "groups": ["extra"]}]
    outcome = merge_entries(existing, [node_role_entry(LINUX, "linux")], ROLES, "present")
    assert outcome["entries"] == [
        {"rolearn": LINUX, "username": NODE_USERNAME, "groups": ["system:bootstrappers", "system:nodes", "extra"]},
        {"rolearn": OPS, "username": "ops"},
    ]
    assert outcome["removed"] == [existing[2]]


def test_duplicates_not_named_are_kept_and_reported():
    existing = [{"rolearn": OPS, "username": "a"}, {"rolearn": OPS, "username": "b"}]
    outcome = merge_entries(existing, [node_role_entry(WINDOWS, "windows")], ROLES, "present")
    assert outcome["entries"][:2] == existing
    assert mappings.duplicates(existing, ROLES) == [{"key": ROLES, "identity": OPS, "count": 2}]


def test_absent_removes_only_the_named_entries():
    existing = [linux_entry(), {"rolearn": WINDOWS, "username": NODE_USERNAME}, {"rolearn": WINDOWS, "username": "dup"}]
    outcome = merge_entries(existing, [requested_entry(ROLES, WINDOWS)], ROLES, "absent")
    assert outcome["entries"] == [linux_entry()]
    assert outcome["removed"] == existing[1:]
    assert merge_entries(existing, [requested_entry(ROLES, OPS)], ROLES, "absent")["entries"] == existing


def test_accounts_are_added_once_and_removed():
    outcome = merge_entries([111122223333], [requested_entry(ACCOUNTS, "111122223333"), requested_entry(ACCOUNTS, "444455556666")],
                            ACCOUNTS, "present")
    assert outcome["entries"] == [111122223333, "444455556666"] and outcome["added"] == ["444455556666"]
    gone = merge_entries(outcome["entries"], [requested_entry(ACCOUNTS, "111122223333")], ACCOUNTS, "absent")
    assert gone["entries"] == ["444455556666"]


def test_node_mapping_os():
    assert mappings.node_mapping_os(linux_entry()) == "linux"
    assert mappings.node_mapping_os({"rolearn": WINDOWS, "username": NODE_USERNAME,
                                     "groups": ["system:nodes", "eks:kube-proxy-windows"]}) == "windows"
    fargate = {"rolearn": OPS, "username": "system:node:{{SessionName}}", "groups": ["system:bootstrappers", "system:nodes", "system:node-proxier"]}
    assert mappings.node_mapping_os(fargate) is None
    assert mappings.node_mapping_os({"rolearn": OPS, "username": "ops"}) is None


def test_parse_is_safe_load():
    with pytest.raises(MalformedMappingsError):
        parse_mappings("- !!python/object/apply:os.system ['true']\n", ROLES)
    assert yaml  # the module relies on PyYAML being present
