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

install: $(STAMP)

run: $(STAMP)
	$(PY) -m sidecar --app-id local --data-dir .data/local

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

unit: $(STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint unit

bench: $(STAMP)
	$(PY) -m bench

lock: $(STAMP)
	$(PY) -m uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .venv-peer .data .mypy_cache .pytest_cache .ruff_cache
