"""Write the docsite's RST pages (docs/docsite/rst/) from the user pages in docs/*.md.

The Markdown pages stay the ones people edit and read on GitHub; antsibull-docs and the Ansible docsite
read only RST extra docs, so this renders the subset of Markdown the pages use (headings, paragraphs,
lists, tables, fenced code, inline code, emphasis, links) to RST. Run it after editing a page:

    python docs/docsite/md2rst.py          # rewrite the RST pages
    python docs/docsite/md2rst.py --check  # exit 1 when a page is out of date

Pages link to each other with :doc:`<page>` (they sit side by side in the docsite), so they carry no labels.
"""

import argparse
import re
import sys
from pathlib import Path
from typing import Dict, List

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

DOCS = Path(__file__).resolve().parents[1]
RST_DIR = DOCS / "docsite" / "rst"
# Markdown page -> RST page name.
PAGES: Dict[str, str] = {
    "prerequisites.md": "prerequisites",
    "nodegroup.md": "nodegroup",
    "node-authorization.md": "node_authorization",
    "readiness.md": "readiness",
    "upgrade.md": "upgrade",
    "lifecycle.md": "lifecycle",
    "iam.md": "iam",
    "cni-identity.md": "cni_identity",
}
HEADING_CHARS = {1: "=", 2: "-", 3: "^", 4: '"', 5: "~", 6: "+"}
# RST inline markup must start after whitespace or one of these, and end before whitespace or one of these.
BEFORE_MARKUP = set(" \n\t'\"([{<-/:")
AFTER_MARKUP = set(" \n\t'\")]}>-/:.,;!?\\")


def escape(text: str) -> str:
    """Text that RST must not read as markup."""
    text = text.replace("\\", "\\\\")
    text = re.sub(r"([*`|])", r"\\\1", text)
    return re.sub(r"_(?=\W|$)", r"\\_", text)


def plain(node: SyntaxTreeNode) -> str:
    """The text of an inline subtree, markup dropped (RST cannot nest inline markup)."""
    if node.type in ("text", "code_inline"):
        return node.content
    if node.type in ("softbreak", "hardbreak"):
        return " "
    return "".join(plain(child) for child in node.children)


def join_inline(pieces: List[str], markup: List[bool]) -> str:
    """Concatenate, separating markup from adjacent word characters with an escaped space."""
    out = ""
    for index, piece in enumerate(pieces):
        if not piece:
            continue
        if markup[index] and out and out[-1] not in BEFORE_MARKUP:
            out += "\\ "
        if index and markup[index - 1] and out and piece[0] not in AFTER_MARKUP:
            out += "\\ "
        out += piece
    return out


def inline(node: SyntaxTreeNode) -> str:
    pieces: List[str] = []
    markup: List[bool] = []
    for child in node.children:
        if child.type == "text":
            pieces.append(escape(child.content))
            markup.append(False)
        elif child.type in ("softbreak", "hardbreak"):
            pieces.append("\n")
            markup.append(False)
        elif child.type == "code_inline":
            pieces.append(f"``{child.content}``")
            markup.append(True)
        elif child.type == "strong":
            pieces.append(f"**{plain(child).strip()}**")
            markup.append(True)
        elif child.type == "em":
            pieces.append(f"*{plain(child).strip()}*")
            markup.append(True)
        elif child.type == "link":
            pieces.append(f"`{plain(child)} <{child.attrs['href']}>`__")
            markup.append(True)
        else:
            raise ValueError(f"unsupported inline Markdown: {child.type}")
    return join_inline(pieces, markup)


def indent(lines: List[str], prefix: str) -> List[str]:
    return [prefix + line if line else line for line in lines]


def blocks(nodes: List[SyntaxTreeNode]) -> List[str]:
    """Render block nodes, separated by blank lines."""
    out: List[str] = []
    for node in nodes:
        rendered = block(node)
        if rendered:
            if out:
                out.append("")
            out.extend(rendered)
    return out


def list_item(node: SyntaxTreeNode, marker: str) -> List[str]:
    body = blocks(node.children)
    pad = " " * len(marker)
    return [marker + body[0]] + indent(body[1:], pad) if body else [marker.rstrip()]


def table(node: SyntaxTreeNode) -> List[str]:
    rows = [row for section in node.children for row in section.children]
    out = [".. list-table::", "   :header-rows: 1", ""]
    for row in rows:
        for index, cell in enumerate(row.children):
            text = inline(cell.children[0]) if cell.children else ""
            out.append(("   * - " if index == 0 else "     - ") + text)
    return out


def heading(node: SyntaxTreeNode) -> List[str]:
    text = inline(node.children[0])
    line = HEADING_CHARS[int(node.tag[1])] * len(text)
    return [line, text, line] if node.tag == "h1" else [text, line]


def block(node: SyntaxTreeNode) -> List[str]:
    if node.type == "heading":
        return heading(node)
    if node.type == "paragraph":
        return inline(node.children[0]).split("\n")
    if node.type == "bullet_list":
        return [line for item in node.children for line in list_item(item, "- ")]
    if node.type == "ordered_list":
        start = int(node.attrs.get("start", 1))
        items = [list_item(item, f"{start + index}. ") for index, item in enumerate(node.children)]
        return [line for item in items for line in item]
    if node.type in ("fence", "code_block"):
        language = (node.info or "").strip() or "text"
        return [f".. code-block:: {language}", ""] + indent(node.content.rstrip("\n").split("\n"), "   ")
    if node.type == "table":
        return table(node)
    if node.type == "hr":
        return []
    raise ValueError(f"unsupported block Markdown: {node.type}")


def render(markdown: str, source: str) -> str:
    tree = SyntaxTreeNode(MarkdownIt("commonmark").enable("table").parse(markdown))
    header = [
        f".. Generated from docs/{source} by docs/docsite/md2rst.py: edit the Markdown page and run it again.",
        "",
    ]
    return "\n".join(header + blocks(tree.children)) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="only report pages that are out of date")
    args = parser.parse_args()
    stale = []
    for source, page in PAGES.items():
        text = render((DOCS / source).read_text(encoding="utf-8"), source)
        target = RST_DIR / f"{page}.rst"
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        stale.append(str(target.relative_to(DOCS.parent)))
        if not args.check:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    if stale and args.check:
        print("out of date (run python docs/docsite/md2rst.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
