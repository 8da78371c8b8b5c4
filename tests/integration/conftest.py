"""Integration tests run the collection with ansible-playbook against a lab of their own."""

import subprocess

import pytest

from integration_helpers import REPO, AnsibleRunner
from lab.pytest_plugin import start_lab


@pytest.fixture(scope="session")
def ansible(lab):  # pylint: disable=redefined-outer-name
    """Runs playbooks and single module tasks with the lab's environment."""
    return AnsibleRunner(lab.env)


@pytest.fixture(scope="module")
def mixed_lab(tmp_path_factory):
    """A lab of its own whose cluster is in API_AND_CONFIG_MAP mode (access entries and aws-auth), shared by a module's tests."""
    handle = start_lab(tmp_path_factory.mktemp("lab-api-and-config-map"), auth_mode="API_AND_CONFIG_MAP")
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="session")
def installed_collection(tmp_path_factory):
    """The collection as users get it: built into a tarball (galaxy.yml's build_ignore applied) and installed into a
    directory of its own. Returns the collections path to give Ansible; amazon.aws and kubernetes.core still come from
    the Python environment, as in an execution environment."""
    work = tmp_path_factory.mktemp("tarball")
    bin_dir = REPO / ".venv" / "bin"
    subprocess.run([str(bin_dir / "ansible-galaxy"), "collection", "build", "--output-path", str(work), str(REPO)],
                   cwd=work, check=True, capture_output=True)
    tarball = next(work.glob("eksnodes-windows-*.tar.gz"))
    collections = work / "collections"
    # --force: the checkout, on ANSIBLE_COLLECTIONS_PATH here, would otherwise count as installed already.
    subprocess.run([str(bin_dir / "ansible-galaxy"), "collection", "install", "--no-deps", "--force", "-p", str(collections),
                    str(tarball)], cwd=work, check=True, capture_output=True)
    installed = collections / "ansible_collections" / "eksnodes" / "windows"
    assert (installed / "MANIFEST.json").is_file() and not (installed / "tests" / "lab").exists()
    # With this path, the installed copy is the only eksnodes.windows Ansible finds (not the checkout's).
    environment = AnsibleRunner({}, collections_path=collections).environment()
    listed = subprocess.run([str(bin_dir / "ansible-galaxy"), "collection", "list", "eksnodes.windows"], env=environment,
                            cwd=work, check=True, capture_output=True, text=True).stdout
    assert str(collections / "ansible_collections") in listed and str(REPO) not in listed, listed
    return collections
