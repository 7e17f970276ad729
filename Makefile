# Two commands on a fresh machine: `make run` and `make test`. Every target installs what it needs.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help install run test lint format unit bench lock clean

help:
	@echo "make run    - start the embedded Dapr-compatible sidecar (workflow engine) on loopback"
	@echo "make test   - lint, type-check and run every test"
	@echo "make lint   - ruff and mypy"
	@echo "make bench  - workflow engine benchmarks against the durabletask in-memory peer"
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

run: $(STAMP)
	$(PY) -m sidecar --app-id local --data-dir .data/local

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

unit: $(STAMP) $(CHECKOV_STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint unit

bench: $(STAMP)
	$(PY) -m bench

lock: $(STAMP)
	$(PY) -m uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .venv-peer .venv-checkov .data .mypy_cache .pytest_cache .ruff_cache

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
