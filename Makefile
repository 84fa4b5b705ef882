# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check --quiet
DB     ?= data/billing.duckdb
PORT   ?= 8501

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

seed: install
	$(VENV)/bin/billing seed --db $(DB) --if-missing

run: seed
	BILLING_DB=$(DB) $(PY) -m streamlit run app.py --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

test: install-test
	bash scripts/install-browser.sh
	bash scripts/install-postgres.sh
	$(VENV)/bin/ruff check billing_core app.py pages tests bench
	$(VENV)/bin/mypy
	$(PY) -m pytest -q -m "not stress"  # every ledger, page and hardening test on DuckDB and PostgreSQL

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
