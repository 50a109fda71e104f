# Sieve: `make run` sets everything up and opens the demo; `make test` runs the whole suite.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.sieve-installed
ORACLES := $(VENV)/.sieve-oracles
PYTEST_ARGS ?=

.PHONY: setup run demo test lint format bench-index clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh $(VENV)
	touch $@

# The peers the tests compare against (lightly, lightly-mundig): only the test run needs them.
$(ORACLES): $(STAMP)
	$(BIN)/python -m pip --disable-pip-version-check -q install -e ".[bench]"
	touch $@

run: setup
	$(BIN)/sieve gui --demo

demo: setup
	$(BIN)/sieve demo

lint: setup
	$(BIN)/ruff check app tests scripts
	$(BIN)/ruff format --check app tests scripts

test: lint $(ORACLES)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest $(PYTEST_ARGS)

format: setup
	$(BIN)/ruff format app tests scripts
	$(BIN)/ruff check --fix app tests scripts

bench-index: setup
	$(BIN)/python tests/perf/bench_index.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache
