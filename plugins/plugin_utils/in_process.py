# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Run this collection's modules in a fork of the task's worker process when that is the same as a module process.

Why: a module task normally costs 0.6 to 0.8 s of CPU here before its first API call. ansible-playbook builds the
AnsiballZ payload (the syntax trees of about 100 files, on every run), then a new interpreter starts, imports
Ansible's module loader and ``basic``, and compiles the zipped sources (zipimport keeps no bytecode). The worker that
runs the task is a fork of ansible-playbook with Ansible and the collection loader already imported. A fork of the
worker, running the module as AnsiballZ's own loader does, costs only the module's imports (made once per task, in
the worker) and its calls. Each run gets a process of its own, as a module does: what one run changes process-wide
(the Kubernetes client's default configuration, logging handlers, ``sys.argv``, the environment) cannot reach the
next run of a loop or of a progress plugin's steps, nor the worker.

It is the same only when the module would run on this machine under this Python, as this user, with this
environment. So a module runs this way only when all of these hold, and as a module process otherwise:

- the connection is ``local``, with no become and no async;
- the task sets no ``environment``;
- the Python the module would be given (chosen as ansible-core chooses it, for the delegated host when the task is
  delegated) is ansible-playbook's own: the same file in the same directory, so the same virtual environment. When
  that Python is still to be discovered, the module runs as a process, which discovers it;
- ansible-core's internals have the shape this code uses (2.19's, which 2.20 keeps: tests/compat runs it);
- ``ANSIBLE_KEEP_REMOTE_FILES`` is off (it is for debugging a module process), and the task variable
  ``eksnodes_windows_in_process`` is not false.

The libraries every module run would import again (boto3, requests, PyYAML, amazon.aws's module base) are imported
once, in ansible-playbook itself, when it first loads one of this collection's action plugins: the workers of the
tasks that follow are forks of it, and start with them. So is what botocore reads for any client (module_utils/aws_module.py).
The worker of a task of this collection freezes what it inherited (gc.freeze), so that neither its collector nor that of
a module run walks, and copies, ansible-playbook's heap.

The fork starts as a module process does: module-side Ansible (warnings go into the result), no logging handler (the
controller's ``log_path`` handler would otherwise write the libraries' debug records), no exit function of the
controller's. The arguments go through the same encoder, and the result through the same parser, as a module
process's.
"""

import atexit
import gc
import importlib
import inspect
import io
import json
import logging
import multiprocessing
import os
import signal
import sys
import time
import traceback
import warnings
from contextlib import redirect_stderr, redirect_stdout

from ansible import constants as C
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.plugins.action.normal import ActionModule as NormalActionModule
from ansible.utils.display import Display


def takes(function, *parameters):
    return set(parameters) <= set(inspect.signature(function).parameters)


try:
    from ansible.executor.module_common import _get_shebang
    from ansible.module_utils import _internal as module_side
    from ansible.module_utils._internal._ansiballz import _loader
    from ansible.module_utils.common.json import Direction, get_module_encoder
    from ansible.vars.clean import remove_internal_keys  # gone from ansible-core 2.21 (results are objects there)
    # As ansible-core 2.19 and 2.20 have them; another shape (another release) runs modules as processes until this code follows.
    INTERNALS_AS_EXPECTED = (hasattr(module_side, "is_controller") and takes(_loader.run_module, "json_params", "profile", "module_fqn")
                             and takes(_get_shebang, "interpreter", "task_vars", "templar", "remote_is_local")
                             and takes(ActionBase._parse_returned_data, "profile") and takes(ActionBase._update_module_args, "ignore_unknown_opts"))
except ImportError:  # ansible-core before 2.19, or 2.21 and later: module processes, as Ansible runs them
    INTERNALS_AS_EXPECTED = False

display = Display()

COLLECTION = "eksnodes.windows."
OPT_OUT_VARIABLE = "eksnodes_windows_in_process"
LOCAL_CONNECTIONS = frozenset(("local", "ansible.builtin.local", "ansible.legacy.local"))
# The serialization profile of modules without metadata, which all of ours are.
PROFILE = "legacy"
# How long an interrupted run has to run its exit functions (the Kubernetes client's CA file) and leave.
TERMINATION_GRACE_SECONDS = 2


# What each task's worker would otherwise import for its module run: the AWS SDK, the HTTP library of the Kubernetes
# client, PyYAML, and amazon.aws's module base with ansible.module_utils.basic.
# Not kubernetes: the modules import it name by name (module_utils/kube/lazy.py), which must stay within their runs and
# not reach the other plugins of the play.
SHARED_LIBRARIES = ("boto3", "requests", "yaml", "ansible_collections.amazon.aws.plugins.module_utils.modules")
# Its share_botocore_data() reads what botocore reads for any client, once for all module runs.
AWS_MODULE_BASE = "ansible_collections.eksnodes.windows.plugins.module_utils.aws_module"


# The warning filters the shared libraries set as they are imported (urllib3's and requests' own). The plugin loader
# imports this file within warnings.catch_warnings(), which takes them back; each module run puts them back.
LIBRARY_WARNING_FILTERS = []


def import_shared_libraries():
    """Import SHARED_LIBRARIES here, where the modules will run in forks of this process's forks.

    Called when this file is imported: the strategy imports an action plugin in ansible-playbook itself before it
    forks the worker of the task (to read BYPASS_HOST_LOOP), so the workers of this collection's tasks inherit them.
    """
    if not INTERNALS_AS_EXPECTED or C.DEFAULT_KEEP_REMOTE_FILES:
        return
    before = list(warnings.filters)
    # Recorded, not shown: a library's import warnings went to a module run's stderr, never to ansible-playbook's output.
    with warnings.catch_warnings(record=True):
        for name in SHARED_LIBRARIES:
            quietly(importlib.import_module, name)
        quietly(lambda: importlib.import_module(AWS_MODULE_BASE).share_botocore_data())
        LIBRARY_WARNING_FILTERS[:] = [entry for entry in warnings.filters if entry not in before]


def quietly(action, *arguments):
    """Run action; what fails here fails the same way in the module run, which reports it as it always has."""
    try:
        action(*arguments)
    except Exception:  # pylint: disable=broad-exception-caught
        pass


def restore_library_warning_filters():
    for action, message, category, module, lineno in reversed(LIBRARY_WARNING_FILTERS):
        warnings.filterwarnings(action, message.pattern if message else "", category, module.pattern if module else "", lineno)


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


def python_module(fqcn):
    namespace, collection, name = fqcn.split(".")
    return f"ansible_collections.{namespace}.{collection}.plugins.modules.{name}"


def exit_code(ended):
    """The exit code of a process ended by this SystemExit, and what Python prints for it."""
    if ended.code is None:
        return 0, ""
    if isinstance(ended.code, int):
        return ended.code, ""
    return 1, f"{ended.code}\n"


def end_with_exit_functions(signum, _frame):
    """SIGTERM in the fork: leave as Python leaves on SystemExit, running the module's exit functions."""
    raise SystemExit(128 + signum)


def run_as_module_process(fqcn, params):
    """In a fresh fork: run the module as AnsiballZ's loader does; the process's (exit code, stdout, stderr)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    code = 1
    try:
        signal.signal(signal.SIGTERM, end_with_exit_functions)
        module_side.is_controller = False
        Display()._final_q = None  # pylint: disable=protected-access  # never the worker's queue to ansible-playbook
        logging.root.handlers.clear()
        logging.root.setLevel(logging.WARNING)
        restore_library_warning_filters()
        atexit._clear()  # pylint: disable=protected-access
        # Not ansible-playbook's command line (extra variables included), and the module run afresh as __main__ (the
        # worker imported it, for its libraries).
        sys.argv = [python_module(fqcn)]
        sys.modules.pop(python_module(fqcn), None)
        with redirect_stdout(stdout), redirect_stderr(stderr):
            try:
                _loader.run_module(json_params=params, profile=PROFILE, module_fqn=python_module(fqcn), modlib_path="", extensions={})
                raise SystemExit(1)  # run_module never returns
            except SystemExit as ended:
                code, printed = exit_code(ended)
                stderr.write(printed)
            finally:
                atexit._run_exitfuncs()  # pylint: disable=protected-access
    except BaseException:  # pylint: disable=broad-exception-caught
        stderr.write(traceback.format_exc())
    return code, stdout.getvalue(), stderr.getvalue()


def end_the_run(child):
    """The task's timeout or an interrupt ended the wait: end the run too, as Ansible ends a worker (SIGTERM), then
    for good if it has not left after a grace period."""
    try:
        os.kill(child, signal.SIGTERM)
        deadline = time.monotonic() + TERMINATION_GRACE_SECONDS
        while time.monotonic() < deadline:
            if os.waitpid(child, os.WNOHANG)[0]:
                return
            time.sleep(0.05)
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    except (ProcessLookupError, ChildProcessError):  # it had already ended and been reaped
        pass


def how_it_ended(status):
    code = os.waitstatus_to_exitcode(status)
    return f"exit code {code}" if code >= 0 else f"signal {-code}"


def run_module(fqcn, arguments):
    """Run a module of this collection in a fork of this process: (its exit code, stdout, stderr)."""
    params = json.dumps({"ANSIBLE_MODULE_ARGS": arguments}, cls=get_module_encoder(PROFILE, Direction.CONTROLLER_TO_MODULE)).encode()
    try:
        # Imported here, not in each fork: the module's libraries are imported once for all runs of the task.
        importlib.import_module(python_module(fqcn))
    except Exception:  # pylint: disable=broad-exception-caught
        pass  # the fork fails the same way, and reports it as a module would
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(read_end)
            with os.fdopen(write_end, "w", encoding="utf-8") as pipe:
                json.dump(run_as_module_process(fqcn, params), pipe)
        finally:
            os._exit(0)  # not the worker's exit: none of its exit functions or buffers
    try:
        os.close(write_end)
        with os.fdopen(read_end, encoding="utf-8") as pipe:
            sent = pipe.read()
        status = os.waitpid(child, 0)[1]
        child = None
    finally:
        if child:
            end_the_run(child)
    try:
        code, stdout, stderr = json.loads(sent)
    except ValueError:
        code, stdout, stderr = 1, "", f"{fqcn} ended without a result ({how_it_ended(status)})"
    return code, stdout, stderr


import_shared_libraries()


class InProcessActionBase(ActionBase):
    """ActionBase whose _execute_module runs this collection's modules in a fork of the worker when that is the same."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # In a worker: a fork of ansible-playbook (a multiprocessing process) made for this task, which ends with it;
        # so is each module run in it, a fork of the worker. A full collection in either walks every object inherited
        # from ansible-playbook, which copies every page it touches: 0.1 to 0.15 CPU-s a task
        # (tests/benchmarks/nodegroups.py). Frozen, they stay out of the collector's reach and shared. What the task
        # allocates is collected as usual: once frozen, the next items of a loop do not freeze again.
        if multiprocessing.parent_process() is not None and not gc.get_freeze_count():
            gc.freeze()

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
        display.vvv(f"Running {fqcn} in a fork of the task's worker process", host=task_vars.get("inventory_hostname"))
        code, stdout, stderr = run_module(fqcn, arguments)
        data = self._parse_returned_data({"rc": code, "stdout": stdout, "stderr": stderr}, PROFILE)
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
        if not INTERNALS_AS_EXPECTED or C.DEFAULT_KEEP_REMOTE_FILES:
            return False
        if not boolean(self._templar.template(task_vars.get(OPT_OUT_VARIABLE, True)), strict=False):
            return False
        if self._connection.transport not in LOCAL_CONNECTIONS or self._play_context.become or self._task.async_val:
            return False
        if any(self._task.environment or ()):
            return False
        return is_this_python(self._module_interpreter(task_vars))

    def _module_interpreter(self, task_vars):
        """The Python a module process would be given, chosen as ansible-core chooses it; None when not known yet."""
        host_vars = task_vars.get("ansible_delegated_vars", {}).get(self._task.delegate_to) if self._task.delegate_to else task_vars
        try:
            return _get_shebang("/usr/bin/python", host_vars, self._templar, remote_is_local=bool(getattr(self._connection, "_remote_is_local", False)))[1]
        except Exception:  # pylint: disable=broad-exception-caught
            # Interpreter discovery still to run (InterpreterDiscoveryRequiredError), or a value ansible-core itself will
            # report on: the module process finds out.
            return None


class ActionModule(InProcessActionBase, NormalActionModule):
    """The action of the modules that print no progress: ansible.builtin.normal's, with the module run as above."""
