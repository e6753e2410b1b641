"""The warehouse's disk fills up during a run: the run fails as a failed run, holding no slot
of the pool "duckdb" and not the warehouse's lock, and once space is back a re-run gives the
tables of an uninterrupted run (issue 15, item 1).

A small tmpfs is mounted for the warehouse (tests/resources/test_warehouse.py: `tmpfs`,
skipped where mounting is not permitted), one window is stored, the disk is filled to the
last page, and the next window runs in its own process with a Dagster instance configured
like the project's (dagster.yaml: pool "duckdb", limit 1, per op). Its FRED step re-reads the
week before the window, so it rewrites stored keys: the write with which DuckDB 1.5.6 used to
abort the whole process (SIGABRT), leaving the run STARTED and its pool slot taken for good.
"""

import datetime as dt
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.ingest import api_assets
from core.resources import Warehouse
from tests.conftest import dagster_instance, fast_source, materialize
from tests.resources.test_warehouse import fill, tmpfs

ROOT = Path(__file__).resolve().parents[2]
D = dt.date
FIRST = (D(2022, 5, 2), D(2022, 5, 4))
SECOND = (D(2022, 5, 5), D(2022, 5, 11))  # FRED re-reads 2022-04-28.., FIRST's days among them
RAW = [
    "raw.coingecko_market_daily",
    "raw.defillama_token_supply",
    "raw.defillama_token_supply_by_chain",
    "raw.defillama_total_supply",
    "raw.fear_greed_daily",
    "raw.fred_series_daily",
]


def api_resources(replay_url: str, warehouse: Warehouse) -> dict:
    return {
        "warehouse": warehouse,
        "defillama": fast_source("defillama", f"{replay_url}/defillama"),
        "coingecko": fast_source("coingecko", f"{replay_url}/coingecko/api/v3"),
        "alternative_me": fast_source("alternative.me", f"{replay_url}/alternative_me"),
        "fred": fast_source("fred", f"{replay_url}/fred"),
    }


# The run on the full disk, in its own process as a run worker is: if DuckDB aborts, the
# process dies and the run is left as the issue found it, instead of ending the test session.
RUN = """
    import datetime as dt, sys
    import dagster as dg
    from assets.ingest import api_assets
    from core.resources import Warehouse
    from tests.conftest import dagster_instance, materialize
    from tests.process.test_disk_full import api_resources

    home, replay_url, path, start, end = sys.argv[1:]
    # min_free_mb=0: no free-space check before writing, so DuckDB meets the full disk itself.
    resources = api_resources(replay_url, Warehouse(path=path, min_free_mb=0))
    with dagster_instance(home) as instance:
        materialize(api_assets, resources, dt.date.fromisoformat(start),
                    dt.date.fromisoformat(end), instance=instance, raise_on_error=False)
"""


def tables(path: Path, where: str = "TRUE", ingested_at: bool = True) -> dict[str, list]:
    skip = "" if ingested_at else " EXCLUDE (ingested_at)"
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            t: con.execute(f"SELECT *{skip} FROM {t} WHERE {where} ORDER BY ALL").fetchall()
            for t in RAW
        }


def headline(error) -> str:
    """The step's own error under Dagster's 'Error occurred while executing op' wrapper."""
    return error.cause.message if error.cause else error.message


@pytest.fixture
def small_disk(tmp_path) -> Path:
    with tmpfs(tmp_path / "disk", "16m") as folder:
        yield folder


def test_a_disk_full_mid_run_fails_the_run_frees_the_pool_and_a_rerun_equals_an_uninterrupted_run(
    small_disk, replay, tmp_path
):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    path = small_disk / "warehouse.duckdb"
    resources = api_resources(replay.url, Warehouse(path=str(path), min_free_mb=0))

    with dagster_instance(home) as instance:
        assert materialize(api_assets, resources, *FIRST, instance=instance).success
        before = tables(path)
        filler = fill(small_disk)

        done = subprocess.run(
            [
                sys.executable,
                "-c",
                textwrap.dedent(RUN),
                str(home),
                replay.url,
                str(path),
                *(day.isoformat() for day in SECOND),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        [run] = instance.get_runs(limit=1)
        assert done.returncode == 0, (
            f"the run's process died (exit {done.returncode}); the run is left "
            f"{run.status.value}:\n{done.stderr[-3000:]}"
        )

        # Recorded as a failed run, every failed step's message leading with the cause.
        assert run.status == dg.DagsterRunStatus.FAILURE
        failures = {
            e.step_key: e.dagster_event.event_specific_data.error
            for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
        }
        assert "raw__fred_series_daily" in failures, sorted(failures)
        for step, error in failures.items():
            assert headline(error).startswith(
                f"core.resources.warehouse.WarehouseError: warehouse {path}: No space left "
                f"on device while writing raw."
            ), (step, error.to_string())
            assert "nothing was written" in headline(error), (step, headline(error))
            assert "cannot rollback" not in error.to_string(), step

        # Nothing lost: the first window's rows (FRED's included, which the run rewrites)
        # are as they were; no partial window: each table has all of the second window's
        # days or none (checked against the re-run below).
        first = f"date <= DATE '{FIRST[1]}'"
        assert tables(path, first) == {
            t: [r for r in rows if r[0] <= FIRST[1]] for t, rows in before.items()
        }
        second = f"date >= DATE '{SECOND[0]}'"
        after_failure = tables(path, second, ingested_at=False)

        # It holds nothing: no slot of the pool "duckdb" claimed or waited for (the next run
        # would wait forever on "Step blocked by limit for pool duckdb"; ingest steps are in
        # no pool, the checks are), and the warehouse's lock file is free (the re-run below
        # writes).
        info = instance.event_log_storage.get_concurrency_info("duckdb")
        assert info.claimed_slots == [] and info.pending_steps == []
        assert instance.event_log_storage.get_concurrency_run_ids() == set()

        filler.unlink()
        assert materialize(api_assets, resources, *SECOND, instance=instance).success

    rerun = tables(path, second, ingested_at=False)
    assert all(after_failure[t] in ([], rerun[t]) for t in RAW), {
        t: len(after_failure[t]) for t in RAW
    }

    reference = Warehouse(path=str(tmp_path / "uninterrupted.duckdb"))
    for window in (FIRST, SECOND):
        assert materialize(api_assets, api_resources(replay.url, reference), *window).success
    assert tables(path, ingested_at=False) == tables(Path(reference.path), ingested_at=False)
