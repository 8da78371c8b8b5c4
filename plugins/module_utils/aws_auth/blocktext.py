# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The YAML that aws-auth holds in practice, read and written without PyYAML's pure-Python machinery.

A mapRoles of 10,000 entries takes PyYAML about 2 s to load (0.7 s with libyaml's parser, whose nodes are
still constructed in Python) and 1 s to dump; libyaml's emitter cannot indent lists under their key as
mappings.py's block dumper does. Almost every entry is a mapping of plain strings and lists of plain
strings, for which the text is simple enough to write and read line by line:

- render_entry() writes one list item exactly as the block dumper would, or returns None;
- parse_entries() reads a list of such items (lists indented under their key or not, as EKS and kubectl
  write them), or returns None as soon as a line is anything else (quotes, comments, flow style, blank lines,
  other indentation...).

None means "use PyYAML": the result is always the one PyYAML gives, which the unit tests check on
generated entries and texts.
"""

import re
from typing import Any, Dict, List, Optional

try:
    import yaml
except ImportError:
    yaml = None

# Strings PyYAML writes as plain scalars wherever they sit in an entry: ASCII, starting with a letter, without
# spaces, quotes, '#', ',' or a trailing ':' (each of which changes how PyYAML writes or reads them). Whether
# they read back as strings (not true, null...) is checked with PyYAML's own resolver.
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_./@{}=+:-]*\Z")
_KEY = re.compile(r"([A-Za-z][A-Za-z0-9_.-]*):(?: (.*))?\Z")
_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVER = yaml.resolver.Resolver() if yaml is not None else None
_PLAIN_CACHE: Dict[str, bool] = {}
_PLAIN_CACHE_SIZE = 100000
_MAX_KEY = 100  # PyYAML writes keys of 128 characters and more as explicit "? " keys

ITEM = "- "
FIELD = "  "
INDENTED_ITEM = "    - "
INDENTLESS_ITEM = "  - "


def plain(value: str) -> bool:
    """True when PyYAML writes value as a plain scalar in a block mapping or list, and reads it back as that string."""
    known = _PLAIN_CACHE.get(value)
    if known is None:
        known = bool(_PLAIN.match(value)) and not value.endswith(":") and \
            _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) == _STR_TAG
        if len(_PLAIN_CACHE) < _PLAIN_CACHE_SIZE:
            _PLAIN_CACHE[value] = known
    return known


def render_entry(entry: Any) -> Optional[str]:
    """The block dumper's text for one list item when entry is a mapping of plain strings, lists of plain strings
    and nulls; None for anything else."""
    if not isinstance(entry, dict) or not entry:
        return None
    lines = []
    for name, value in entry.items():
        if not isinstance(name, str) or len(name) > _MAX_KEY or not plain(name):
            return None
        if value is None:
            lines.append(f"{FIELD}{name}: null\n")
        elif isinstance(value, str):
            if not plain(value):
                return None
            lines.append(f"{FIELD}{name}: {value}\n")
        elif isinstance(value, list):
            if not value:
                lines.append(f"{FIELD}{name}: []\n")
            elif all(isinstance(item, str) and plain(item) for item in value):
                lines.append(f"{FIELD}{name}:\n" + "".join(f"{INDENTED_ITEM}{item}\n" for item in value))
            else:
                return None
        else:
            return None
    return ITEM + "".join(lines)[len(FIELD):]


class _Reader:
    """Reads the lines of a list of entries; fail() (a None result) on the first line outside the subset."""

    def __init__(self) -> None:
        self.entries: List[Dict[str, Any]] = []
        self.current: Optional[Dict[str, Any]] = None
        self.open_key: Optional[str] = None  # a "key:" whose value (a list, or null) is still being read
        self.item_prefix: Optional[str] = None  # how that list's items start, once the first one is read

    def close_key(self) -> None:
        if self.open_key is not None and self.item_prefix is None:
            self.current[self.open_key] = None  # "key:" with nothing under it
        self.open_key = self.item_prefix = None

    def field(self, text: str) -> bool:
        match = _KEY.match(text)
        if match is None or len(match.group(1)) > _MAX_KEY or not plain(match.group(1)):
            return False
        name, value = match.group(1), match.group(2)
        if value is None:
            self.open_key = name
            self.current[name] = []
        elif value == "[]":
            self.current[name] = []
        elif plain(value):
            self.current[name] = value
        else:
            return False
        return True

    def item(self, line: str) -> Optional[bool]:
        """Reads a list item of the open key; None when the line is not one."""
        if self.open_key is None:
            return None
        for prefix in (self.item_prefix,) if self.item_prefix else (INDENTED_ITEM, INDENTLESS_ITEM):
            if line.startswith(prefix):
                value = line[len(prefix):]
                if not plain(value):
                    return False
                self.item_prefix = prefix
                self.current[self.open_key].append(value)
                return True
        return None

    def line(self, line: str) -> bool:
        read = self.item(line)
        if read is not None:
            return read
        if line.startswith(INDENTLESS_ITEM) or line.startswith(INDENTED_ITEM):
            return False  # a list item where none may be (or indented otherwise than the list's first)
        self.close_key()
        if line.startswith(ITEM):
            self.current = {}
            self.entries.append(self.current)
            return self.field(line[len(ITEM):])
        if line.startswith(FIELD) and self.current is not None and not line.startswith(FIELD + " "):
            return self.field(line[len(FIELD):])
        return False


def parse_entries(text: str) -> Optional[List[Dict[str, Any]]]:
    """The entries of a block list of mappings of plain strings and lists of them (what PyYAML's safe loader
    returns), or None when text is anything else."""
    if yaml is None or not text.endswith("\n"):
        return None
    reader = _Reader()
    for line in text[:-1].split("\n"):
        if not reader.line(line):
            return None
    reader.close_key()
    return reader.entries or None
