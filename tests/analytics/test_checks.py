"""The analytics tables' asset checks: generated from their contracts (`schema`, the key) and
their suites (expectations/analytics.*.yaml), in the code location, passing on tables the
analytics steps computed and failing on a planted bad row.

The good tables are computed by the analytics steps themselves (`STEPS`, `_write`) from the
planted marts of test_assets.py cut to DAYS days (about 3 s), so every expectation is tried on
what the code produces, not on a hand-made frame.
"""

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.analytics.assets import STEPS, _write, analytics_assets, analytics_checks
from assets.quality import _run_suite, suite_of
from core.contracts import contracts
from core.resources import Warehouse
from tests.analytics.test_assets import START, planted_marts

ROOT = Path(__file__).resolve().parents[2]
DAYS = 250  # past MIN_OBS in every window, one large mint studied, one flagged inventory
HEAVY = ("statsmodels", "scipy", "matplotlib")


def key(table: str) -> dg.AssetKey:
    return dg.AssetKey(table.split("."))


@pytest.fixture(scope="module")
def computed(tmp_path_factory) -> Path:
    """A warehouse with every analytics table as the analytics steps write it."""
    path = tmp_path_factory.mktemp("analytics_checks") / "warehouse.duckdb"
    planted_marts(str(path))
    with duckdb.connect(str(path)) as con:
        for table in ("marts.liquidity_daily", "marts.asset_prices_daily", "marts.risk_free_daily"):
            con.execute(f"DELETE FROM {table} WHERE date >= ?", [START + dt.timedelta(days=DAYS)])
    warehouse = Warehouse(path=str(path))
    for step in STEPS:
        _write(warehouse, step.compute(warehouse))
    return path


@pytest.fixture
def stored(computed, tmp_path) -> Path:
    """A copy of the computed warehouse, for one test to plant a problem in."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(computed, copy)
    return copy


def run_checks(path: Path, selection: dg.AssetSelection) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*analytics_assets, *analytics_checks],
        selection=selection,
        resources={"warehouse": Warehouse(path=str(path))},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def test_the_definitions_carry_every_analytics_table_s_checks():
    """One check per expectation of each table's suite, on the table's asset: `schema` and the
    key check from its contract first."""
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    tables = {c.table: c for c in contracts("analytics")}
    assert len(tables) == 15
    for table, contract in tables.items():
        assert graph.has(key(table)), table
        names = {c.name for c in graph.asset_check_keys if c.asset_key == key(table)}
        suite = suite_of(table)
        assert names == {e.name for e in suite.expectations}, table
        assert {"schema", contract.key_check} < names, table
        assert suite.expectations[0].kwargs == {"column_list": list(contract.column_names)}
    # Every check of the analytics layer targets one of its tables.
    assert {c.asset_key for c in graph.asset_check_keys if c.asset_key.path[0] == "analytics"} == {
        key(t) for t in tables
    }


def test_loading_the_definitions_imports_no_statistics():
    """The checks are built from YAML: loading the code location (the UI, the daemon, a
    sensor) still imports neither statsmodels, scipy nor matplotlib."""
    code = (
        "import sys, pipelines.definitions; "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_computed_tables_pass_every_check(computed):
    result = run_checks(computed, dg.AssetSelection.checks(*analytics_checks))
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == sum(
        len(suite_of(c.table).expectations) for c in contracts("analytics")
    )
    assert [(e.asset_key.to_user_string(), e.check_name) for e in evaluations if not e.passed] == []
    assert result.success


def update(table: str, assignments: str, where: str = "TRUE") -> str:
    """UPDATE one row of `table`: the first by its key among those satisfying `where`."""
    grain = suite_of(table).expectations[1].kwargs
    order = ", ".join(grain.get("column_list") or [grain.get("column", "")])
    return (
        f"UPDATE {table} SET {assignments} WHERE rowid = "
        f"(SELECT rowid FROM {table} WHERE {where} ORDER BY {order} LIMIT 1)"
    )


NOT_COUPLED = "verdict <> 'coupled'"


@pytest.mark.parametrize(
    "table,plant,expected",
    [
        (
            "analytics.window_correlation",
            update("analytics.window_correlation", "p_value = 1.5"),
            {"p_value_is_a_probability"},
        ),
        (
            "analytics.decoupling_summary",
            update("analytics.decoupling_summary", "q_bh = 1.5", f"q_bh > 0 AND {NOT_COUPLED}"),
            {"q_bh_is_a_probability"},
        ),
        (
            "analytics.decoupling_summary",
            update("analytics.decoupling_summary", "verdict = 'coupled', q_bh = 0.5"),
            {"coupled_only_below_q_005"},
        ),
        (
            "analytics.decoupling_summary",
            update("analytics.decoupling_summary", "verdict = 'significant'", NOT_COUPLED),
            {"verdict_known"},
        ),
        (
            "analytics.granger_causality",
            "INSERT INTO analytics.granger_causality "
            "SELECT * FROM analytics.granger_causality LIMIT 1",
            {"one_row_per_key"},
        ),
        (
            "analytics.risk_panel",
            "ALTER TABLE analytics.risk_panel RENAME sharpe TO sharpe_ratio",
            {"schema"},
        ),
        (
            # A type the contract does not allow: `schema` compares the columns' names and
            # order (the types are checked before the write, in `_write`); the range check
            # cannot compare text with numbers and fails.
            "analytics.cointegration",
            "ALTER TABLE analytics.cointegration ALTER p_value TYPE VARCHAR",
            {"p_value_is_a_probability"},
        ),
        (
            "analytics.risk_correlation",
            update("analytics.risk_correlation", "correlation = 0.5", "asset_a = asset_b"),
            {"diagonal_is_one"},
        ),
        (
            "analytics.regime_daily",
            update("analytics.regime_daily", "regime = 'both_flat'", "regime IS NOT NULL"),
            {"regime_known"},
        ),
        (
            "analytics.large_mints",
            update("analytics.large_mints", "inventory_reason = 'because'", "NOT inventory"),
            {"studied_mint_has_no_reason"},
        ),
        (
            "analytics.stationarity",
            update("analytics.stationarity", "kpss_p_value = 0.2", "kpss_p_value IS NOT NULL"),
            {"kpss_p_value_within_its_table"},
        ),
    ],
)
def test_a_planted_bad_row_fails_exactly_its_check(stored, table, plant, expected):
    """Run as the check step runs them (`_run_suite`: the stored table, read once): the planted
    problem fails its check, as an ERROR (blocking), and every other check of the table
    passes."""
    with duckdb.connect(str(stored)) as con:
        assert con.execute(plant).fetchall() != [(0,)], "nothing planted"
    results = list(_run_suite(Warehouse(path=str(stored)), suite_of(table)))
    assert len(results) == len(suite_of(table).expectations)
    failed = {r.check_name for r in results if not r.passed}
    assert failed == expected
    assert {r.severity for r in results if not r.passed} == {dg.AssetCheckSeverity.ERROR}


def test_a_failed_check_stops_the_tables_that_read_it(stored):
    """Blocking: with a p-value of 1.5 stored in window_correlation, its check fails in the
    run and decoupling_summary, which reads it, is not rebuilt."""
    with duckdb.connect(str(stored)) as con:
        con.execute(update("analytics.window_correlation", "p_value = 1.5"))
    summary = key("analytics.decoupling_summary")
    result = run_checks(
        stored,
        dg.AssetSelection.checks_for_assets(key("analytics.window_correlation"))
        | dg.AssetSelection.assets(summary),
    )
    assert not result.success
    failed = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
    assert failed == ["p_value_is_a_probability"]
    # The check's step fails; the summary's step never starts (it is not a failure of its own).
    steps = {(e.event_type_value, e.step_key) for e in result.all_events if e.step_key}
    assert ("STEP_FAILURE", "analytics__window_correlation__suite") in steps
    assert {k for _, k in steps} == {"analytics__window_correlation__suite"}
    assert summary not in {e.asset_key for e in result.get_asset_materialization_events()}
