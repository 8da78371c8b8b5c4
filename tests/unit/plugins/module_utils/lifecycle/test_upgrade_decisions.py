"""The upgrade's pure decisions: request checks, version skew, Windows release floors, phases, batches and names."""

import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle import upgrade as u


def checks(found, severity="error"):
    return [item["check"] for item in found if item["severity"] == severity]


# names -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("old, new", [
    ("windows", "windows-v2"),
    ("windows-v2", "windows-v3"),
    ("windows-v9", "windows-v10"),
    ("ng-1", "ng-1-v2"),
    ("a" * 63, "a" * 60 + "-v2"),
])
def test_the_replacement_name_depends_only_on_the_old_one(old, new):
    assert u.default_new_name(old) == new
    assert len(u.default_new_name(old)) <= 63


def test_stack_name_is_the_nodegroup_roles():
    assert u.stack_name("prod", "windows-v2") == "prod-nodegroup-windows-v2"


def test_image_names_give_family_and_version():
    assert u.image_family("Windows_Server-2022-English-Full-EKS_Optimized-1.32-2026.11.12") == {
        "release": "2022", "edition": "full", "ami_family": "WindowsServer2022FullContainer", "kubernetes_version": "1.32"}
    assert u.image_family("my-golden-image")["ami_family"] is None


# the request -----------------------------------------------------------------------------------------------
def test_a_good_request_has_no_finding():
    assert u.request_findings("blue_green", 1, None, "win", None, None, None) == []
    assert u.request_findings("rolling", 2, 1, "win", "", "WindowsServer2025CoreContainer", "1.35") == []


@pytest.mark.parametrize("args, check", [
    (("fast", 1, None, "win", None, None, None), "strategy"),
    (("blue_green", 0, None, "win", None, None, None), "batch_size"),
    (("rolling", 1, -1, "win", None, None, None), "min_in_service"),
    (("blue_green", 1, None, "win", None, "WindowsServer2016", None), "node_ami_family"),
    (("blue_green", 1, None, "win", None, None, "one.thirty"), "kubernetes_version"),
    (("blue_green", 1, None, "win", "win", None, None), "new_nodegroup_name"),
    (("blue_green", 1, None, "win", "-bad name", None, None), "new_nodegroup_name"),
])
def test_each_bad_request_names_its_variable(args, check):
    found = u.request_findings(*args)
    assert checks(found) == [check]
    assert all(item["fix"] for item in found)


def test_rolling_may_keep_the_name():
    assert u.request_findings("rolling", 1, None, "win", "win", None, None) == []


# the group -------------------------------------------------------------------------------------------------
def test_a_group_without_stack_is_refused_naming_nodegroup_name():
    found = u.group_findings("prod-nodegroup-gone", "gone", None, 1, None, "blue_green")
    assert checks(found) == ["nodegroup_name"] and "prod-nodegroup-gone" in found[0]["message"]


@pytest.mark.parametrize("size, batch, minimum, strategy, expected", [
    (2, 2, None, "blue_green", []),
    (2, 3, None, "blue_green", ["batch_size"]),
    (2, 1, 3, "rolling", ["min_in_service"]),
    (2, 1, 2, "rolling", ["min_in_service"]),
    (2, 1, 1, "rolling", []),
    (1, 1, 0, "rolling", []),
    (0, 1, None, "rolling", []),
])
def test_the_batch_must_fit_the_group(size, batch, minimum, strategy, expected):
    assert checks(u.group_findings("s", "win", size, batch, minimum, strategy)) == expected


def test_min_in_service_defaults_as_nodes_replace_does():
    assert u.default_min_in_service(3, 1) == 2
    assert u.default_min_in_service(2, 2) == 0
    assert u.default_min_in_service(1, 1) == 0


# versions --------------------------------------------------------------------------------------------------
def test_supported_skew_is_three_minor_versions_since_1_28():
    assert u.supported_skew((1, 28)) == 3 and u.supported_skew((1, 31)) == 3
    assert u.supported_skew((1, 27)) == 2


def test_a_kubelet_newer_than_the_control_plane_is_refused():
    found = u.version_findings((1, 31), (1, 32), "2022", False, [(1, 31)])
    assert checks(found) == ["kubernetes_version"]
    assert "1.32 is newer than the control plane's 1.31" in found[0]["message"]


def test_the_control_planes_version_and_up_to_three_older_pass():
    assert u.version_findings((1, 32), (1, 32), "2022", False, [(1, 31)]) == []
    assert u.version_findings((1, 32), (1, 29), "2022", False, [(1, 29)]) == []


def test_past_the_skew_is_a_warning_not_an_error():
    found = u.version_findings((1, 33), (1, 29), "2022", False, [])
    assert checks(found) == [] and checks(found, "warning") == ["kubernetes_version"]
    assert "4 minor versions older" in found[0]["message"]


def test_nodes_already_past_the_skew_are_reported():
    found = u.version_findings((1, 33), (1, 33), "2022", False, [(1, 29)])
    assert checks(found) == [] and "past the supported skew" in found[0]["message"]


def test_a_downgrade_is_reported():
    found = u.version_findings((1, 33), (1, 31), "2022", False, [(1, 32)])
    assert any("downgrade" in item["message"] for item in found)


@pytest.mark.parametrize("release, version, refused", [
    ("2025", (1, 34), True),
    ("2025", (1, 35), False),
    ("2022", (1, 23), True),
    ("2022", (1, 24), False),
    ("2019", (1, 31), False),
])
def test_the_windows_release_floors(release, version, refused):
    found = u.version_findings(version, version, release, True, [])
    assert ("node_ami_family" in checks(found)) is refused


def test_a_release_inherited_from_the_group_says_so():
    found = u.version_findings((1, 23), (1, 23), "2022", False, [])
    assert "node_ami_family (unset: the group's current release)" in checks(found)


def test_no_windows_ami_before_1_24():
    assert "kubernetes_version" in checks(u.version_findings((1, 23), (1, 23), "2019", False, []))


# phases ----------------------------------------------------------------------------------------------------
def test_phases():
    error = [{"check": "x", "severity": "error", "message": "m", "fix": "f"}]
    assert u.phase("blue_green", error, True, None, False) == u.REFUSED
    assert u.phase("blue_green", [], True, None, True) == u.UP_TO_DATE
    assert u.phase("blue_green", [], True, None, False) == u.REPLACE
    assert u.phase("blue_green", [], True, {"tags": {}}, True) == u.REPLACE
    assert u.phase("blue_green", [], False, {"tags": {}}, False) == u.CLEANUP
    assert u.phase("rolling", [], True, None, True) == u.UP_TO_DATE
    assert u.phase("rolling", [], True, None, False) == u.REPLACE


def test_up_to_date_needs_the_stack_and_every_instance_on_the_target():
    assert u.up_to_date("ami-1", {"i-1": "ami-1", "i-2": "ami-1"}, "ami-1")
    assert not u.up_to_date("ami-1", {"i-1": "ami-1", "i-2": "ami-0"}, "ami-1")
    assert not u.up_to_date("ami-0", {"i-1": "ami-1"}, "ami-1")
    assert not u.up_to_date("ami-1", {}, None)


def test_a_stack_of_the_new_name_must_be_a_replacement_of_this_group():
    assert u.replacement_findings(None, "win", "win-v2") == []
    assert u.replacement_findings({"tags": {u.REPLACES_TAG: "win"}}, "win", "win-v2") == []
    found = u.replacement_findings({"tags": {u.REPLACES_TAG: "other"}}, "win", "win-v2")
    assert checks(found) == ["new_nodegroup_name"]


def test_a_new_group_name_must_fit_a_stack_name():
    found = u.request_findings("blue_green", 1, None, "win", "win_v2", None, None)
    assert checks(found) == ["new_nodegroup_name"] and "takes no underscore" in found[0]["fix"]
    assert u.request_findings("blue_green", 1, None, "win", "win-v2", None, None) == []


def test_the_stack_under_the_group_name_must_be_the_group_s():
    assert u.ownership_findings("lab-nodegroup-win", "win", {"owned": True, "reason": "its marker tags name node group 'win'"}) == []
    found = u.ownership_findings("lab-nodegroup-win", "win", {"owned": False, "reason": "its marker tags say it belongs to node group 'other'"})
    assert checks(found) == ["nodegroup_name"] and "node group 'other'" in found[0]["message"]


# instances and batches -------------------------------------------------------------------------------------
def test_blue_green_replaces_all_and_rolling_only_the_old():
    images = {"i-2": "ami-new", "i-1": "ami-old", "i-3": "ami-old"}
    assert u.replaced_instances("blue_green", images, "ami-new") == ["i-1", "i-2", "i-3"]
    assert u.replaced_instances("rolling", images, "ami-new") == ["i-1", "i-3"]


def test_batches():
    assert u.batches(["a", "b", "c"], 2) == [["a", "b"], ["c"]]
    assert u.batches(["a"], 0) == [["a"]]
    assert u.batches([], 1) == []


def test_the_old_role_stays_while_another_group_uses_it():
    stacks = [{"stack_name": "old", "stack_id": "id-old", "node_instance_role_arn": "arn:role/a"},
              {"stack_name": "other", "stack_id": "id-other", "node_instance_role_arn": "arn:role/a"}]
    assert u.role_users("arn:role/a", "id-old", stacks, {}) == ["stack other"]
    assert u.role_users("arn:role/a", "id-old", stacks[:1], {"mng": "arn:role/a"}) == ["managed node group mng"]
    assert u.role_users("arn:role/a", "id-old", stacks[:1], {}) == []


def test_carried_settings_keep_the_old_groups_shape():
    settings = u.carried_settings({
        "NodeInstanceType": "m5.xlarge", "NodeAutoScalingGroupDesiredCapacity": "3", "NodeAutoScalingGroupMinSize": "2",
        "NodeAutoScalingGroupMaxSize": "4", "NodeVolumeSize": "80", "KeyName": "", "BootstrapArguments": "-KubeletExtraArgs '--v=2'",
        "Subnets": "subnet-1,subnet-2", "NodeSecurityGroups": "sg-1", "DisableIMDSv1": "true", "AttachCNIPolicy": "false",
        "HttpPutResponseHopLimit": "1", "NodeInstanceRolePermissionsBoundary": ""})
    assert settings == {"node_type": "m5.xlarge", "nodes": 3, "nodes_min": 2, "nodes_max": 4, "node_volume_size": 80, "key_name": "",
                        "bootstrap_arguments": "-KubeletExtraArgs '--v=2'", "permissions_boundary": "",
                        "subnets": ["subnet-1", "subnet-2"], "security_groups": ["sg-1"], "disable_imdsv1": True,
                        "attach_cni_policy": False, "disable_pod_imds": True}
    assert u.group_size({"NodeAutoScalingGroupDesiredCapacity": "3"}) == 3 and u.group_size({}) is None


def test_the_failure_message_lists_every_error_with_its_fix():
    found = u.request_findings("fast", 0, None, "win", None, None, None)
    message = u.failure_message(found)
    assert message.startswith("The upgrade was refused before any change (2 error(s)):")
    assert "[strategy]" in message and "[batch_size]" in message and message.count("Fix:") == 2
