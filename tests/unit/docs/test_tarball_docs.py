"""The collection tarball carries the user documentation (docsite, changelog) and none of the repository tooling."""

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
GALAXY = Path(sys.executable).parent / "ansible-galaxy"


def test_tarball_has_the_docsite_and_changelog_and_no_tooling(tmp_path):
    environment = {**os.environ, "ANSIBLE_HOME": str(tmp_path / "ansible-home")}
    subprocess.run([str(GALAXY), "collection", "build", "--output-path", str(tmp_path), str(ROOT)], cwd=tmp_path,
                   env=environment, check=True, capture_output=True)
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))["version"]
    with tarfile.open(tmp_path / f"eksnodes-windows-{version}.tar.gz") as tarball:
        names = set(tarball.getnames())

    extra_docs = yaml.safe_load((ROOT / "docs" / "docsite" / "extra-docs.yml").read_text(encoding="utf-8"))
    pages = {f"docs/docsite/rst/{page}.rst" for section in extra_docs["sections"] for page in section["toctree"]}
    assert pages and pages <= names
    assert {"docs/docsite/extra-docs.yml", "docs/docsite/links.yml", "CHANGELOG.rst", "changelogs/changelog.yaml",
            "changelogs/config.yaml", "README.md", "meta/runtime.yml"} <= names

    left_out = ("tests/lab/", "tests/benchmarks/", "tests/integration/", ".ci/", "docs/dev/", ".build/", ".venv/",
                ".collections/", ".ansible/", "extensions/molecule/")
    assert [name for name in names if name.startswith(left_out)] == []
    assert {"Makefile", "conftest.py", "pytest.ini", "test-requirements.txt", ".gitignore"} & names == set()
