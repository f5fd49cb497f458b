# WebRTC, step by step. `make run` starts a step, `make test` proves them all.
# Installation happens through file targets: the first run installs what is missing, later runs
# start at once. `make run` installs only what running needs; `make test` adds the test tools.

# Set when the command line or the environment gives STEP: then `make test` runs that step's tests.
STEP_GIVEN := $(STEP)
STEP_NUMBERS := $(shell ls -d step*_*/ 2>/dev/null | sed -E 's/^step([0-9]+)_.*/\1/' | sort -n | tr '\n' ' ')
STEP ?= 1
PORT ?= 8080
HOST ?= 127.0.0.1
PYTHON ?= python3

VENV := .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
# npm is needed only by the benchmarks (their Node reference server) and, where it is at hand, by
# tests/test_vendor.py, which compares the pinned socket.io client with the npm package.
JS_STAMP := node_modules/.package-lock.json
JS_IF_NPM := $(if $(shell command -v npm 2>/dev/null),$(JS_STAMP))
BROWSER_STAMP := $(VENV)/.browsers

.PHONY: run test work check exercises lint format clean install browser turn peer bench

run: $(RUN_STAMP)
	@STEP='$(STEP)' PORT='$(PORT)' HOST='$(HOST)' $(PY) -m common.run

# Every test, in Chromium and Firefox; STEP=N make test: only step N's (tests/test_stepN_*.py);
# BROWSERS=chromium (or firefox) make test: one browser. Tests run on one pytest-xdist worker per
# core, at most 4 (tests/conftest.py); PYTEST_ARGS=-n0 runs them one after the other.
test: $(DEV_STAMP) $(JS_IF_NPM) $(BROWSER_STAMP)
	$(PY) -m pytest -n auto $(if $(STEP_GIVEN),$(or $(wildcard tests/test_step$(STEP)_*.py),$(error No tests for STEP=$(STEP): the steps are $(strip $(STEP_NUMBERS))))) $(PYTEST_ARGS)

# Type along (common/work.py): STEP=N make work makes work/<step folder>/ to type step N into,
# STEP=N make run serves it, STEP=N make check runs step N's own tests against it.
work: $(RUN_STAMP)
	@$(PY) -m common.work --step '$(STEP)'

check: $(DEV_STAMP) $(BROWSER_STAMP)
	@$(PY) -m tests.learner '$(STEP)' $(ARGS)

# Proves every exercise (CI runs it): make check fails on each starting point, and passes once the
# step's finished main.js is copied in.
exercises: $(DEV_STAMP) $(BROWSER_STAMP)
	$(PY) -m tests.exercises

# A WebRTC peer written in Python, in a room of steps 2 to 4 or 8 (docs/python-peer.md), talking to the
# server `make run` started: STEP=4 make peer ARGS='--room demo --echo'
peer: $(RUN_STAMP)
	@$(PY) -m common.peer --step '$(STEP)' --url 'http://127.0.0.1:$(PORT)' $(ARGS)

# Benchmarks: minutes of measurement, on an otherwise idle machine. Writes docs/benchmarks.md.
bench: $(DEV_STAMP) $(JS_STAMP) $(BROWSER_STAMP)
	$(PY) -m bench.browser_setup
	$(PY) -m bench.signaling_capacity
	$(PY) -m bench.soak
	$(PY) -m bench.suite_cost
	$(PY) -m bench.file_transfer
	$(PY) -m bench.recording
	$(PY) -m bench.room_load
	$(PY) -m bench.report

turn: $(RUN_STAMP)
	@HOST='$(HOST)' $(PY) -m common.turn

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(DEV_STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

install: $(RUN_STAMP)

browser: $(BROWSER_STAMP)

$(RUN_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11 or newer is needed (found: $$($(PYTHON) --version 2>&1)). Set PYTHON=python3.12 or similar."; exit 1; }
	@# A .venv whose pip does not run (made while the venv module was missing) is made again.
	$(PY) -m pip --version >/dev/null 2>&1 || { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); } || \
	  { rm -rf $(VENV); echo "Python's venv module is missing or broken: on Debian or Ubuntu, sudo apt-get install python3-venv (or python3.X-venv for your Python)."; exit 1; }
	$(PY) -m pip install --quiet --disable-pip-version-check .
	touch $@

$(DEV_STAMP): $(RUN_STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check '.[dev]'
	touch $@

$(JS_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed for the benchmarks' Node reference server (Debian/Ubuntu: apt-get install npm)."; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(BROWSER_STAMP): $(DEV_STAMP)
	$(PY) -m tests.browsers --install
	touch $@

clean:
	rm -rf $(VENV) node_modules build *.egg-info .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
