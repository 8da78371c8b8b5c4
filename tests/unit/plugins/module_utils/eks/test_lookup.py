"""given_cluster: the cluster facts a module is passed stand in for DescribeCluster only when whole and of the named cluster."""

import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.eks.lookup import given_cluster

FACTS = {"name": "lab", "status": "ACTIVE", "endpoint": "https://lab.example", "certificate_authority": "Q0E=", "version": "1.31"}


class Refused(Exception):
    pass


class FakeModule:
    def __init__(self, cluster):
        self.params = {"cluster": cluster}

    def fail_json(self, msg, **_kwargs):
        raise Refused(msg)


def test_whole_facts_of_the_named_cluster_are_used():
    assert given_cluster(FakeModule(FACTS), "lab") == FACTS


@pytest.mark.parametrize("cluster", [None, {}])
def test_no_facts_means_describe(cluster):
    assert given_cluster(FakeModule(cluster), "lab") is None


def test_facts_of_another_cluster_are_refused():
    with pytest.raises(Refused, match=r"^cluster: the facts are cluster lab's, not prod's\. Fix: pass the facts of prod"):
        given_cluster(FakeModule(FACTS), "prod")


def test_facts_without_what_the_module_needs_are_refused():
    partial = {"name": "lab", "status": "ACTIVE"}
    with pytest.raises(Refused, match=r"^cluster: the facts have no endpoint, certificate_authority\. Fix: pass the cluster returned by"):
        given_cluster(FakeModule(partial), "lab")
