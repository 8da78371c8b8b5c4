"""The collection's modules run in a fork of the task's worker process when that is the same as a module process
(plugins/plugin_utils/in_process.py): the same results either way, nothing left behind, and the task's timeout kept."""

import time

MODULE_PROCESS = "AnsiballZ_"
IN_WORKER = "in a fork of the task's worker process"
# Without these, the Kubernetes client is built from the cluster's endpoint and CA (written to a file) and an EKS token.
KUBECONFIG_ENV = ("K8S_AUTH_KUBECONFIG", "KUBECONFIG")
# aws_auth warns that a role's path is left out of the mapping: a warning to compare.
PATH_ROLE = "arn:aws:iam::{}:role/eks/nodes/in-process"


def reads(lab):
    tasks = [
        # Its botocore debug records: a module process has no handler for them, and neither may ansible.log get them here.
        {"name": "cluster", "eksnodes.windows.cluster_info": {"name": lab.cluster_name, "debug_botocore_endpoint_logs": True}},
        {"name": "aws-auth", "check_mode": True, "diff": True, "eksnodes.windows.aws_auth": {
            "cluster_name": lab.cluster_name, "node_roles": [{"arn": PATH_ROLE.format(lab.facts["account_id"]), "os": "windows"}]}},
        {"name": "refused", "eksnodes.windows.cluster_info": {"name": "bad name"}},
    ]
    return [{"hosts": "localhost", "gather_facts": False, "tasks": [dict(task, ignore_errors=True) for task in tasks]}]


def run_reads(lab, ansible, tmp_path, name, extra_vars=None):
    temporary = tmp_path / name
    temporary.mkdir()
    log = tmp_path / f"{name}.log"
    run = ansible.playbook(reads(lab), extra_vars=extra_vars, env={"ANSIBLE_VERBOSITY": "3", "TMPDIR": str(temporary), "ANSIBLE_LOG_PATH": str(log)},
                           drop_env=KUBECONFIG_ENV)
    assert run.returncode == 0 and run.output, run.stdout[-3000:]
    assert "n=ansible" in log.read_text() and "n=botocore" not in log.read_text()  # n= the logger
    return run, {name: run.result(name) for name in ("cluster", "aws-auth", "refused")}, sorted(path.name for path in temporary.iterdir())


def test_in_the_worker_and_as_module_processes_the_results_are_the_same_and_nothing_is_left(lab, ansible, tmp_path):
    in_worker, worker_results, worker_left = run_reads(lab, ansible, tmp_path, "worker")
    processes, process_results, process_left = run_reads(lab, ansible, tmp_path, "processes", {"eksnodes_windows_in_process": False})

    assert f"Running eksnodes.windows.cluster_info {IN_WORKER}" in in_worker.stdout
    assert f"Running eksnodes.windows.aws_auth {IN_WORKER}" in in_worker.stdout
    assert MODULE_PROCESS not in in_worker.stdout
    assert IN_WORKER not in processes.stdout
    assert f"{MODULE_PROCESS}cluster_info.py" in processes.stdout and f"{MODULE_PROCESS}aws_auth.py" in processes.stdout

    assert worker_results == process_results
    assert worker_results["cluster"]["cluster"]["status"] == "ACTIVE"
    assert worker_results["aws-auth"]["changed"] is True and "diff" in worker_results["aws-auth"]
    assert any("has the path /eks/nodes/" in warning for warning in worker_results["aws-auth"]["warnings"])
    assert worker_results["refused"]["failed"] and worker_results["refused"]["msg"].startswith("name: the cluster name 'bad name'")
    # The CA file of the Kubernetes client is removed at the end of the run in the worker too, which exits without atexit.
    assert worker_left == process_left == []


def test_the_task_timeout_ends_a_module_running_in_the_worker(lab, ansible):
    play = {"hosts": "localhost", "gather_facts": False, "tasks": [{
        "name": "wait", "timeout": 3, "ignore_errors": True,
        "eksnodes.windows.nodes_ready": {"cluster_name": lab.cluster_name, "label_selectors": ["eksnodes.test/never=present"], "expected": 1,
                                         "wait_timeout": 120, "progress_interval": 60, "diagnose": False}}]}
    started = time.monotonic()
    run = ansible.playbook([play], env={"ANSIBLE_VERBOSITY": "3"})
    elapsed = time.monotonic() - started
    result = run.result("wait")
    assert f"Running eksnodes.windows.nodes_ready {IN_WORKER}" in run.stdout
    assert result["failed"] and "Timed out after 3 second(s)" in result["msg"], result
    assert elapsed < 60


def test_an_interpreter_variable_that_templates_to_omit_is_decided_as_ansible_core_decides_it(lab, ansible):
    play = {"hosts": "localhost", "gather_facts": False, "vars": {"ansible_python_interpreter": "{{ no_such_python | default(omit) }}"},
            "tasks": [{"name": "cluster", "eksnodes.windows.cluster_info": {"name": lab.cluster_name}, "ignore_errors": True}]}
    run = ansible.playbook([play], env={"ANSIBLE_VERBOSITY": "3"})
    # omit means the setting's default, interpreter discovery: still to run, so the module runs as a process, which
    # discovers the interpreter (whether that one can run the module is this machine's business).
    assert "discovered_interpreter_python" in run.result("cluster")["ansible_facts"], run.result("cluster")
    assert IN_WORKER not in run.stdout and f"{MODULE_PROCESS}cluster_info.py" in run.stdout
