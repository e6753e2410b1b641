"""`make demo`: the whole pipeline, offline, over the sandbox window.

Starts the replay server, points the pipeline at it through environment variables only,
materialises every asset for the sandbox window as one Dagster run (the same CLI a data
engineer would use, recorded in DAGSTER_HOME so `make ui` shows it), prints a summary of
the warehouse and stops the server.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from sandbox.config import WINDOW_END, WINDOW_START, sandbox_environment
from sandbox.replay import ReplayServer

ROOT = Path(__file__).resolve().parents[1]


def materialize(env: dict[str, str], start: str, end: str) -> None:
    command = [
        sys.executable, "-m", "dagster", "asset", "materialize",
        "-m", "pipelines.definitions",
        "--select", "*",
        "--partition-range", f"{start}...{end}",
    ]
    subprocess.run(command, cwd=ROOT, env=env, check=True)


def summary(path: str) -> str:
    lines = [f"warehouse: {Path(path).resolve()}"]
    with duckdb.connect(path, read_only=True) as con:
        tables = con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "ORDER BY ALL"
        ).fetchall()
        lines.append(f"{'table':45} {'rows':>8}  date range")
        for (table,) in tables:
            rows, first, last = con.execute(
                f"SELECT count(*), min(date), max(date) FROM {table}"
            ).fetchone()
            lines.append(f"{table:45} {rows:>8}  {first} .. {last}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", default=WINDOW_START.isoformat())
    parser.add_argument("--end", default=WINDOW_END.isoformat())
    args = parser.parse_args()

    with ReplayServer() as server:
        env = {**os.environ, **sandbox_environment(server.url)}
        env.setdefault("DAGSTER_HOME", str(ROOT / ".dagster_home"))
        Path(env["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        print(f"sandbox: replay server on {server.url}; materialising {args.start}..{args.end}",
              flush=True)
        materialize(env, args.start, args.end)
        print(summary(env.get("STABLEFLOW_WAREHOUSE", "data/stableflow.duckdb")))
        print(f"requests served by the replay server: {sum(server.requests.values())}")


if __name__ == "__main__":
    main()
