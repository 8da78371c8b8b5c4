# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""eksnodes.windows.windows_ami_info runs in the task's worker process when that is the same as a module process (see plugin_utils/in_process.py)."""

from ansible_collections.eksnodes.windows.plugins.plugin_utils.in_process import ActionModule  # noqa: F401  pylint: disable=unused-import
