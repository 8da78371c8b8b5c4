"""The direct reader and writer of aws-auth's usual YAML give what PyYAML gives, or step aside (None)."""

import random
import string

import pytest
import yaml

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth import mappings
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.blocktext import parse_entries, plain, render_entry
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.configmap import parse_all, plan_change
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.mappings import ROLES, USERS, node_role_entry

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the same results; the pure-Python one is slow
ALPHABET = string.ascii_letters + string.digits + "_./@{}=+:-#,'\" !?&*|>%`[]~\t\n\u00e9"
# strings PyYAML quotes, resolves to something else, or reads specially
TRICKY = ["yes", "No", "null", "NULL", "true", "OFF", "on", "~", "1", "0x1", "1.5", "2024-01-01", "a:", "a: b", "-a", "x", ".inf", "<<",
          "=", "y", "n", "a #b", "a#b", "", " a", "a ", "system:nodes", "system:node:{{EC2PrivateDNSName}}", "arn:aws:iam::1:role/x",
          "x" * 130]


def random_string(rng, usual=0.0):
    draw = rng.random()
    if draw < usual:
        return rng.choice(string.ascii_letters) + "".join(rng.choice(string.ascii_letters + ":/-_{}.") for _count in range(rng.randint(0, 12)))
    if draw < usual + 0.3:
        return rng.choice(TRICKY)
    return "".join(rng.choice(ALPHABET) for _count in range(rng.randint(0, 12)))


def random_value(rng, usual=0.0):
    draw = rng.random()
    if draw < 0.6:
        return random_string(rng, usual)
    if draw < 0.85:
        return [random_string(rng, usual) for _count in range(rng.randint(0, 3))]
    if draw < 0.9:
        return None
    return rng.choice([1, True, {"a": "b"}, 1.5, [["nested"]]])


def random_entry(rng, usual=0.0):
    return {rng.choice(["rolearn", "username", "groups", random_string(rng, usual)]): random_value(rng, usual)
            for _count in range(rng.randint(1, 4))}


def python_dump(entries):
    return yaml.dump(entries, Dumper=mappings._dumper("block"), default_flow_style=False, sort_keys=False, allow_unicode=True, width=4096)


def test_render_is_the_block_dumpers_text_or_none():
    rng = random.Random(7)
    written = 0
    for _count in range(5000):
        entry = random_entry(rng)
        text = render_entry(entry)
        if text is not None:
            written += 1
            assert text == python_dump([entry]), entry
    assert written > 200  # the comparison covered many entries the writer took


def test_render_mappings_mixes_both_writers_into_the_dumpers_text():
    rng = random.Random(11)
    entries = [mappings.ordered_entry({"rolearn": f"arn:aws:iam::1:role/r{i}", **random_entry(rng)}, ROLES) for i in range(300)]
    assert mappings.render_mappings(entries, ROLES) == python_dump(entries)


@pytest.mark.parametrize("value, expected", [
    ("system:node:{{EC2PrivateDNSName}}", True), ("arn:aws:iam::111122223333:role/a.b-c_d@e=f+g", True),
    ("yes", False), ("null", False), ("a:", False), ("a b", False), ("-a", False), ("1a", False), ("é", False), ("", False),
])
def test_plain(value, expected):
    assert plain(value) is expected


def texts(rng):
    """Texts of entries as our dumper, PyYAML's default dumper (lists not indented, as EKS and kubectl write them)
    and a person (mutated lines) write them."""
    entries = [random_entry(rng, usual=0.9) for _count in range(rng.randint(1, 4))]
    yield python_dump(entries)
    yield yaml.safe_dump(entries, default_flow_style=False, sort_keys=False)
    lines = python_dump(entries).split("\n")
    index = rng.randrange(len(lines))
    mutations = [lambda line: " " + line, lambda line: line[1:], lambda line: line + " #c", lambda line: line.replace(": ", ":  "),
                 lambda line: line.replace("- ", "-  "), lambda line: line.replace("  ", "   ", 1), lambda line: "",
                 lambda line: line.replace(":", ": x\n   y", 1), lambda line: line + "\r", lambda line: "    " + line]
    lines[index] = rng.choice(mutations)(lines[index])
    yield "\n".join(lines)


def test_parse_is_pyyamls_safe_load_or_none():
    rng = random.Random(3)
    read = 0
    for _count in range(1000):
        for text in texts(rng):
            entries = parse_entries(text)
            if entries is None:
                continue
            read += 1
            assert entries == yaml.load(text, Loader=SAFE_LOADER), text  # nosec B506
    assert read > 300


@pytest.mark.parametrize("text", [
    "- rolearn: a\n  groups:\n  - x\n    - y\n",  # the list's items indented two ways
    "- rolearn: a\n  groups:\n    - x\n  - y\n",
    "- rolearn: a\n  username: b\n    c\n",  # a plain scalar continued on the next line
    "- rolearn: a\n\n- rolearn: b\n",
    "- rolearn: a\n  yes: b\n",  # a key PyYAML reads as true
    "rolearn: a\n",
    "- rolearn: a",  # no final newline
    "---\n- rolearn: a\n",
    "- rolearn: 'a'\n",
])
def test_anything_unusual_is_left_to_pyyaml(text):
    assert parse_entries(text) is None


def test_keys_without_value_are_null_and_empty_lists_are_lists():
    assert parse_entries("- rolearn: a\n  username:\n  groups: []\n") == [{"rolearn": "a", "username": None, "groups": []}]


def test_merge_into_ten_thousand_entries_keeps_every_entry_in_order():
    entries = [{"rolearn": f"arn:aws:iam::111122223333:role/team-{index:05d}", "username": f"team-{index:05d}",
                "groups": ["system:masters"] if index % 97 == 0 else ["developers", "viewers"]} for index in range(10000)]
    users = [{"userarn": "arn:aws:iam::111122223333:user/ops", "username": "ops", "groups": ["system:masters"]}]
    data = {ROLES: mappings.render_mappings(entries, ROLES), USERS: python_dump(users), "other": "kept as it is\n"}
    windows = "arn:aws:iam::111122223333:role/windows-nodes"
    plan = plan_change(data, {ROLES: [node_role_entry(windows, "windows")]}, "present", show_before=False)
    assert plan["changed"] and plan["shown_before"] is None
    assert plan["data"][USERS] == data[USERS] and plan["data"]["other"] == data["other"]
    written = parse_all(plan["data"])[ROLES]
    assert written[:10000] == entries
    assert written[10000] == {"rolearn": windows, "username": "system:node:{{EC2PrivateDNSName}}",
                              "groups": ["system:bootstrappers", "system:nodes", "eks:kube-proxy-windows"]}
    assert len(written) == 10001
    assert plan["data"][ROLES].startswith(data[ROLES])  # the unchanged entries keep their text
    assert plan_change(plan["data"], {ROLES: [node_role_entry(windows, "windows")]}, "present")["changed"] is False
