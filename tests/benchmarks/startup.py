"""Benchmark: what each module pays at start-up for its imports, before it does anything.

For each module of the collection, a fresh interpreter imports it (as AnsiballZ does before calling main()); printed:
the CPU seconds of that process (median of a few runs; the wall time depends on how busy the machine is) and which
heavy libraries it pulls in; beforehand, the CPU seconds of a bare interpreter and of importing each heavy library
alone: the generated Kubernetes client (``kubernetes.client``: importing any part of it, even
``kubernetes.client.rest.ApiException``, runs the package's ``__init__``, which imports every model and API class),
boto3, PyYAML and Ansible's module base. The collection's Kubernetes modules import kubernetes name by name
(module_utils/kube/lazy.py), so kubernetes.client is not among their heavy imports.

Run on its own with ``python tests/benchmarks/startup.py [modules...]``. No pass/fail.
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYTHON = str(REPO / ".venv/bin/python")
RUNS = 3
HEAVY = ("kubernetes.client", "boto3", "yaml", "ansible.module_utils.basic")
IMPORT_LINE = re.compile(r"import time:\s+\d+ \|\s+\d+ \| \s*(\S+)")


def cpu_of(code: str) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([PYTHON, "-c", code], check=True, env={"PYTHONPATH": str(REPO / ".collections")}, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def heavy_imports(code: str) -> list[str]:
    """The heavy packages the code imports (from -X importtime)."""
    proc = subprocess.run([PYTHON, "-X", "importtime", "-c", code], check=True, env={"PYTHONPATH": str(REPO / ".collections")},
                          capture_output=True, text=True)
    imported = {match.group(1) for match in map(IMPORT_LINE.match, proc.stderr.splitlines()) if match}
    return [package for package in HEAVY if package in imported]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*")
    args = parser.parse_args(argv)
    modules = args.modules or sorted(path.stem for path in (REPO / "plugins/modules").glob("*.py") if path.stem != "__init__")
    print(f"start-up CPU seconds, median of {RUNS}:")
    print(f"  a bare interpreter: {statistics.median(cpu_of('pass') for _run in range(RUNS)):.2f} s")
    for package in HEAVY:
        print(f"  import {package} alone: {statistics.median(cpu_of(f'import {package}') for _run in range(RUNS)):.2f} s")
    print("each module (imports only):")
    for name in modules:
        code = f"import ansible_collections.eksnodes.windows.plugins.modules.{name}"
        cpu = statistics.median(cpu_of(code) for _run in range(RUNS))
        print(f"  {name:<22} {cpu:5.2f} s   imports {', '.join(heavy_imports(code))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
