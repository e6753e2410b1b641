"""End to end: `python -m sandbox.demo` (what `make demo` runs) through the Dagster CLI.

Runs the whole sandbox window into a fresh warehouse and DAGSTER_HOME: every raw table holds
every day of the window, the demo prints its summary. Then the demo again, re-planting the
chains for the whole window as a second `make demo` does, but re-running only the window's
last days (and every unpartitioned model, analytics table, report and the analysts' copy,
which each run rebuilds from the whole warehouse): the chains planted again are the same
(ground truth, transaction hashes included) and the re-run leaves the tables identical to the
first run's (row-for-row, ingestion times included). A second whole-window run only re-reads
more days through the same code, at the cost of a second full demo.
"""

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from sandbox.chain import GroundTruth
from sandbox.world import WINDOW_END, WINDOW_START
from tests.conftest import dagster_instance
from tests.test_models import analyst_queries, readme_queries

ROOT = Path(__file__).resolve().parents[2]
# One whole sandbox demo (about five minutes on 2 cores) and a re-run of its last days.
pytestmark = pytest.mark.timeout(1800)
DAYS = (WINDOW_END - WINDOW_START).days + 1
# The re-run: the window's last three days.
RERUN_START = WINDOW_END - dt.timedelta(days=2)


def run_demo(tmp_path: Path, *args: str) -> str:
    # every configured chain, as `make demo` reads them (the test session defaults to Ethereum)
    env = {
        **{k: v for k, v in os.environ.items() if k != "STABLEFLOW_CHAINS"},
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "STABLEFLOW_WAREHOUSE": str(tmp_path / "stableflow.duckdb"),
        "STABLEFLOW_ANALYST_WAREHOUSE": str(tmp_path / "stableflow_analyst.duckdb"),
        "STABLEFLOW_REPORTS_DIR": str(tmp_path / "reports"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "sandbox.demo", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def checksums(path: Path) -> dict[str, tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_schema || '.' || table_name FROM information_schema.tables"
            ).fetchall()
        ]
        return {
            t: con.execute(f"SELECT count(*), sum(hash(COLUMNS(*))) FROM {t}").fetchone()
            for t in tables
        }


def test_demo_fills_the_window_and_is_repeatable(tmp_path):
    out = run_demo(tmp_path)
    # 9 DefiLlama (all, per token: the chart, /stablecoin/{id} and, before 2022-05-12, the
    # chart of each configured chain: Ethereum and Arbitrum) + 12 CoinGecko (4 coins x 3
    # years) + 1 alternative.me + 3 FRED; JSON-RPC goes to the chains.
    assert "RUN_SUCCESS" in out and "HTTP requests served by the replay server: 25" in out
    warehouse = tmp_path / "stableflow.duckdb"
    assert f"warehouse: {warehouse}" in out
    with duckdb.connect(str(warehouse), read_only=True) as con:
        per_key = {
            "raw.defillama_total_supply": "'all'",
            "raw.defillama_token_supply": "token",
            "raw.coingecko_market_daily": "coin_id",
            "raw.evm_day_blocks": "chain",
            "raw.evm_token_supply": "chain || token",
            "raw.evm_issuance_daily": "chain || token",
            "raw.evm_exchange_reserves": "chain || token || exchange",
            "raw.evm_exchange_flows": "chain || token || exchange",
        }
        for table, key in per_key.items():
            rows = con.execute(
                f"SELECT {key} AS k, count(DISTINCT date), min(date), max(date) FROM {table} "
                "GROUP BY k ORDER BY k"
            ).fetchall()
            assert rows, table
            for k, days, first, last in rows:
                assert (days, first, last) == (DAYS, WINDOW_START, WINDOW_END), (table, k)
        assert {
            r[0]
            for r in con.execute("SELECT DISTINCT token FROM raw.defillama_token_supply").fetchall()
        } == {"USDT", "USDC"}
        assert (
            len(con.execute("SELECT DISTINCT coin_id FROM raw.coingecko_market_daily").fetchall())
            == 4
        )
        check_against_truth(con, GroundTruth.read(tmp_path / "sandbox_truth"))
        # Which world was read is recorded with the data.
        assert con.execute(
            "SELECT world, latest, onchain_simulated, chains FROM raw.data_world"
        ).fetchall() == [("sandbox", True, True, "ethereum,arbitrum")]
    # The analysts' copy: read-only, every mart over the whole window, every column documented.
    analyst = tmp_path / "stableflow_analyst.duckdb"
    assert f"analysts' copy (open it read-only): {analyst}" in out
    with duckdb.connect(str(analyst), read_only=True) as con:
        marts = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts'"
            ).fetchall()
        ]
        assert "liquidity_daily" in marts
        dated = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_columns() WHERE "
                "schema_name = 'marts' AND column_name = 'date'"
            ).fetchall()
        }
        assert set(marts) - dated == {"exchanges", "label_coverage"}
        for mart in sorted(dated):
            first_day, last_day = con.execute(
                f"SELECT min(date), max(date) FROM marts.{mart}"
            ).fetchone()
            # The T-bill rate starts with its first value: 2021-01-01 is a holiday, then a weekend.
            slack = 3 if mart == "risk_free_daily" else 1
            assert (
                first_day <= WINDOW_START + dt.timedelta(days=slack) and last_day == WINDOW_END
            ), mart
        assert (
            con.execute(
                "SELECT count(*) FROM duckdb_columns() WHERE schema_name IN "
                "('marts', 'analytics') AND coalesce(comment, '') = ''"
            ).fetchone()[0]
            == 0
        )
        assert (
            con.execute("SELECT count(DISTINCT date) FROM marts.liquidity_daily").fetchone()[0]
            == DAYS
        )
        for name, sql in analyst_queries().items():
            assert con.execute(sql).fetchall(), name
        for sql in readme_queries():
            assert con.execute(sql).fetchall(), sql
        check_analytics(con, out)
    report = (tmp_path / "reports" / "decoupling_report.html").read_bytes()
    # The reader is told, first thing, that the on-chain numbers are simulated.
    assert b'<p class="notice"><strong>Notice:</strong> SIMULATED: every on-chain value' in report
    assert f"report: {tmp_path / 'reports' / 'decoupling_report.html'}" in out
    # Repeatable: the demo again over the same warehouse and DAGSTER_HOME, the chains planted
    # again for the whole window, the last days and everything unpartitioned run again.
    first, first_analyst = checksums(warehouse), checksums(analyst)
    truth = GroundTruth.read(tmp_path / "sandbox_truth")
    again = run_demo(tmp_path, "--run-start", RERUN_START.isoformat())
    assert f"materialising every asset for {RERUN_START}..{WINDOW_END} as one run" in again
    assert "RUN_SUCCESS" in again
    assert [run.tags["dagster/asset_partition_range_start"] for run in dagster_runs(tmp_path)] == [
        RERUN_START.isoformat(),
        WINDOW_START.isoformat(),
    ]
    replanted = GroundTruth.read(tmp_path / "sandbox_truth")
    for name in GroundTruth.TABLES:
        assert getattr(replanted, name).equals(getattr(truth, name)), name
    assert checksums(warehouse) == first
    assert checksums(analyst) == first_analyst
    assert (tmp_path / "reports" / "decoupling_report.html").read_bytes() == report


def dagster_runs(tmp_path: Path) -> list:
    """The successful runs recorded in the demo's DAGSTER_HOME, newest first."""
    with dagster_instance(tmp_path / "dagster_home") as instance:
        return instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS]))


def check_against_truth(con, truth: GroundTruth) -> None:
    """Both chains' on-chain tables against the planted ground truth, exactly where the truth
    is exact (base units), and the planted story under both taxonomies in the marts."""
    stored = con.execute(
        "SELECT date, chain, token, supply_raw::HUGEINT FROM raw.evm_token_supply ORDER BY ALL"
    ).fetchall()
    assert (
        stored
        == truth.supply.select("date", "chain", "token", "supply_raw")
        .sort("date", "chain", "token")
        .rows()
    )
    assert {
        r[0] for r in con.execute("SELECT DISTINCT chain FROM raw.evm_token_supply").fetchall()
    } == {"ethereum", "arbitrum"}
    issued = con.execute(
        "SELECT date, chain, token, minted_raw::HUGEINT, burned_raw::HUGEINT "
        "FROM raw.evm_issuance_daily ORDER BY ALL"
    ).fetchall()
    assert (
        issued
        == truth.issuance.select("date", "chain", "token", "minted_raw", "burned_raw")
        .sort("date", "chain", "token")
        .rows()
    )
    held = con.execute(
        "SELECT date, chain, token, exchange, balance_raw::HUGEINT FROM raw.evm_exchange_reserves "
        "WHERE balance_raw > 0 ORDER BY ALL"
    ).fetchall()
    planted = (
        truth.reserves.group_by("date", "chain", "token", "exchange")
        .agg(pl.col("balance_raw").sum())
        .filter(pl.col("balance_raw") > 0)
        .sort("date", "chain", "token", "exchange")
    )
    assert held == planted.rows()
    flows = con.execute(
        "SELECT date, chain, token, exchange, inflow_raw::HUGEINT, outflow_raw::HUGEINT "
        "FROM raw.evm_exchange_flows WHERE inflow_raw > 0 OR outflow_raw > 0 ORDER BY ALL"
    ).fetchall()
    moved = (
        truth.flows.filter((pl.col("inflow_raw") > 0) | (pl.col("outflow_raw") > 0))
        .select("date", "chain", "token", "exchange", "inflow_raw", "outflow_raw")
        .sort("date", "chain", "token", "exchange")
    )
    assert flows == moved.rows()
    # The story, as an analyst reads it from the marts, under both taxonomies.
    for chain, token, taxonomy, kind, first, last in truth.story.select(
        "chain", "token", "taxonomy", "kind", "first_tokens", "last_tokens"
    ).rows():
        got = con.execute(
            "SELECT max(reserve_tokens) FILTER (WHERE date = ?), "
            "max(reserve_tokens) FILTER (WHERE date = ?) "
            "FROM marts.exchange_reserves_by_kind_daily "
            "WHERE chain = ? AND token = ? AND taxonomy = ? AND kind = ?",
            [WINDOW_START, WINDOW_END, chain, token, taxonomy, kind],
        ).fetchone()
        assert got == pytest.approx((first, last), rel=1e-9), (chain, token, taxonomy, kind)
    # the reports' claims, on the ERC-20 figures: derivatives USDT up by about half, USDC on
    # spot venues halved
    ratio = dict(
        con.execute(
            "SELECT token || ' ' || kind, max(reserve_tokens) FILTER (WHERE date = ?) / "
            "max(reserve_tokens) FILTER (WHERE date = ?) "
            "FROM marts.exchange_reserves_by_kind_daily "
            "WHERE chain = 'ethereum' AND taxonomy = 'offers_derivatives' GROUP BY ALL",
            [WINDOW_END, WINDOW_START],
        ).fetchall()
    )
    assert 1.35 < ratio["USDT derivatives"] < 1.65 and 0.4 < ratio["USDC spot"] < 0.6
    # coverage: every exchange the truth gave a balance has one in label_coverage
    holding = {
        (c, e)
        for c, e in truth.reserves.filter(pl.col("balance_raw") > 0)
        .select("chain", "exchange")
        .unique()
        .rows()
    }
    covered = set(
        con.execute(
            "SELECT chain, exchange FROM marts.label_coverage WHERE days_with_balance > 0"
        ).fetchall()
    )
    assert covered == holding


def check_analytics(con, out: str) -> None:
    """Every analytics table is filled, and every number of decoupling_summary is one of the
    analytics tables' (Granger p-values after the stated Bonferroni factor of 14 lags), and
    the verdict follows its q-value."""
    for table in (
        "rolling_correlation",
        "granger_causality",
        "cointegration",
        "regime_daily",
        "structural_breaks",
        "large_mints",
        "event_study_summary",
        "exchange_migration",
        "risk_panel",
        "risk_correlation",
        "decoupling_summary",
    ):
        assert con.execute(f"SELECT count(*) FROM analytics.{table}").fetchone()[0] > 0, table
    windows = {
        r[0]
        for r in con.execute("SELECT DISTINCT period FROM analytics.decoupling_summary").fetchall()
    }
    assert windows == {"full", "2021", "2022", "2023", "trailing_365d", "trailing_90d"}
    assert con.execute("SELECT count(*) FROM analytics.decoupling_summary").fetchone()[0] == 6 * 9
    untraced = con.execute("""
        SELECT s.period, s.supply_series, s.price_series
        FROM analytics.decoupling_summary AS s
        LEFT JOIN analytics.granger_causality AS gs
          ON gs.period = s.period AND gs.cause = s.supply_series AND gs.effect = s.price_series
         AND gs.lag = s.supply_to_price_lag
        LEFT JOIN analytics.granger_causality AS gp
          ON gp.period = s.period AND gp.cause = s.price_series AND gp.effect = s.supply_series
         AND gp.lag = s.price_to_supply_lag
        LEFT JOIN analytics.cointegration AS eg
          ON eg.period = s.period AND eg.supply_series = s.supply_series
         AND eg.price_series = s.price_series AND eg.method = 'engle_granger'
        LEFT JOIN analytics.cointegration AS jo
          ON jo.period = s.period AND jo.supply_series = s.supply_series
         AND jo.price_series = s.price_series AND jo.method = 'johansen'
        LEFT JOIN analytics.window_correlation AS wc
          ON wc.period = s.period AND wc.supply_series = s.supply_series
         AND wc.price_series = s.price_series
        WHERE s.supply_to_price_p_adj_lags IS DISTINCT FROM least(1, 14 * gs.p_value)
           OR s.price_to_supply_p_adj_lags IS DISTINCT FROM least(1, 14 * gp.p_value)
           OR s.engle_granger_p IS DISTINCT FROM eg.p_value
           OR s.johansen_trace IS DISTINCT FROM jo.statistic
           OR s.johansen_critical_5pct IS DISTINCT FROM jo.critical_value_5pct
           OR s.correlation IS DISTINCT FROM wc.correlation""").fetchall()
    assert untraced == []
    # The verdict's number is a column: filtering on it gives exactly the coupled rows.
    assert con.execute(
        "SELECT count(*) FROM analytics.decoupling_summary "
        "WHERE (q_bh < 0.05) IS DISTINCT FROM (verdict = 'coupled')"
    ).fetchone() == (0,)
    # The demo prints the verdict of every window for the headline pair.
    headline = con.execute(
        "SELECT period, verdict FROM analytics.decoupling_summary "
        "WHERE supply_series = 'total' AND price_series = 'crypto'"
    ).fetchall()
    for period, verdict in headline:
        assert re.search(rf"^  {period} +{verdict} ", out, re.MULTILINE), (period, verdict)
