"""whole_cluster_facts passes exactly the facts that the modules' cluster option takes (eks/lookup.py's given_cluster)."""

import pytest

from ansible_collections.eksnodes.windows.plugins.filter.whole_cluster_facts import FilterModule
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.transformations import GIVEN_FACTS_NEEDED

FACTS = {"name": "prod", "status": "ACTIVE", "endpoint": "https://example.eks.amazonaws.com", "certificate_authority": "LS0t",
         "vpc_id": "vpc-1"}
whole_cluster_facts = FilterModule().filters()["whole_cluster_facts"]


def test_whole_facts_pass_unchanged_with_or_without_the_name():
    assert whole_cluster_facts(FACTS) == FACTS
    assert whole_cluster_facts(FACTS, "prod") == FACTS


@pytest.mark.parametrize("missing", GIVEN_FACTS_NEEDED)
def test_facts_without_one_needed_fact_give_nothing(missing):
    assert whole_cluster_facts(dict(FACTS, **{missing: ""})) == {}
    assert whole_cluster_facts({key: value for key, value in FACTS.items() if key != missing}) == {}


@pytest.mark.parametrize("facts", [{}, None, "prod", ["prod"]])
def test_what_is_no_facts_gives_nothing(facts):
    assert whole_cluster_facts(facts) == {}


def test_another_clusters_facts_give_nothing():
    assert whole_cluster_facts(FACTS, "staging") == {}
