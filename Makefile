# calfload: `make demo` runs the live demo, `make test` the whole suite.
# Both set up everything they need on a fresh Debian machine with Python 3.11+.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ASSETS := dashboard/calfload/dashboard/static/build/app.js
DEMO_ARGS ?=

.PHONY: demo test check schemas setup sysdeps assets clean

demo: setup assets
	$(BIN)/calfload demo $(DEMO_ARGS)

test: setup assets sysdeps
	$(BIN)/python -m pytest

check: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python scripts/make_schemas.py --check

schemas: setup
	$(BIN)/python scripts/make_schemas.py

setup: $(STAMP)

$(STAMP): pyproject.toml
	@scripts/ensure-tools.sh python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

assets: $(ASSETS)

$(ASSETS): package.json package-lock.json $(wildcard dashboard/web/*.js dashboard/web/*.css)
	@scripts/ensure-tools.sh node
	npm ci --no-audit --no-fund --loglevel=error
	npm run --silent build

sysdeps:
	@scripts/ensure-tools.sh test

clean:
	rm -rf $(VENV) node_modules dashboard/calfload/dashboard/static/build test-artifacts
