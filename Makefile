# stableflow: every command a user or CI needs. Each target installs what it needs first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
UV := .tools/bin/uv
RUN := $(UV) run --frozen
export DAGSTER_HOME := $(CURDIR)/.dagster_home
# A run over a range of days records one "planned" event per asset for the whole range
# instead of one per asset and day (Dagster's switch, read by whatever process creates the
# run: the CLI, the webserver, the daemon): half the events of a year's run and about a
# quarter of its time (README, "Team deployment"). What it trades: the days of a failed range run show
# as missing in the UI rather than failed; the missing-days sensor re-runs them either way.
export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS := 1
# ... and the run stores each step's materialisations of those days as one batch (up to 1,000
# events) instead of one by one: dagster-postgres does that itself, dagster.yaml's SQLite
# event log through pipelines/event_log.py. Nothing is traded: the same rows are stored.
export DAGSTER_EVENT_BATCH_SIZE := 1000
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/.venv

PORT ?= 3000
MODE ?= sandbox

.PHONY: help install chromium demo doctor lint test test-fast snapshot bench ui sql clean

help:
	@echo "make demo   - run the whole pipeline offline over the sandbox window"
	@echo "make doctor - probe the endpoints, say which assets will run (MODE=sandbox|live, NODE=<profile>)"
	@echo "make test   - lint, then every test: the unit and the process-level tier (what CI runs)"
	@echo "make test-fast - lint, then the unit tier (all but tests/process/ and tests marked slow) on every core, < 3 min"
	@echo "make snapshot - rewrite tests/snapshots/definitions.yaml after an intended change to the definitions"
	@echo "make bench  - run the benchmarks offline, write bench/RESULTS.md"
	@echo "make ui     - Dagster UI on http://127.0.0.1:$(PORT) (MODE=sandbox|live)"
	@echo "make sql    - the analysts' copy, read-only, in the DuckDB CLI (ANALYST_DB=<file>)"

# uv, pinned, in a private folder: nothing is installed system-wide.
$(UV):
	python3 -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

# Compiled once here: processes that may not write bytecode (PYTHONDONTWRITEBYTECODE, a
# read-only venv) would otherwise compile Great Expectations and Dagster at every start.
.venv/.installed: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --quiet --compile-bytecode
	touch $@

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

# anvil and solc for the sandbox chain (sandbox/chain.py), pinned in package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error && touch $@

install: .venv/.installed $(DAGSTER_HOME)/dagster.yaml node_modules/.installed

# Debian's chromium, for the test that drives the Dagster UI in a real browser
# (tests/process/test_ui.py).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo -n)
chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; } || \
		{ echo "make: could not install Debian's chromium (apt-get install chromium, as root" \
		"or with password-less sudo); tests/process/test_ui.py needs it" >&2; exit 1; }

# Debian's PostgreSQL server, for the tests of the team profile (dagster.postgres.yaml): each
# starts a throwaway cluster (sandbox/postgres.py, tests/process/test_postgres.py). Its
# binaries are not on PATH on Debian: /usr/lib/postgresql/<major>/bin (or STABLEFLOW_PG_BINDIR).
.PHONY: postgres
postgres:
	@test -n "$$STABLEFLOW_PG_BINDIR" || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		{ $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install \
		-y -qq postgresql >/dev/null; } || { echo "make: could not install Debian's postgresql" \
		"(apt-get install postgresql, as root or with password-less sudo);" \
		"tests/process/test_postgres.py needs it" >&2; exit 1; }

# NODE=erigon|infura|... runs the demo through another node profile (sandbox/rpc_proxy.py).
demo: install
	$(RUN) python -m sandbox.demo $(if $(NODE),--node $(NODE))

# The analysts' copy in the DuckDB CLI, pinned in pyproject.toml to the library's version,
# read-only: no query can change the file, and an open session never blocks a run (the
# pipeline replaces the copy by renaming a new file over it). Reads a query from stdin too:
#   echo "SELECT count(*) FROM marts.liquidity_daily;" | make -s sql
ANALYST_DB ?= $(or $(STABLEFLOW_ANALYST_WAREHOUSE),data/stableflow_analyst.duckdb)
sql: .venv/.installed
	@test -f "$(ANALYST_DB)" || { echo "make sql: $(ANALYST_DB) does not exist yet (make demo" \
		"writes it)" >&2; exit 1; }
	@$(RUN) duckdb -readonly "$(ANALYST_DB)"

# A preflight: probes the endpoints (~20 requests) and says which assets will run, and why not;
# exits 1 if any will not. MODE=live: the endpoints of the environment, as the pipeline reads
# them. Sandbox (default): a 3-day planted chain reached through NODE=geth|full-node|pruned|...
doctor: install
ifeq ($(MODE),live)
	$(RUN) python -m pipelines.doctor
else
	$(RUN) python -m sandbox.doctor $(if $(NODE),--node $(NODE))
endif

# The gates, configured in pyproject.toml: ruff (lint and format) on all Python, sqlfluff
# (DuckDB dialect) on all SQL. Part of `make test`, so CI fails on a violation.
lint: .venv/.installed
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) sqlfluff lint sql

# Two tiers (README: "The tests come in two tiers"). The unit tier: everything outside
# tests/process/, in-process runs against the replay server and sandbox chains. The
# process-level tier, tests/process/ (marker `process`): the Dagster CLI, the webserver and a
# browser, `make`, killed runs, a full disk. `make test` runs both: the unit tier on every
# core, as test-fast does, then the process-level tier one test at a time (its tests time
# concurrent runs and kills against each other, and each starts processes of its own).
test: install chromium postgres lint
	$(RUN) pytest -m "not process" -n auto --maxprocesses 4 --dist loadscope
	$(RUN) pytest -m process

# The unit tier on every core, at most 4 (pytest-xdist; --dist loadscope keeps each module's
# planted chain in one worker), less the simulation-heavy calibrations (marker slow): the loop
# to run while editing, under 3 minutes on 2 cores.
test-fast: install lint
	$(RUN) pytest -m "not process and not slow" -n auto --maxprocesses 4 --dist loadscope

# tests/snapshots/definitions.yaml: every asset (group, deps, partitions, pool, backfill policy,
# kinds), check, job, schedule and sensor of pipelines/definitions.py; tests/test_definitions.py
# fails when they differ. Refresh after an intended change, then review `git diff tests/snapshots`.
snapshot: .venv/.installed
	UPDATE_SNAPSHOTS=1 $(RUN) pytest tests/test_definitions.py -q -k snapshot

# The extraction baselines, each in its own venv: ethereum-etl needs web3<6, and neither may
# touch the project's lock. Pinned in bench/requirements-*.txt (fully resolved, so --no-deps).
.bench/%/.installed: bench/requirements-%.txt $(UV)
	$(UV) venv --quiet --allow-existing --python 3.11 .bench/$*
	$(UV) pip install --quiet --no-deps --python .bench/$*/bin/python -r $<
	touch $@

# ONLY="reads marts" runs some of them.
bench: install postgres .bench/etl/.installed .bench/cryo/.installed
	$(RUN) python -m bench $(if $(ONLY),--only $(ONLY))

# What `dagster dev` runs (webserver, daemon, one code server), but the webserver answers only
# http://127.0.0.1:$(PORT) (localhost, [::1]): other Host names (DNS rebinding) and cross-site
# requests are refused (pipelines/ui.py). For a team: an authenticating proxy in front and
# STABLEFLOW_UI_ALLOWED_HOSTS (README "Web UI").
ui: install
ifeq ($(MODE),live)
	$(RUN) python -m pipelines.ui --port $(PORT)
else
	$(RUN) python -m pipelines.ui --port $(PORT) --sandbox
endif

clean:
	rm -rf .venv .tools .bench .dagster_home data reports
