# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check --quiet
DEMO_DB := data/billing.duckdb
DB     ?= $(DEMO_DB)
PORT   ?= 8501
ADDRESS ?= 127.0.0.1  # loopback only; `make run ADDRESS=0.0.0.0` serves other machines

.PHONY: run test install install-test seed lint stress bench bench-small clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# Seeding the demo (with its published password) is an explicit act: `make seed DB=...`.
seed: install
	$(VENV)/bin/billing seed --db "$(DB)" --if-missing

# `make run` seeds only its own default file, data/billing.duckdb, when it is missing; any
# other DB (a PostgreSQL URL, another file) is served as it is, never seeded.
run: install
	@if [ "$(DB)" = "$(DEMO_DB)" ]; then $(VENV)/bin/billing seed --db "$(DB)" --if-missing; fi
	BILLING_DB="$(DB)" $(PY) -m streamlit run app.py --server.address $(strip $(ADDRESS)) \
		--server.port $(PORT) --server.headless true --browser.gatherUsageStats false

# Every ledger and hardening test on DuckDB and PostgreSQL, the pages on DuckDB (one store is
# enough: tests/pages/conftest.py), the browser tests in Chromium. Two workers (pytest-xdist):
# the browser tests all in one of them, in file order (tests/e2e/conftest.py), the rest shared.
test: install-test
	bash scripts/install-browser.sh
	bash scripts/install-axe.sh
	bash scripts/install-postgres.sh
	$(VENV)/bin/ruff check billing_core app.py pages tests bench
	$(VENV)/bin/mypy
	$(PY) -m pytest -q -m "not stress" -n 2 --dist loadgroup

stress: install-test
	$(PY) -m pytest -q -m stress tests/hardening

bench: install
	$(PY) bench/run.py

bench-small: install
	$(PY) bench/run.py --entries 500000 --workspaces 200 --users 1000 --repeat 50 --debits-per-thread 60 --ingest 200000 --page-repeat 5

lint: install-test
	$(VENV)/bin/ruff check billing_core app.py pages tests
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
