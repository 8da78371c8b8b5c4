# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The replacement_nodegroup_name filter (documented in replacement_nodegroup_name.yml)."""

from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.upgrade import default_new_name


def replacement_nodegroup_name(nodegroup_name):
    """The name a blue/green upgrade gives the node group's replacement unless told another (upgrade_plan's own)."""
    return default_new_name(str(nodegroup_name))


class FilterModule:
    def filters(self):
        return {"replacement_nodegroup_name": replacement_nodegroup_name}
