import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.preflight import findings as f


def test_finding_has_exactly_the_four_fields():
    assert f.error("subnets", "m", "x") == {"check": "subnets", "severity": "error", "message": "m", "fix": "x"}
    with pytest.raises(ValueError):
        f.finding("subnets", "info", "m", "x")


def test_status_of_a_check():
    found = [f.error("a", "m", "x"), f.warning("a", "m", "x"), f.warning("b", "m", "x")]
    assert f.status_of("a", found) == f.FAILED
    assert f.status_of("b", found) == f.WARNED
    assert f.status_of("c", found) == f.PASSED
    assert f.status_of("a", found, skipped="reason") == f.SKIPPED


def test_failure_message_lists_errors_with_fixes_only():
    found = [f.error("subnets", "subnet-1 is bad.", "Fix it."), f.warning("coredns", "meh.", "Whatever.")]
    message = f.failure_message(found)
    assert message.splitlines() == ["preflight found 1 error(s):", "[subnets] subnet-1 is bad. Fix: Fix it."]
