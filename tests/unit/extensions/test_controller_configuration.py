"""extensions/awx/controller_configuration.yml against the playbooks its job templates run.

Each survey is checked against the argument spec the playbook validates its variables with (the
collection's playbooks through the wrappers that import them): every survey variable is one the playbook
takes, with a matching type and choices; every required variable has a required survey field or a survey
default; and region is always asked for, since AWX's AWS credential does not inject one.
"""

from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
AWX = ROOT / "extensions" / "awx"
CONFIG = yaml.safe_load((AWX / "controller_configuration.yml").read_text(encoding="utf-8"))
TEMPLATES = {template["name"]: template for template in CONFIG["controller_templates"]}
# Survey question types and the argument spec types they give.
SURVEY_TYPES = {"text": "str", "textarea": "str", "password": "str", "multiplechoice": "str", "integer": "int",
                "float": "float", "multiselect": "list"}


def load_plays(path: Path) -> List[Dict[str, Any]]:
    """The plays a playbook runs, following import_playbook into the collection's playbooks."""
    plays = []
    for play in yaml.safe_load(path.read_text(encoding="utf-8")):
        imported = play.get("ansible.builtin.import_playbook")
        if imported:
            namespace, name, playbook = imported.split(".")
            assert (namespace, name) == ("eksnodes", "windows"), imported
            plays.extend(load_plays(ROOT / "playbooks" / f"{playbook}.yml"))
        else:
            plays.append(play)
    return plays


def tasks_of(play: Dict[str, Any]) -> List[Dict[str, Any]]:
    return [task for key in ("pre_tasks", "tasks") for task in play.get(key) or []]


def argument_spec(path: Path) -> Dict[str, Dict[str, Any]]:
    """The variables the playbook validates, or for a playbook that asserts instead, the asserted ones."""
    spec: Dict[str, Dict[str, Any]] = {}
    for play in load_plays(path):
        for task in tasks_of(play):
            validate = task.get("ansible.builtin.validate_argument_spec")
            if validate:
                spec.update(validate["argument_spec"])
            for condition in (task.get("ansible.builtin.assert") or {}).get("that") or []:
                for word in condition.replace("(", " ").split():
                    if condition.find(f"{word} is defined") >= 0:
                        spec.setdefault(word, {"type": "str", "required": True})
    assert spec, f"{path} validates no variable"
    return spec


def surveys() -> List[Any]:
    return [pytest.param(template["survey_spec"], ROOT / template["playbook"], id=name)
            for name, template in TEMPLATES.items()]


def check_fields(fields: Dict[str, Dict[str, Any]], spec: Dict[str, Dict[str, Any]]) -> None:
    """Survey fields against the argument spec of the variables they set."""
    for variable, field in fields.items():
        assert SURVEY_TYPES[field["type"]] == spec[variable].get("type", "str"), variable
        if "choices" in spec[variable]:
            assert field["type"] == "multiplechoice" and set(field["choices"]) <= set(spec[variable]["choices"])
        if "default" in field:
            assert isinstance(field["default"], {"str": str, "int": int, "float": (int, float)}[SURVEY_TYPES[field["type"]]])
            if field["type"] == "multiplechoice":
                assert field["default"] in field["choices"]
        elif not field["required"] and "choices" in spec[variable]:
            # A blank answer reaches the playbook as an empty string.
            assert "" in spec[variable]["choices"], variable


def check_required(fields: Dict[str, Dict[str, Any]], spec: Dict[str, Dict[str, Any]]) -> None:
    for variable, option in spec.items():
        if option.get("required"):
            assert variable in fields and (fields[variable]["required"] or "default" in fields[variable]), variable
    assert fields["region"]["required"], "AWX's AWS credential gives no region"


@pytest.mark.parametrize(("survey", "playbook"), surveys())
def test_survey_fits_the_playbook(survey, playbook):
    spec = argument_spec(playbook)
    fields = {field["variable"]: field for field in survey["spec"]}
    assert set(fields) <= set(spec), f"not variables of {playbook.name}: {sorted(set(fields) - set(spec))}"
    check_fields(fields, spec)
    check_required(fields, spec)


@pytest.mark.parametrize("workflow", CONFIG["controller_workflows"], ids=lambda workflow: workflow["name"])
def test_workflow_survey_fits_every_node(workflow):
    """The workflow's answers reach every node's job: each node gets what it requires, each answer is used."""
    fields = {field["variable"]: field for field in workflow["survey_spec"]["spec"]}
    used = set()
    for node in workflow["simplified_workflow_nodes"]:
        spec = argument_spec(ROOT / TEMPLATES[node["unified_job_template"]]["playbook"])
        check_fields({variable: field for variable, field in fields.items() if variable in spec}, spec)
        check_required(fields, spec)
        used |= set(fields) & set(spec)
    assert used == set(fields)


def test_sizes_defaults_fit_together():
    fields = {field["variable"]: field for field in TEMPLATES["eksnodes Windows nodes - Launch"]["survey_spec"]["spec"]}
    assert fields["nodes_min"]["default"] <= fields["nodes"]["default"] <= fields["nodes_max"]["default"]


def test_every_template_reaches_its_playbook_with_the_credential_and_environment():
    credentials = {credential["name"] for credential in CONFIG["controller_credentials"]}
    environments = {environment["name"] for environment in CONFIG["controller_execution_environments"]}
    projects = {project["name"] for project in CONFIG["controller_projects"]}
    for template in TEMPLATES.values():
        assert (ROOT / template["playbook"]).is_file(), template["playbook"]
        assert template["project"] in projects and template["execution_environment"] in environments
        assert set(template["credentials"]) <= credentials
    assert {"eksnodes Windows nodes - Launch", "eksnodes Windows nodes - Upgrade",
            "eksnodes Windows nodes - Remove"} <= set(TEMPLATES)
    for workflow in CONFIG["controller_workflows"]:
        identifiers = {node["identifier"] for node in workflow["simplified_workflow_nodes"]}
        for node in workflow["simplified_workflow_nodes"]:
            assert node["unified_job_template"] in TEMPLATES
            assert set(node.get("success_nodes", [])) <= identifiers
