import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.eks.regions import (
    LISTED,
    MALFORMED,
    UNLISTED,
    botocore_regions,
    classify,
    closest,
    region_message,
)

# botocore's own data, as the module reads it: the test follows botocore upgrades instead of a list of ours
LISTED_REGIONS, PATTERNS, VERSION = botocore_regions("eks")


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"])
def test_regions_botocore_lists_for_eks(region):
    assert classify(region, LISTED_REGIONS, PATTERNS) == LISTED


@pytest.mark.parametrize("region", ["eu-nowhere-9", "us-eastt-1", "ap-southeast-99", "cn-somewhere-3", "us-gov-north-7"])
def test_a_partition_shaped_name_botocore_does_not_list_may_be_a_new_region(region):
    assert classify(region, LISTED_REGIONS, PATTERNS) == UNLISTED


@pytest.mark.parametrize("region", ["us-east1", "useast-1", "US-EAST-1", "europe-west-1", "eu-west-1a", "", "us-east-1 "])
def test_a_name_of_no_partition_shape_is_malformed(region):
    assert classify(region, LISTED_REGIONS, PATTERNS) == MALFORMED


def test_a_region_added_to_botocore_data_is_listed_without_any_change_of_ours():
    listed = dict(LISTED_REGIONS, aws=LISTED_REGIONS["aws"] + ["eu-nowhere-9"])
    assert classify("eu-nowhere-9", listed, PATTERNS) == LISTED


def test_messages_name_the_option_the_closest_region_and_the_fix():
    assert closest("us-east1", LISTED_REGIONS) == "us-east-1"
    malformed = region_message("us-east1", MALFORMED, "region", LISTED_REGIONS, VERSION)
    assert malformed.startswith("region: 'us-east1' is not an AWS region name") and "Did you mean us-east-1?" in malformed
    assert "Fix: set region to the cluster's region, for example us-east-1." in malformed
    unlisted = region_message("eu-nowhere-9", UNLISTED, "region", LISTED_REGIONS, VERSION)
    assert unlisted.startswith(f"region: eu-nowhere-9 is not a region botocore {VERSION} knows for EKS.")
    assert "upgrade botocore and boto3" in unlisted
    assert "Did you mean" not in region_message("xx-qqqqqq-1", UNLISTED, "region", LISTED_REGIONS, VERSION)
