# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Progress for eksnodes.windows.nodes_ready: run the module in short steps, print a line after each.

A module cannot stream output, so the wait is split into steps of at most progress_interval
seconds. Each step watches the Nodes and returns as soon as anything a progress line shows has
changed (or the nodes are all Ready), so lines appear as nodes register and turn Ready, and at
least every progress_interval seconds. Lines go through Display at normal verbosity, which both
ansible-playbook and AWX job output show. A step marked final that times out (at the end of
wait_timeout) diagnoses and fails; the loop ends there or when the nodes are Ready.
"""

import time

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.validation import check_type_int
from ansible.utils.display import Display

from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.nodes import format_duration
from ansible_collections.eksnodes.windows.plugins.plugin_utils.in_process import InProcessActionBase

display = Display()

MODULE = "eksnodes.windows.nodes_ready"
DEFAULT_WAIT_TIMEOUT = 1500
DEFAULT_PROGRESS_INTERVAL = 30
# Never equal to a state's signature: the first step reports the state it finds at once.
REPORT_NOW = ""


class ActionModule(InProcessActionBase):
    _supports_check_mode = True
    _supports_async = False

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
        started = self.clock()
        deadline = started + max(wait_timeout, 0)
        since = REPORT_NOW
        history = []
        reconnects = 0
        while True:
            remaining = deadline - self.clock()
            final = remaining <= interval
            step = {"seconds": max(min(interval, remaining), 0), "final": final, "since": since, "history": history}
            step_result = self._execute_module(module_name=MODULE, module_args=dict(args, _step=step), task_vars=task_vars)
            if "signature" not in step_result:
                # It failed before it could wait (arguments, AWS or Kubernetes errors): nothing to add.
                result.update(step_result)
                return result
            reconnects += step_result.get("reconnects", 0)
            elapsed = self.clock() - started
            display.display(f"[{host}] {step_result['summary']} after {format_duration(elapsed)}")
            if step_result.get("done") or step_result.get("failed"):
                step_result.update(elapsed=round(elapsed, 2), reconnects=reconnects)
                result.update(step_result)
                return result
            since = step_result["signature"]
            history = step_result.get("cluster_history") or []
