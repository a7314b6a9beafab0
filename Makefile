# sla-planner developer entry points. `make install` is idempotent.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test check lint format typecheck bench evaluate clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@bash scripts/ensure-prometheus.sh
	@touch $(STAMP)

# The main job on its embedded default: no cluster, no GPU.
run: install
	$(PY) -m planner plan --requests 5000 --interval-s 60 --isl 3000 --osl 150

# The test command (README, .ci/run). pytest exit 5 (nothing collected) is a failure here.
test: install
	@set -o pipefail; $(PY) -m pytest -q; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

lint: install
	$(VENV)/bin/ruff check planner connectors tests
	$(VENV)/bin/ruff format --check planner connectors tests

format: install
	$(VENV)/bin/ruff format planner connectors tests
	$(VENV)/bin/ruff check --fix planner connectors tests

typecheck: install
	$(VENV)/bin/mypy

check: lint typecheck test

bench: install
	$(PY) -m tests.bench

# Policy comparison on the shared traces; regenerates docs/simulation.md (several minutes).
evaluate: install
	$(PY) -m tests.bench.evaluate

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache out
