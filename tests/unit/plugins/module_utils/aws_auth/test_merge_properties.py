"""Properties of the aws-auth merge, for any existing document and any requested change.

- entries the change does not name are returned exactly as they were, in the same order;
- a named ARN appears once after present and never after absent; no duplicate is introduced;
- merging a second time changes nothing (merge twice == merge once), also through the YAML text;
- keys of the ConfigMap the change does not touch keep their exact text.
"""

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.arns import arn_key
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.configmap import plan_change
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.mappings import (
    ACCOUNTS,
    NODE,
    NODE_GROUPS,
    NODE_USERNAME,
    ROLES,
    USERS,
    identity,
    merge_entries,
    node_role_entry,
    parse_mappings,
    render_mappings,
    requested_entry,
)

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NAMES = ["linux-nodes", "windows-nodes", "ops", "ci", "Admin", "karpenter"]
GROUPS = ["system:bootstrappers", "system:nodes", "eks:kube-proxy-windows", "system:masters", "ops-readers", "view"]
USERNAMES = [NODE_USERNAME, "ops:{{SessionName}}", "admin", "ci"]


def cased(name):
    """The same IAM name, sometimes in another case (the same role to IAM and to aws-auth)."""
    return st.sampled_from([name, name.lower(), name.upper(), name.capitalize()])


role_arns = st.sampled_from(NAMES).flatmap(cased).map(lambda name: f"arn:aws:iam::111122223333:role/{name}")
user_arns = st.sampled_from(NAMES).flatmap(cased).map(lambda name: f"arn:aws:iam::111122223333:user/{name}")
accounts = st.sampled_from(["111122223333", "444455556666", "777788889999"])
group_lists = st.lists(st.sampled_from(GROUPS), max_size=4)
extras = st.dictionaries(st.sampled_from(["x-owner", "note"]), st.sampled_from(["team-a", "kept", "1"]), max_size=1)


def existing_entries(field, arns):
    @st.composite
    def entry(draw):
        item = {field: draw(arns)}
        if draw(st.booleans()):
            item["username"] = draw(st.sampled_from(USERNAMES))
        if draw(st.booleans()):
            item["groups"] = draw(group_lists)
        item.update(draw(extras))
        keys = list(item)
        order = draw(st.permutations(keys))  # any key order a person or a tool may have written
        return {key: item[key] for key in order}
    return st.lists(entry(), max_size=8)


@st.composite
def role_requests(draw):
    """Requests for distinct roles: node roles (windows/linux) or explicit entries, fields possibly left out."""
    arns = draw(st.lists(role_arns, max_size=4, unique_by=arn_key))
    requests = []
    for arn in arns:
        if draw(st.booleans()):
            requests.append(node_role_entry(arn, draw(st.sampled_from(["windows", "linux"]))))
        else:
            groups = draw(st.one_of(st.none(), group_lists.map(lambda g: list(dict.fromkeys(g)))))
            requests.append(requested_entry(ROLES, arn, draw(st.sampled_from(USERNAMES)), groups))
    return requests


@st.composite
def user_requests(draw):
    arns = draw(st.lists(user_arns, max_size=3, unique_by=arn_key))
    return [requested_entry(USERS, arn, draw(st.sampled_from(USERNAMES)), draw(st.one_of(st.none(), group_lists.map(lambda g: list(dict.fromkeys(g))))))
            for arn in arns]


account_requests = st.lists(accounts, max_size=3, unique=True).map(lambda ids: [requested_entry(ACCOUNTS, i) for i in ids])
states = st.sampled_from(["present", "absent"])


def named(requests, key):
    return {str(r["arn"]) if key == ACCOUNTS else arn_key(r["arn"]) for r in requests}


def check_merge(existing, requests, key, state):
    outcome = merge_entries(existing, requests, key, state)
    result = outcome["entries"]
    names = named(requests, key)

    # entries not named by the change are unchanged, in the same order
    assert [e for e in result if identity(e, key) not in names] == [e for e in existing if identity(e, key) not in names]

    counts = Counter(identity(e, key) for e in result)
    before = Counter(identity(e, key) for e in existing)
    for name in names:
        assert counts[name] == (1 if state == "present" else 0)
    # no duplicate written: every identity is at most as repeated as it already was
    assert all(count == 1 or count <= before[ident] for ident, count in counts.items())

    # merging twice equals merging once
    again = merge_entries(result, requests, key, state)
    assert again["entries"] == result
    assert not (again["added"] or again["changed"] or again["removed"])
    return outcome


@SETTINGS
@given(existing=existing_entries("rolearn", role_arns), requests=role_requests(), state=states)
def test_map_roles_merge(existing, requests, state):
    outcome = check_merge(existing, requests, ROLES, state)
    if state == "present":
        by_arn = {arn_key(e["rolearn"]): e for e in outcome["entries"]}
        for request in requests:
            entry = by_arn[arn_key(request["arn"])]
            if request["mode"] == NODE:
                assert entry["username"] == NODE_USERNAME
                assert set(request["groups"]) <= set(entry["groups"])
            else:
                assert entry["username"] == request["username"]
                if request["groups"] is not None:
                    assert sorted(entry.get("groups") or []) == sorted(request["groups"])


@SETTINGS
@given(existing=existing_entries("userarn", user_arns), requests=user_requests(), state=states)
def test_map_users_merge(existing, requests, state):
    check_merge(existing, requests, USERS, state)


@SETTINGS
@given(existing=st.lists(st.one_of(accounts, accounts.map(int)), max_size=5), requests=account_requests, state=states)
def test_map_accounts_merge(existing, requests, state):
    check_merge(existing, requests, ACCOUNTS, state)


@SETTINGS
@given(existing=existing_entries("rolearn", role_arns), requests=role_requests())
def test_node_roles_never_lose_groups(existing, requests):
    """A node role keeps every group any of its entries had, plus its node groups."""
    result = merge_entries(existing, requests, ROLES, "present")["entries"]
    for request in requests:
        if request["mode"] != NODE:
            continue
        had = {g for e in existing if arn_key(e["rolearn"]) == arn_key(request["arn"]) for g in (e.get("groups") or [])}
        entry = next(e for e in result if arn_key(e["rolearn"]) == arn_key(request["arn"]))
        assert had | set(request["groups"]) == set(entry["groups"])


@SETTINGS
@given(roles=existing_entries("rolearn", role_arns), users=existing_entries("userarn", user_arns),
       roles_req=role_requests(), users_req=user_requests(), accounts_req=account_requests, state=states,
       other=st.text(max_size=30))
def test_whole_configmap_through_text(roles, users, roles_req, users_req, accounts_req, state, other):
    data = {"mapRoles": render_mappings(roles, ROLES), "mapUsers": render_mappings(users, USERS), "unrelated": other}
    request = {ROLES: roles_req, USERS: users_req, ACCOUNTS: accounts_req}
    plan = plan_change(data, request, state)
    after = plan["data"]

    assert after["unrelated"] == other
    for key, reqs in request.items():
        if not reqs:
            assert after.get(key) == data.get(key)  # untouched keys keep their exact text
    # what was rendered parses back to what was merged
    for key in (ROLES, USERS, ACCOUNTS):
        assert parse_mappings(after.get(key), key) == [e if key == ACCOUNTS else e for e in plan["entries"][key]]

    second = plan_change(after, request, state)
    assert not second["changed"] and second["data"] == after


def test_rendered_node_roles_read_like_the_aws_docs():
    text = render_mappings([{"rolearn": "arn:aws:iam::111122223333:role/w", "username": NODE_USERNAME,
                             "groups": list(NODE_GROUPS["windows"])}], ROLES)
    assert text.splitlines() == [
        "- rolearn: arn:aws:iam::111122223333:role/w",
        "  username: system:node:{{EC2PrivateDNSName}}",
        "  groups:",
        "    - system:bootstrappers",
        "    - system:nodes",
        "    - eks:kube-proxy-windows",
    ]
