# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The whole_cluster_facts filter (documented in whole_cluster_facts.yml)."""

from ansible_collections.eksnodes.windows.plugins.module_utils.eks.transformations import whole


def whole_cluster_facts(facts, name=None):
    """The facts when a module's cluster option takes them (and, with name, they are that cluster's); else {}."""
    if not whole(facts) or (name is not None and facts["name"] != name):
        return {}
    return facts


class FilterModule:
    def filters(self):
        return {"whole_cluster_facts": whole_cluster_facts}
