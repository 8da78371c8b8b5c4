# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Reading the bootstrap call out of a launch template's user data (pure)."""

import base64
import binascii
import gzip
import re
from typing import Dict, Optional

_VALUE = r"""(?:"([^"]*)"|'([^']*)'|([^\s`"';]+))"""
_CLUSTER_ARGUMENT = re.compile(r"-EKSClusterName\s+" + _VALUE, re.IGNORECASE)
_ASSIGNMENT = r"""\$%s\s*=\s*(?:"([^"]*)"|'([^']*)')"""
_LINUX_CALL = re.compile(r"/etc/eks/bootstrap\.sh\s+" + _VALUE)


def decode_user_data(user_data_b64: Optional[str]) -> Optional[str]:
    """The user data text (base64, possibly gzipped), or None when there is none or it is unreadable."""
    if not user_data_b64:
        return None
    try:
        raw = base64.b64decode(user_data_b64)
    except (binascii.Error, ValueError):
        return None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError):
            return None
    return raw.decode("utf-8", errors="replace")


def _value(match) -> Optional[str]:
    return next((g for g in match.groups() if g is not None), None) if match else None


def _resolve(value: Optional[str], script: str) -> Optional[str]:
    """$Name -> the string a simple '$Name = "..."' assignment in the same script gives it."""
    if not value or not value.startswith("$"):
        return value
    name = re.escape(value[1:].strip("{}"))
    assignment = re.search(r"(?:\[string\]\s*)?" + _ASSIGNMENT % name, script, re.IGNORECASE)
    return _value(assignment) or value


def bootstrap_call(user_data_b64: Optional[str]) -> Dict[str, Optional[str]]:
    """What the user data would bootstrap: {'cluster_name', 'problem'}.

    problem is set when the user data cannot bootstrap a node at all (none, unreadable, no
    bootstrap call, a Windows call outside a <powershell> block, no cluster name).
    """
    text = decode_user_data(user_data_b64)
    if text is None:
        problem = "the launch template has no user data" if not user_data_b64 else "the user data cannot be decoded"
        return {"cluster_name": None, "problem": problem}
    if "start-eksbootstrap.ps1" in text.lower():
        block = re.search(r"<powershell>(.*?)</powershell>", text, re.IGNORECASE | re.DOTALL)
        if not block:
            return {"cluster_name": None, "problem": "the user data calls Start-EKSBootstrap.ps1 outside a <powershell> block"}
        script = block.group(1)
        name = _resolve(_value(_CLUSTER_ARGUMENT.search(script)), script)
        if not name:
            return {"cluster_name": None, "problem": "Start-EKSBootstrap.ps1 is called without -EKSClusterName"}
        return {"cluster_name": name, "problem": None}
    linux = _LINUX_CALL.search(text)
    if linux:
        return {"cluster_name": _value(linux), "problem": None}
    return {"cluster_name": None, "problem": "the user data never calls Start-EKSBootstrap.ps1"}
