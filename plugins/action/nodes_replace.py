# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Progress for eksnodes.windows.nodes_replace: the same steps as nodes_drain's (see there)."""

from ansible_collections.eksnodes.windows.plugins.action.nodes_drain import ActionModule as DrainActionModule


class ActionModule(DrainActionModule):
    MODULE = "eksnodes.windows.nodes_replace"
