import atexit
import gc
import json
import logging
import os
import signal
import subprocess
import sys
import time
import warnings
from unittest.mock import MagicMock

import pytest
from ansible import constants as C
from ansible.module_utils import basic
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.eksnodes.windows.plugins.plugin_utils import in_process

THIS_PYTHON = sys.executable
MODULE = "eksnodes.windows.aws_auth"


def arguments(**values):
    return dict(values, _ansible_check_mode=False, _ansible_no_log=False, _ansible_diff=False, _ansible_verbosity=0, _ansible_module_name=MODULE)


def test_only_this_very_interpreter_is_this_python(tmp_path):
    linked = tmp_path / "python"
    linked.symlink_to(THIS_PYTHON)
    assert in_process.is_this_python(THIS_PYTHON)
    assert in_process.is_this_python(os.path.join(os.path.dirname(THIS_PYTHON), ".", os.path.basename(THIS_PYTHON)))
    # The same file from another directory is another environment (a venv's python links to the system's).
    assert not in_process.is_this_python(str(linked))
    assert not in_process.is_this_python(str(tmp_path / "missing"))
    assert not in_process.is_this_python(None)
    assert not in_process.is_this_python("")


def test_each_run_gets_its_own_arguments_and_returns_what_the_module_prints():
    first = in_process.run_module(MODULE, arguments(first_option=1))
    second = in_process.run_module(MODULE, arguments(second_option=1))
    assert first[0] == 1 and second[0] == 1
    first_result, second_result = (json.loads(output) for _code, output, _err in (first, second))
    assert first_result["failed"] and "Unsupported parameters" in first_result["msg"] and "first_option" in first_result["msg"]
    assert second_result["failed"] and "second_option" in second_result["msg"] and "first_option" not in second_result["msg"]
    # The runs were forks: this process was given no module arguments.
    assert basic._ANSIBLE_ARGS is None


def test_what_one_run_changes_process_wide_does_not_reach_the_next(monkeypatch):
    def module(**kwargs):
        from kubernetes.client import Configuration  # pylint: disable=import-outside-toplevel
        seen = Configuration.get_default_copy().host
        changed = Configuration()
        changed.host = "https://cluster-a.example"
        Configuration.set_default(changed)  # as kubernetes.core does with a kubeconfig
        print(json.dumps({"seen": seen, "argv": sys.argv}))
        sys.exit(0)

    monkeypatch.setattr(in_process._loader, "run_module", module)
    first, second = (json.loads(in_process.run_module(MODULE, arguments())[1]) for _run in range(2))
    assert first["seen"] == second["seen"] != "https://cluster-a.example"
    # Not this process's command line (ansible-playbook's, extra variables included).
    assert first["argv"] == [in_process.python_module(MODULE)]


@pytest.mark.parametrize("code, expected", [(None, (0, "")), (0, (0, "")), (3, (3, "")), ("bad input", (1, "bad input\n"))])
def test_a_system_exit_ends_the_run_as_it_ends_a_process(code, expected):
    assert in_process.exit_code(SystemExit(code)) == expected


def test_an_exception_of_the_module_is_reported_as_ansiballz_reports_it(monkeypatch):
    def broken(**kwargs):
        raise KeyError("oops")

    monkeypatch.setattr(in_process._loader, "_run_module", broken)
    code, stdout, _stderr = in_process.run_module(MODULE, arguments())
    result = json.loads(stdout)
    assert code == 1 and result["failed"] and "oops" in json.dumps(result["exception"])


def test_a_module_that_returns_without_a_result_fails(monkeypatch):
    monkeypatch.setattr(in_process._loader, "_run_module", lambda **kwargs: None)
    code, stdout, _stderr = in_process.run_module(MODULE, arguments())
    assert code == 1 and stdout == ""


def test_the_run_starts_as_a_process_does_and_runs_only_its_own_exit_functions(monkeypatch, tmp_path):
    ours, theirs, log = tmp_path / "module-exit", tmp_path / "worker-exit", tmp_path / "ansible.log"

    def module(**kwargs):
        atexit.register(ours.write_text, "ran")
        logging.getLogger("botocore.endpoint").warning("Authorization: secret")
        print('{"changed": false}')
        sys.exit(0)

    def workers_exit_function():
        theirs.write_text("ran")

    handler = logging.FileHandler(log)
    logging.root.addHandler(handler)
    atexit.register(workers_exit_function)
    monkeypatch.setattr(in_process._loader, "run_module", module)
    try:
        code, stdout, stderr = in_process.run_module(MODULE, arguments())
    finally:
        atexit.unregister(workers_exit_function)
        logging.root.removeHandler(handler)
        handler.close()
    assert (code, json.loads(stdout)) == (0, {"changed": False})
    assert ours.read_text() == "ran" and not theirs.exists()
    # No handler of the worker's (ansible.log's) gets the libraries' records.
    assert "secret" not in log.read_text() + stderr


def test_an_interrupted_wait_ends_the_run_after_its_exit_functions(monkeypatch, tmp_path):
    forked = []
    fork = os.fork
    cleaned = tmp_path / "cleaned"

    def recording_fork():
        pid = fork()
        if pid:
            forked.append(pid)
        return pid

    def module(**kwargs):
        atexit.register(cleaned.write_text, "yes")
        time.sleep(60)

    class TimedOut(BaseException):
        pass

    def on_alarm(*_args):
        raise TimedOut()

    monkeypatch.setattr(in_process.os, "fork", recording_fork)
    monkeypatch.setattr(in_process._loader, "run_module", module)
    previous = signal.signal(signal.SIGALRM, on_alarm)
    started = time.monotonic()
    signal.alarm(1)
    try:
        with pytest.raises(TimedOut):
            in_process.run_module(MODULE, arguments())
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert time.monotonic() - started < 30
    assert cleaned.read_text() == "yes"  # SIGTERM first: the fork left through its exit functions
    with pytest.raises(ProcessLookupError):  # and it was reaped
        os.kill(forked[0], 0)


@pytest.mark.parametrize("ending, said", [(lambda: os._exit(3), "exit code 3"), (lambda: os.kill(os.getpid(), signal.SIGKILL), "signal 9")])
def test_a_fork_that_ends_without_a_result_says_how_it_ended(ending, said, monkeypatch):
    monkeypatch.setattr(in_process, "run_as_module_process", lambda *args: ending())
    assert in_process.run_module(MODULE, arguments()) == (1, "", f"{MODULE} ended without a result ({said})")


def make_action(interpreter=THIS_PYTHON, transport="local", become=False, async_val=0, environment=None, delegate_to=None, **task_vars):
    task = MagicMock(async_val=async_val, environment=environment or [], delegate_to=delegate_to)
    connection = MagicMock(transport=transport, _remote_is_local=False)
    play_context = MagicMock(become=become)
    action = in_process.ActionModule(task, connection, play_context, loader=None, templar=Templar(loader=DataLoader()), shared_loader_obj=None)
    return action, dict(task_vars, ansible_python_interpreter=interpreter)


@pytest.mark.parametrize("change, expected", [
    ({}, True),
    ({"environment": [{}]}, True),
    ({"transport": "ssh"}, False),
    ({"become": True}, False),
    ({"async_val": 30}, False),
    ({"environment": [{"AWS_PROFILE": "prod"}]}, False),
    ({"interpreter": "/usr/bin/python3-elsewhere"}, False),
])
def test_modules_run_in_the_worker_only_where_a_module_process_would_be_the_same(change, expected):
    action, task_vars = make_action(**change)
    assert action._runs_in_process(task_vars) is expected


def test_a_delegated_task_goes_by_the_delegated_hosts_interpreter():
    for delegated_python, expected in (("/usr/bin/python3-elsewhere", False), (THIS_PYTHON, True)):
        action, task_vars = make_action(delegate_to="tools", ansible_delegated_vars={"tools": {"ansible_python_interpreter": delegated_python}})
        assert action._runs_in_process(task_vars) is expected


def test_a_discovered_interpreter_counts_and_one_still_to_discover_does_not():
    action, _task_vars = make_action()
    discovered = {"ansible_python_interpreter": "auto_silent", "ansible_facts": {"discovered_interpreter_python": THIS_PYTHON}}
    assert action._runs_in_process(discovered)
    assert not action._runs_in_process({"ansible_python_interpreter": "auto_silent", "ansible_facts": {}})


def test_the_tested_ansible_core_has_the_expected_internals_and_another_shape_runs_processes(monkeypatch):
    assert in_process.INTERNALS_AS_EXPECTED
    action, task_vars = make_action()
    monkeypatch.setattr(in_process, "INTERNALS_AS_EXPECTED", False)
    assert not action._runs_in_process(task_vars)


@pytest.mark.parametrize("value", [False, "false", "no"])
def test_the_task_variable_and_keep_remote_files_choose_module_processes(value, monkeypatch):
    action, task_vars = make_action()
    assert not action._runs_in_process(dict(task_vars, eksnodes_windows_in_process=value))
    monkeypatch.setattr(C, "DEFAULT_KEEP_REMOTE_FILES", True)
    assert not action._runs_in_process(task_vars)


LOADED_BY_THE_PLUGIN = """
import sys
import ansible_collections.eksnodes.windows.plugins.plugin_utils.in_process
# Those that ansible-playbook does not import for itself (it does import PyYAML and ansible.module_utils.basic).
names = ("boto3", "requests", "ansible_collections.amazon.aws.plugins.module_utils.modules", "kubernetes")
loaded = [name for name in names if name in sys.modules]
aws_module = sys.modules.get("ansible_collections.eksnodes.windows.plugins.module_utils.aws_module")
print(" ".join(loaded + (["botocore-data"] if aws_module and aws_module._shared_loader else [])))
# The libraries' own warning filters, kept for the module runs.
print(" ".join(f"{entry[0]}:{entry[2].__name__}" for entry in ansible_collections.eksnodes.windows.plugins.plugin_utils.in_process.LIBRARY_WARNING_FILTERS))
"""


def libraries_after_loading_the_plugin(**environment):
    """Which libraries a fresh interpreter holds once it has imported the plugin, as ansible-playbook does when its
    strategy first loads one of the collection's action plugins."""
    env = {key: value for key, value in os.environ.items() if key != "ANSIBLE_KEEP_REMOTE_FILES"}
    env.update(PYTHONPATH=os.pathsep.join(sys.path), **environment)
    proc = subprocess.run([THIS_PYTHON, "-c", LOADED_BY_THE_PLUGIN], env=env, capture_output=True, text=True, check=True)
    libraries, filters = proc.stdout.split("\n")[:2]
    return libraries.split(), filters.split()


def test_ansible_playbook_imports_the_modules_libraries_once_for_every_worker_but_not_kubernetes():
    libraries, filters = libraries_after_loading_the_plugin()
    assert libraries == ["boto3", "requests", "ansible_collections.amazon.aws.plugins.module_utils.modules", "botocore-data"]
    assert {"always:SecurityWarning", "ignore:DependencyWarning"} <= set(filters)  # urllib3's and requests' own


def test_with_keep_remote_files_modules_run_as_processes_and_nothing_is_imported_for_them():
    assert libraries_after_loading_the_plugin(ANSIBLE_KEEP_REMOTE_FILES="1") == ([], [])


def test_a_library_that_fails_to_import_leaves_the_others_imported(monkeypatch):
    imported = []

    def import_module(name):
        if name in ("requests", in_process.AWS_MODULE_BASE):
            raise ImportError(name)
        imported.append(name)

    monkeypatch.setattr(in_process.importlib, "import_module", import_module)
    monkeypatch.setattr(in_process, "LIBRARY_WARNING_FILTERS", [])
    in_process.import_shared_libraries()
    assert imported == ["boto3", "yaml", "ansible_collections.amazon.aws.plugins.module_utils.modules"]


def test_the_tasks_worker_keeps_what_it_inherited_from_ansible_playbook_out_of_the_collectors_reach(monkeypatch):
    monkeypatch.setattr(in_process.multiprocessing, "parent_process", lambda: "ansible-playbook")  # as in a worker
    gc.unfreeze()
    try:
        make_action()
        inherited = gc.get_freeze_count()
        make_action()  # the next item of a loop, in the same worker: what the first item allocated stays collectable
        assert inherited > 0 and gc.get_freeze_count() == inherited
    finally:
        gc.unfreeze()


def test_outside_a_worker_nothing_is_frozen():
    gc.unfreeze()
    make_action()  # here, in the test process: no parent process of multiprocessing's
    assert gc.get_freeze_count() == 0


def test_a_module_run_has_the_warning_filters_its_libraries_set_on_import(monkeypatch):
    def module(**kwargs):
        print(json.dumps([[action, category.__name__] for action, _message, category, _module, _line in warnings.filters]))
        sys.exit(0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImportWarning)
        warnings.simplefilter("always", ResourceWarning)
        set_on_import = warnings.filters[:2]
    monkeypatch.setattr(in_process, "LIBRARY_WARNING_FILTERS", set_on_import)
    monkeypatch.setattr(in_process._loader, "run_module", module)
    with warnings.catch_warnings():
        warnings.resetwarnings()  # as the plugin loader's catch_warnings() leaves ansible-playbook: without the libraries' filters
        seen = json.loads(in_process.run_module(MODULE, arguments())[1])
    assert seen == [["always", "ResourceWarning"], ["ignore", "ImportWarning"]]
