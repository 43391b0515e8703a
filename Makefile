# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test test-slow compose-test lint install clean

demo: $(INSTALLED)
	$(BIN)/benchsync demo

# Test files run on TEST_WORKERS workers (pytest-xdist), each with a PostgreSQL cluster of its own,
# and property tests on a tenth of their examples (tests/support/properties.py). `make test-slow`
# runs what waits out minutes of real time and every property test at its full count; .ci/run
# runs both.
TEST_WORKERS ?= 3
XDIST := -n $(TEST_WORKERS) --dist loadgroup

test: lint
	$(BIN)/pytest $(XDIST) -m "not compose and not slow"

test-slow: $(INSTALLED)
	$(BIN)/pytest $(XDIST) -m "slow or hypothesis" --hypothesis-profile=thorough

# docker-compose.yaml for real, against the Benchling emulator; installs and starts Docker if it
# must (deploy/compose-test/run.sh). Needs root on Debian when Docker is missing.
compose-test: $(INSTALLED)
	VENV=$(VENV) deploy/compose-test/run.sh

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

install: $(INSTALLED)

# Reinstalls whenever pyproject.toml changes.
$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "benchsync needs Python 3.11 or newer; set PYTHON=python3.X")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) .benchsync .pytest_cache .mypy_cache .ruff_cache
