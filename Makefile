# One entry point for people and CI alike. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup run demo test check lint format bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Fill ./var with the demo town (once), show what is in it, build the views and serve on :8000.
run: setup
	$(BIN)/caseline demo --if-empty
	$(BIN)/caseline summary
	$(BIN)/caseline project --once
	$(BIN)/caseline serve --host 127.0.0.1 --port $${PORT:-8000}

test: setup
	$(BIN)/python -m pytest -q

format: setup
	$(BIN)/ruff format domain projections api scheduler tests bench

lint: setup
	$(BIN)/ruff format --check domain projections api scheduler tests bench
	$(BIN)/ruff check domain projections api scheduler tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

check: lint test

bench: setup
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
