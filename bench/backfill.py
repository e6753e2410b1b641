"""A 2-year daily backfill of every asset in the sandbox: one run against one run per day.

Both go through the Dagster CLI, as a data engineer (or the daemon launching a backfill's
runs) would, against the sandbox (replay server and the planted chain) for 2021-01-01..
2022-12-31: 730 daily partitions of the 13 ingest assets, then the 37 unpartitioned models,
analytics and the analysts' copy.

- One run: `dagster asset materialize --select * --partition-range FIRST...LAST`. The
  ingest assets have a single-run backfill policy, so each reads the whole window at once.
- One run per partition: what Dagster does for partitioned assets without that policy (its
  default): a run per day for the ingest assets, then one run for the unpartitioned assets.
  730 runs take hours, so a sample of days spread over the window runs one by one (after
  the single run, against the same warehouse and instance, as the 700th run would) and the
  total is 730 x their median + the unpartitioned run, measured.

Peak memory is the largest resident set of the run's process (steps run in process).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import statistics
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from bench.report import Line, ProcessCost, Section, run_process, table
from sandbox.dagster_cli import job_day_command, materialize_command, partition_range
from sandbox.world import prepare_dagster_home, run_environment, running_sandbox

START, END = dt.date(2021, 1, 1), dt.date(2022, 12, 31)
SAMPLE_DAYS = 4
GIB = 1024  # MiB
NULL_LOCATION = "bench.null_location:defs"  # the same graph, every step a no-op
# The same no-op run of redesigned graphs (bench/null_location.py): what each would save.
STEPS = "each table's checks in its asset's step, the models in one step"
CHECKS = "each table's checks as one check per severity"
BOTH = "both"
REDESIGNS = {
    STEPS: "bench.null_location:fewer_steps",
    CHECKS: "bench.null_location:fewer_checks",
    BOTH: "bench.null_location:fewer_steps_and_checks",
}
# What a process holds once it has imported these, before any step reads a row.
DEFS = "Dagster and the definitions"
GX = "the same and Great Expectations (what every check step loads)"
IMPORTS = {
    DEFS: ("dagster", "pipelines.definitions"),
    GX: ("dagster", "pipelines.definitions", "great_expectations"),
}


@dataclass(frozen=True)
class BackfillCosts:
    """What the runs cost: the single run, the sampled per-day runs and the unpartitioned
    run that follows them."""

    days: int
    sample: list[dt.date]
    single: ProcessCost
    per_day: list[ProcessCost]
    rest: ProcessCost
    daily: ProcessCost  # the schedule's run for the window's last day, every asset
    floor: ProcessCost  # the same run of the same graph with no-op steps: Dagster alone
    redesigns: dict[str, ProcessCost]  # the same no-op run of each of REDESIGNS
    imports: dict[str, ProcessCost]  # a process importing each of IMPORTS

    @property
    def median_day(self) -> float:
        return statistics.median(c.seconds for c in self.per_day)

    @property
    def estimate(self) -> float:
        """One run per day over the window: days x the sample's median + the rest, once."""
        return self.days * self.median_day + self.rest.seconds

    @property
    def peak(self) -> float:
        return max(c.peak_rss_mib for c in [self.single, *self.per_day, self.rest])


def run(runs: int) -> Section:
    with backfill_world() as (env, work):
        costs = measure(env, work)
    return report(costs)


# --- prepare --------------------------------------------------------------------------------


@contextlib.contextmanager
def backfill_world() -> Iterator[tuple[dict[str, str], Path]]:
    """The sandbox for START..END, a fresh Dagster instance and warehouse in a temporary
    folder: the runs' environment and that folder."""
    with (
        tempfile.TemporaryDirectory(prefix="stableflow-bench-") as tmp,
        running_sandbox(START, END) as (sandbox_env, _, _),
    ):
        work = Path(tmp)
        env = run_environment(sandbox_env, work, window=(START, END))
        prepare_dagster_home(env)
        yield env, work


def sample_days(days: int) -> list[dt.date]:
    """SAMPLE_DAYS days spread evenly over the window, its first and last included."""
    return [
        START + dt.timedelta(days=round(i * (days - 1) / (SAMPLE_DAYS - 1)))
        for i in range(SAMPLE_DAYS)
    ]


# --- measure --------------------------------------------------------------------------------


def _materialize(env: dict[str, str], log: Path, select: str, *partition: str) -> ProcessCost:
    return _run(env, log, materialize_command(select, *partition))


def _run(env: dict[str, str], log: Path, command: list[str]) -> ProcessCost:
    cost = run_process(command, env=env, log=log)
    if cost.returncode:
        raise RuntimeError(f"bench backfill: run failed ({' '.join(command[2:])}), see {log}")
    return cost


def _check_stored(warehouse: Path, days: int) -> None:
    """The single run must have stored reserves for every day of the window."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        stored = con.execute(
            "SELECT count(DISTINCT date) FROM marts.exchange_reserves_daily"
        ).fetchone()[0]
    if stored != days:
        raise AssertionError(f"the single run stored {stored} days of reserves, not {days}")


def measure(env: dict[str, str], work: Path) -> BackfillCosts:
    """The single run (measured once: it is the longest thing `make bench` does), then the
    sampled days one run each, then the unpartitioned assets, against the same warehouse."""
    days = (END - START).days + 1
    sample = sample_days(days)
    single = _materialize(env, work / "single.log", "*", *partition_range(START, END))
    _check_stored(work / "stableflow.duckdb", days)
    per_day = [
        _materialize(env, work / f"day-{d}.log", "group:ingest", "--partition", str(d))
        for d in sample
    ]
    rest = _materialize(env, work / "unpartitioned.log", "not group:ingest")
    daily = _run(env, work / "daily.log", job_day_command("daily_refresh", END))
    floor = _run(env, work / "floor.log", job_day_command("daily_refresh", END, NULL_LOCATION))
    redesigns = {
        name: _run(env, work / f"redesign-{i}.log", job_day_command("daily_refresh", END, graph))
        for i, (name, graph) in enumerate(REDESIGNS.items())
    }
    imports = {
        name: _run(env, work / f"imports-{i}.log", [sys.executable, "-c", f"import {', '.join(m)}"])
        for i, (name, m) in enumerate(IMPORTS.items())
    }
    return BackfillCosts(days, sample, single, per_day, rest, daily, floor, redesigns, imports)


# --- report ---------------------------------------------------------------------------------


def report(costs: BackfillCosts) -> Section:
    return Section(
        "2-year backfill: one run against one run per partition",
        summary_lines(costs),
        body(costs),
    )


def summary_lines(c: BackfillCosts) -> list[Line]:
    return [
        Line(
            "2-year backfill",
            f"wall time, {c.days} days, every asset",
            c.single.seconds,
            "s",
            ">= 10x faster than one run per partition",
            c.estimate >= 10 * c.single.seconds,
            baseline=c.estimate,
            baseline_name=f"one run per day, {SAMPLE_DAYS}-day sample",
            key="backfill.single_run_s",
        ),
        Line(
            "2-year backfill",
            "peak memory of the single run",
            c.single.peak_rss_mib,
            "MiB",
            "< 1 GiB",
            c.single.peak_rss_mib < GIB,
            key="backfill.peak_mib",
        ),
        Line(
            "daily run",
            "wall time, one day, every asset (the schedule's run)",
            c.daily.seconds,
            "s",
            "<= 8 s",
            c.daily.seconds <= 8,
            key="backfill.daily_s",
        ),
        Line(
            "daily run",
            "peak memory, one day, every asset",
            c.daily.peak_rss_mib,
            "MiB",
            "<= 400 MiB",
            c.daily.peak_rss_mib <= 400,
            key="backfill.daily_mib",
        ),
        Line(
            "daily run",
            "wall time of the same run with every step a no-op (Dagster alone)",
            c.floor.seconds,
            "s",
            "reported only: the part of the 8 s no step can save",
            None,
            baseline=c.daily.seconds,
            baseline_name="the real daily run",
            key="backfill.daily_floor_s",
        ),
        Line(
            "daily run",
            "no-op run, checks in their asset's step, one per severity; the models in one step",
            c.redesigns[BOTH].seconds,
            "s",
            "reported only: Dagster alone after that redesign",
            None,
            baseline=c.floor.seconds,
            baseline_name="the no-op run of today's graph",
            key="backfill.daily_redesigned_floor_s",
        ),
        Line(
            "daily run",
            "peak memory of a process importing Dagster, the definitions and Great Expectations",
            c.imports[GX].peak_rss_mib,
            "MiB",
            "reported only: what a step validating with GX holds before it reads a row",
            None,
            key="backfill.gx_import_mib",
        ),
    ]


def cost_table(c: BackfillCosts) -> str:
    def row(name: str, partitions: object, cost: ProcessCost) -> list[object]:
        return [name, partitions, f"{cost.seconds:.1f}", f"{cost.peak_rss_mib:.0f}"]

    return table(
        ["run", "partitions", "wall s", "peak RSS MiB"],
        [
            row("one run, every asset", c.days, c.single),
            *(row(f"ingest assets, {day}", 1, cost) for day, cost in zip(c.sample, c.per_day)),
            row("unpartitioned assets, once", "-", c.rest),
            row(f"the daily schedule's run, {END}, every asset", 1, c.daily),
            row("the same run, every step a no-op (Dagster alone)", 1, c.floor),
            *(
                row(f"the same no-op run, redesigned: {name}", 1, cost)
                for name, cost in c.redesigns.items()
            ),
            *(row(f"no run: importing {name}", "-", cost) for name, cost in c.imports.items()),
            [
                f"one run per day: {c.days} x {c.median_day:.1f} s + {c.rest.seconds:.1f} s",
                c.days,
                f"{c.estimate:,.0f}",
                f"{c.peak:.0f}",
            ],
        ],
    )


def graph_size(location: str = "pipelines.definitions:defs") -> tuple[int, int]:
    """The daily job's steps and asset checks in a code location (`module:attribute`)."""
    import importlib

    module, _, attribute = location.partition(":")
    definitions = getattr(importlib.import_module(module), attribute)
    if callable(definitions):  # a lazy one (@dg.definitions)
        definitions = definitions()
    repository = definitions.get_repository_def()
    steps = repository.get_job("daily_refresh").graph.node_names()
    return len(steps), len(repository.asset_graph.asset_check_keys)


def body(c: BackfillCosts) -> str:
    n_steps, n_checks = graph_size()
    merged_steps, merged_checks = graph_size(REDESIGNS[STEPS])[0], graph_size(REDESIGNS[CHECKS])[1]
    steps_s, checks_s, both_s = (c.redesigns[k].seconds for k in (STEPS, CHECKS, BOTH))
    defs_mib, gx_mib = c.imports[DEFS].peak_rss_mib, c.imports[GX].peak_rss_mib
    with_gx = c.floor.peak_rss_mib + gx_mib - defs_mib
    return f"""
Sandbox window {START}..{END} ({c.days} daily partitions), replay server and planted chain as
in `make demo`, a fresh Dagster instance and warehouse. One measurement each (the single
run is the longest part of `make bench`).

{cost_table(c)}

Each per-day run pays what every run pays: a process start, loading the definitions,
resources and the run's own events, 13 steps each opening the warehouse, and for the
on-chain assets a look-up of the final block. The single run pays those once.

Where the single run's time goes (py-spy on this run, 2026-11-30, 44 s of samples of the
run's main thread; the rest of the wall time is waiting for the node and the replay server):
Great Expectations validating the checks 9.5 s, reading the chains 6.3 s, the statistics
6.1 s, Dagster's own step machinery 6.2 s, storing its events 5.5 s, the models 2.2 s, the
analysts' copy 2.1 s. Storing events was about two thirds of the run before the Makefile set
DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=1 (one "planned" event per asset for the
whole range, not per day) and DAGSTER_EVENT_BATCH_SIZE=1000, with which a step's
materialisations, one per asset and day (about {13 * c.days:,} here), reach the event log as
one batch that pipelines/event_log.py stores in one transaction per file, keeping its
connection to the cross-run index open between events. The single run took 158 s before
the batches (2026-11-30).

The daily schedule's run is one day of every asset, against the stored history: the
ingest steps read a day, but the models rebuild and the statistics re-run over every day
stored, and every table's checks run. Its memory is the run process with everything a day
touches imported: Great Expectations for the checks (257 MiB and 2.7 s to import alone),
statsmodels, scipy and matplotlib for the analytics and the report (statsmodels alone:
222 MiB, 1.4 s), and DuckDB copying the warehouse for the analysts.

The no-op row is the same run of the same graph (bench/null_location.py: the same
{n_steps} steps and {n_checks} checks, every step returning at once): what Dagster alone
costs, the process start, loading the definitions, planning, and storing the run's ~1,000
events (about half of it). It is {c.floor.seconds:.1f} s and {c.floor.peak_rss_mib:.0f} MiB:
{c.floor.seconds / 8:.0%} of the 8 s target, leaving {max(0.0, 8 - c.floor.seconds):.1f} s for
the steps' own work, which took {c.daily.seconds - c.floor.seconds:.1f} s above.
Where the rest goes (py-spy, 2026-11-30, same run): the checks' validation in Great
Expectations about 8 s, the statistics about 7 s (cointegration's lag selection 2.6 s), the
analysts' copy and Parquet snapshot 2.5 s, the models 2.6 s, the ingest steps 2.5 s.

The redesigned rows are the same no-op run of the graph changed before anything is built
(bench/null_location.py), to see what each change buys. Each table's checks in its asset's
step and the models in one step: {merged_steps} steps instead of {n_steps}, yet
{steps_s:.1f} s against {c.floor.seconds:.1f} s: Dagster's cost is per event more than per
step, and every check stores three events: planned (with the run's other planned events, in
one batch), its step output and its evaluation (each on its own: only a step's
materialisations reach the storage in batches). Each table's checks as one check per
severity (the expectations' results in its metadata): {merged_checks} checks instead of
{n_checks}, {checks_s:.1f} s. Both: {both_s:.1f} s, leaving {max(0.0, 8 - both_s):.1f} s of
the 8 s for the steps' own work. So the target also needs a daily run that does a day's work
(checks and statistics of what changed, not of every day stored), not faster steps alone.

Memory: a process that has imported Dagster and the definitions holds {defs_mib:.0f} MiB,
and {gx_mib:.0f} MiB with Great Expectations. The no-op run peaks at
{c.floor.peak_rss_mib:.0f} MiB, so a run that validates a check with GX in its own process
holds about {with_gx:.0f} MiB before it reads a row (an estimate: the sum of three
measurements), and statsmodels does the same to the analytics steps. The target, measured
on the run's process, needs the checks and statistics run in processes of their own (which
moves the memory, not saves it) or without GX. A run of a single day already peaks near the
single run's figure minus the data: loading the code location (Dagster, Great Expectations,
statsmodels, matplotlib, DuckDB, polars, web3) takes most of it. What the window adds is
bounded by reading the chain 90 days at a time and reducing each part at once.
"""
