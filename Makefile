# sla-planner developer entry points. `make install` is idempotent.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test check lint format typecheck bench pool-sim evaluate feasibility backtests clean deploy-check image image-check gpu-wheel gpu-test

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@bash scripts/ensure-prometheus.sh
	@touch $(STAMP)

# The main job on its embedded default: no cluster, no GPU, no Prometheus. The service
# plans an emulated prefill/decode graph replaying the bundled Azure conversation trace
# (at 4x its rate) at 30x time compression (~2 min), then prints the summary.
run: install
	$(PY) -m planner run --rate-scale 4

# The test command (README, .ci/run). pytest exit 5 (nothing collected) is a failure here.
test: install
	@set -o pipefail; $(PY) -m pytest -q; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

# Renders every deploy/ overlay with kubectl (the dev extra's), validates the manifests
# offline, checks each Role against the connector's RBAC needs, and the alerts and the
# dashboard with promtool and against the exported series. `make test` runs it too, with
# the wheel-content check and the end-to-end rehearsal of each overlay.
deploy-check: install
	$(PY) -m pytest -q tests/integration/test_deploy_manifests.py \
	  tests/integration/test_deploy_monitoring.py

LINTED := planner connectors profiles tests scripts

lint: install
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)

format: install
	$(VENV)/bin/ruff format $(LINTED)
	$(VENV)/bin/ruff check --fix $(LINTED)

typecheck: install
	$(VENV)/bin/mypy

check: lint typecheck test

# The container image, built for real without a registry (buildah + a Debian base made
# by mmdebstrap; root; ~3 min, network to the Debian and Python package indexes), then
# checked from its own file system: non-root numeric user, entrypoint --help, default
# profile found, no development packages. .ci/run runs image-check after the tests.
image: install
	PY=$(PY) bash scripts/build-image.sh

image-check: image
	bash scripts/check-image.sh

bench: install
	$(PY) -m tests.bench

# Policy comparison on the tuning and validation sets; regenerates docs/simulation.md.
#   make evaluate                 both sets (the slowest part: four day-long scenarios)
#   make evaluate POLICY=sla      re-run only sla, the baselines kept from the last run
#   make evaluate conv sine       named scenarios (or NAME=conv)
#   make evaluate SET=validation  one set;  JOBS=4  processes (default: the CPUs)
ifeq (evaluate,$(firstword $(MAKECMDGOALS)))
  EVAL_NAMES := $(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS))
  $(eval $(EVAL_NAMES):;@:)
endif
evaluate: install
	$(PY) -m planner.evaluation.evaluate $(EVAL_NAMES) $(NAME) $(if $(SET),--set $(SET)) $(if $(JOBS),--jobs $(JOBS)) $(if $(POLICY),--policy $(POLICY))

# How far the GPU-hour goal is from a causal policy -> docs/simulation.md (~5 min)
feasibility: install
	$(PY) -m planner.evaluation.feasibility

# Forecaster backtests on the public traces -> out/backtests/ and docs/forecasting.md
backtests: install
	$(PY) -m planner.evaluation.backtests

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache out

# GPU profiler. `make gpu-wheel` builds pycuda for a GPU machine without network (see
# scripts/build-pycuda-wheel.sh); `make gpu-test` installs it from .whl/ and runs the
# GPU tests, which skip cleanly where pycuda or a GPU is missing.
CUDA_ROOT ?= /usr/local/cuda
# the project venv's python when it exists, else $(PYTHON): the wheel needs no install
GPU_PY ?= $(if $(wildcard $(PY)),$(PY),$(PYTHON))

gpu-wheel:
	PY=$(GPU_PY) CUDA_ROOT=$(CUDA_ROOT) bash scripts/build-pycuda-wheel.sh

gpu-test:
	@if ls .whl/pycuda-*.whl >/dev/null 2>&1; then \
	  $(GPU_PY) -m pip install -q --no-index -f .whl pycuda; fi
	$(GPU_PY) -m pytest -m gpu tests/gpu

# Two graphs (Azure conversation x30 at priority 10, Azure code x15 at priority 1) on one
# 30-GPU pool against two separately budgeted pools -> out/pool-sim/ and the table in
# docs/pool.md (~30 s). The settings: deploy/examples/pool.yaml.
pool-sim: install
	$(PY) -m planner.evaluation.pool_sim
