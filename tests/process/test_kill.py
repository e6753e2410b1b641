"""A backfill killed with SIGKILL mid-run, then run again, equals an uninterrupted backfill.

The kill lands after some raw tables of the window are written and before the others and
the models are: the state a power cut or an OOM kill leaves. Every write is one DuckDB
transaction, so the file holds whole windows only, and re-running rewrites them. The dead
run may still hold its slot in the pool "duckdb"; the operator terminates it (the UI's
Terminate) and the daemon frees its slots (dagster.yaml run_monitoring), as done here
through the same instance calls.

The uninterrupted backfill is the session's reference (fixture `backfill_reference`,
tests/process/conftest.py): same sandbox, its own DAGSTER_HOME and files, run in the background
meanwhile, shared with tests/process/test_parallel_backfill.py.
"""

import os
import signal

import dagster as dg
import pytest

from tests.conftest import dagster_instance
from tests.process.test_parallel_backfill import END, START, finish, launch, prepared, tables

pytestmark = pytest.mark.timeout(1800)
# Killed as soon as this step has written its tables, while later steps have not run.
KILL_AFTER = 'Finished execution of step "evm_exchange_reserves"'


def test_sigkill_mid_backfill_then_rerun_equals_an_uninterrupted_run(tmp_path, backfill_reference):
    killed = prepared(tmp_path, backfill_reference.sandbox_env, "killed")
    run = launch(killed, START, END)
    seen = []
    for line in run.stdout:
        seen.append(line)
        if KILL_AFTER in line:
            os.kill(run.pid, signal.SIGKILL)
            break
    run.wait(timeout=60)
    run.stdout.close()
    assert run.returncode == -signal.SIGKILL, "".join(seen[-20:])
    partial = tables(tmp_path / "killed.duckdb")
    assert "raw.evm_exchange_reserves" in partial and "marts.liquidity_daily" not in partial
    free_the_dead_run(killed["DAGSTER_HOME"])
    finish(launch(killed, START, END, log=tmp_path / "rerun.log"))

    uninterrupted, uninterrupted_analyst = backfill_reference.paths()
    assert tables(tmp_path / "killed.duckdb") == tables(uninterrupted)
    assert tables(tmp_path / "killed_analyst.duckdb") == tables(uninterrupted_analyst)


def free_the_dead_run(home: str) -> None:
    """What the UI's Terminate and the daemon's slot cleanup do for a run whose process died."""
    with dagster_instance(home) as instance:
        [dead] = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        # It holds a slot of the pool "duckdb" if it died in a pooled step (not an ingest
        # step: those take turns through the warehouse's lock file, which died with it).
        assert instance.event_log_storage.get_concurrency_run_ids() <= {dead.run_id}
        instance.report_run_canceled(dead, message="the run's process was killed")
        instance.event_log_storage.free_concurrency_slots_for_run(dead.run_id)
