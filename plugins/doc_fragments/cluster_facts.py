# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  cluster:
    description:
      - The cluster's facts as M(eksnodes.windows.cluster_info) or M(eksnodes.windows.preflight) returned them
        (RV(eksnodes.windows.cluster_info#module:cluster)), read earlier in the same play. The module then takes what it
        needs of the cluster (its endpoint, certificate authority, status and authentication mode) from them instead of
        describing the cluster again (one C(eks:DescribeCluster) call fewer).
      - Their C(name) must be the cluster named by the module's cluster name option, and they must have a C(status), an
        C(endpoint) and a C(certificate_authority); other facts are refused with a message that names this option.
      - The roles of this collection pass the facts they were given (for example C(prerequisites_cluster)).
    type: dict
    version_added: 0.2.0
"""
