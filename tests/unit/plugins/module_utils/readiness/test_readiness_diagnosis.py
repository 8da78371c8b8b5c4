from datetime import datetime, timedelta, timezone

import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.diagnosis import (
    diagnose_instance,
    find_access_entry,
    group_causes,
    node_identity,
    parse_map_roles,
    strip_role_path,
    summary,
)
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.nodes import node_facts
from readiness_builders import node

ACCOUNT = "arn:aws:iam::123456789012"
ROLE = f"{ACCOUNT}:role/windows-nodes"
ROLE_WITH_PATH = f"{ACCOUNT}:role/eks/nodes/windows-nodes"
PROFILE = f"{ACCOUNT}:instance-profile/windows-nodes-profile"
LAUNCHED = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
NODE_GROUPS = ["system:bootstrappers", "system:nodes", "eks:kube-proxy-windows"]


def mapping(arn=ROLE, groups=None, username="system:node:{{EC2PrivateDNSName}}"):
    return {"rolearn": arn, "username": username, "groups": NODE_GROUPS if groups is None else groups}


def cluster(mode="CONFIG_MAP", status="ACTIVE", windows=None):
    return {"name": "lab", "status": status, "authentication_mode": mode, "not_active_windows": windows or []}


def auth(map_roles=None, exists=True, entries=None, ipam="true", problem=None):
    return {
        "aws_auth": {"exists": exists, "map_roles": [mapping()] if map_roles is None else map_roles, "problem": problem},
        "access_entries": entries,
        "vpc_cni": {"exists": ipam is not False, "enable_windows_ipam": ipam if ipam is not False else None},
    }


def instance(**changes):
    facts = {
        "instance_id": "i-1", "state": "running", "launch_time": LAUNCHED, "private_dns_name": "ip-10-0-1-4.ec2.internal",
        "subnet_id": "subnet-1", "instance_profile_arn": PROFILE, "role_arn": ROLE,
        "bootstrap": {"cluster_name": "lab", "problem": None},
        "network": {"subnet_id": "subnet-1", "route_table_id": "rtb-1", "default_target": "nat", "nat_gateway_id": "nat-1",
                    "nat_state": "available", "public_ip": False, "map_public_ip": False},
        "windows": True, "node": None, "unchecked": {},
    }
    facts.update(changes)
    return facts


def codes(entry):
    return [c["code"] for c in entry["causes"]]


def registered(ready="False", message="starting"):
    return node_facts(node("ip-10-0-1-4.ec2.internal", "i-1", ready=ready, message=message))


# --------------------------------------------------------------------------- helpers


def test_strip_role_path():
    assert strip_role_path(ROLE_WITH_PATH) == ROLE
    assert strip_role_path(ROLE) == ROLE
    assert strip_role_path(PROFILE) == PROFILE


def test_parse_map_roles_rejects_what_eks_cannot_read():
    assert parse_map_roles("- rolearn: a\n  groups: []\n") == [{"rolearn": "a", "groups": []}]
    assert parse_map_roles(None) == []
    with pytest.raises(ValueError, match="^data.mapRoles is a YAML dict, not a list$"):
        parse_map_roles("rolearn: a")
    with pytest.raises(ValueError, match="not valid YAML"):
        parse_map_roles("- [unclosed")
    with pytest.raises(ValueError, match="entry 2 of type str"):
        parse_map_roles("- rolearn: a\n- not a mapping\n")


def test_find_access_entry_matches_with_or_without_path():
    assert find_access_entry({ROLE: "EC2_WINDOWS"}, ROLE_WITH_PATH) == {"principal_arn": ROLE, "type": "EC2_WINDOWS"}
    assert find_access_entry({ROLE_WITH_PATH.upper(): None}, ROLE_WITH_PATH)["type"] == "STANDARD"
    assert find_access_entry(None, ROLE) is None


def test_an_access_entry_wins_over_aws_auth_in_api_and_config_map_mode():
    identity = node_identity(ROLE, cluster("API_AND_CONFIG_MAP"), auth(entries={ROLE: "EC2_LINUX"}))
    assert identity["source"] == "access entry" and "eks:kube-proxy-windows" not in identity["groups"]


def test_aws_auth_is_ignored_in_api_mode():
    assert node_identity(ROLE, cluster("API"), auth(entries={}))["source"] is None


# --------------------------------------------------------------------------- not running


@pytest.mark.parametrize("state, words", [("stopped", "is stopped"), ("terminated", "is terminated"), ("pending", "is still starting")])
def test_instance_not_running(state, words):
    entry = diagnose_instance(instance(state=state, state_reason="Client.UserInitiatedShutdown"), cluster(), auth(), "ng")
    assert entry["state"] == "not_running" and codes(entry) == ["instance_not_running"]
    assert words in entry["causes"][0]["cause"] and "UserInitiatedShutdown" in entry["causes"][0]["cause"]
    assert "--auto-scaling-group-name ng" in entry["causes"][0]["fix"]


def test_a_not_running_instance_is_not_diagnosed_further():
    entry = diagnose_instance(instance(state="stopped", role_arn=f"{ACCOUNT}:role/unmapped"), cluster(), auth())
    assert codes(entry) == ["instance_not_running"]


# --------------------------------------------------------------------------- never registered


def test_an_instance_that_meets_every_condition_is_unexplained():
    entry = diagnose_instance(instance(), cluster(), auth())
    assert entry["state"] == "not_registered" and codes(entry) == ["not_registered"]
    assert "InvokeUserdataErrors.log" in entry["causes"][0]["fix"]


def test_cluster_not_active_when_the_instance_launched():
    windows = [{"status": "CREATING", "start": LAUNCHED - timedelta(minutes=5), "end": None}]
    entry = diagnose_instance(instance(), cluster(status="CREATING", windows=windows), auth(), "ng")
    assert codes(entry) == ["cluster_not_active_at_launch"]
    assert "was CREATING and still is" in entry["causes"][0]["cause"]
    assert "start-instance-refresh --auto-scaling-group-name ng" in entry["causes"][0]["fix"]


def test_a_window_that_started_after_the_launch_is_not_the_cause():
    windows = [{"status": "FAILED", "start": LAUNCHED + timedelta(minutes=5), "end": None}]
    assert codes(diagnose_instance(instance(), cluster(windows=windows), auth())) == ["not_registered"]


def test_a_closed_window_around_the_launch_is_the_cause():
    windows = [{"status": "CREATING", "start": LAUNCHED - timedelta(minutes=1), "end": LAUNCHED + timedelta(minutes=1)}]
    entry = diagnose_instance(instance(), cluster(windows=windows), auth())
    assert codes(entry) == ["cluster_not_active_at_launch"] and "still is" not in entry["causes"][0]["cause"]


def test_bootstrap_names_another_cluster():
    entry = diagnose_instance(instance(bootstrap={"cluster_name": "lab-old", "problem": None}), cluster(), auth())
    assert codes(entry) == ["bootstrap_other_cluster"]
    assert "'lab-old', not 'lab'" in entry["causes"][0]["cause"]
    assert "-EKSClusterName lab" in entry["causes"][0]["fix"]


def test_user_data_without_a_bootstrap():
    entry = diagnose_instance(instance(bootstrap={"cluster_name": None, "problem": "the launch template has no user data"}), cluster(), auth())
    assert codes(entry) == ["bootstrap_missing"]


@pytest.mark.parametrize("network, code", [
    ({"default_target": None, "route_table_id": "rtb-9"}, "no_route_out"),
    ({"default_target": "nat", "nat_gateway_id": "nat-1", "nat_state": "deleted"}, "no_route_out"),
    ({"default_target": "igw", "gateway_id": "igw-1", "public_ip": False, "map_public_ip": False}, "no_public_ip"),
])
def test_no_way_out_of_the_subnet(network, code):
    entry = diagnose_instance(instance(network=dict(network, subnet_id="subnet-1")), cluster(), auth())
    assert codes(entry) == [code]
    assert "subnet-1" in entry["causes"][0]["cause"]


@pytest.mark.parametrize("network", [
    {"default_target": "igw", "gateway_id": "igw-1", "public_ip": True},
    {"default_target": "igw", "gateway_id": "igw-1", "map_public_ip": True},
    {"default_target": "other"},
    {"default_target": "nat", "nat_state": "pending"},
])
def test_ways_out_that_work(network):
    assert codes(diagnose_instance(instance(network=network), cluster(), auth())) == ["not_registered"]


def test_role_not_mapped():
    entry = diagnose_instance(instance(), cluster(), auth(map_roles=[mapping(f"{ACCOUNT}:role/linux-nodes")]))
    assert codes(entry) == ["role_not_mapped"]
    assert ROLE in entry["causes"][0]["cause"]
    assert f"rolearn: {ROLE}" in entry["causes"][0]["fix"] and "eks:kube-proxy-windows" in entry["causes"][0]["fix"]


def test_role_not_mapped_offers_an_access_entry_when_the_mode_allows():
    entry = diagnose_instance(instance(), cluster("API_AND_CONFIG_MAP"), auth(map_roles=[], entries={}))
    assert codes(entry) == ["role_not_mapped"]
    assert "has no access entry" in entry["causes"][0]["cause"]
    assert "--type EC2_WINDOWS" in entry["causes"][0]["fix"]


def test_aws_auth_missing():
    entry = diagnose_instance(instance(), cluster(), auth(exists=False, map_roles=[]))
    assert codes(entry) == ["role_not_mapped"] and "does not exist" in entry["causes"][0]["cause"]


def test_aws_auth_unreadable():
    entry = diagnose_instance(instance(), cluster(), auth(map_roles=[], problem="mapRoles is not a YAML list"))
    assert codes(entry) == ["role_not_mapped"] and "not a YAML list" in entry["causes"][0]["cause"]


def test_role_mapped_with_its_path():
    entry = diagnose_instance(instance(role_arn=ROLE_WITH_PATH), cluster(), auth(map_roles=[mapping(ROLE_WITH_PATH)]))
    assert codes(entry) == ["role_mapped_with_path"]
    assert entry["causes"][0]["fix"].endswith(f"mapRoles to {ROLE}.")


def test_a_role_with_a_path_mapped_without_it_is_fine():
    entry = diagnose_instance(instance(role_arn=ROLE_WITH_PATH), cluster(), auth(map_roles=[mapping(ROLE)]))
    assert codes(entry) == ["not_registered"]


def test_instance_profile_mapped_instead_of_the_role():
    entry = diagnose_instance(instance(), cluster(), auth(map_roles=[mapping(PROFILE)]))
    assert codes(entry) == ["instance_profile_mapped"]
    assert PROFILE in entry["causes"][0]["cause"] and entry["causes"][0]["fix"].endswith(f"with {ROLE}.")


def test_the_profile_of_another_group_mapped_is_not_this_instances_cause():
    other = f"{ACCOUNT}:instance-profile/linux-nodes-profile"
    assert codes(diagnose_instance(instance(), cluster(), auth(map_roles=[mapping(other)]))) == ["role_not_mapped"]


def test_a_profile_with_a_path_mapped_is_recognised():
    with_path = f"{ACCOUNT}:instance-profile/eks/windows-nodes-profile"
    assert codes(diagnose_instance(instance(instance_profile_arn=with_path), cluster(), auth(map_roles=[mapping(PROFILE)]))) == [
        "instance_profile_mapped"]


@pytest.mark.parametrize("changes, words", [
    ({"groups": ["system:nodes"]}, "lacks group(s) system:bootstrappers"),
    ({"username": "admin"}, "uses username 'admin'"),
])
def test_a_mapping_that_cannot_register_nodes(changes, words):
    entry = diagnose_instance(instance(), cluster(), auth(map_roles=[mapping(**changes)]))
    assert codes(entry) == ["role_mapping_incomplete"] and words in entry["causes"][0]["cause"]


def test_no_access_entry_in_api_mode():
    entry = diagnose_instance(instance(), cluster("API"), auth(entries={f"{ACCOUNT}:role/other": "EC2_LINUX"}))
    assert codes(entry) == ["no_access_entry"]
    assert "create-access-entry --cluster-name lab" in entry["causes"][0]["fix"]


def test_a_standard_access_entry_does_not_make_a_node():
    entry = diagnose_instance(instance(), cluster("API_AND_CONFIG_MAP"), auth(entries={ROLE: "STANDARD"}))
    assert codes(entry) == ["access_entry_not_node"]


def test_a_node_access_entry_authorizes():
    assert codes(diagnose_instance(instance(), cluster("API"), auth(entries={ROLE: "EC2_WINDOWS"}))) == ["not_registered"]


def test_no_instance_profile():
    entry = diagnose_instance(instance(instance_profile_arn=None, role_arn=None), cluster(), auth())
    assert codes(entry) == ["no_instance_profile"]


def test_unread_facts_leave_their_rules_silent():
    facts = instance(role_arn=None, bootstrap=None, network=None, unchecked={"role": "AccessDenied", "network": "AccessDenied"})
    entry = diagnose_instance(facts, cluster(), {"aws_auth": None, "access_entries": None, "vpc_cni": None})
    assert codes(entry) == ["not_registered"] and entry["unchecked"] == ["network", "role"]


def test_several_causes_are_all_named():
    facts = instance(bootstrap={"cluster_name": "other", "problem": None}, network={"default_target": None, "subnet_id": "s"})
    entry = diagnose_instance(facts, cluster(), auth(map_roles=[]))
    assert codes(entry) == ["bootstrap_other_cluster", "no_route_out", "role_not_mapped"]


# --------------------------------------------------------------------------- registered, not Ready


def test_kube_proxy_windows_missing_from_the_mapping():
    entry = diagnose_instance(instance(node=registered()), cluster(), auth(map_roles=[mapping(groups=["system:bootstrappers", "system:nodes"])]))
    assert entry["state"] == "not_ready" and entry["node_name"] == "ip-10-0-1-4.ec2.internal"
    assert codes(entry) == ["kube_proxy_windows_missing"]
    assert "Add eks:kube-proxy-windows" in entry["causes"][0]["fix"]


def test_kube_proxy_windows_missing_with_a_linux_access_entry():
    entry = diagnose_instance(instance(node=registered()), cluster("API"), auth(entries={ROLE: "EC2_LINUX"}))
    assert codes(entry) == ["kube_proxy_windows_missing"] and "EC2_LINUX access entry" in entry["causes"][0]["cause"]


@pytest.mark.parametrize("ipam, words", [
    ("false", "enable-windows-ipam: 'false'"),
    (None, "has no enable-windows-ipam key"),
    (False, "does not exist"),
])
def test_windows_ipam_off(ipam, words):
    entry = diagnose_instance(instance(node=registered()), cluster(), auth(ipam=ipam))
    assert codes(entry) == ["windows_ipam_disabled"] and words in entry["causes"][0]["cause"]
    assert "enable-windows-ipam" in entry["causes"][0]["fix"]


def test_both_readiness_causes_together():
    entry = diagnose_instance(instance(node=registered()), cluster(), auth(map_roles=[mapping(groups=["system:bootstrappers", "system:nodes"])],
                                                                           ipam="false"))
    assert codes(entry) == ["kube_proxy_windows_missing", "windows_ipam_disabled"]


def test_linux_nodes_are_not_held_to_windows_rules():
    without_kube_proxy = mapping(groups=["system:nodes", "system:bootstrappers"])
    entry = diagnose_instance(instance(windows=False, node=registered()), cluster(), auth(ipam="false", map_roles=[without_kube_proxy]))
    assert codes(entry) == ["node_not_ready"]


def test_not_ready_without_a_known_cause_quotes_the_condition():
    entry = diagnose_instance(instance(node=registered(message="container runtime network not ready")), cluster(), auth())
    assert codes(entry) == ["node_not_ready"]
    assert "KubeletNotReady: container runtime network not ready" in entry["causes"][0]["cause"]


# --------------------------------------------------------------------------- group and summary


def test_group_short_of_instances():
    causes = group_causes(3, 1, "ng", "Launching a new EC2 instance failed: InsufficientInstanceCapacity")
    assert [c["code"] for c in causes] == ["group_short_of_instances"]
    assert "has 1 of the 3" in causes[0]["cause"] and "InsufficientInstanceCapacity" in causes[0]["cause"]
    assert group_causes(3, 3, "ng", None) == []
    assert group_causes(3, 1, None, None) == []


def test_summary_names_each_cause_once_with_its_fix():
    unmapped = auth(map_roles=[])
    entries = [diagnose_instance(instance(state="stopped"), cluster(), auth()),
               diagnose_instance(instance(instance_id="i-2"), cluster(), unmapped),
               diagnose_instance(instance(instance_id="i-3"), cluster(), unmapped),
               {"instance_id": None, "state": "group", "causes": group_causes(4, 3, "ng", None)}]
    lines = summary(entries).splitlines()
    assert len(lines) == 6
    assert lines[0].startswith("i-1 (not running): instance i-1 is stopped")
    assert lines[2].startswith(f"i-2, i-3 (not registered): role {ROLE} (the instance's role) is not mapped")
    assert lines[3].startswith("  Fix: Map it:")
    assert lines[4].startswith("the group: Auto Scaling group ng has 3 of the 4 instances expected")


EKS_IMAGE = {"image_id": "ami-1", "exists": True, "name": "Windows_Server-2022-English-Core-EKS_Optimized-1.31-2026.11.12",
             "public": True, "windows": True, "eks_optimized": True}


@pytest.mark.parametrize("image, code", [
    ({"image_id": "ami-1", "exists": False}, "image_not_found"),
    ({**EKS_IMAGE, "name": "al2023-ami-2023.6", "windows": False, "eks_optimized": False}, "image_not_windows"),
    ({**EKS_IMAGE, "name": "Windows_Server-2022-English-Core-Base-2026.11.12", "eks_optimized": False}, "image_not_eks_optimized"),
])
def test_an_image_that_cannot_join_is_named(image, code):
    entry = diagnose_instance(instance(image=image), cluster(), auth())
    assert codes(entry) == [code]
    assert "ami-1" in entry["causes"][0]["cause"] and "EKS optimized Windows AMI" in entry["causes"][0]["fix"]


def test_an_eks_image_or_a_private_custom_one_is_no_cause():
    assert codes(diagnose_instance(instance(image=EKS_IMAGE), cluster(), auth())) == ["not_registered"]
    custom = {**EKS_IMAGE, "name": "acme-windows-2022-eks", "public": False, "eks_optimized": False}
    assert codes(diagnose_instance(instance(image=custom), cluster(), auth())) == ["not_registered"]
