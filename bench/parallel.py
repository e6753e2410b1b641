"""On-chain extraction in parallel: two chains x two years, one run against four at once.

The on-chain ingest assets (every raw.evm_* table and their checks) over 2021-01-01..
2022-12-31 on both sandbox chains (Ethereum and Arbitrum), each behind the `geth` node
profile's proxy:

- serial: one `dagster asset materialize` run over the two years, reading both chains, as a
  single-run backfill does;
- parallel: four runs at once, one per chain (STABLEFLOW_CHAINS) and year, against the same
  Dagster instance and warehouse, as a team's executor or four backfill runs would launch
  them. Ingest steps are in no Dagster pool: they read at once and take turns only for their
  writes (the warehouse's lock file); each writes only its chain's rows of its window.

Both end with the same tables (checked, `ingested_at` aside). Measured twice: with the nodes
answering at once (local anvil: the runs share this machine's cores) and with a delay on
every answer (LATENCY_S, a provider across a network), where waiting, not CPU, is what
parallel runs overlap.

    python -m bench --only parallel
    python -m bench --only parallel --set parallel.DAYS=120
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from assets.ingest.evm import evm_assets
from bench.report import Line, OtherWork, Section, table
from core.chains import CHAINS
from sandbox.dagster_cli import materialize_command, migrate_instance, partition_range
from sandbox.world import ROOT, prepare_dagster_home, run_environment, running_sandbox

START = dt.date(2021, 1, 1)
DAYS = 730  # two years: one run per chain and year in parallel
LATENCY_S = 0.05  # a provider ~50 ms away (a round trip within a continent)
# Every raw.evm_* table, as the on-chain ingest assets declare them.
TABLES = tuple(".".join(key.path) for asset in evm_assets for key in asset.keys)
SELECT = ",".join(t.replace(".", "/") for t in TABLES)


@dataclass(frozen=True)
class Timing:
    latency_s: float
    serial_s: float
    parallel_s: float  # wall time until the last of the parallel runs ended
    runs: int
    same_tables: bool


@dataclass(frozen=True)
class Parallel:
    days: int
    chains: tuple[str, ...]
    timings: list[Timing]
    other_cores: float


def run(runs: int) -> Section:
    first, last = window()
    timings = []
    with OtherWork() as other:
        for latency in (0.0, LATENCY_S):
            with running_sandbox(first, last, latency_s=latency) as (sandbox_env, _, _):
                timings.append(measure(sandbox_env, latency))
    return report(Parallel(DAYS, tuple(c.name for c in CHAINS), timings, other.cores))


# --- prepare --------------------------------------------------------------------------------


def window() -> tuple[dt.date, dt.date]:
    return START, START + dt.timedelta(days=DAYS - 1)


def halves() -> list[tuple[dt.date, dt.date]]:
    """The window cut in two (two years: one run per year)."""
    first, last = window()
    middle = first + dt.timedelta(days=DAYS // 2)
    return [(first, middle - dt.timedelta(days=1)), (middle, last)]


@contextlib.contextmanager
def instance(sandbox_env: dict[str, str], name: str) -> Iterator[tuple[dict[str, str], Path]]:
    """A fresh Dagster instance and warehouse in a temporary folder: the runs' environment
    and the warehouse file."""
    first, last = window()
    with tempfile.TemporaryDirectory(prefix=f"stableflow-bench-{name}-") as tmp:
        work = Path(tmp)
        env = run_environment(sandbox_env, work, window=(first, last))
        prepare_dagster_home(env)
        migrate_instance(env)
        yield env, Path(env["STABLEFLOW_WAREHOUSE"])


# --- measure --------------------------------------------------------------------------------


def _launch(env: dict[str, str], first: dt.date, last: dt.date, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        materialize_command(SELECT, *partition_range(first, last)),
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),  # the child keeps its own copy of the descriptor
        stderr=subprocess.STDOUT,
    )


def _wait(runs: list[tuple[subprocess.Popen, Path]]) -> None:
    failed = [log for process, log in runs if process.wait()]
    if failed:
        errors = [line for line in failed[0].read_text().splitlines() if "Error" in line]
        raise RuntimeError(
            f"bench parallel: {len(failed)} run(s) failed, e.g. {failed[0].name}:\n"
            + "\n".join(errors[-10:])
        )


def _tables(warehouse: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            t: con.execute(f"SELECT * EXCLUDE (ingested_at) FROM {t} ORDER BY ALL").fetchall()
            for t in TABLES
        }


def measure(sandbox_env: dict[str, str], latency: float) -> Timing:
    first, last = window()
    with instance(sandbox_env, "serial") as (env, warehouse):
        started = time.perf_counter()
        _wait([(_launch(env, first, last, warehouse.with_name("serial.log")), warehouse)])
        serial_s = time.perf_counter() - started
        serial = _tables(warehouse)
    with instance(sandbox_env, "parallel") as (env, warehouse):
        runs = []
        started = time.perf_counter()
        for chain in CHAINS:
            for a, b in halves():
                log = warehouse.with_name(f"{chain.name}-{a.year}.log")
                chain_env = {**env, "STABLEFLOW_CHAINS": chain.name}
                runs.append((_launch(chain_env, a, b, log), log))
        _wait(runs)
        parallel_s = time.perf_counter() - started
        same = _tables(warehouse) == serial
    return Timing(latency, serial_s, parallel_s, len(runs), same)


# --- report ---------------------------------------------------------------------------------


def report(p: Parallel) -> Section:
    rows = [
        [
            "none (local node)" if t.latency_s == 0 else f"{t.latency_s * 1000:.0f} ms",
            f"{t.serial_s:.1f}",
            f"{t.parallel_s:.1f}",
            f"{t.serial_s / t.parallel_s:.2f}",
            "yes" if t.same_tables else "NO",
        ]
        for t in p.timings
    ]
    for t in p.timings:
        if not t.same_tables:
            raise AssertionError(f"parallel runs (latency {t.latency_s}) wrote other tables")
    remote = p.timings[-1]
    lines = [
        Line(
            "parallel",
            f"on-chain ingest, {len(p.chains)} chains x {p.days} days, {remote.runs} runs at "
            f"once, node {remote.latency_s * 1000:.0f} ms away",
            remote.parallel_s,
            "s",
            "reported",
            None,
            baseline=remote.serial_s,
            baseline_name="one run reading both chains over the whole window",
            key="parallel.remote_s",
        )
    ]
    body = f"""
The on-chain ingest assets (every `raw.evm_*` table and its checks) over {p.days} days from
{START} on {" and ".join(p.chains)}: one run reading both chains over the whole window,
against {remote.runs} runs at once (one per chain, `STABLEFLOW_CHAINS`, and half-window),
against one Dagster instance and warehouse. Other processes kept {p.other_cores:.1f} of the
machine's {os.cpu_count()} cores busy on average meanwhile.

{table(["node latency", "serial s", "parallel s", "speed-up", "same tables"], rows)}

{_reading(p)}
"""
    return Section(
        f"Parallel on-chain extraction ({len(p.chains)} chains x {p.days} days)", lines, body
    )


def _reading(p: Parallel) -> str:
    """What the table says, from its own numbers."""
    faster = [t for t in p.timings if t.parallel_s < t.serial_s]
    if len(faster) == len(p.timings):
        verdict = "The runs at once finished sooner in every case."
    elif not faster:
        verdict = (
            "Here the runs at once took longer than one run, with the node local and 50 ms "
            "away alike."
        )
    else:
        verdict = "The runs at once finished sooner only in some cases."
    return f"""{verdict} What parallel runs pay that one run pays once: a process start,
loading the definitions and planning, per run; the checks, which share the pool `duckdb` and
wait for its slot with Dagster's back-off; and the machine's cores, shared by the runs, the
local nodes and the proxies ({os.cpu_count()} here, {p.other_cores:.1f} of them busy with
other work). What one run already avoids: waiting on the node, because its requests are
batched (one `eth_call` per day for up to 3,000 wallet-token pairs, log ranges of thousands
of blocks), so a 50 ms node adds little for parallel runs to overlap. Runs at once pay off
where each gets cores or a machine of its own (a Kubernetes executor, docs/scaling.md) or
where a provider's per-request latency or rate limit, not CPU, bounds a run: not measured
here."""
