"""Lab fixtures (lab, lab_factory, fresh_lab) for every test directory; see tests/lab/README.md."""

import pytest

pytest_plugins = ["lab.pytest_plugin"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``long`` first: with ``pytest -n 2``, a long scenario scheduled last keeps one core busy while the
    other idles, and the whole run waits for it."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)
