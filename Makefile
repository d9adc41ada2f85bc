# `make run`: set up everything and start the demo fleet.  `make test`: every check.
# `make check`: the quick lane (lint, types, web lint, unit tests), under a minute.
# `make fuzz`: the fuzz and property tests, randomized and ten times longer.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
RUN_PACKAGES := screen
BENCH_PACKAGES := screen wrk
PYTEST_WORKERS := $(shell $(PYTHON) -c "import os; print(min((os.cpu_count() or 1) + 2, 6))")
TEST_PACKAGES := screen openssh-server openssh-client chromium fonts-liberation prometheus prometheus-alertmanager docker-compose systemd

.PHONY: run test check check-python check-web check-web-all check-unit setup python web test-packages pytest fuzz bench clean

# Options for the demo: make run DEMO_ARGS="--port 8010 --simulator-port 8110 --search-port 8210"
run: setup web
	$(BIN)/smsfleet demo $(DEMO_ARGS)

# The Python and the web app's checks run side by side (each is one process at a time),
# with the test packages installed beside them; then the tests.
test: setup
	@$(MAKE) --no-print-directory --jobs=2 --output-sync=target check-python check-web-all test-packages
	@$(MAKE) --no-print-directory pytest

# The quick lane, before a commit: ruff, mypy, the web app's types and lint, and the unit
# tests (no MariaDB, Redis, screen or browser), the three side by side. ESLint keeps a
# cache here (a file is linted again when it or the configuration changes), so a type
# changed elsewhere may leave a file's typed-lint finding unseen until `make test`, which
# runs all of it afresh and the rest.
check: python web/node_modules/.installed
	@$(MAKE) --no-print-directory --jobs=3 --output-sync=target check-python check-web check-unit

check-python: python
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

check-web:
	cd web && npm run --silent typecheck && npm run --silent lint -- \
		--cache --cache-strategy content --cache-location node_modules/.cache/eslint/

check-unit:
	$(BIN)/pytest -q tests/unit

setup: python
	@scripts/debian-packages.sh $(RUN_PACKAGES)

python: $(VENV)/.installed

# uv installs the project and its dependencies (the same releases pip would choose) in
# seconds rather than a minute. Their bytecode is compiled here, once: where
# PYTHONDONTWRITEBYTECODE is set, nothing would cache it, and every process of the
# control plane would compile its imports again (3.3 s of CPU rather than 1.2 s).
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q uv
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[dev]'
	$(BIN)/python -m compileall -q src
	@touch $@

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

web: python web/node_modules/.installed
	$(BIN)/smsfleet openapi > web/openapi.json
	cd web && npm run --silent gen:api && npm run --silent build

# The web app built from the current API schema, its types, its whole lint (no cache)
# and its unit tests.
check-web-all: web
	cd web && npm run --silent typecheck && npm run --silent lint && npm run --silent test:unit

test-packages:
	@scripts/debian-packages.sh $(TEST_PACKAGES)

pytest: python test-packages
	# One worker per core and two more (at most 6): most tests spend their time waiting
	# on the processes they start (on two cores, the CPU is busy under half the run with
	# three). A file's tests stay on one worker, so the fleets and browsers its fixtures
	# start are started once; the slowest files go first (tests/conftest.py), in that
	# order rather than by their count of tests. The 15 slowest are named at the end, to
	# keep the whole run short.
	$(BIN)/pytest --numprocesses $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations 15

# Fuzz and property tests (marked `fuzz`) on new random inputs each run, ten times the
# examples of `make test` (SMSFLEET_FUZZ_FACTOR); a failure is kept in .hypothesis/ and
# tried first next time. `make test` runs them too, derandomized: the same inputs each run.
fuzz: python
	SMSFLEET_HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -m fuzz --numprocesses $(PYTEST_WORKERS) --dist loadfile

# What benchmarks/ needs (the figures in docs/benchmarks.md); MariaDB and Redis run already.
bench: python
	@scripts/debian-packages.sh $(BENCH_PACKAGES)

clean:
	rm -rf $(VENV) web/node_modules web/dist var test-artifacts
