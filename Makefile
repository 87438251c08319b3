# Every target makes .venv first when it is missing (or when pyproject.toml or
# constraints.txt changed), with the tested versions pinned in constraints.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-fast lint format schema bench mutation lock clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

## Serve on http://127.0.0.1:8000/graphql (GraphiQL in a browser), on the embedded SQLite file;
## HOST= and PORT= for another address.
run: $(STAMP)
	$(BIN)/python -m graphql_app migrate
	$(BIN)/python -m graphql_app serve --host $(HOST) --port $(PORT)

## The whole test suite. TEST_BACKENDS=sqlite,postgres,fauna picks the storage backends.
test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

## The edit loop: everything but the slow tests (real processes, real bcrypt cost).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

## Mutation testing of the modules that guard users ([tool.mutmut] in pyproject.toml), from
## scratch; fails below MUTATION_FLOOR % of the mutants that can change behaviour.
## MUTATE='graphql_app.cursors.* graphql_app.validation.*' runs only those modules' mutants.
MUTATION_CHILDREN ?= 2
MUTATION_FLOOR ?= 95
mutation: $(STAMP)
	rm -rf mutants
	@echo "mutmut: $(or $(MUTATE),every module in [tool.mutmut]); progress in mutants/mutmut.log"
	@mkdir -p mutants
	@$(BIN)/mutmut run --max-children $(MUTATION_CHILDREN) $(MUTATE) > mutants/mutmut.log 2>&1 \
		|| { tr '\r' '\n' < mutants/mutmut.log | tail -n 60; exit 1; }
	$(BIN)/python scripts/mutation_summary.py --list --fail-under $(MUTATION_FLOOR) $(MUTATE)

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
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	touch $@

## The benchmark (bench/README.md), under 10 minutes; BENCH_ARGS=--quick for a smoke run.
bench: $(VENV)/.bench-installed
	$(BIN)/python -m bench $(BENCH_ARGS)

## Resolve pyproject.toml's dependencies anew into constraints.txt (then make test, commit both).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e '.[dev,bench]'
	{ sed -n '1,2p' constraints.txt; .lock-venv/bin/python -m pip freeze --exclude-editable; } > constraints.new
	mv constraints.new constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) *.egg-info mutants
