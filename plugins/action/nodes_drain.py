# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Progress for eksnodes.windows.nodes_drain (and nodes_replace): run the module in short steps, print its lines.

A module cannot stream output, so the work is split into steps of at most progress_interval
seconds. Each step continues from what the cluster and AWS show (a cordoned node, a pod gone),
plus a small memo the previous step returned (since when a pod is blocked). The lines a step
returns (node cordoned, pod evicted, which budget blocks) are printed through Display at normal
verbosity, which both ansible-playbook and AWX job output show. The lists of what was done are
added up over the steps, so the task's result reads as one run.
"""

import time

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.validation import check_type_int
from ansible.utils.display import Display

from ansible_collections.eksnodes.windows.plugins.plugin_utils.in_process import InProcessActionBase

display = Display()

DEFAULT_WAIT_TIMEOUT = 3600
DEFAULT_PROGRESS_INTERVAL = 30
# Lists each step returns about what it did; the task's result has them over all steps.
ADDED_UP = ("cordoned", "evicted", "drained", "terminated")


class ActionModule(InProcessActionBase):
    _supports_check_mode = True
    _supports_async = False

    MODULE = "eksnodes.windows.nodes_drain"
    clock = staticmethod(time.monotonic)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        if "_step" in args:
            raise AnsibleActionFail("_step is set by the action plugin, not by tasks")
        try:
            wait_timeout = check_type_int(args.get("wait_timeout", DEFAULT_WAIT_TIMEOUT))
            interval = max(check_type_int(args.get("progress_interval", DEFAULT_PROGRESS_INTERVAL)), 1)
        except TypeError as error:
            raise AnsibleActionFail(f"wait_timeout and progress_interval must be whole seconds: {error}") from error
        host = (task_vars or {}).get("inventory_hostname", "localhost")
        deadline = self.clock() + max(wait_timeout, 0)
        memo = {}
        totals = {key: [] for key in ADDED_UP}
        changed = False
        while True:
            remaining = deadline - self.clock()
            step = {"seconds": max(min(interval, remaining), 0), "final": remaining <= interval, "memo": memo}
            step_result = self._execute_module(module_name=self.MODULE, module_args=dict(args, _step=step), task_vars=task_vars)
            for line in step_result.get("lines") or []:
                display.display(f"[{host}] {line}")
            if "memo" not in step_result:
                # It failed before it could start (arguments, AWS or Kubernetes errors): nothing to add.
                result.update(step_result)
                return result
            changed = changed or bool(step_result.get("changed"))
            for key in ADDED_UP:
                totals[key].extend(item for item in step_result.get(key) or [] if item not in totals[key])
            if step_result.get("done") or step_result.get("failed"):
                step_result.update(totals, changed=changed)
                step_result.pop("memo", None)
                result.update(step_result)
                return result
            memo = step_result["memo"]
