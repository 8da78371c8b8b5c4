"""Every module's RETURN: a sample on every leaf key, and every sample of the documented type and shape.

A leaf is a key without ``contains``; antsibull-docs shows each leaf's sample on the module page, so a container
(a dict or list of dicts with ``contains``) needs no sample of its own, but when it has one it must match its keys.
"""

import ast
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
MODULES = sorted(path for path in (ROOT / "plugins" / "modules").glob("*.py") if path.name != "__init__.py")

# The Python types a sample of each documented type may have (an int is a valid float sample).
SAMPLE_TYPES = {
    "str": (str,),
    "int": (int,),
    "float": (float, int),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}


def module_constant(path: Path, name: str) -> str:
    """A module's DOCUMENTATION, EXAMPLES or RETURN string, read without importing the module."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(target, ast.Name) and target.id == name for target in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path.name} has no {name}")


def _type_problem(name: str, value: Any, type_name: str) -> List[str]:
    expected = SAMPLE_TYPES.get(type_name)
    if expected is None:  # raw, complex, path, ...: any value documents them
        return []
    if isinstance(value, bool) and bool not in expected:
        return [f"{name}: sample {value!r} (bool) documented as {type_name}"]
    if not isinstance(value, expected):
        return [f"{name}: sample {value!r} ({type(value).__name__}) documented as {type_name}"]
    return []


def _sample_problems(name: str, spec: Dict[str, Any]) -> List[str]:
    sample = spec["sample"]
    if sample is None:
        return [f"{name}: sample is null"]
    type_name = spec.get("type", "str")
    problems = _type_problem(name, sample, type_name)
    if problems:
        return problems
    elements = spec.get("elements")
    if type_name == "list" and elements:
        for index, item in enumerate(sample):
            problems.extend(_type_problem(f"{name}[{index}]", item, elements))
    contains = spec.get("contains")
    if contains:
        items = sample if type_name == "list" else [sample]
        for item in items:
            if isinstance(item, dict):
                problems.extend(f"{name}: sample has {key!r}, not in contains" for key in sorted(set(item) - set(contains)))
    return problems


def return_problems(returned: Dict[str, Any], prefix: str = "") -> List[str]:
    """What is wrong with a RETURN mapping: leaves without a sample, samples of the wrong type or shape."""
    problems = []
    for key, spec in (returned or {}).items():
        name = f"{prefix}{key}"
        if not isinstance(spec, dict):
            problems.append(f"{name}: not a mapping")
            continue
        if "sample" in spec:
            problems.extend(_sample_problems(name, spec))
        elif not spec.get("contains"):
            problems.append(f"{name}: no sample")
        if spec.get("contains"):
            problems.extend(return_problems(spec["contains"], f"{name}."))
    return problems


def test_every_module_is_checked():
    assert [path.stem for path in MODULES], "no module found"
    assert all(module_constant(path, "RETURN").strip() for path in MODULES)


@pytest.mark.parametrize("path", MODULES, ids=[path.stem for path in MODULES])
def test_the_documentation_parses_with_its_options_described(path):
    """A plain scalar with ': ' in it breaks DOCUMENTATION for ansible-doc (and every docs page built from it)."""
    documentation = yaml.safe_load(module_constant(path, "DOCUMENTATION"))
    assert documentation["module"] == path.stem
    assert all(spec.get("description") for spec in documentation.get("options", {}).values())


@pytest.mark.parametrize("path", MODULES, ids=[path.stem for path in MODULES])
def test_every_return_key_has_a_sample_of_its_type(path):
    returned = yaml.safe_load(module_constant(path, "RETURN"))
    assert isinstance(returned, dict) and returned
    assert return_problems(returned) == []


def test_the_check_finds_what_it_looks_for():
    returned = yaml.safe_load("""
version: {type: str, sample: 1.31}
image:
  type: dict
  sample: {image_id: ami-0123456789abcdef0, owner: amazon}
  contains:
    image_id: {type: str, sample: ami-0123456789abcdef0}
    public: {type: bool}
nodes: {type: list, elements: str, sample: [3]}
ready: {type: int, sample: true}
""")
    assert return_problems(returned) == [
        "version: sample 1.31 (float) documented as str",
        "image: sample has 'owner', not in contains",
        "image.public: no sample",
        "nodes[0]: sample 3 (int) documented as str",
        "ready: sample True (bool) documented as int",
    ]
