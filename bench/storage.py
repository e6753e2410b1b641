"""The 2-year backfill under both Dagster storages: the single-user profile (dagster.yaml:
SQLite files in DAGSTER_HOME) against the team profile (dagster.postgres.yaml: PostgreSQL).

The same run as bench/backfill.py's single run, `dagster asset materialize --select *
--partition-range FIRST...LAST`, against one sandbox (replay server and planted chain for
the window) and, for each storage, a fresh DAGSTER_HOME and warehouse. PostgreSQL is a
throwaway cluster of Debian's server (`make postgres`; sandbox/postgres.py) with its default
durability (fsync and synchronous commit on, as a real server), on the same machine, over
TCP with a password; its schema is created before the timed run (`dagster instance
migrate`, what a team does once). One measurement each: a run is minutes long.

    python -m bench --only storage                    # 730 days, about 6 minutes on 2 idle cores
    python -m bench --only storage --set storage.DAYS=90   # a shorter window
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from bench.report import Line, OtherWork, ProcessCost, Section, run_process, table
from sandbox.dagster_cli import materialize_command, migrate_instance, partition_range
from sandbox.postgres import PostgresCluster, prepare_team_home
from sandbox.world import prepare_dagster_home, run_environment, running_sandbox

START = dt.date(2021, 1, 1)
DAYS = 730  # 2021-01-01..2022-12-31, bench/backfill.py's window
STORAGES = ("sqlite", "postgres")


def window() -> tuple[dt.date, dt.date]:
    return START, START + dt.timedelta(days=DAYS - 1)


@dataclass(frozen=True)
class StorageCost:
    storage: str
    cost: ProcessCost
    events: int  # event log rows the run wrote
    server_cpu_s: float | None  # the PostgreSQL server's CPU time during the run
    sessions: int | None  # connections opened to PostgreSQL during the run
    reserve_days: int  # days of marts.exchange_reserves_daily stored: the run did its work


@dataclass(frozen=True)
class StorageCosts:
    days: int
    costs: dict[str, StorageCost]
    other_cores: float  # how busy other processes kept the machine meanwhile


def run(runs: int) -> Section:
    start, end = window()
    with running_sandbox(start, end) as (sandbox_env, _, _):
        with OtherWork() as other:
            costs = {storage: measure(storage, sandbox_env) for storage in STORAGES}
    return report(StorageCosts(DAYS, costs, other.cores))


# --- prepare --------------------------------------------------------------------------------


@contextlib.contextmanager
def instance(
    storage: str, sandbox_env: dict[str, str]
) -> Iterator[tuple[dict, Path, Callable[[], int], PostgresCluster | None]]:
    """A fresh DAGSTER_HOME (and PostgreSQL cluster) and warehouse in a temporary folder:
    the run's environment, that folder, a function counting the event log's rows, and the
    cluster (None for SQLite)."""
    start, end = window()
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="stableflow-bench-")))
        env = run_environment(sandbox_env, work, window=(start, end))
        home = Path(env["DAGSTER_HOME"])
        pg = None
        if storage == "postgres":
            pg = stack.enter_context(PostgresCluster(durable=True))
            env.update(pg.dagster_env())
            prepare_team_home(home)
            migrate_instance(env)

            def events() -> int:
                return pg.query("SELECT count(*) FROM event_logs")[0][0]
        else:
            prepare_dagster_home(env)

            def events() -> int:
                import sqlite3

                total = 0
                for db in home.rglob("*.db"):
                    with contextlib.closing(sqlite3.connect(db)) as con:
                        if con.execute(
                            "SELECT 1 FROM sqlite_master WHERE name = 'event_logs'"
                        ).fetchone():
                            total += con.execute("SELECT count(*) FROM event_logs").fetchone()[0]
                return total

        yield env, work, events, pg


# --- measure --------------------------------------------------------------------------------


def _sessions(pg: PostgresCluster) -> int:
    """Connections opened to the database so far (PostgreSQL 14+ counts them; ended ones are
    counted within a second of closing, so read after a pause)."""
    time.sleep(1.5)
    return pg.query("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")[0][
        0
    ]


def measure(storage: str, sandbox_env: dict[str, str]) -> StorageCost:
    start, end = window()
    with instance(storage, sandbox_env) as (env, work, events, pg):
        log = work / f"{storage}.log"
        server_before = pg.server_cpu_seconds() if pg else 0.0
        sessions_before = _sessions(pg) if pg else 0
        cost = run_process(materialize_command("*", *partition_range(start, end)), env=env, log=log)
        server = pg.server_cpu_seconds() - server_before if pg else None
        # less the connection that reads the count
        sessions = _sessions(pg) - sessions_before - 1 if pg else None
        if cost.returncode:
            raise RuntimeError(
                f"bench storage: the {storage} run failed:\n{log.read_text()[-3000:]}"
            )
        with duckdb.connect(str(work / "stableflow.duckdb"), read_only=True) as con:
            days = con.execute(
                "SELECT count(DISTINCT date) FROM marts.exchange_reserves_daily"
            ).fetchone()[0]
        return StorageCost(storage, cost, events(), server, sessions, days)


# --- report ---------------------------------------------------------------------------------

HEADER = [
    "storage",
    "wall s",
    "peak RSS MiB (the run's process)",
    "events",
    "events / s",
    "PostgreSQL server CPU s",
    "connections",
    "days stored",
]


def report(c: StorageCosts) -> Section:
    sqlite, postgres = c.costs["sqlite"], c.costs["postgres"]
    lines = [
        Line(
            "backfill storage",
            f"wall time, {c.days} days, every asset, Dagster storage in PostgreSQL",
            postgres.cost.seconds,
            "s",
            "reported",
            None,
            baseline=sqlite.cost.seconds,
            baseline_name="the same run with SQLite storage",
            key="storage.postgres_s",
        )
    ]
    rows = [
        [
            name,
            f"{s.cost.seconds:.1f}",
            f"{s.cost.peak_rss_mib:.0f}",
            f"{s.events:,}",
            f"{s.events / s.cost.seconds:,.0f}",
            "-" if s.server_cpu_s is None else f"{s.server_cpu_s:.1f}",
            "-" if s.sessions is None else f"{s.sessions:,}",
            s.reserve_days,
        ]
        for name, s in c.costs.items()
    ]
    body = f"""
The single-run backfill of bench/backfill.py ({c.days} daily partitions from {START}, every
asset, one `dagster asset materialize` process) under each Dagster storage, one measurement
each, sandbox and warehouse as in `make demo`. `events`: rows of the event log the run left
(the run's own events, the planned and stored materialisations, the checks).
Other processes kept {c.other_cores:.1f} of the machine's {os.cpu_count()} cores busy
on average meanwhile.

{table(HEADER, rows)}

PostgreSQL runs as its own processes on the same machine, with fsync and synchronous commit
on: the peak RSS is the run's process alone; the server's CPU time is its own column (it
shares the same cores, and counts as other work in the line above). `connections`: the
sessions the run opened to PostgreSQL; dagster-postgres opens one per storage call (no
connection pool), and each pays a server process start and a scram-sha-256 handshake.
"""
    return Section(f"2-year backfill under both Dagster storages ({c.days} days)", lines, body)
