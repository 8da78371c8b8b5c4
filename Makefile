# One-command set-up: every target installs what it needs into .venv first.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
ROOT := $(CURDIR)
COLLECTIONS := $(ROOT)/.collections
BUILD := $(ROOT)/.build/ansible_collections/eksnodes/windows
LAB := $(ROOT)/.lab

export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH := True
export PYTHONPATH := $(ROOT)/tests
export ANSIBLE_PYTHON_INTERPRETER := $(ROOT)/$(BIN)/python
export PATH := $(ROOT)/$(BIN):$(PATH)
# Nothing a target runs writes outside the checkout: Ansible's own files (local temporary files, galaxy cache) go
# under .build/ansible-home, and ansible-lint and ansible-test, which also write under the home directory (a copy
# of the collection, pip's bootstrap script, their virtual environments), run with HOME=.build/home (ansible-lint with .build/lint-home).
export ANSIBLE_HOME := $(ROOT)/.build/ansible-home
# The local connection puts each module's files under remote_tmp, which stays ~/.ansible/tmp whatever ANSIBLE_HOME says.
export ANSIBLE_REMOTE_TMP := $(ANSIBLE_HOME)/tmp
TOOL_HOME := $(ROOT)/.build/home
LINT_HOME := $(ROOT)/.build/lint-home

.PHONY: help setup test sanity units integration compat molecule lint lab-up lab-down demo clean benchmarks

help:
	@echo "make demo   - run the launch sequence on the local lab (sets itself up)"
	@echo "make test   - sanity, unit, lab integration tests and lint (sets itself up)"
	@echo "make lab-up / lab-down - start or stop the local lab (.lab/env has its endpoints)"

# uv installs the pinned tool chain in seconds where pip takes most of a minute, and leaves the bytecode to be
# compiled on first import (of the ~1 GB, the few files a run imports); its cache stays under .build. Where uv cannot
# be installed, pip installs it (and compiles all of it up front).
UV_VERSION := 0.13.9
export UV_CACHE_DIR := $(ROOT)/.build/uv-cache
export PIP_CACHE_DIR := $(ROOT)/.build/pip-cache
# Bytecode is then written on first import, which PYTHONDONTWRITEBYTECODE (set on some machines, CI's among them)
# would turn into compiling every module on every import, in each of the thousand processes a test run starts.
export PYTHONDONTWRITEBYTECODE :=
$(BIN)/.installed: requirements.txt test-requirements.txt
	$(PYTHON) -m venv $(VENV)
	if $(BIN)/pip install --quiet uv==$(UV_VERSION) 2>/dev/null; then \
	  $(BIN)/uv pip install --quiet --python $(BIN)/python -r test-requirements.txt -r requirements.txt; \
	else \
	  $(BIN)/pip install --quiet --upgrade pip 2>&1 | { grep -v 'is ignored: it is neither' || true; }; \
	  $(BIN)/pip install --quiet -r test-requirements.txt -r requirements.txt 2>&1 | { grep -v 'is ignored: it is neither' || true; }; \
	fi
	touch $@

$(COLLECTIONS)/ansible_collections/eksnodes/windows:
	mkdir -p $(COLLECTIONS)/ansible_collections/eksnodes
	ln -sfn $(ROOT) $@

setup: $(BIN)/.installed $(COLLECTIONS)/ansible_collections/eksnodes/windows

# ansible-test must run from a directory named ansible_collections/<ns>/<name>.
$(BUILD): setup
	rm -rf $(BUILD) && mkdir -p $(BUILD)
	git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C $(BUILD)
	cd $(BUILD) && git init -q && git add -A
	for dep in amazon/aws kubernetes/core; do mkdir -p $(ROOT)/.build/ansible_collections/$$(dirname $$dep); \
	  ln -sfn $$($(BIN)/python -c 'import ansible_collections,sys; print(ansible_collections.__path__[0])')/$$dep $(ROOT)/.build/ansible_collections/$$dep; done

PIP_BOOTSTRAP := $(TOOL_HOME)/.ansible/test/cache/get_pip_24_2.py
$(PIP_BOOTSTRAP): tests/sanity/pip_bootstrap.py
	mkdir -p $(dir $@) && cp $< $@

sanity: setup $(PIP_BOOTSTRAP)
	$(MAKE) --no-print-directory $(BUILD)
	cd $(BUILD) && HOME=$(TOOL_HOME) ANSIBLE_HOME=$(TOOL_HOME)/.ansible $(ROOT)/$(BIN)/ansible-test sanity --venv --python 3.11 --color no $(SANITY_ARGS)

units: setup
	$(BIN)/pytest -q tests/unit

integration: setup
	$(BIN)/pytest -q -n 2 --durations=25 tests/lab/tests tests/integration

# The playbooks on the other ansible-core releases the collection supports, each in a virtual environment of its own
# under .build/compat, built on first use (tests/compat/test_ansible_core_releases.py).
compat: setup
	$(BIN)/pytest -q --durations=10 tests/compat

# The lab plays the scenario's instance: started here, its endpoints exported to molecule.
molecule: setup
	$(BIN)/python -m lab down --state-dir .build/molecule-lab >/dev/null 2>&1 || true
	$(BIN)/python -m lab up --state-dir .build/molecule-lab --join-delay 2
	set -a && . .build/molecule-lab/env && set +a && cd extensions && $(ROOT)/$(BIN)/molecule test -s default; \
	  status=$$?; cd $(ROOT) && $(BIN)/python -m lab down --state-dir .build/molecule-lab; exit $$status

# antsibull-docs lint-collection-docs copies this collection and its dependencies into a temporary tree and runs
# ansible-doc there. GIT_CEILING_DIRECTORIES: amazon.aws and kubernetes.core sit in .venv, inside this git work tree
# but ignored, and antsibull-docs copies a collection inside a work tree as the files git does not ignore (none there).
# --validate-collection-refs all is not a way round it: it also lists .collections, so this collection is found twice,
# the edit links of the plugin pages become ../ paths through the random temporary directory, and when its name ends
# in "_" (1 run in 37) docutils reads a link to an unknown target on every page.
# antsibull-docs logs to ~/antsibull.log (antsibull-core's default): run with the lint home, it stays under .build.
# A home and an Ansible home of its own: ansible-lint runs beside ansible-test sanity and the integration tests in
# make test, and installs this collection under the Ansible home's collections (.build/ansible-home otherwise).
lint: setup
	mkdir -p $(LINT_HOME) && HOME=$(LINT_HOME) ANSIBLE_HOME=$(LINT_HOME)/.ansible $(BIN)/ansible-lint --profile production
	$(BIN)/antsibull-changelog lint
	mkdir -p .build && PYTHONPATH=$(COLLECTIONS) $(BIN)/python -c 'from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup.template import TEMPLATE; print(TEMPLATE, end="")' \
	  > .build/nodegroup-template.yaml
	$(BIN)/cfn-lint --include-checks I -- .build/nodegroup-template.yaml
	$(BIN)/python docs/docsite/md2rst.py --check
	cd $(COLLECTIONS)/ansible_collections/eksnodes/windows && GIT_CEILING_DIRECTORIES=$(ROOT)/$(VENV) HOME=$(LINT_HOME) \
	  $(ROOT)/$(BIN)/antsibull-docs lint-collection-docs --plugin-docs --check-extra-docs-refs .

# sanity beside units, lint and molecule, then integration; each step's wall time printed (see tests/steps.sh).
test: setup
	@MAKE="$(MAKE)" tests/steps.sh

lab-up: setup
	$(BIN)/python -m lab up --state-dir $(LAB) $(LAB_ARGS)
	@echo "source $(LAB)/env to use it"

lab-down: setup
	$(BIN)/python -m lab down --state-dir $(LAB)

demo: setup
	$(BIN)/python -m lab.demo --state-dir $(LAB)

benchmarks: setup
	$(BIN)/python tests/benchmarks/run.py

clean:
	rm -rf $(VENV) .build .collections .lab tests/output
