"""`make demo`: the whole pipeline, offline, over the sandbox window.

Plants the simulated scenario on one local chain per configured chain (sandbox/chain.py:
Ethereum and Arbitrum by default, STABLEFLOW_CHAINS picks) and starts the replay server,
points the pipeline at them through environment variables only, materialises every asset
for the sandbox window as one run of the job daily_refresh (the job the schedule runs,
launched with the Dagster CLI a data engineer would use, recorded in DAGSTER_HOME so
`make ui` lists it under that name), prints the planted story, a summary of the warehouse
and the decoupling verdicts, and stops the server and the chains.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl

from core import quiet
from core.chains import CHAINS
from core.settings import project_path
from sandbox.chain import DEFAULT_TAXONOMY, GroundTruth
from sandbox.dagster_cli import job_range_command
from sandbox.progress import RunProgress, clock
from sandbox.rpc_proxy import PROFILES
from sandbox.world import ROOT, WINDOW_END, WINDOW_START, prepare_dagster_home, running_sandbox

JOB = "daily_refresh"


def planned_steps() -> int:
    """How many steps a run of the job daily_refresh (every asset) has."""
    from pipelines.definitions import defs  # loaded only when the run has started planning

    return len(defs.resolve_job_def(JOB).graph.node_dict)


def materialize(env: dict[str, str], start: str, end: str, log_path: Path) -> bool:
    """Every asset, every day of start..end, as one run. Returns whether the run succeeded.
    Prints progress (sandbox/progress.py); everything goes to the log file."""
    # The job the schedule runs, over the range as one run (the tags a single-run backfill
    # of a range carries), so the UI lists the demo's run as daily_refresh.
    command = job_range_command(JOB, start, end)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    progress = RunProgress(planned_steps)
    progress.start(f"{start}..{end}")
    with (
        open(log_path, "w") as log,
        subprocess.Popen(
            command,
            cwd=ROOT,
            env=quiet.environment(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as process,
    ):
        for line in process.stdout:
            log.write(line)
            progress.line(line)
    progress.finish()
    return process.returncode == 0


def story(truth: GroundTruth) -> str:
    """The planted story under the default taxonomy: each chain's exchange reserves per
    token and kind, first day to last."""
    told = truth.story.filter(pl.col("taxonomy") == DEFAULT_TAXONOMY).sort("chain", "token", "kind")
    return "\n".join(
        f"  {chain:9} {token} on {kind:11} exchanges: {first / 1e6:>9,.1f} M -> "
        f"{last / 1e6:>9,.1f} M (x{last / first:.2f})"
        for chain, token, kind, first, last in told.select(
            "chain", "token", "kind", "first_tokens", "last_tokens"
        ).iter_rows()
    )


def summary(path: str) -> str:
    lines = [f"warehouse: {Path(path).resolve()}"]
    with duckdb.connect(path, read_only=True) as con:
        tables = con.execute(
            "SELECT table_schema || '.' || table_name, bool_or(column_name = 'date') "
            "FROM information_schema.columns GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        lines.append(f"{'table':45} {'rows':>8}  date range")
        for table, dated in tables:
            dates = "min(date), max(date)" if dated else "NULL, NULL"
            rows, first, last = con.execute(f"SELECT count(*), {dates} FROM {table}").fetchone()
            lines.append(f"{table:45} {rows:>8}  " + (f"{first} .. {last}" if dated else "-"))
    return "\n".join(lines)


def verdicts(path: str) -> str:
    """The decoupling verdicts: the headline pair per period, then every pair in counts."""
    with duckdb.connect(path, read_only=True) as con:
        headline = con.execute(
            "SELECT period, verdict, explanation FROM analytics.decoupling_summary "
            "WHERE supply_series = 'total' AND price_series = 'crypto' "
            "ORDER BY window_start, window_end DESC"
        ).fetchall()
        counts = con.execute(
            "SELECT period, count(*) FILTER (verdict = 'coupled'), "
            "count(*) FILTER (verdict = 'decoupled'), count(*) FILTER (verdict = 'not detected'), "
            "count(*) FILTER (verdict = 'inconclusive') "
            "FROM analytics.decoupling_summary GROUP BY period, window_start, window_end "
            "ORDER BY window_start, window_end DESC"
        ).fetchall()
    lines = ["decoupling verdicts, all stablecoins vs crypto (BTC+ETH) market cap:"]
    lines += [
        f"  {period:14} {verdict:12} {explanation}" for period, verdict, explanation in headline
    ]
    lines.append("all 9 supply/price pairs (coupled / decoupled / not detected / inconclusive):")
    lines += [f"  {period:14} {c} / {d} / {n} / {i}" for period, c, d, n, i in counts]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", default=WINDOW_START.isoformat())
    parser.add_argument("--end", default=WINDOW_END.isoformat())
    parser.add_argument(
        "--node",
        default="geth",
        choices=sorted(PROFILES),
        help="the node profile the sandbox chains are reached through",
    )
    parser.add_argument(
        "--run-start",
        default=None,
        help="materialise only the days from this one to --end (default: "
        "--start); the chains are still planted for --start..--end, so "
        "those days read what a whole-window run reads: re-runs the "
        "window's last days over an existing warehouse",
    )
    args = parser.parse_args()
    began = time.monotonic()

    start, end = dt.date.fromisoformat(args.start), dt.date.fromisoformat(args.end)
    run_start = dt.date.fromisoformat(args.run_start) if args.run_start else start
    if not start <= run_start <= end:
        parser.error(f"--run-start {run_start} is outside {start}..{end}")
    chains = ", ".join(f"{c.name} (chain id {c.chain_id})" for c in CHAINS)
    print(
        f"sandbox: planting the simulated on-chain scenario for {start}..{end} on local "
        f"chains (anvil): {chains}; starting the replay server",
        flush=True,
    )
    print(
        f"sandbox: each chain is reached through the '{args.node}' node profile "
        "(sandbox/rpc_proxy.py)",
        flush=True,
    )
    with running_sandbox(start, end, args.node) as (sandbox_env, truth, server):
        env = {**os.environ, **sandbox_env}
        prepare_dagster_home(env)
        # The pipeline anchors relative paths to the project root (core/settings.py).
        warehouse = project_path(env.get("STABLEFLOW_WAREHOUSE") or "data/stableflow.duckdb")
        log_path = Path(warehouse).with_suffix(".run.log")
        truth.write(Path(warehouse).parent / "sandbox_truth")
        print(
            f"sandbox: every on-chain number is simulated; the planted story, per chain "
            f"(ground truth: {Path(warehouse).parent / 'sandbox_truth'}):",
            flush=True,
        )
        print(story(truth), flush=True)
        print(
            f"sandbox: materialising every asset for {run_start}..{end} as one run "
            f"(full log: {log_path})",
            flush=True,
        )
        ok = materialize(env, run_start.isoformat(), end.isoformat(), log_path)
        if not ok:
            tail = log_path.read_text().splitlines()[-30:]
            sys.exit("demo run failed; end of its log:\n" + "\n".join(tail))
        print(summary(warehouse))
        print(verdicts(warehouse))
        reports = Path(project_path(env.get("STABLEFLOW_REPORTS_DIR") or "reports"))
        print(f"report: {reports / 'decoupling_report.html'}")
        analyst = project_path(
            env.get("STABLEFLOW_ANALYST_WAREHOUSE") or "data/stableflow_analyst.duckdb"
        )
        print(f"analysts' copy (open it read-only): {analyst}")
        print(f"HTTP requests served by the replay server: {sum(server.requests.values())}")
    print(f"demo: done in {clock(time.monotonic() - began)} (minutes:seconds)")


if __name__ == "__main__":
    main()
