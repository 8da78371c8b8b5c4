"""eksnodes.windows.windows_ami_info against the lab: every AMI family, the DescribeImages fallback, rejected pairs."""

import pytest

MODULE = "eksnodes.windows.windows_ami_info"
FAMILIES = {
    "WindowsServer2019CoreContainer": ("2019", "Core"),
    "WindowsServer2019FullContainer": ("2019", "Full"),
    "WindowsServer2022CoreContainer": ("2022", "Core"),
    "WindowsServer2022FullContainer": ("2022", "Full"),
    "WindowsServer2025CoreContainer": ("2025", "Core"),
    "WindowsServer2025FullContainer": ("2025", "Full"),
}


def family_key(release, flavour, version):
    return f"Windows_Server-{release}-English-{flavour}-EKS_Optimized-{version}"


def test_every_ami_family_resolves_through_its_ssm_parameter(lab, ansible):
    play = {"hosts": "localhost", "gather_facts": False, "tasks": [{
        "name": "every family",
        MODULE: {"kubernetes_version": "1.35", "ami_family": "{{ item }}"},
        "loop": list(FAMILIES),
    }]}
    run = ansible.playbook([play])
    results = run.result("every family")["results"]
    assert len(results) == len(FAMILIES)
    for result in results:
        assert not result.get("failed"), result
        release, flavour = FAMILIES[result["item"]]
        expected = lab.facts["windows_amis"][family_key(release, flavour, "1.35")]
        assert result["image_id"] == expected["image_id"]
        assert result["image"]["name"] == expected["image_name"]
        assert result["ssm_parameter"] == expected["ssm_parameter"]
        assert result["resolved_by"] == "ssm" and result["fallback_reason"] is None
        assert result["ami_family"] == result["item"] and result["os_version"] == release and result["edition"] == flavour.lower()
        assert result["image"]["root_device_name"] == "/dev/sda1" and result["image"]["public"] is True
        assert result["changed"] is False


def test_defaults_to_2022_core_and_reads_the_version_from_the_cluster(lab, ansible):
    result = ansible.task(MODULE, {"cluster_name": lab.cluster_name}, check=True)
    assert not result.get("failed"), result
    expected = lab.facts["windows_amis"][family_key("2022", "Core", "1.31")]
    assert result["kubernetes_version"] == "1.31" and result["ami_family"] == "WindowsServer2022CoreContainer"
    assert result["image_id"] == expected["image_id"]
    assert result["days_until_retirement"] > 30 and result["expected_private_after"]
    assert not result.get("warnings")


@pytest.fixture
def missing_parameter(lab):
    """Take the 2019 Full 1.30 SSM parameter away (as when EKS has not published it); put it back after."""
    family = lab.facts["windows_amis"][family_key("2019", "Full", "1.30")]
    assert lab.control.aws.delete_ssm_parameter(family["ssm_parameter"])
    yield family
    lab.control.aws.put_ssm_parameter(family["ssm_parameter"], family["image_id"], data_type="aws:ec2:image")


def test_falls_back_to_describe_images_when_the_parameter_is_missing(lab, ansible, missing_parameter):
    newer = lab.control.aws.add_image("Windows_Server-2019-English-Full-EKS_Optimized-1.30-2026.11.20", owner_id="055183720277",
                                      platform="windows", creation_date="2026-11-20T08:00:00+00:00", root_volume_gib=50,
                                      root_device_name="/dev/sda1")
    lookalike = lab.control.aws.add_image("Windows_Server-2019-English-Full-EKS_Optimized-1.3-2026.12.01", owner_id="055183720277",
                                          platform="windows", creation_date="2026-12-01T08:00:00+00:00")
    try:
        play = {"hosts": "localhost", "gather_facts": False, "tasks": [
            {"name": "auto", MODULE: {"kubernetes_version": "1.30", "os_version": "2019", "edition": "full"}},
            {"name": "ssm only", MODULE: {"kubernetes_version": "1.30", "os_version": "2019", "edition": "full", "lookup": "ssm"},
             "ignore_errors": True},
            {"name": "one owner", MODULE: {"kubernetes_version": "1.30", "ami_family": "WindowsServer2019FullContainer",
                                           "lookup": "describe_images", "owners": [missing_parameter["images"][0]["owner_id"]]}},
        ]}
        run = ansible.playbook([play])
        auto = run.result("auto")
        assert not auto.get("failed"), auto
        assert auto["resolved_by"] == "describe_images"
        assert auto["image_id"] == newer  # 055183720277 published EKS Windows AMIs without the amazon alias: trusted by its id
        assert auto["refused_images"] == []
        assert auto["fallback_reason"] == f"the SSM parameter {missing_parameter['ssm_parameter']} does not exist"
        assert auto["image"]["owner_id"] == "055183720277"

        ssm_only = run.result("ssm only")
        assert ssm_only["failed"] and "does not exist" in ssm_only["msg"]

        one_owner = run.result("one owner")
        assert one_owner["image_id"] == missing_parameter["images"][0]["image_id"]
    finally:
        lab.control.aws.remove_image(newer)
        lab.control.aws.remove_image(lookalike)


STRANGER = "111122223333"


def test_a_squatted_name_is_refused_in_the_fallback(lab, ansible, missing_parameter):
    name = "Windows_Server-2019-English-Full-EKS_Optimized-1.30-2026.11.25"
    squatter = lab.control.aws.add_image(name, owner_id=STRANGER, platform="windows", creation_date="2026-11-25T08:00:00+00:00")
    only_squatted = lab.control.aws.add_image("Windows_Server-2022-English-Core-EKS_Optimized-1.28-2026.11.25", owner_id=STRANGER,
                                              platform="windows", creation_date="2026-11-25T08:00:00+00:00")
    try:
        # the lab answers as AWS does: the stranger's image has no owner alias, and Owners=["amazon"] leaves it out
        ec2 = lab.aws_client("ec2")
        by_name = [{"Name": "name", "Values": [name]}]
        assert ec2.describe_images(Filters=by_name)["Images"][0].get("ImageOwnerAlias") is None
        assert ec2.describe_images(Owners=["amazon"], Filters=by_name)["Images"] == []

        args = {"kubernetes_version": "1.30", "os_version": "2019", "edition": "full"}
        run = ansible.playbook([{"hosts": "localhost", "gather_facts": False, "tasks": [
            {"name": "auto", MODULE: args},
            {"name": "owner listed", MODULE: dict(args, owners=["amazon", STRANGER])},
            {"name": "only a stranger's image", MODULE: {"kubernetes_version": "1.28"}, "ignore_errors": True},
        ]}])
        auto = run.result("auto")
        assert not auto.get("failed"), auto
        assert auto["resolved_by"] == "describe_images"
        assert auto["image_id"] == missing_parameter["image_id"]  # the newest image of Amazon's, not the newer squatted one
        assert auto["refused_images"] == [f"{squatter} ({name}, owner {STRANGER})"]
        warning = " ".join(auto["warnings"])
        assert f"owner {STRANGER} is not one of the trusted owners (amazon, 801119661308" in warning
        assert f"list it in owners, e.g. owners: [amazon, 801119661308, 957547624766, 055183720277, {STRANGER}]" in warning

        listed = run.result("owner listed")
        assert listed["image_id"] == squatter and listed["image"]["owner_id"] == STRANGER and listed["refused_images"] == []

        refused = run.result("only a stranger's image")
        assert refused["failed"]
        assert "Windows_Server-2022-English-Core-EKS_Optimized-1.28-* (owners amazon, 801119661308, 957547624766, 055183720277)" in refused["msg"]
        assert f"refused {only_squatted} (Windows_Server-2022-English-Core-EKS_Optimized-1.28-2026.11.25, owner {STRANGER})" in refused["msg"]
        assert "If you trust that account, list it in owners" in refused["msg"]
    finally:
        lab.control.aws.remove_image(squatter)
        lab.control.aws.remove_image(only_squatted)


REJECTED = {
    "2025 on 1.31": ({"cluster_name": "lab", "os_version": "2025"},
                     "Windows Server 2025 EKS optimized AMIs need Kubernetes 1.35 or later; the cluster runs 1.31. "
                     "Choose Windows Server 2019 or 2022, or upgrade the cluster"),
    "2022 on 1.23": ({"kubernetes_version": "1.23", "ami_family": "WindowsServer2022FullContainer"},
                     "Windows Server 2022 EKS optimized AMIs need Kubernetes 1.24 or later; the cluster runs 1.23."),
    "not a version": ({"kubernetes_version": "latest"}, "kubernetes_version 'latest' is not a Kubernetes version such as 1.31"),
    "family and release": ({"kubernetes_version": "1.31", "ami_family": "WindowsServer2019CoreContainer", "os_version": "2019"},
                           "parameters are mutually exclusive: ami_family|os_version"),
    "nothing published": ({"kubernetes_version": "1.28"},
                          "the SSM parameter /aws/service/ami-windows-latest/Windows_Server-2022-English-Core-EKS_Optimized-1.28/image_id "
                          "does not exist, and no public, available image is named "
                          "Windows_Server-2022-English-Core-EKS_Optimized-1.28-*"),
}


def test_unsupported_pairs_and_unpublished_versions_are_rejected(lab, ansible):
    lab.control.set_nodesim(paused=True)  # the simulator reads EC2 too; nothing else may consume the fault below
    lab.control.aws.add_fault("ec2", "*", "UnauthorizedOperation", count=1)  # any EC2 call for these pairs would consume it
    try:
        offline = {name: case for name, case in REJECTED.items() if name != "nothing published"}
        tasks = [{"name": name, MODULE: case[0], "ignore_errors": True} for name, case in offline.items()]
        run = ansible.playbook([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}])
        for name, case in offline.items():
            message = case[1]
            result = run.result(name)
            assert result["failed"] and message in result["msg"], (name, result)
        # none of them reached DescribeImages: the armed fault is still there
        assert [rule["count"] for rule in lab.control.aws.faults()] == [1]
    finally:
        lab.control.aws.clear_faults()
        lab.control.set_nodesim(paused=False)
    args, message = REJECTED["nothing published"]
    result = ansible.task(MODULE, args)
    assert result["failed"] and result["msg"].startswith(message), result


def test_throttling_is_retried(lab, ansible):
    lab.control.aws.add_fault("ssm", "GetParameter", "ThrottlingException", count=1)
    try:
        result = ansible.task(MODULE, {"kubernetes_version": "1.31"})
        assert not result.get("failed"), result
        assert result["resolved_by"] == "ssm"
    finally:
        lab.control.aws.clear_faults()
