# Two commands: `make run` (serve the demo on SQLite) and `make test` (everything CI runs).
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
# openapi-python-client, in a venv of its own (see [dependency-groups] in pyproject.toml).
SDK_TOOL := $(VENV)/sdk-tool
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test fast lint typecheck unit coverage venv clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev]'
	test -x $(SDK_TOOL)/bin/python || python3 -m venv $(SDK_TOOL)
	$(SDK_TOOL)/bin/pip install -q $$($(BIN)/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["dependency-groups"]["sdk"])')
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

venv: $(STAMP)

run: venv
	$(BIN)/contact-tracker migrate
	$(BIN)/contact-tracker demo --if-empty
	$(BIN)/contact-tracker serve --host $(HOST) --port $(PORT)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest

# The developer's loop: lint, types and every test but the browser, multi-process and simulation
# ones, on SQLite (CI runs everything, on SQLite and PostgreSQL).
fast: lint typecheck
	TRACKER_TEST_DATABASE_URL= $(BIN)/pytest -m "not slow and not e2e and not postgresql"

# The same suite under coverage (slower: the 90-day engine simulation dominates).
coverage: venv
	$(BIN)/coverage run -m pytest
	$(BIN)/coverage report --skip-covered --sort=cover | tail -n 25

test: lint typecheck unit

clean:
	rm -rf $(VENV) tracker.db tracker.db-wal tracker.db-shm tracker.db-waiting test-artifacts .coverage
