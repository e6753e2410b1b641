"""Several backfill runs at once, while an analyst holds the published copy open.

Each run is a separate `dagster asset materialize` process (as the UI's backfills launch
them), all writing one DuckDB file: their ingest steps extract at once and take turns to write
(the warehouse's lock file), the rebuilding steps one at a time (pool "duckdb",
dagster.yaml). Every run must succeed, and the warehouse must equal a serial run's.

The serial run is the session's reference backfill (fixture `backfill_reference`,
tests/process/conftest.py): one uninterrupted run of START..END in the same sandbox, with its own
DAGSTER_HOME and files, run in the background while the test does its own runs, and shared
with tests/process/test_kill.py.
"""

import datetime as dt
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from sandbox.dagster_cli import materialize_command, partition_range
from sandbox.world import ROOT, prepare_dagster_home, run_environment

pytestmark = pytest.mark.timeout(1800)
D = dt.date
START, END = D(2022, 5, 1), D(2022, 5, 14)
WINDOWS = [(D(2022, 5, 1), D(2022, 5, 7)), (D(2022, 5, 8), D(2022, 5, 14))]


def launch(env: dict, start: dt.date, end: dt.date, log: Path | None = None) -> subprocess.Popen:
    """The run as its own process; its output goes to a pipe, or to the file `log` (for a run
    nobody reads while it runs: a full pipe would stop it)."""
    out = open(log, "w") if log else subprocess.PIPE
    process = subprocess.Popen(
        materialize_command("*", *partition_range(start, end)),
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if log:
        out.close()
    process.log = log
    return process


def prepared(folder: Path, sandbox_env: dict, name: str) -> dict:
    """The sandbox environment with its own DAGSTER_HOME (prepared), warehouse, analysts'
    copy and reports, all named `name` inside `folder`."""
    env = run_environment(sandbox_env, folder, name)
    prepare_dagster_home(env)
    return env


def finish(process: subprocess.Popen) -> None:
    out, _ = process.communicate(timeout=900)
    if out is None:
        out = process.log.read_text()
    assert process.returncode == 0, out[-3000:]


class Reference:
    """An uninterrupted backfill of START..END in the sandbox of `sandbox_env`, into `folder`
    (DAGSTER_HOME, warehouse, analysts' copy and reports named "reference"), started at once
    and left running; `paths()` waits for it."""

    def __init__(self, folder: Path, sandbox_env: dict) -> None:
        self.sandbox_env = sandbox_env
        self.folder = folder
        self.process = launch(
            prepared(folder, sandbox_env, "reference"),
            START,
            END,
            log=folder / "reference.log",
        )

    def paths(self) -> tuple[Path, Path]:
        """The reference warehouse and analysts' copy, once the run has succeeded."""
        finish(self.process)
        return self.folder / "reference.duckdb", self.folder / "reference_analyst.duckdb"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


# When a row was fetched, and which run first read a world: they differ between two runs.
VOLATILE = ("ingested_at", "first_run_id", "first_recorded_at")


def tables(path: Path) -> dict[str, list]:
    with duckdb.connect(str(path), read_only=True) as con:
        columns: dict[str, list[str]] = {}
        for table, column in con.execute(
            "SELECT schema_name || '.' || table_name, column_name FROM duckdb_columns() "
            "WHERE (schema_name, table_name) IN (SELECT (schema_name, table_name) "
            "FROM duckdb_tables()) ORDER BY ALL"
        ).fetchall():
            columns.setdefault(table, []).append(column)
        result = {}
        for table, names in columns.items():
            volatile = [c for c in names if c in VOLATILE]
            skip = f" EXCLUDE ({', '.join(volatile)})" if volatile else ""
            result[table] = con.execute(f"SELECT *{skip} FROM {table} ORDER BY ALL").fetchall()
        return result


def test_parallel_runs_succeed_beside_an_analyst_and_equal_a_serial_run(
    tmp_path, backfill_reference
):
    parallel = prepared(tmp_path, backfill_reference.sandbox_env, "parallel")
    finish(launch(parallel, *WINDOWS[0], log=tmp_path / "first.log"))
    analyst = tmp_path / "parallel_analyst.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import duckdb, sys
        con = duckdb.connect({str(analyst)!r}, read_only=True)
        print(con.execute("SELECT count(*) FROM marts.liquidity_daily").fetchone()[0], flush=True)
        sys.stdin.read()
    """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == str((WINDOWS[0][1] - WINDOWS[0][0]).days + 1)
        # The remaining windows and a re-run of the first, all at once.
        runs = [
            launch(parallel, *window, log=tmp_path / f"run{i}.log")
            for i, window in enumerate((*WINDOWS[1:], WINDOWS[0]))
        ]
        for run in runs:
            finish(run)
    finally:
        holder.kill()

    serial, serial_analyst = backfill_reference.paths()
    assert tables(tmp_path / "parallel.duckdb") == tables(serial)
    assert tables(analyst) == tables(serial_analyst)
