# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test test-slow compose-test lint install clean

demo: $(INSTALLED)
	$(BIN)/benchsync demo

# `make test`: every tier that needs no running stack, on TEST_WORKERS workers (pytest-xdist), each
# with a PostgreSQL cluster of its own, property tests on a tenth of their examples
# (tests/support/properties.py). `make test-slow`: the tiers that run whole stacks (end_to_end,
# faults), what waits out minutes of real time (marker slow) and every property test at its full
# count, on two workers (two stacks at once is what 2 cores carry). .ci/run runs both.
TEST_WORKERS ?= 3
STACK_TIERS := end_to_end or faults or slow

test: lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup -m "not compose and not ($(STACK_TIERS))"

test-slow: $(INSTALLED)
	$(BIN)/pytest -n 2 --dist loadgroup -m "not compose and ($(STACK_TIERS) or hypothesis)" \
		--hypothesis-profile=thorough

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
