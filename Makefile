# Sieve: `make run` sets everything up and opens the demo; `make test` runs the whole suite.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.sieve-installed
ORACLES := $(VENV)/.sieve-oracles
PACKAGING := $(VENV)/.sieve-packaging
PYTEST_ARGS ?=

.PHONY: setup run demo test lint format bench-index clean bundle bundle-test install-desktop \
	uninstall-desktop

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
	$(BIN)/ruff check app tests scripts packaging
	$(BIN)/ruff format --check app tests scripts packaging

test: lint $(ORACLES)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest $(PYTEST_ARGS)

format: setup
	$(BIN)/ruff format app tests scripts packaging
	$(BIN)/ruff check --fix app tests scripts packaging

bench-index: setup
	$(BIN)/python tests/perf/bench_index.py

# The desktop bundle dist/Sieve (docs/packaging.md): PyInstaller, then its smoke test.
$(PACKAGING): $(STAMP)
	$(BIN)/python -m pip --disable-pip-version-check -q install -e ".[packaging]"
	touch $@

bundle: $(PACKAGING)
	PYTHON=$(BIN)/python bash packaging/build.sh

bundle-test: bundle
	bash packaging/bundle_test.sh dist/Sieve

# Menu entry, icons and "Open with Sieve" for folders, for this user (the bundle once built).
DESKTOP_EXEC ?= $(abspath $(if $(wildcard dist/Sieve/Sieve),dist/Sieve/Sieve,$(BIN)/sieve))

install-desktop: setup
	$(BIN)/python packaging/desktop.py install --exec "$(DESKTOP_EXEC)"

uninstall-desktop: setup
	$(BIN)/python packaging/desktop.py uninstall

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache
