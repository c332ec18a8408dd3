# Two commands on a fresh machine with Python 3.11 and make: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: browser demo test lint typecheck unit postgresql bench bench-spine bench-quality bench-contract peer-data bench-access bench-governance bench-privacy clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/quanta demo --home .quanta --force

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy

# The tests run beside a throwaway PostgreSQL cluster that pg_virtualenv starts, points the PG*
# variables at, and drops (-t: in a temporary folder, so that runs side by side do not clash).
# The stores' tests need it: they fail without it. `make unit PYTEST_ARGS=tests/test_stores.py`
# runs a part. The tests run on PYTEST_WORKERS processes (pytest-xdist), one per core here.
PG_VIRTUALENV := pg_virtualenv -t -o fsync=off
PYTEST_WORKERS ?= 2

unit: $(STAMP) postgresql browser
	$(PG_VIRTUALENV) $(BIN)/pytest -q -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# Debian's PostgreSQL server and pg_virtualenv, installed when missing (as root, as CI runs).
postgresql:
	@command -v pg_virtualenv >/dev/null || { \
		[ "$$(id -u)" = 0 ] || { echo "the tests need PostgreSQL: sudo apt-get install postgresql" >&2; exit 1; }; \
		echo "installing PostgreSQL (apt-get install postgresql)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get -qq update && apt-get -qq install -y --no-install-recommends postgresql >/dev/null; \
	}

# Debian's Chromium, installed when missing: a test opens the governance report in it.
browser:
	@command -v chromium >/dev/null || { \
		[ "$$(id -u)" = 0 ] || { echo "the tests need Chromium: sudo apt-get install chromium" >&2; exit 1; }; \
		echo "installing Chromium (apt-get install chromium)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get -qq update && apt-get -qq install -y --no-install-recommends chromium >/dev/null; \
	}

test: lint typecheck unit

bench: bench-spine bench-quality bench-contract bench-access bench-governance bench-privacy

# Publishing the example mesh, next to raw DuckDB writing Parquet.
bench-spine: $(STAMP)
	$(BIN)/python bench/spine/bench_build.py

# The 15 contract checks of the peer benchmark (shared/bench/peers), Quanta beside Soda,
# datacontract-cli and hand-written DuckDB; venvs and data stay in bench/.work (ignored).
SHARED ?= ../shared
PEERS := $(SHARED)/bench/peers
WORK := bench/.work/peers
QUALITY_PEERS ?= duckdb-single-query,duckdb-query-per-check,soda-core-v4,soda-core-v3-nosamples,datacontract-cli

# The peers' venvs and data; the data is made again when it is more than a day old, as
# freshness (C15) is judged against the clock. Our sources are compiled as an install would.
peer-data: $(STAMP)
	PYTHON=$(PYTHON) bash $(PEERS)/setup.sh $(WORK)
	for rows in 1000000:1m 10000000:10m; do \
		out=$(WORK)/data/$${rows#*:}; \
		[ -n "$$(find $$out/manifest.json -mtime -1 2>/dev/null)" ] || \
		$(WORK)/venvs/base/bin/python $(PEERS)/gen_data.py --rows $${rows%:*} --out $$out; \
	done
	$(BIN)/python -m compileall -q src

bench-quality: peer-data
	$(BIN)/python bench/quality/prepare.py $(WORK)/data/1m
	$(BIN)/python bench/quality/prepare.py $(WORK)/data/10m
	$(PYTHON) $(PEERS)/run_bench.py --workdir $(WORK) --peers $(QUALITY_PEERS) --name quanta \
		--extra-peer quanta=$(BIN)/python:bench/quality/quanta_peer.py

# `quanta contract test` on the same 15 checks as an ODCS contract (bench/quality/
# contract.odcs.yaml), where the data lies, beside `datacontract test` and Soda Core 4.
CONTRACT_PEERS ?= duckdb-single-query,soda-core-v4,datacontract-cli
bench-contract: peer-data
	$(PYTHON) $(PEERS)/run_bench.py --workdir $(WORK) --peers $(CONTRACT_PEERS) --name contract --runs 5 \
		--extra-peer quanta-contract-test=$(BIN)/python:bench/quality/contract_peer.py

# What access control costs: the governed query path next to raw DuckDB (10M rows), a
# query in a catalog of 1,000 products next to one of 10, isolated builds next to in-process.
bench-access: $(STAMP)
	$(BIN)/python bench/access/bench_access.py

# What governance costs: the default policies over 10,000 products, a read of a product with
# pii and restricted columns next to its owner's read in clear (1M rows), a join on
# pseudonymized keys next to the same join in clear.
bench-governance: $(STAMP)
	$(BIN)/python bench/governance/bench_governance.py

# What privacy costs: erasing one subject from the example mesh at about 50M rows (scale
# 19.4), and enforcing retention over it, next to raw pyiceberg deletes, expiry and a sweep
# of the same tables (bench/privacy/baseline.py); the mesh and its copies stay in
# bench/.work (ignored), about 3.3 GB each.
bench-privacy: $(STAMP)
	$(BIN)/python bench/privacy/bench_privacy.py

clean:
	rm -rf $(VENV) .quanta .pytest_cache .mypy_cache .ruff_cache
