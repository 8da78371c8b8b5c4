"""The job templates of extensions/awx/controller_configuration.yml, run as AWX runs them, on a lab of their own.

Each template's playbook (the project's wrapper) runs through ansible-runner with only what AWX gives a job:
the environment an "Amazon Web Services" credential injects (no region, no kubeconfig, no interpreter), and
the survey's answers as extra variables: its defaults, and the lab's cluster, region and node group.
The lab's AWS endpoint is the one addition, standing for the real AWS endpoints.
"""

import os

import ansible_runner
import pytest
import yaml
from kubernetes import client

from integration_helpers import COLLECTIONS_PATH, REPO

pytestmark = pytest.mark.long

CONFIG = yaml.safe_load((REPO / "extensions" / "awx" / "controller_configuration.yml").read_text(encoding="utf-8"))
TEMPLATES = {template["name"]: template for template in CONFIG["controller_templates"]}
# What AWX's "Amazon Web Services" credential type injects.
CREDENTIAL_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
NOT_FROM_AWX = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "KUBECONFIG", "K8S_AUTH_KUBECONFIG", "K8S_AUTH_HOST",
                "K8S_AUTH_API_KEY", "ANSIBLE_PYTHON_INTERPRETER")


def survey_answers(template_name, answers):
    """The extra variables of a job launched from the survey: its defaults, then the given answers."""
    spec = TEMPLATES[template_name]["survey_spec"]["spec"]
    extra_vars = {field["variable"]: field["default"] for field in spec if "default" in field}
    extra_vars.update({name: value for name, value in answers.items() if name in {field["variable"] for field in spec}})
    missing = [field["variable"] for field in spec if field["required"] and field["variable"] not in extra_vars]
    assert not missing, f"required survey answers missing: {missing}"
    return extra_vars


def awx_environment(lab, tmp_path):
    env = {name: lab.env[name] for name in CREDENTIAL_ENV if name in lab.env}
    env.update({
        "AWS_ENDPOINT_URL": lab.env["AWS_ENDPOINT_URL"],
        "AWS_EC2_METADATA_DISABLED": "true",
        # The execution environment's collections and Python, here the checkout's.
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS_PATH),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "True",
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "HOME": str(tmp_path),
        "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
    })
    assert not set(NOT_FROM_AWX) & set(env)
    return env


def run_template(template_name, answers, lab, tmp_path):
    private = tmp_path / template_name.rsplit(" - ", 1)[1].replace(" ", "-").lower()
    (private / "inventory").mkdir(parents=True)
    (private / "inventory" / "hosts").write_text("localhost ansible_connection=local\n")
    playbook = REPO / TEMPLATES[template_name]["playbook"]
    result = ansible_runner.run(private_data_dir=str(private), playbook=str(playbook),
                                extravars=survey_answers(template_name, answers), envvars=awx_environment(lab, tmp_path),
                                quiet=True)
    stdout = result.stdout.read()
    assert result.status == "successful", stdout[-4000:]
    return result, stdout


def stack_names(lab):
    summaries = lab.aws_client("cloudformation").list_stacks()["StackSummaries"]
    return {summary["StackName"] for summary in summaries if summary["StackStatus"] != "DELETE_COMPLETE"}


def test_launch_sample_app_upgrade_remove_as_awx_jobs(lab_factory, tmp_path, monkeypatch):
    # ansible-runner starts from this process's environment: nothing of a developer's or the Makefile's may leak in.
    for name in NOT_FROM_AWX:
        monkeypatch.delenv(name, raising=False)
    lab = lab_factory(join_delay=1)
    answers = {"cluster_name": lab.cluster_name, "region": lab.env["AWS_REGION"], "nodegroup_name": "win"}
    core = client.CoreV1Api(lab.kube_api_client())

    launch, stdout = run_template("eksnodes Windows nodes - Launch", answers, lab, tmp_path)
    assert "Windows nodes Ready" in stdout
    windows = core.list_node(label_selector="kubernetes.io/os=windows").items
    assert len(windows) == survey_answers("eksnodes Windows nodes - Launch", answers)["nodes"]
    assert all(any(c.type == "Ready" and c.status == "True" for c in node.status.conditions) for node in windows)
    assert any(event.get("event") == "runner_on_ok" and event["event_data"].get("task", "").startswith("Wait until the nodes are Ready")
               for event in launch.events)

    run_template("eksnodes Windows nodes - Sample application", answers, lab, tmp_path)
    pods = core.list_namespaced_pod("eks-sample-app").items
    assert pods and all(pod.status.phase == "Running" for pod in pods)

    stacks_before = stack_names(lab)
    assert f"{lab.cluster_name}-nodegroup-win" in stacks_before
    upgrade, stdout = run_template("eksnodes Windows nodes - Upgrade", answers, lab, tmp_path)
    assert upgrade.stats["failures"] == {} and "localhost" in upgrade.stats["ok"], stdout[-2000:]

    run_template("eksnodes Windows nodes - Remove", {**answers, "nodegroup_name": upgraded_group(lab, stacks_before)}, lab, tmp_path)
    assert not {name for name in stack_names(lab) if "-nodegroup-win" in name}


def upgraded_group(lab, stacks_before):
    """The group the upgrade left: win-v2 when blue/green launched one, else win."""
    new = {name for name in stack_names(lab) - stacks_before if name.startswith(f"{lab.cluster_name}-nodegroup-")}
    return new.pop().split("-nodegroup-", 1)[1] if new else "win"
