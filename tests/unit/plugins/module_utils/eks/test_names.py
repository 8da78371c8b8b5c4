import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.eks.names import (
    cluster_name_problem,
    eks_api_cluster_name_problem,
    nodegroup_name_problem,
)


@pytest.mark.parametrize("name", ["lab", "prod-eu-1", "A" + "b" * 99])
def test_good_cluster_names(name):
    assert cluster_name_problem(name) is None
    assert eks_api_cluster_name_problem(name) is None


@pytest.mark.parametrize("name, words", [
    ("1prod", "start with a letter"),
    ("prod_eu", "only letters, digits and hyphens"),
    ("-prod", "start with a letter"),
    ("a" * 101, "101 characters"),
    ("", "empty"),
])
def test_bad_cluster_names_say_why(name, words):
    assert words in cluster_name_problem(name)


def test_the_eks_api_rule_is_looser_than_the_windows_rule():
    assert eks_api_cluster_name_problem("1prod_eu") is None
    assert "not a valid EKS cluster name" in eks_api_cluster_name_problem("prod eu")


@pytest.mark.parametrize("name", ["windows", "1ng", "ng_win-2", "n" * 63])
def test_good_nodegroup_names(name):
    assert nodegroup_name_problem(name) is None


@pytest.mark.parametrize("name, words", [
    ("-ng", "start with a letter or digit"),
    ("_ng", "start with a letter or digit"),
    ("ng.win", "hyphens and underscores"),
    ("n" * 64, "64 characters"),
])
def test_bad_nodegroup_names_say_why(name, words):
    assert words in nodegroup_name_problem(name)
