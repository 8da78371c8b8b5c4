# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The collection's Kubernetes access. Importing any part of it first makes the kubernetes library import lazily (lazy.py)."""

from .lazy import install as _install_lazy_kubernetes

_install_lazy_kubernetes()
