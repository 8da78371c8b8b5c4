# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The backup of the aws-auth ConfigMap a write replaces.

1. backup_path_problem() checks the place before anything is read or written: an existing writable
   directory (a time-stamped file is made in it), or a file in an existing writable directory.
2. Backup is called by converge() right before each write with the ConfigMap that write replaces, so
   the backup exists before the ConfigMap changes; a file of a round lost to a conflict is removed.
"""

import os
import time
from typing import Any, Dict, Optional

from .configmap import NAME, manifest
from .mappings import render_document


def backup_path_problem(path: str) -> Optional[str]:
    """Why the previous ConfigMap could not be written at path, or None."""
    if os.path.isdir(path):
        if not os.access(path, os.W_OK | os.X_OK):
            return f"backup_path: the directory {path} is not writable. Fix: make it writable, or choose another directory."
        return None
    if path.endswith(os.sep) or (os.path.exists(path) and not os.path.isfile(path)):
        return (f"backup_path: {path} is not an existing directory or a file. Fix: create the directory first "
                f"(mkdir -p {path}), or give a file name in an existing directory.")
    parent = os.path.dirname(path) or "."
    if not os.path.isdir(parent):
        return (f"backup_path: the directory {parent} of {path} does not exist. Fix: create it first (mkdir -p {parent}), "
                f"or give a file name in an existing directory.")
    if not os.access(path if os.path.exists(path) else parent, os.W_OK):
        return f"backup_path: {path} cannot be written. Fix: make it writable, or choose another file."
    return None


def write_backup(path: str, document: Dict[str, Any], resource_version: Optional[str]) -> str:
    if os.path.isdir(path):
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        path = os.path.join(path, f"{NAME}.{resource_version or 'new'}.{stamp}.yaml")
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "w") as stream:
        stream.write(render_document(document))
    return path


class BackupFailed(Exception):
    """The backup could not be written; nothing was changed."""


class Backup:
    """Writes the ConfigMap a write is about to replace; a file of an earlier round lost to a conflict is removed."""

    def __init__(self, path: str):
        self.path = path
        self.written: Optional[str] = None

    def __call__(self, current: Optional[Dict[str, Any]]) -> None:
        if current is None:
            return
        version = (current.get("metadata") or {}).get("resourceVersion")
        try:
            written = write_backup(self.path, manifest(current), version)
            if self.written and self.written != written and os.path.exists(self.written):
                os.remove(self.written)
        except OSError as error:
            raise BackupFailed(
                f"backup_path: the previous ConfigMap could not be written to {self.path} ({error}). "
                f"Nothing was changed. Fix: choose a writable file or directory."
            ) from error
        self.written = written
