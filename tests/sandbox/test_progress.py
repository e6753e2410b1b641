"""sandbox/progress.py: what `make demo` prints while Dagster plans and runs."""

import time

from sandbox import progress
from sandbox.progress import RunProgress

RUN = "03966f62-3e39-4066-9da6-1f663ff5363d"


def event(kind: str, text: str, step: str | None = None) -> str:
    """A line as `dagster asset materialize` prints it."""
    where = f"{step} - " if step else ""
    return (
        f"2026-11-30 13:40:54 +0000 - dagster - DEBUG - __ASSET_JOB - {RUN} - 26296 - "
        f"{where}{kind} - {text}\n"
    )


def run_lines() -> list[str]:
    return [
        "/x/decorator_utils.py:232: BetaWarning: Parameter ... in beta\n",
        event("RUN_START", 'Started execution of run for "__ASSET_JOB".'),
        event("STEP_START", 'Started execution of step "lead_lag".', "lead_lag"),
        *[
            event("ASSET_MATERIALIZATION", f"Materialized value analytics {t}.", "lead_lag")
            for t in ("window_correlation", "stationarity", "window_correlation")
        ],
        event("STEP_SUCCESS", 'Finished execution of step "lead_lag" in 1.66s.', "lead_lag"),
        event("STEP_START", "Started", "raw__fred_series_daily__suite"),
        event(
            "ASSET_CHECK_EVALUATION",
            "Asset check 'schema' on 'raw/fred_series_daily' passed.",
            "raw__fred_series_daily__suite",
        ),
        event(
            "ASSET_CHECK_EVALUATION",
            "Asset check 'day_over_day_plausible' on 'raw/fred_series_daily' failed.",
            "raw__fred_series_daily__suite",
        ),
        event("STEP_FAILURE", "Execution of step failed.", "raw__fred_series_daily__suite"),
        "2026-11-30 13:41:00 +0000 - dagster - INFO - __ASSET_JOB - x - evm_issuance - "
        "evm_issuance ethereum: 90/1027 days, 1 requests\n",
        event("RUN_FAILURE", 'Execution of run for "__ASSET_JOB" failed.'),
    ]


def test_steps_are_counted_and_named_by_the_assets_they_wrote():
    printed = []
    run = RunProgress(lambda: 2, out=printed.append)
    for line in run_lines():
        run.line(line)
    run.finish()
    text = "\n".join(printed)
    assert "planned: 2 steps to run" in text
    # The step's assets, each once, not the step's name.
    assert "[  1/2] analytics/window_correlation, analytics/stationarity (1.66s)" in text
    assert "lead_lag" not in text
    # A suite's step is its table's checks; a failed check and a failed step say so.
    assert "[  2/2] FAILED checks of raw/fred_series_daily" in text
    assert "CHECK Asset check 'day_over_day_plausible' on 'raw/fred_series_daily' failed." in text
    assert "'schema'" not in text  # passed checks are not news
    assert "reading evm_issuance ethereum: 90/1027 days, 1 requests" in text
    assert "RUN_FAILURE" in text and "the run took" in printed[-1]
    assert "BetaWarning" not in text


def test_planning_says_it_is_alive_until_the_first_step(monkeypatch):
    monkeypatch.setattr(progress, "PLANNING_TICK_S", 0.05)
    printed = []
    run = RunProgress(3, out=printed.append)
    run.start("2021-01-01..2023-10-24")
    time.sleep(0.3)
    run.line(event("STEP_START", "Started", "evm_day_blocks"))
    ticks = sum("still planning" in line for line in printed)
    time.sleep(0.2)
    assert ticks >= 2 and sum("still planning" in line for line in printed) == ticks
    assert printed[0].startswith("  0:00 planning 2021-01-01..2023-10-24")


def test_clock():
    assert progress.clock(0) == "0:00" and progress.clock(135.9) == "2:15"
