"""AMI families, names, supported pairs and the choice among DescribeImages results."""

import datetime

import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.ami import families as f

NOW = datetime.datetime(2026, 11, 26, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize("family, release, edition", [
    ("WindowsServer2019CoreContainer", "2019", "core"),
    ("WindowsServer2019FullContainer", "2019", "full"),
    ("WindowsServer2022CoreContainer", "2022", "core"),
    ("WindowsServer2022FullContainer", "2022", "full"),
    ("WindowsServer2025CoreContainer", "2025", "core"),
    ("WindowsServer2025FullContainer", "2025", "full"),
])
def test_every_eksctl_family_maps_and_round_trips(family, release, edition):
    assert f.select(None, None, family) == (release, edition)
    assert f.family_name(release, edition) == family


def test_default_is_windows_server_2022_core():
    assert f.select(None, None, None) == ("2022", "core")
    assert f.select("2019", None, None) == ("2019", "core")
    assert f.select(None, "full", None) == ("2022", "full")


@pytest.mark.parametrize("args, message", [
    (("2019", None, "WindowsServer2022CoreContainer"), "ami_family already names the release and edition"),
    ((None, None, "WindowsServer2004CoreContainer"), "ami_family 'WindowsServer2004CoreContainer' is not one of"),
    (("2016", None, None), "os_version '2016' is not one of 2019, 2022, 2025"),
    ((None, "nano", None), "edition 'nano' is not one of core, full"),
])
def test_select_rejects(args, message):
    with pytest.raises(f.AmiSelectionError, match=message):
        f.select(*args)


@pytest.mark.parametrize("version, expected", [("1.31", (1, 31)), ("1.31.2", (1, 31)), ("v1.35", (1, 35)), ("1.29-eks", (1, 29))])
def test_parse_kubernetes_version(version, expected):
    assert f.parse_kubernetes_version(version) == expected


@pytest.mark.parametrize("version", ["", None, "latest", "1"])
def test_parse_kubernetes_version_rejects(version):
    with pytest.raises(f.AmiSelectionError, match="is not a Kubernetes version such as 1.31"):
        f.parse_kubernetes_version(version)


@pytest.mark.parametrize("release, version, ok", [
    ("2019", "1.23", True), ("2022", "1.23", False), ("2022", "1.24", True),
    ("2025", "1.34", False), ("2025", "1.35", True), ("2025", "1.36", True),
])
def test_supported_pairs(release, version, ok):
    if ok:
        f.check_supported(release, version)
    else:
        with pytest.raises(f.AmiSelectionError) as raised:
            f.check_supported(release, version)
        assert f"Windows Server {release} EKS optimized AMIs need Kubernetes" in str(raised.value)
        assert f"the cluster runs {version}" in str(raised.value)


def test_unsupported_pair_message_suggests_what_works():
    with pytest.raises(f.AmiSelectionError) as raised:
        f.check_supported("2025", "1.31")
    assert str(raised.value) == (
        "Windows Server 2025 EKS optimized AMIs need Kubernetes 1.35 or later; the cluster runs 1.31. "
        "Choose Windows Server 2019 or 2022, or upgrade the cluster"
    )


def test_ssm_parameter_and_name_filter():
    assert f.ssm_parameter_name("2022", "core", "1.31.4") == "/aws/service/ami-windows-latest/Windows_Server-2022-English-Core-EKS_Optimized-1.31/image_id"
    assert f.ssm_parameter_name("2019", "full", "1.29") == "/aws/service/ami-windows-latest/Windows_Server-2019-English-Full-EKS_Optimized-1.29/image_id"
    filters = {item["Name"]: item["Values"] for item in f.image_filters("2025", "full", "1.35")}
    assert filters == {"name": ["Windows_Server-2025-English-Full-EKS_Optimized-1.35-*"], "is-public": ["true"], "state": ["available"]}


def image(name, created, owner_alias=None, state="available", image_id=None):
    found = {"ImageId": image_id or f"ami-{abs(hash(name + created)) % 10**8:08x}", "Name": name, "CreationDate": created,
             "State": state, "OwnerId": "957547624766"}
    if owner_alias:
        found["ImageOwnerAlias"] = owner_alias
    return found


def test_newest_picks_the_latest_exact_name_of_the_owners():
    images = [
        image("Windows_Server-2022-English-Core-EKS_Optimized-1.31-2026.10.14", "2026-10-14T00:00:00.000Z"),
        image("Windows_Server-2022-English-Core-EKS_Optimized-1.31-2026.11.12", "2026-11-12T00:00:00.000Z", image_id="ami-new"),
        image("Windows_Server-2022-English-Core-EKS_Optimized-1.3-2026.12.01", "2026-12-01T00:00:00.000Z"),
        image("Windows_Server-2022-English-Core-EKS_Optimized-1.31-2026.12.02-custom", "2026-12-02T00:00:00.000Z"),
        image("Windows_Server-2022-English-Core-EKS_Optimized-1.31-2026.12.03", "2026-12-03T00:00:00.000Z", state="pending"),
    ]
    owners = f.default_owners("us-east-1")
    assert f.newest(images, "2022", "core", "1.31", owners)["ImageId"] == "ami-new"
    assert f.newest(images, "2022", "full", "1.31", owners) is None
    assert f.newest(images, "2022", "core", "1.31", ["amazon"]) is None  # 957547624766 without the alias


def test_newest_never_takes_a_strangers_image_for_its_name():
    stranger = image("Windows_Server-2022-English-Core-EKS_Optimized-1.31-2026.11.20", "2026-11-20T00:00:00.000Z", image_id="ami-other")
    stranger["OwnerId"] = "111122223333"
    images = [
        image("Windows_Server-2022-English-Core-EKS_Optimized-1.31-2026.11.12", "2026-11-12T00:00:00.000Z", owner_alias="amazon", image_id="ami-amazon"),
        stranger,
    ]
    owners = f.default_owners("us-east-1")
    assert f.newest(images, "2022", "core", "1.31", owners)["ImageId"] == "ami-amazon"
    assert f.newest([stranger], "2022", "core", "1.31", owners) is None
    assert [item["ImageId"] for item in f.refused(images, "2022", "core", "1.31", owners, images[0])] == ["ami-other"]
    assert f.newest(images, "2022", "core", "1.31", owners + ["111122223333"])["ImageId"] == "ami-other"
    message = f.refusal_message([stranger], owners)
    assert "owner 111122223333 is not one of the trusted owners" in message and "list it in owners" in message


def test_default_owners_per_partition():
    assert f.default_owners("eu-west-1") == ["amazon", "801119661308", "957547624766", "055183720277"]
    assert f.default_owners("us-gov-west-1") == ["amazon", "077303321853"]
    assert f.default_owners("cn-north-1") == ["amazon"]


def test_retirement_of_a_recent_image_gives_no_warning():
    facts = f.retirement({"ImageId": "ami-1", "Name": "n", "CreationDate": "2026-11-12T00:00:00.000Z"}, NOW, 30)
    assert facts["warning"] is None
    assert facts["expected_private_after"] == "2027-03-14T00:00:00+00:00"
    assert facts["days_until_retirement"] == 108


def test_retirement_warns_near_the_four_month_mark():
    facts = f.retirement({"ImageId": "ami-1", "Name": "n", "CreationDate": "2026-08-10T00:00:00.000Z"}, NOW, 30)
    assert facts["days_until_retirement"] == 14
    assert facts["warning"].startswith(
        "AMI ami-1 (n) reaches the end of the four months or so that EKS keeps its Windows AMIs public on 2026-12-10, in 14 days")


def test_retirement_uses_an_earlier_deprecation_time_and_past_dates():
    facts = f.retirement({"ImageId": "ami-1", "Name": "n", "CreationDate": "2026-11-01T00:00:00.000Z",
                          "DeprecationTime": "2026-11-20T00:00:00.000Z"}, NOW, 30)
    assert facts["days_until_retirement"] < 0
    assert "reached its deprecation time on 2026-11-20" in facts["warning"]


def test_retirement_without_dates():
    assert f.retirement({"ImageId": "ami-1"}, NOW, 30) == {"expected_private_after": None, "days_until_retirement": None, "warning": None}


def test_image_facts():
    facts = f.image_facts({"ImageId": "ami-1", "Name": "n", "ImageOwnerAlias": "amazon", "PlatformDetails": "Windows", "RootDeviceName": "/dev/sda1"})
    assert facts["image_id"] == "ami-1" and facts["owner_alias"] == "amazon" and facts["platform"] == "Windows"
    assert f.image_facts(None)["image_id"] is None


EKS_NAME = "Windows_Server-2022-English-Core-EKS_Optimized-1.31-2026.11.12"


def eks_image(name=EKS_NAME, image_id="ami-1", created="2026-11-12T08:00:00.000Z", platform="windows", state="available"):
    return {"ImageId": image_id, "Name": name, "CreationDate": created, "Platform": platform,
            "PlatformDetails": "Windows" if platform == "windows" else "Linux/UNIX", "State": state}


def test_image_names_are_parsed_only_when_they_are_eks_optimized_windows_amis():
    assert f.parse_image_name(EKS_NAME) == ("2022", "core", "1.31")
    assert f.parse_image_name("Windows_Server-2019-English-Full-EKS_Optimized-1.29-2026.10.14") == ("2019", "full", "1.29")
    assert f.parse_image_name("Windows_Server-2022-English-Core-Base-2026.11.12") is None
    assert f.parse_image_name(None) is None


@pytest.mark.parametrize("found, custom, words", [
    (None, False, ["does not exist"]),
    (eks_image(state="deregistered"), False, ["deregistered, not available"]),
    (eks_image(name="al2023-ami-2023.6", platform=None), False, ["not a Windows image"]),
    (eks_image(name="Windows_Server-2022-English-Core-Base-2026.11.12"), False, ["not an EKS optimized Windows AMI"]),
    (eks_image(name="Windows_Server-2022-English-Core-EKS_Optimized-1.30-2026.11.12"), False, ["built for Kubernetes 1.30", "runs 1.31"]),
    (eks_image(name="al2023-ami-2023.6", platform=None), True, ["not a Windows image"]),
])
def test_an_image_given_by_id_is_refused_with_the_reason(found, custom, words):
    problems = f.image_problems(found, "ami-1", "1.31", custom)
    assert len(problems) == 1
    for word in words:
        assert word in problems[0]


def test_an_eks_image_of_the_cluster_version_or_a_custom_windows_image_is_accepted():
    assert f.image_problems(eks_image(), "ami-1", "1.31") == []
    assert f.image_problems(eks_image(name="acme-windows-2022"), "ami-1", "1.31", custom=True) == []


def test_the_current_image_is_kept_when_of_the_asked_family_and_a_newer_one_is_reported():
    newer = eks_image(name="Windows_Server-2022-English-Core-EKS_Optimized-1.31-2026.12.09", image_id="ami-2", created="2026-12-09T08:00:00.000Z")
    assert f.compare_current(eks_image(), newer, "2022", "core", "1.31") == {"keep": True, "newer_available": True}
    assert f.compare_current(eks_image(), eks_image(), "2022", "core", "1.31") == {"keep": True, "newer_available": False}


def test_a_control_plane_upgrade_is_reported_as_an_update_and_not_applied():
    newest_132 = eks_image(name="Windows_Server-2022-English-Core-EKS_Optimized-1.32-2026.11.12", image_id="ami-3")
    assert f.compare_current(eks_image(), newest_132, "2022", "core", "1.32") == {"keep": True, "newer_available": True}


def test_another_family_asked_for_is_not_kept():
    newest_full = eks_image(name="Windows_Server-2022-English-Full-EKS_Optimized-1.31-2026.11.12", image_id="ami-4")
    assert f.compare_current(eks_image(), newest_full, "2022", "full", "1.31")["keep"] is False
    custom = eks_image(name="acme-windows-2022")
    assert f.compare_current(custom, eks_image(), "2022", "core", "1.31")["keep"] is False
