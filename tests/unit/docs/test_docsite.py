"""The docsite: every user page is rendered to RST, listed in extra-docs.yml, and valid RST; pages link to listed pages."""

import importlib.util
import re
from pathlib import Path

import docutils.core
import docutils.utils
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
DOCSITE = ROOT / "docs" / "docsite"
SPEC = importlib.util.spec_from_file_location("md2rst", DOCSITE / "md2rst.py")
md2rst = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(md2rst)


def rst_problems(text: str) -> list:
    """docutils' warnings and errors for an RST text (Sphinx's :doc: role is accepted)."""
    problems = []
    settings = {"report_level": docutils.utils.Reporter.WARNING_LEVEL, "halt_level": 5, "warning_stream": False}
    text = text.replace(":doc:", ":literal:")
    document = docutils.core.publish_doctree(text, settings_overrides=settings)
    for node in document.traverse(docutils.nodes.system_message):
        if node["level"] >= docutils.utils.Reporter.WARNING_LEVEL:
            problems.append(node.astext())
    return problems


def test_every_user_page_is_rendered_and_listed():
    user_pages = {path.name for path in (ROOT / "docs").glob("*.md")}
    assert user_pages == set(md2rst.PAGES)
    listed = listed_pages()
    assert sorted(listed) == sorted(path.stem for path in (DOCSITE / "rst").glob("*.rst"))
    assert set(md2rst.PAGES.values()) <= set(listed)


def listed_pages() -> list:
    return [page for section in yaml.safe_load((DOCSITE / "extra-docs.yml").read_text(encoding="utf-8"))["sections"]
            for page in section["toctree"]]


@pytest.mark.parametrize("source", sorted(md2rst.PAGES))
def test_rendered_page_is_valid_rst_and_names_only_what_exists(source):
    text = md2rst.render((ROOT / "docs" / source).read_text(encoding="utf-8"), source)
    assert "eksnodes.windows.docsite" not in text  # no module, role or playbook has that name
    assert rst_problems(text) == []


@pytest.mark.parametrize("page", ["awx", "troubleshooting"])
def test_written_page_is_valid_rst_and_links_only_to_listed_pages(page):
    text = (DOCSITE / "rst" / f"{page}.rst").read_text(encoding="utf-8")
    assert "eksnodes.windows.docsite" not in text
    assert set(re.findall(r":doc:`([^`]+)`", text)) <= set(listed_pages())
    assert rst_problems(text) == []


def test_troubleshooting_links_each_step_page():
    linked = set(re.findall(r":doc:`([^`]+)`", (DOCSITE / "rst" / "troubleshooting.rst").read_text(encoding="utf-8")))
    assert linked == {"prerequisites", "nodegroup", "readiness", "node_authorization", "lifecycle", "upgrade"}


def test_markup_next_to_words_stays_markup():
    text = md2rst.render("A `code`s and **bold**ly, a_ b *c* `d`.\n\n| a | b |\n|---|---|\n| `x` | y |\n", "t.md")
    assert "A ``code``\\ s and **bold**\\ ly, a\\_ b *c* ``d``." in text
    assert "   * - ``x``\n     - y" in text
    assert rst_problems(text) == []


# What a collection name can stand for in the docs: a module, role, playbook or filter plugin, or the action group
# (group/eksnodes.windows.aws); module_utils import paths (ansible_collections.eksnodes.windows...) are not names.
NAMED_IN_DOCS = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(DOCSITE / "rst").glob("*.rst"), *(ROOT / "roles").glob("*/README.md"),
                 *(ROOT / "changelogs" / "fragments").glob("*.yml")]


def existing_names() -> set:
    plugins = ROOT / "plugins"
    return ({path.stem for path in (plugins / "modules").glob("*.py")} | {path.stem for path in (plugins / "filter").glob("*.py")}
            | {path.name for path in (ROOT / "roles").iterdir() if path.is_dir()} | {path.stem for path in (ROOT / "playbooks").glob("*.yml")}
            | set(yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text(encoding="utf-8"))["action_groups"]))


@pytest.mark.parametrize("page", NAMED_IN_DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_collection_name_in_the_docs_exists(page):
    named = set(re.findall(r"(?<!ansible_collections\.)\beksnodes\.windows\.([A-Za-z_][A-Za-z0-9_]*)", page.read_text(encoding="utf-8")))
    assert named - existing_names() == set()
