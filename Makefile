# WebRTC, step by step. `make run` starts a step, `make test` proves them all.
# Every target calls make.py, which does the same with Python alone (`python make.py run --step 3`,
# for machines without make): it installs what is missing first, so the first run installs and
# later runs start at once. `make run` installs only what running needs; `make test` adds the test
# tools and finds the browsers.
#
# Settings: STEP (the step; for `make test`, only that step's tests), PORT, HOST, ARGS (for
# `make peer` and `make check`), PYTEST_ARGS (for `make test`), PYTHON (the Python that makes
# .venv, 3.11 or newer).

PYTHON ?= python3
MAKE_PY = STEP='$(STEP)' PORT='$(PORT)' HOST='$(HOST)' $(PYTHON) make.py

.PHONY: run test work check exercises lint format clean install browser turn peer bench

run:
	@$(MAKE_PY) run

# Every test, in Chromium and Firefox; STEP=N make test: only step N's (tests/test_stepN_*.py);
# BROWSERS=chromium (or firefox) make test: one browser. Tests run on one pytest-xdist worker per
# core, at most 4 (tests/conftest.py); PYTEST_ARGS=-n0 runs them one after the other.
test:
	@$(MAKE_PY) test -- $(PYTEST_ARGS)

# Type along (common/work.py): STEP=N make work makes work/<step folder>/ to type step N into,
# STEP=N make run serves it, STEP=N make check runs step N's own tests against it.
work:
	@$(MAKE_PY) work

check:
	@$(MAKE_PY) check -- $(ARGS)

# Proves every exercise (CI runs it): make check fails on each starting point, and passes once the
# step's finished main.js is copied in.
exercises:
	@$(MAKE_PY) exercises

# A WebRTC peer written in Python, in a room of steps 2 to 4 or 8 (docs/python-peer.md), talking to the
# server `make run` started: STEP=4 make peer ARGS='--room demo --echo'
peer:
	@$(MAKE_PY) peer -- $(ARGS)

# Benchmarks: minutes of measurement, on an otherwise idle machine. Writes docs/benchmarks.md.
bench:
	@$(MAKE_PY) bench

turn:
	@$(MAKE_PY) turn

lint format install browser clean:
	@$(MAKE_PY) $@
