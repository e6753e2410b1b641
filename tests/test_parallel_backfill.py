"""Several backfill runs at once, while an analyst holds the published copy open.

Each run is a separate `dagster asset materialize` process (as the UI's backfills launch
them), all writing one DuckDB file; the pool "duckdb" (dagster.yaml) lets one step write at
a time. Every run must succeed, and the warehouse must equal a serial run's.
"""

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from sandbox.world import ROOT, prepare_dagster_home, running_sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]
D = dt.date
START, END = D(2022, 5, 1), D(2022, 5, 21)
WINDOWS = [(D(2022, 5, 1), D(2022, 5, 7)), (D(2022, 5, 8), D(2022, 5, 14)),
           (D(2022, 5, 15), D(2022, 5, 21))]


def launch(env: dict, start: dt.date, end: dt.date) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "pipelines.definitions",
         "--select", "*", "--partition-range", f"{start}...{end}"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def run_environment(folder: Path, sandbox_env: dict, name: str) -> dict:
    """The sandbox environment with its own DAGSTER_HOME, warehouse, analysts' copy and
    reports, all named `name` inside `folder`."""
    env = {**os.environ, **sandbox_env, "DAGSTER_HOME": str(folder / f"home_{name}"),
           "STABLEFLOW_WAREHOUSE": str(folder / f"{name}.duckdb"),
           "STABLEFLOW_ANALYST_WAREHOUSE": str(folder / f"{name}_analyst.duckdb"),
           "STABLEFLOW_REPORTS_DIR": str(folder / f"{name}_reports")}
    prepare_dagster_home(env)
    return env


def finish(process: subprocess.Popen) -> None:
    out, _ = process.communicate(timeout=900)
    assert process.returncode == 0, out[-3000:]


# When a row was fetched, and which run first read a world: they differ between two runs.
VOLATILE = ("ingested_at", "first_run_id", "first_recorded_at")


def tables(path: Path) -> dict[str, list]:
    with duckdb.connect(str(path), read_only=True) as con:
        columns: dict[str, list[str]] = {}
        for table, column in con.execute(
                "SELECT schema_name || '.' || table_name, column_name FROM duckdb_columns() "
                "WHERE (schema_name, table_name) IN (SELECT (schema_name, table_name) "
                "FROM duckdb_tables()) ORDER BY ALL").fetchall():
            columns.setdefault(table, []).append(column)
        result = {}
        for table, names in columns.items():
            volatile = [c for c in names if c in VOLATILE]
            skip = f" EXCLUDE ({', '.join(volatile)})" if volatile else ""
            result[table] = con.execute(f"SELECT *{skip} FROM {table} ORDER BY ALL").fetchall()
        return result


def test_parallel_runs_succeed_beside_an_analyst_and_equal_a_serial_run(tmp_path):
    with running_sandbox(START, END) as (sandbox_env, _, _):
        serial = run_environment(tmp_path, sandbox_env, "serial")
        finish(launch(serial, START, END))

        parallel = run_environment(tmp_path, sandbox_env, "parallel")
        finish(launch(parallel, *WINDOWS[0]))
        analyst = tmp_path / "parallel_analyst.duckdb"
        holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys
            con = duckdb.connect({str(analyst)!r}, read_only=True)
            print(con.execute("SELECT count(*) FROM marts.liquidity_daily").fetchone()[0], flush=True)
            sys.stdin.read()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "7"
            # The two remaining windows and a re-run of the first, all at once.
            runs = [launch(parallel, *window) for window in (WINDOWS[1], WINDOWS[2], WINDOWS[0])]
            for run in runs:
                finish(run)
        finally:
            holder.kill()

    assert tables(tmp_path / "parallel.duckdb") == tables(tmp_path / "serial.duckdb")
    assert tables(analyst) == tables(tmp_path / "serial_analyst.duckdb")
