# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Node authorization through the aws-auth ConfigMap: pure helpers shared by the modules.

Stable names other parts of the collection import: parse_mappings, MalformedMappingsError,
strip_role_path, is_instance_profile_arn (and the modules below for the rest).
"""

from .arns import ArnError, is_instance_profile_arn, is_role_arn, strip_role_path  # noqa: F401
from .mappings import (  # noqa: F401
    ACCOUNTS,
    KUBE_PROXY_WINDOWS,
    NODE_USERNAME,
    ROLES,
    USERS,
    MalformedMappingsError,
    node_mapping_os,
    parse_mappings,
    render_mappings,
)
