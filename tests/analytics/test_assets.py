"""The analytics assets in Dagster, over a warehouse whose marts carry a planted story.

Supply growth leads BTC returns by LEAD days, one large USDT mint is an inventory round trip,
equities and the T-bill are flat series with known answers. The assets must find the lead,
write documented tables, trace every summary number, and attach the charts.
"""

import datetime as dt

import dagster as dg
import duckdb
import numpy as np
import polars as pl
import pytest

from assets.analytics.assets import analytics_assets
from core.contracts import describe, load_contract
from core.resources import Warehouse

LEAD = 3
START = dt.date(2021, 1, 1)
DAYS = 730
INCOMPLETE_DAYS = 50


def planted_marts(path: str) -> None:
    rng = np.random.default_rng(7)
    dates = [START + dt.timedelta(days=i) for i in range(DAYS)]
    growth = rng.normal(0.002, 0.01, DAYS)
    btc_return = np.zeros(DAYS)
    btc_return[LEAD:] = 0.8 * growth[:-LEAD]
    btc_return += rng.normal(0, 0.01, DAYS)
    total = 1e11 * np.exp(np.cumsum(growth))
    btc = 5e11 * np.exp(np.cumsum(btc_return))
    eth = 2e11 * np.exp(np.cumsum(rng.normal(0, 0.03, DAYS)))
    share = np.clip(0.3 + np.arange(DAYS) / DAYS * 0.2 + rng.normal(0, 0.01, DAYS), 0, 1)
    liquidity = pl.DataFrame(
        {
            "date": dates,
            "usdt_supply_tokens": total * 0.6,
            "usdc_supply_tokens": total * 0.3,
            "total_stablecoin_supply_usd": total,
            "spot_exchange_reserve_tokens": 1e9 * (1 - share),
            "derivatives_exchange_reserve_tokens": 1e9 * share,
            "derivatives_share_of_exchange_reserves": share,
            "btc_market_cap_usd": btc,
            "eth_market_cap_usd": eth,
            "ssr": btc / total,
            "fear_greed": rng.integers(0, 101, DAYS).astype(np.int32),
            # USDC is known incomplete on the first INCOMPLETE_DAYS days
            # (raw.known_incomplete_history).
            "usdt_supply_incomplete": False,
            "usdc_supply_incomplete": np.arange(DAYS) < INCOMPLETE_DAYS,
            "total_stablecoin_supply_incomplete": False,
        }
    )
    # Two studied mints, an inventory round trip (0x03 burned again 3 days later) and a small
    # mint on the last day, so the others' 7-day inventory windows are complete.
    # The largest mint of all (0x06) is a bridge minting Arbitrum's USDT: not issuance. Nor is
    # 0x07, USDC arriving by CCTP (staging channel cctp).
    events = pl.DataFrame(
        {
            "date": [dates[100], dates[300], dates[200], dates[203], dates[-1], dates[150]]
            + [dates[400]],
            "chain": ["ethereum"] * 5 + ["arbitrum", "ethereum"],
            "token": ["USDT", "USDC", "USDT", "USDT", "USDT", "USDT", "USDC"],
            "block_number": [100, 300, 200, 203, 729, 150, 400],
            "tx_hash": ["0x01", "0x02", "0x03", "0x04", "0x05", "0x06", "0x07"],
            "log_index": 1,
            "event": ["Issue", "Mint", "Issue", "Redeem", "Issue", "Transfer", "Mint"],
            "direction": ["mint", "mint", "mint", "burn", "mint", "mint", "mint"],
            "channel": ["issuer"] * 5 + ["bridged", "cctp"],
            "amount_tokens": [1e9, 5e8, 1e9, 1e9, 1e6, 5e9, 2e9],
        }
    )
    tokens = pl.DataFrame(
        {
            "chain": ["ethereum", "ethereum", "arbitrum", "arbitrum"],
            "token": ["USDT", "USDC", "USDT", "USDC"],
            "bridged": [False, False, True, False],
        }
    )
    trading = [d for d in dates if d.weekday() < 5]
    prices = pl.concat(
        [
            pl.DataFrame(
                {"date": dates, "asset": "BTC", "close": btc / 1.9e7, "periods_per_year": 365}
            ),
            pl.DataFrame(
                {"date": dates, "asset": "ETH", "close": eth / 1.2e8, "periods_per_year": 365}
            ),
            pl.DataFrame(
                {"date": dates, "asset": "crypto", "close": btc + eth, "periods_per_year": 365}
            ),
            pl.DataFrame(
                {
                    "date": trading,
                    "asset": "SP500",
                    "close": 4000 * 1.0004 ** np.arange(len(trading)),
                    "periods_per_year": 252,
                }
            ),
            pl.DataFrame(
                {
                    "date": trading,
                    "asset": "NASDAQ100",
                    "close": 12000 * np.exp(np.cumsum(rng.normal(0, 0.01, len(trading)))),
                    "periods_per_year": 252,
                }
            ),
        ]
    )
    risk_free = pl.DataFrame({"date": dates, "rate": 0.02})
    with duckdb.connect(path) as con:
        for schema in ("marts", "staging", "raw"):
            con.execute(f"CREATE SCHEMA {schema}")
        for table, frame in [
            ("marts.liquidity_daily", liquidity),
            ("staging.stg_evm__issuance_events", events),
            ("raw.evm_tokens", tokens),
            ("marts.asset_prices_daily", prices),
            ("marts.risk_free_daily", risk_free),
        ]:
            con.register("frame", frame)
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM frame")
            con.unregister("frame")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("analytics")
    path = str(folder / "warehouse.duckdb")
    planted_marts(path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STABLEFLOW_REPORTS_DIR", str(folder / "reports"))
        result = dg.materialize(
            analytics_assets,
            resources={"warehouse": Warehouse(path=path)},
            instance=dg.DagsterInstance.ephemeral(),
        )
    return result, path, folder


def test_every_table_is_written_and_documented(run):
    result, path, _ = run
    assert result.success
    with duckdb.connect(path, read_only=True) as con:
        tables = {
            t
            for (t,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'analytics'"
            ).fetchall()
        }
        assert len(tables) == 15
        for table in tables:
            contract = load_contract(f"analytics.{table}")
            assert contract.disagreements(describe(con, contract.table)) == [], table
            comments = con.execute(
                "SELECT comment FROM duckdb_columns() "
                "WHERE schema_name = 'analytics' AND table_name = ? ORDER BY column_index",
                [table],
            ).fetchall()
            assert all(comment for (comment,) in comments), table


def test_the_planted_lead_is_found_and_the_summary_traces_back(run):
    _, path, _ = run
    with duckdb.connect(path, read_only=True) as con:
        verdict, lag, p, granger_p = con.execute("""
            SELECT s.verdict, s.supply_to_price_lag, s.supply_to_price_p_adj_lags, g.p_value
            FROM analytics.decoupling_summary s
            JOIN analytics.granger_causality g ON g.period = s.period AND g.cause = 'total'
             AND g.effect = 'BTC' AND g.lag = s.supply_to_price_lag
            WHERE s.period = 'full' AND s.supply_series = 'total' AND s.price_series = 'BTC'
        """).fetchone()
        assert (verdict, lag) == ("coupled", LEAD)
        assert p == min(1.0, 14 * granger_p) and p < 0.05
        # ETH was drawn independently of supply: no Granger lead from supply to ETH.
        eth = con.execute(
            "SELECT supply_to_price_p_adj_lags FROM analytics.decoupling_summary "
            "WHERE period = 'full' AND supply_series = 'total' AND price_series = 'ETH'"
        ).fetchone()
        assert eth[0] > 0.05
        # The inventory round trip is flagged and left out of the event study.
        flagged = con.execute(
            "SELECT tx_hash FROM analytics.large_mints WHERE inventory"
        ).fetchall()
        assert flagged == [("0x03",)]
        studied = {
            t
            for (t,) in con.execute(
                "SELECT DISTINCT tx_hash FROM analytics.event_study_returns"
            ).fetchall()
        }
        assert studied == {"0x01", "0x02"}
        # A bridge's mint (raw.evm_tokens.bridged) and a CCTP mint are no issuer mints: not
        # large mints at all.
        assert (
            con.execute(
                "SELECT count(*) FROM analytics.large_mints WHERE tx_hash IN ('0x06', '0x07')"
            ).fetchone()[0]
            == 0
        )
        # A constant 2 % rate and a steady 0.04 % a trading day: the S&P 500's annualised return.
        sp = con.execute(
            "SELECT annualised_return, risk_free_rate FROM analytics.risk_panel "
            "WHERE period = 'full' AND asset = 'SP500'"
        ).fetchone()
        assert sp[0] == pytest.approx(1.0004**252 - 1, rel=1e-9) and sp[1] == pytest.approx(0.02)


def test_days_a_supply_is_known_incomplete_are_left_out(run):
    """read_panel drops the flagged days' USDC, and with them the change into the first
    complete day (the catch-up step of a series that starts counting a missing chain)."""
    _, path, _ = run
    with duckdb.connect(path, read_only=True) as con:
        n_obs = dict(
            con.execute("""
            SELECT supply_series, max(n_obs) FROM analytics.window_correlation
            WHERE period = 'full' GROUP BY supply_series""").fetchall()
        )
    assert n_obs == {"USDT": DAYS - 1, "total": DAYS - 1, "USDC": DAYS - 1 - INCOMPLETE_DAYS}


def test_report_files_and_charts_in_metadata(run):
    result, _, folder = run
    report = folder / "reports" / "decoupling_report.html"
    assert report.exists() and b"data:image/png;base64," in report.read_bytes()
    for name in ("supply_vs_market_cap", "rolling_correlation", "reserves_by_kind", "ssr"):
        assert (folder / "reports" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    [event] = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(["analytics", "decoupling_report"])
    ]
    metadata = event.materialization.metadata
    assert metadata["chart_ssr"].value.startswith("![")
    assert "coupled" in metadata["verdicts"].value


def test_an_empty_liquidity_mart_fails_naming_the_table_not_a_shape_error(tmp_path):
    path = str(tmp_path / "empty.duckdb")
    planted_marts(path)
    with duckdb.connect(path) as con:
        con.execute("DELETE FROM marts.liquidity_daily")
    from assets.analytics.assets import read_panel

    with pytest.raises(ValueError, match=r"marts\.liquidity_daily in .* has no rows"):
        read_panel(Warehouse(path=path))


def test_a_frame_repeating_its_key_is_refused_before_the_write(tmp_path):
    from assets.analytics.assets import _write
    from assets.analytics.decoupling import ROLLING_CORRELATION_SCHEMA
    from core.contracts import ContractError

    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))
    row = {
        "date": dt.date(2021, 1, 1),
        "supply_series": "usdt",
        "price_series": "btc",
        "window_days": 30,
        "correlation": 0.1,
        "n_obs": 30,
    }
    frame = pl.DataFrame([row, row], schema=ROLLING_CORRELATION_SCHEMA)
    with pytest.raises(ContractError, match=r"repeats its key .* in 2 rows"):
        _write(warehouse, {"rolling_correlation": frame})
    assert not warehouse.table_exists("analytics.rolling_correlation")
