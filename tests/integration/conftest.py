"""Integration tests run the collection with ansible-playbook against a lab of their own."""

import pytest

from integration_helpers import AnsibleRunner


@pytest.fixture(scope="session")
def ansible(lab):  # pylint: disable=redefined-outer-name
    """Runs playbooks and single module tasks with the lab's environment."""
    return AnsibleRunner(lab.env)
