# Every target makes .venv first when it is missing (or when pyproject.toml changed).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format schema bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Serve on http://127.0.0.1:8000/graphql (GraphiQL in a browser), on the embedded SQLite file.
run: $(STAMP)
	$(BIN)/python -m graphql_app migrate
	$(BIN)/python -m graphql_app serve --host 127.0.0.1 --port 8000

## The whole test suite. TEST_BACKENDS=sqlite,postgres,fauna picks the storage backends.
test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: $(STAMP)
	$(BIN)/python -m graphql_app export-schema

$(VENV)/.bench-installed: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

## The benchmark (bench/README.md), under 10 minutes; BENCH_ARGS=--quick for a smoke run.
bench: $(VENV)/.bench-installed
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) *.egg-info
