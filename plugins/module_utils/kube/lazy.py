# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The kubernetes library, imported name by name as a module run uses it.

Why: any import from kubernetes (kubernetes.client.rest, kubernetes.config...) first runs kubernetes/__init__.py,
which imports the client, config, dynamic, watch, stream, utils, leaderelection and informer packages, and
kubernetes/client/__init__.py, which imports every API class and all 770 models: about 850 modules, 0.15 s of CPU
at the start of every module run (tests/benchmarks/startup.py), where a module uses a handful of them.

install() puts light packages in sys.modules in place of kubernetes, kubernetes.client, kubernetes.client.api and
kubernetes.client.models, with the same directories, so their submodules import as usual. A name read from one of
them (kubernetes.client.CoreV1Api, kubernetes.client.models.V1Node, kubernetes.config) is imported on first use,
from the module the package's own __init__.py imports it from. Nothing changes when kubernetes is already imported
or is not installed.
"""

import importlib
import importlib.machinery
import importlib.util
import os
import re
import sys
import types
from typing import Dict

LAZY_PACKAGES = ("kubernetes", "kubernetes.client", "kubernetes.client.api", "kubernetes.client.models")
# What the generated __init__.py files are made of: one "from kubernetes.client.<module> import <Name>" per name.
EXPORT_LINE = re.compile(r"^from (kubernetes\.[\w.]+) import (\w+)\s*$", re.MULTILINE)
DUNDER_ASSIGNMENT = re.compile(r"^(__\w+__) = ['\"]([^'\"]*)['\"]\s*$", re.MULTILINE)


def _init_source(directory: str) -> str:
    with open(os.path.join(directory, "__init__.py"), encoding="utf-8") as init_file:
        return init_file.read()


def _lazy_package(name: str, directory: str) -> types.ModuleType:
    package = types.ModuleType(name)
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = [directory]
    package.__spec__ = spec
    package.__path__ = [directory]
    package.__file__ = os.path.join(directory, "__init__.py")
    package.__package__ = name
    source = _init_source(directory)
    for dunder, value in DUNDER_ASSIGNMENT.findall(source):
        setattr(package, dunder, value)
    exports: Dict[str, str] = {}

    def __getattr__(attribute: str):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        if not exports:
            exports.update((exported, module) for module, exported in EXPORT_LINE.findall(source))
        if attribute in exports:
            value = getattr(importlib.import_module(exports[attribute]), attribute)
        else:
            submodule = f"{name}.{attribute}"
            try:
                value = importlib.import_module(submodule)
            except ModuleNotFoundError as error:
                if error.name != submodule:
                    raise
                raise AttributeError(f"module {name!r} has no attribute {attribute!r}") from error
        setattr(package, attribute, value)
        return value

    package.__getattr__ = __getattr__  # type: ignore[method-assign]
    return package


def install() -> None:
    if "kubernetes" in sys.modules:
        return
    try:
        spec = importlib.util.find_spec("kubernetes")
    except (ImportError, ValueError):
        return
    if spec is None or not spec.submodule_search_locations:
        return
    root = list(spec.submodule_search_locations)[0]
    packages = {}
    for name in LAZY_PACKAGES:
        directory = os.path.join(root, *name.split(".")[1:])
        try:
            packages[name] = _lazy_package(name, directory)
        except OSError:
            return  # not the layout this was written for: import kubernetes as it comes
    for name, package in packages.items():
        sys.modules[name] = package
        parent, _dot, child = name.rpartition(".")
        if parent:
            setattr(packages[parent], child, package)
