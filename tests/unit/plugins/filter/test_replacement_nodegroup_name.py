"""replacement_nodegroup_name: the name upgrade_plan gives a blue/green replacement when new_nodegroup_name is not set."""

import pytest

from ansible_collections.eksnodes.windows.plugins.filter.replacement_nodegroup_name import FilterModule

replacement_nodegroup_name = FilterModule().filters()["replacement_nodegroup_name"]


@pytest.mark.parametrize("name, replacement", [
    ("win", "win-v2"),
    ("win-v2", "win-v3"),
    ("nothere-v7", "nothere-v8"),
    ("a-v2-v9", "a-v2-v10"),
    ("x" * 62, "x" * 60 + "-v2"),    # at most 63 characters, the suffix kept
])
def test_the_next_generation_of_the_name(name, replacement):
    assert replacement_nodegroup_name(name) == replacement
