"""`make sql`: the analysts' copy in the DuckDB CLI, read-only, at the library's version."""

import subprocess
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]


def make_sql(database: Path, query: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "-s", "sql", f"ANALYST_DB={database}"],
        cwd=ROOT,
        input=query,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_make_sql_answers_a_query_read_only(tmp_path):
    database = tmp_path / "analyst.duckdb"
    with duckdb.connect(str(database)) as con:  # written by the library...
        con.execute("CREATE SCHEMA marts")
        con.execute(
            "CREATE TABLE marts.liquidity_daily AS "
            "SELECT DATE '2023-01-01' + CAST(i AS INTEGER) AS date FROM range(3) AS t(i)"
        )
    # ...and read by the CLI: the same file format, so the same version.
    answer = make_sql(database, "SELECT count(*) AS days FROM marts.liquidity_daily;\n")
    assert answer.returncode == 0, answer.stderr
    assert "days" in answer.stdout and "3" in answer.stdout
    refused = make_sql(database, "DELETE FROM marts.liquidity_daily;\n")
    assert "read-only" in (refused.stdout + refused.stderr)
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.liquidity_daily").fetchone() == (3,)


def test_the_cli_is_the_library_version():
    cli = subprocess.run(
        [str(ROOT / ".venv/bin/duckdb"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert cli.split()[0] == f"v{duckdb.__version__}"


def test_make_sql_without_the_file_says_what_to_do(tmp_path):
    answer = make_sql(tmp_path / "missing.duckdb", "SELECT 1;\n")
    assert answer.returncode != 0 and "make demo" in answer.stderr
