# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Run this collection's modules inside the task's worker process when that is the same as running them as a process.

Why: a module task normally costs 0.6 to 0.8 s of CPU here before its first API call. ansible-playbook builds the
AnsiballZ payload (the syntax trees of about 100 files, on every run), then a new interpreter starts, imports
Ansible's module loader and ``basic``, and compiles the zipped sources (zipimport keeps no bytecode). The worker that
runs the task is a fork of ansible-playbook made for this one task and discarded after it, with Ansible, the
collection loader and this collection already imported. Running the module there costs only its own imports and
calls, and what it changes process-wide (``sys.argv``, the environment, module globals) goes with the worker, as it
goes with a module process.

It is the same only when the module would run on this machine under this Python, as this user, with this
environment. So a module runs here only when all of these hold, and as a process (Ansible's way) otherwise:

- the connection is ``local``, with no become and no async;
- the task sets no ``environment``;
- the Python the module would run under (``ansible_python_interpreter``, the interpreter setting, or the one
  discovered) is ansible-playbook's own: the same file in the same directory, so the same virtual environment;
- ansible-core passes module arguments and results as this code expects (2.19 and later);
- ``ANSIBLE_KEEP_REMOTE_FILES`` is off (it is for debugging a module process), and the task variable
  ``eksnodes_windows_in_process`` is not false.

The arguments go through the same encoder and the result through the same parser as a module process's.
"""

import atexit
import inspect
import io
import json
import os
import runpy
import sys
import traceback
from contextlib import contextmanager, redirect_stderr, redirect_stdout

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.utils.vars import merge_hash
from ansible.vars.clean import remove_internal_keys


def takes(function, parameter):
    return parameter in inspect.signature(function).parameters


try:
    from ansible.module_utils import basic
    from ansible.module_utils.common.json import Direction, get_module_encoder
    # As ansible-core 2.19 has them; another shape (a later release) runs modules as processes until this code follows.
    ARGUMENTS_AS_EXPECTED = (hasattr(basic, "_ANSIBLE_ARGS") and hasattr(basic, "_ANSIBLE_PROFILE")
                             and takes(ActionBase._parse_returned_data, "profile") and takes(ActionBase._update_module_args, "ignore_unknown_opts"))
except ImportError:  # ansible-core before 2.19: module processes, as Ansible runs them
    ARGUMENTS_AS_EXPECTED = False

display = Display()

COLLECTION = "eksnodes.windows."
OPT_OUT_VARIABLE = "eksnodes_windows_in_process"
LOCAL_CONNECTIONS = frozenset(("local", "ansible.builtin.local", "ansible.legacy.local"))
DISCOVERY_MODES = frozenset(("auto", "auto_legacy", "auto_silent", "auto_legacy_silent"))
# The serialization profile of modules without metadata, which all of ours are.
PROFILE = "legacy"


def is_this_python(path):
    """Whether a module run with the interpreter at path would run under this very Python and its packages.

    A virtual environment is found from the interpreter's own directory, so the same file reached from another
    directory (the system Python a venv links to) is another environment.
    """
    if not path:
        return False
    try:
        same_directory = os.path.dirname(os.path.abspath(path)) == os.path.dirname(os.path.abspath(sys.executable))
        return same_directory and os.path.samefile(path, sys.executable)
    except OSError:
        return False


@contextmanager
def exit_functions_run_at_the_end():
    """Run what the module registers with atexit when it ends, as its process's exit would.

    A forked worker ends with os._exit, which skips atexit: the CA file a Kubernetes client writes, or the tmpdir of
    AnsibleModule, would otherwise stay behind.
    """
    registered = []
    register = atexit.register

    def collect(function, *args, **kwargs):
        registered.append((function, args, kwargs))
        return function

    atexit.register = collect
    try:
        yield
    finally:
        atexit.register = register
        for function, args, kwargs in reversed(registered):
            try:
                function(*args, **kwargs)
            except Exception:  # pylint: disable=broad-exception-caught
                display.vvv(f"An exit function of the module failed: {traceback.format_exc()}")


def run_module(fqcn, arguments):
    """Run a module of this collection as AnsiballZ does, in this process: (its exit code, stdout, stderr)."""
    namespace, collection, name = fqcn.split(".")
    stdout, stderr = io.StringIO(), io.StringIO()
    exit_code = 0
    # How AnsiballZ hands a module its arguments (ansible.module_utils._internal._ansiballz._loader).
    basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": arguments}, cls=get_module_encoder(PROFILE, Direction.CONTROLLER_TO_MODULE)).encode()
    basic._ANSIBLE_PROFILE = PROFILE
    try:
        with exit_functions_run_at_the_end(), redirect_stdout(stdout), redirect_stderr(stderr):
            runpy.run_module(f"ansible_collections.{namespace}.{collection}.plugins.modules.{name}", run_name="__main__", alter_sys=True)
        raise RuntimeError(f"{fqcn} returned without a result")
    except SystemExit as ended:
        exit_code = ended.code if isinstance(ended.code, int) else 1
    except AnsibleError:
        # Raised by the worker, not by the module (which cannot import ansible.errors): the task's timeout.
        raise
    except Exception as error:  # pylint: disable=broad-exception-caught
        # As AnsiballZ reports a module's unhandled exception.
        exit_code = 1
        stdout.write(json.dumps({"failed": True, "msg": f"{fqcn} failed: {error}", "exception": traceback.format_exc()}))
    finally:
        basic._ANSIBLE_ARGS = basic._ANSIBLE_PROFILE = None
    return exit_code, stdout.getvalue(), stderr.getvalue()


class InProcessActionBase(ActionBase):
    """ActionBase whose _execute_module runs this collection's modules in the worker when that is the same."""

    def _execute_module(self, module_name=None, module_args=None, tmp=None, task_vars=None, persist_files=False, delete_remote_tmp=None,
                        wrap_async=False, ignore_unknown_opts=False):
        task_vars = {} if task_vars is None else task_vars
        fqcn = self._collection_module(module_name or self._task.action)
        if not fqcn or wrap_async or not self._runs_in_process(task_vars):
            return super()._execute_module(module_name=module_name, module_args=module_args, tmp=tmp, task_vars=task_vars,
                                           persist_files=persist_files, delete_remote_tmp=delete_remote_tmp, wrap_async=wrap_async,
                                           ignore_unknown_opts=ignore_unknown_opts)
        arguments = dict(self._task.args if module_args is None else module_args)
        self._update_module_args(fqcn, arguments, task_vars, ignore_unknown_opts=ignore_unknown_opts)
        display.vvv(f"Running {fqcn} in the task's worker process", host=task_vars.get("inventory_hostname"))
        exit_code, stdout, stderr = run_module(fqcn, arguments)
        data = self._parse_returned_data({"rc": exit_code, "stdout": stdout, "stderr": stderr}, PROFILE)
        data.pop("_ansible_suppress_tmpdir_delete", None)
        remove_internal_keys(data)
        return data

    def _collection_module(self, name):
        """The module's FQCN when it is one of this collection's, else None."""
        context = self._shared_loader_obj.module_loader.find_plugin_with_context(name, collection_list=self._task.collections)
        if context.resolved and context.resolved_fqcn.startswith(COLLECTION):
            return context.resolved_fqcn
        return None

    def _runs_in_process(self, task_vars):
        if not ARGUMENTS_AS_EXPECTED or C.DEFAULT_KEEP_REMOTE_FILES:
            return False
        if not boolean(self._templar.template(task_vars.get(OPT_OUT_VARIABLE, True)), strict=False):
            return False
        if self._connection.transport not in LOCAL_CONNECTIONS or self._play_context.become or self._task.async_val:
            return False
        if any(self._task.environment or ()):
            return False
        return is_this_python(self._module_interpreter(task_vars))

    def _module_interpreter(self, task_vars):
        """The Python a module process would be given, as ansible-core chooses it (None: not known yet)."""
        interpreter = self._templar.template(C.config.get_config_value("INTERPRETER_PYTHON", variables=task_vars))
        if not interpreter or interpreter in DISCOVERY_MODES:
            return task_vars.get("ansible_facts", {}).get("discovered_interpreter_python")
        return interpreter


class ActionModule(InProcessActionBase):
    """The action of the modules that print no progress: ansible.builtin.normal's, with the module run as above."""

    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        wrap_async = self._task.async_val and not self._connection.has_native_async
        result = merge_hash(result, self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
