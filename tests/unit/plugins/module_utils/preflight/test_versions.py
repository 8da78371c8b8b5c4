import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.preflight import versions


@pytest.mark.parametrize("text, parsed", [("1.31", (1, 31)), ("v1.29.3-eks-1", (1, 29)), ("", None), (None, None), ("latest", None)])
def test_parse_kubernetes(text, parsed):
    assert versions.parse_kubernetes(text) == parsed


@pytest.mark.parametrize("text, parsed", [("eks.20", 20), ("eks.4", 4), ("eks-local-outposts.1", None), (None, None)])
def test_parse_platform(text, parsed):
    assert versions.parse_platform(text) == parsed


def test_minimum_platforms_from_the_documentation():
    assert versions.min_platform((1, 31)) == 4
    assert versions.min_platform((1, 30)) == 2
    assert versions.min_platform((1, 24)) == 2
    assert versions.min_platform((1, 32)) is None
    assert versions.min_platform((1, 35)) is None


def test_windows_release_minimums():
    assert versions.release_minimum("2022") == (1, 24)
    assert versions.release_minimum("2025") == (1, 35)
    assert versions.release_minimum("2016") is None
