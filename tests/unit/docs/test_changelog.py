"""The changelog: fragments that antsibull-changelog can release, and galaxy.yml's version in step with the releases.

make lint runs antsibull-changelog lint too; these checks are the cheap part of it plus the project's own rules.
"""

import re
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.compat.version import LooseVersion

ROOT = Path(__file__).resolve().parents[3]
CHANGELOGS = ROOT / "changelogs"
CONFIG = yaml.safe_load((CHANGELOGS / "config.yaml").read_text(encoding="utf-8"))
FRAGMENTS = sorted((CHANGELOGS / CONFIG["notesdir"]).glob("*.yml"))
SECTIONS = {name for name, _title in CONFIG["sections"]}
OBJECT_SECTIONS = {"add object.role", "add object.playbook"}
# antsibull-changelog lists new modules and plugins from their version_added, and new roles and playbooks from
# "add object" entries; a fragment sentence announcing one repeats or replaces that.
ANNOUNCEMENT = re.compile(r"\bnew (module|plugin|role|playbook)\b", re.IGNORECASE)
# Ansible markup (C(), O(), ...) is not rendered by antsibull-changelog: fragments are RST.
ANSIBLE_MARKUP = re.compile(r"\b(C|O|V|E|M|RV|I|B|U|L)\([^)]*\)")


def releases():
    changes = yaml.safe_load((CHANGELOGS / CONFIG["changes_file"]).read_text(encoding="utf-8"))
    return changes.get("releases") or {}


def test_galaxy_version_is_the_last_release_or_the_next():
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))["version"]
    released = sorted(releases(), key=LooseVersion)
    assert released, "changelog.yaml has no release"
    assert LooseVersion(version) >= LooseVersion(released[-1])


def test_changelog_rst_has_every_release():
    text = (ROOT / "CHANGELOG.rst").read_text(encoding="utf-8")
    for version in releases():
        assert f"\nv{version}\n" in text


def test_keep_fragments_as_amazon_aws():
    assert CONFIG["keep_fragments"] is False


@pytest.mark.parametrize("path", FRAGMENTS, ids=[path.name for path in FRAGMENTS])
def test_fragment_is_releasable_text(path):
    fragment = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(fragment, dict) and fragment
    for section, entries in fragment.items():
        if section == CONFIG["prelude_section_name"]:
            assert isinstance(entries, str) and entries.strip()
            continue
        if section in OBJECT_SECTIONS:
            assert all(set(entry) == {"name", "description"} for entry in entries)
            continue
        assert section in SECTIONS | {CONFIG["trivial_section_name"]}, f"{path.name}: unknown section {section}"
        assert isinstance(entries, list) and entries
        for entry in entries:
            assert isinstance(entry, str) and entry.rstrip().endswith("."), f"{path.name}: {entry!r}"
            assert not ANNOUNCEMENT.search(entry), f"{path.name} announces a new object: {entry!r}"
            assert not ANSIBLE_MARKUP.search(entry), f"{path.name} uses Ansible markup, not RST: {entry!r}"
