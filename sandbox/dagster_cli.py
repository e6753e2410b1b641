"""The Dagster CLI command lines that run the code location, as a data engineer (or the
daemon launching a backfill's runs) would: `dagster asset materialize` and `dagster job
execute`, each in the interpreter running this one. Shared by `make demo`, the benchmarks
and the process-level tests, so all of them launch runs the same way.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LOCATION = "pipelines.definitions"


def _dagster(*command: str, location: str = LOCATION) -> list[str]:
    """`dagster <command> -m <location>` with this interpreter; a location
    `module:attribute` loads that attribute of the module (`-a`)."""
    module, _, attribute = location.partition(":")
    return [
        sys.executable,
        "-m",
        "dagster",
        *command,
        "-m",
        module,
        *(["-a", attribute] * bool(attribute)),
    ]


def materialize_command(select: str, *partitions: str) -> list[str]:
    """`dagster asset materialize` of the assets `select` picks; `partitions` are the CLI's
    partition options, e.g. ("--partition", DAY) or `partition_range(first, last)`."""
    return [*_dagster("asset", "materialize"), "--select", select, *partitions]


def partition_range(first: dt.date | str, last: dt.date | str) -> tuple[str, str]:
    """The options selecting the days first..last as one run's partition range."""
    return ("--partition-range", f"{first}...{last}")


def job_range_command(job: str, first: dt.date | str, last: dt.date | str) -> list[str]:
    """`dagster job execute` of `job` over the days first..last as one run: the tags a
    single-run backfill of a range carries, so the run is listed under the job's name."""
    tags = {
        "dagster/asset_partition_range_start": str(first),
        "dagster/asset_partition_range_end": str(last),
    }
    return _job_command(job, tags)


def job_day_command(job: str, day: dt.date | str, location: str = LOCATION) -> list[str]:
    """`dagster job execute` of `job` for one day's partition, the run the daily schedule
    (`build_schedule_from_partitioned_job`) launches: the partition's tag, every asset."""
    return _job_command(job, {"dagster/partition": str(day)}, location)


def _job_command(job: str, tags: dict[str, str], location: str = LOCATION) -> list[str]:
    command = _dagster("job", "execute", location=location)
    return [*command, "-j", job, "--tags", json.dumps(tags)]


def migrate_instance(env: dict[str, str]) -> None:
    """`dagster instance migrate` for the instance of `env` (its DAGSTER_HOME): the tables
    made once, before processes that start together on an empty instance race to create
    them (what a team does once, README "Team deployment"). Raises with Dagster's output."""
    done = subprocess.run(
        [sys.executable, "-m", "dagster", "instance", "migrate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode:
        raise RuntimeError(f"dagster instance migrate failed:\n{done.stdout}{done.stderr}"[-3000:])
