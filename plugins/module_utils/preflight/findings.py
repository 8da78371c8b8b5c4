# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Findings: what a check found wrong, how bad it is, and how to fix it."""

from typing import Dict, List, Optional, Sequence

ERROR = "error"
WARNING = "warning"

PASSED = "passed"
FAILED = "failed"
WARNED = "warning"
SKIPPED = "skipped"

Finding = Dict[str, str]


def finding(check: str, severity: str, message: str, fix: str) -> Finding:
    if severity not in (ERROR, WARNING):
        raise ValueError(f"severity must be {ERROR!r} or {WARNING!r}, not {severity!r}")
    return {"check": check, "severity": severity, "message": message, "fix": fix}


def error(check: str, message: str, fix: str) -> Finding:
    return finding(check, ERROR, message, fix)


def warning(check: str, message: str, fix: str) -> Finding:
    return finding(check, WARNING, message, fix)


def unreadable(check: str, what: str, reason: str, fix: str = "Run the checks with credentials that may read it, or check it by hand.") -> Finding:
    """The warning of a check skipped because the caller may not read its input."""
    return warning(check, f"{what} could not be read ({reason}), so this check was skipped.", fix)


def errors(findings: Sequence[Finding]) -> List[Finding]:
    return [item for item in findings if item["severity"] == ERROR]


def warnings(findings: Sequence[Finding]) -> List[Finding]:
    return [item for item in findings if item["severity"] == WARNING]


def status_of(check: str, findings: Sequence[Finding], skipped: Optional[str] = None) -> str:
    if skipped:
        return SKIPPED
    own = [item for item in findings if item["check"] == check]
    if errors(own):
        return FAILED
    if own:
        return WARNED
    return PASSED


def failure_message(findings: Sequence[Finding]) -> str:
    """One message listing every error with its fix, for fail_json."""
    found = errors(findings)
    lines = [f"preflight found {len(found)} error(s):"]
    for item in found:
        lines.append(f"[{item['check']}] {item['message']} Fix: {item['fix']}")
    return "\n".join(lines)
