"""Label and field selectors with the syntax and semantics of k8s.io/apimachinery."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from .errors import bad_request

_LABEL_REQUIREMENT = re.compile(
    r"""^\s*(?P<negated>!)?\s*(?P<key>[A-Za-z0-9_./-]+)\s*
        (?:(?P<op>==|=|!=|>|<)\s*(?P<value>[A-Za-z0-9_.-]*)
          |\s+(?P<setop>in|notin)\s*\((?P<values>[^()]*)\))?\s*$""",
    re.VERBOSE,
)
_FIELD_REQUIREMENT = re.compile(r"^\s*(?P<path>[A-Za-z0-9_.]+)\s*(?P<op>==|=|!=)(?P<value>.*)$", re.DOTALL)
_OPERATOR_NAMES = {"=": "in", "==": "in", "!=": "notin", ">": "gt", "<": "lt"}
_SPEC_OPERATORS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are neither inside ``( )`` nor escaped with a backslash."""
    parts, current, depth, escaped = [], [], 0, False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
            continue
        if char == "\\":
            escaped = True
            current.append(char)
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if "".join(current).strip():
        parts.append("".join(current))
    return parts


@dataclass(frozen=True)
class LabelRequirement:
    key: str
    operator: str  # in | notin | exists | ! | gt | lt
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator == "in":
            return present and value in self.values
        if self.operator == "notin":
            return not present or value not in self.values
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        return present and _compare_integers(value, self.operator, self.values[0])

    def __str__(self) -> str:
        if self.operator == "exists":
            return self.key
        if self.operator == "!":
            return f"!{self.key}"
        if self.operator in ("gt", "lt"):
            return f'{self.key}{">" if self.operator == "gt" else "<"}{self.values[0]}'
        if len(self.values) == 1:
            return f'{self.key}{"=" if self.operator == "in" else "!="}{self.values[0]}'
        return f'{self.key} {self.operator} ({",".join(self.values)})'


def _compare_integers(value: Optional[str], operator: str, bound: str) -> bool:
    try:
        left, right = int(value or ""), int(bound)
    except ValueError:
        return False
    return left > right if operator == "gt" else left < right


class LabelSelector:
    """A parsed label selector; an empty selector matches everything."""

    def __init__(self, requirements: tuple[LabelRequirement, ...] = ()):
        self.requirements = requirements

    @classmethod
    def parse(cls, text: Optional[str]) -> "LabelSelector":
        requirements = []
        for part in _split_top_level(text or ""):
            match = _LABEL_REQUIREMENT.match(part)
            if not match:
                raise bad_request(f"unable to parse requirement: {part.strip()!r}: invalid label selector")
            requirements.append(_requirement_from_match(match, part))
        return cls(tuple(requirements))

    @classmethod
    def from_spec(cls, spec: Optional[Mapping[str, Any]]) -> "LabelSelector":
        """From a ``metav1.LabelSelector`` (matchLabels / matchExpressions) as in a Deployment."""
        spec = spec or {}
        requirements = [LabelRequirement(key, "in", (str(value),)) for key, value in sorted((spec.get("matchLabels") or {}).items())]
        for expression in spec.get("matchExpressions") or []:
            operator = _SPEC_OPERATORS.get(expression.get("operator", ""))
            if operator is None:
                raise bad_request(f'{expression.get("operator")!r} is not a valid label selector operator')
            requirements.append(LabelRequirement(expression.get("key", ""), operator, tuple(expression.get("values") or ())))
        return cls(tuple(requirements))

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, labels: Optional[Mapping[str, str]]) -> bool:
        labels = labels or {}
        return all(requirement.matches(labels) for requirement in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self.requirements)


def _requirement_from_match(match: re.Match, text: str) -> LabelRequirement:
    key = match.group("key")
    if match.group("negated"):
        if match.group("op") or match.group("setop"):
            raise bad_request(f"unable to parse requirement: {text.strip()!r}: '!' takes no operator")
        return LabelRequirement(key, "!")
    if match.group("setop"):
        values = tuple(value.strip() for value in match.group("values").split(",") if value.strip())
        return LabelRequirement(key, match.group("setop"), values)
    if match.group("op"):
        operator = _OPERATOR_NAMES[match.group("op")]
        value = match.group("value")
        if operator in ("gt", "lt") and not re.fullmatch(r"-?\d+", value):
            raise bad_request(f"unable to parse requirement: for 'gt', 'lt' operators, the value must be an integer: {value!r}")
        return LabelRequirement(key, operator, (value,))
    return LabelRequirement(key, "exists")


@dataclass(frozen=True)
class FieldRequirement:
    path: str
    equal: bool
    value: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return (field_value(obj, self.path) == self.value) == self.equal


class FieldSelector:
    """A parsed field selector. Unlike kube-apiserver, any dotted path is accepted for any resource."""

    def __init__(self, requirements: tuple[FieldRequirement, ...] = ()):
        self.requirements = requirements

    @classmethod
    def parse(cls, text: Optional[str]) -> "FieldSelector":
        requirements = []
        for part in _split_top_level(text or ""):
            match = _FIELD_REQUIREMENT.match(part)
            if not match:
                raise bad_request(f"invalid field selector: {part.strip()!r}")
            value = re.sub(r"\\(.)", r"\1", match.group("value").strip())
            requirements.append(FieldRequirement(match.group("path"), match.group("op") != "!=", value))
        return cls(tuple(requirements))

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(requirement.matches(obj) for requirement in self.requirements)


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The string form a field selector compares: missing is ``""``, booleans are ``true``/``false``."""
    current: Any = obj
    for part in path.split("."):
        current = current.get(part) if isinstance(current, Mapping) else None
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


def object_matches(obj: Mapping[str, Any], labels: LabelSelector, fields: FieldSelector) -> bool:
    return labels.matches(obj.get("metadata", {}).get("labels")) and fields.matches(obj)
