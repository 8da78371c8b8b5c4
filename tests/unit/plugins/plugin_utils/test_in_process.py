import atexit
import json
import os
import sys
from unittest.mock import MagicMock

import pytest
from ansible import constants as C
from ansible.errors import AnsibleError

from ansible_collections.eksnodes.windows.plugins.plugin_utils import in_process

THIS_PYTHON = sys.executable


def arguments(**values):
    return dict(values, _ansible_check_mode=False, _ansible_no_log=False, _ansible_diff=False, _ansible_verbosity=0,
                _ansible_module_name="eksnodes.windows.aws_auth")


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
    first = in_process.run_module("eksnodes.windows.aws_auth", arguments(first_option=1))
    second = in_process.run_module("eksnodes.windows.aws_auth", arguments(second_option=1))
    assert first[0] == 1 and second[0] == 1
    first_result, second_result = (json.loads(output) for _code, output, _err in (first, second))
    assert first_result["failed"] and "Unsupported parameters" in first_result["msg"] and "first_option" in first_result["msg"]
    assert second_result["failed"] and "second_option" in second_result["msg"] and "first_option" not in second_result["msg"]
    # Nothing is left for the next run to read.
    assert in_process.basic._ANSIBLE_ARGS is None


def test_an_exception_of_the_module_is_a_failed_result_and_one_of_ansible_is_raised(monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("oops")

    monkeypatch.setattr(in_process.runpy, "run_module", broken)
    exit_code, stdout, _stderr = in_process.run_module("eksnodes.windows.aws_auth", arguments())
    result = json.loads(stdout)
    assert exit_code == 1 and result["failed"] and "eksnodes.windows.aws_auth failed: 'oops'" == result["msg"]
    assert "KeyError" in result["exception"]

    def timed_out(*args, **kwargs):
        raise AnsibleError("The task timed out")

    monkeypatch.setattr(in_process.runpy, "run_module", timed_out)
    with pytest.raises(AnsibleError, match="timed out"):
        in_process.run_module("eksnodes.windows.aws_auth", arguments())
    assert in_process.basic._ANSIBLE_ARGS is None


def test_a_module_that_returns_without_a_result_fails(monkeypatch):
    monkeypatch.setattr(in_process.runpy, "run_module", lambda *args, **kwargs: None)
    exit_code, stdout, _stderr = in_process.run_module("eksnodes.windows.aws_auth", arguments())
    assert exit_code == 1 and "returned without a result" in json.loads(stdout)["msg"]


def test_exit_functions_registered_during_the_run_run_at_its_end():
    ran = []
    register = atexit.register
    with in_process.exit_functions_run_at_the_end():
        atexit.register(ran.append, "first")
        atexit.register(lambda: 1 / 0)
        atexit.register(ran.append, "last")
        assert not ran
    assert ran == ["last", "first"]
    assert atexit.register is register


def make_action(task_vars_interpreter=THIS_PYTHON, transport="local", become=False, async_val=0, environment=None):
    task = MagicMock(async_val=async_val, environment=environment or [])
    connection = MagicMock(transport=transport)
    play_context = MagicMock(become=become)
    templar = MagicMock()
    templar.template.side_effect = lambda value: value
    action = in_process.ActionModule(task, connection, play_context, loader=None, templar=templar, shared_loader_obj=None)
    return action, {"ansible_python_interpreter": task_vars_interpreter}


@pytest.mark.parametrize("change, expected", [
    ({}, True),
    ({"environment": [{}]}, True),
    ({"transport": "ssh"}, False),
    ({"become": True}, False),
    ({"async_val": 30}, False),
    ({"environment": [{"AWS_PROFILE": "prod"}]}, False),
    ({"task_vars_interpreter": "/usr/bin/python3-elsewhere"}, False),
])
def test_modules_run_in_the_worker_only_where_a_module_process_would_be_the_same(change, expected):
    action, task_vars = make_action(**change)
    assert action._runs_in_process(task_vars) is expected


def test_a_discovered_interpreter_counts_and_an_undiscovered_one_does_not():
    action, _task_vars = make_action()
    assert action._runs_in_process({"ansible_python_interpreter": "auto_silent", "ansible_facts": {"discovered_interpreter_python": THIS_PYTHON}})
    assert not action._runs_in_process({"ansible_python_interpreter": "auto_silent"})


def test_the_tested_ansible_core_passes_arguments_as_expected_and_another_shape_runs_processes(monkeypatch):
    assert in_process.ARGUMENTS_AS_EXPECTED
    action, task_vars = make_action()
    monkeypatch.setattr(in_process, "ARGUMENTS_AS_EXPECTED", False)
    assert not action._runs_in_process(task_vars)


@pytest.mark.parametrize("value", [False, "false", "no"])
def test_the_task_variable_and_keep_remote_files_choose_module_processes(value, monkeypatch):
    action, task_vars = make_action()
    assert not action._runs_in_process(dict(task_vars, eksnodes_windows_in_process=value))
    monkeypatch.setattr(C, "DEFAULT_KEEP_REMOTE_FILES", True)
    assert not action._runs_in_process(task_vars)
