"""Large mints, the event study, exchange migration and the risk panel against truth built by hand.

Every expected value here is computed independently of assets/analytics/markets.py: from the
planted series directly (plain Python / numpy on the generating arrays), or by hand.
"""

import datetime as dt
import io
import math
import statistics

import numpy as np
import polars as pl
import pytest

from assets.analytics import markets
from assets.analytics.markets import (
    annualised_return,
    annualised_volatility,
    event_study,
    exchange_migration,
    large_mints,
    max_drawdown,
    risk_correlation,
    risk_panel,
    sharpe_ratio,
)

START = dt.date(2020, 1, 1)
ISSUANCE_SCHEMA = {
    "date": pl.Date,
    "token": pl.Utf8,
    "tx_hash": pl.Utf8,
    "log_index": pl.Int64,
    "direction": pl.Utf8,
    "amount_tokens": pl.Float64,
}


def _day(i: int) -> dt.date:
    return START + dt.timedelta(days=i)


def _btc_panel(log_returns: np.ndarray, **columns) -> pl.DataFrame:
    """Daily panel whose BTC log return on day t is log_returns[t] (day 0 has none)."""
    mcap = 1e12 * np.exp(np.cumsum(np.concatenate([[0.0], log_returns[1:]])))
    days = [_day(i) for i in range(len(log_returns))]
    return pl.DataFrame({"date": days, "btc_mcap": mcap, **columns})


def _issuance(*rows: tuple) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=ISSUANCE_SCHEMA, orient="row")


def _as_issuance(mints: pl.DataFrame) -> list[tuple]:
    """A large_mints table back as issuance rows, to add more events to it."""
    return mints.select("date", "token", "tx_hash", "log_index", pl.lit("mint"), "amount_tokens").rows()


def _summary_row(summary: pl.DataFrame, token: str, car_window: str) -> dict:
    chosen = summary.filter((pl.col("token") == token) & (pl.col("car_window") == car_window))
    return chosen.row(0, named=True)


# --- large mints ------------------------------------------------------------------------------


def test_round_trip_flagged_and_near_misses_not():
    d = dt.date(2021, 3, 1)

    def later(days: int) -> dt.date:
        return d + dt.timedelta(days=days)

    events = _issuance(
        (d, "USDT", "0xm1", 1, "mint", 1_000_000_000.0),
        (later(3), "USDT", "0xb1", 7, "burn", 1_003_000_000.0),  # within 0.5%, 3 days later
        (d, "USDT", "0xm2", 2, "mint", 500_000_000.0),
        (later(10), "USDT", "0xb2", 1, "burn", 500_000_000.0),  # too late
        (d, "USDC", "0xm3", 1, "mint", 800_000_000.0),
        (later(2), "USDC", "0xb3", 1, "burn", 600_000_000.0),  # different amount
        (d, "USDC", "0xm4", 1, "mint", 400_000_000.0),
        (later(1), "USDT", "0xb4", 1, "burn", 400_000_000.0),  # other token
        (d, "USDT", "0xsmall", 1, "mint", 100_000_000.0),  # below the threshold
    )
    table = large_mints(events)
    assert dict(table.schema) == markets.LARGE_MINTS_SCHEMA
    flagged = dict(zip(table["tx_hash"], table["inventory"]))
    assert flagged == {"0xm1": True, "0xm2": False, "0xm3": False, "0xm4": False}
    reason = table.filter(pl.col("tx_hash") == "0xm1")["inventory_reason"][0]
    assert reason.startswith("burned 1,003,000,000 USDT again on 2021-03-04 (tx 0xb1")
    assert table.filter(~pl.col("inventory"))["inventory_reason"].null_count() == 3


def test_one_burn_reverses_only_one_mint():
    d = dt.date(2021, 5, 10)
    events = _issuance(
        (d, "USDT", "0xa", 1, "mint", 300_000_000.0),
        (d, "USDT", "0xb", 1, "mint", 300_000_000.0),
        (d + dt.timedelta(days=1), "USDT", "0xburn", 1, "burn", 300_000_000.0),
    )
    assert large_mints(events)["inventory"].to_list() == [True, False]


# --- event study ------------------------------------------------------------------------------

N_DAYS = 1500
EVENT_DAYS = list(range(70, N_DAYS - 11, 80))  # 80 days apart: no window overlaps another


def _planted_study(seed: int, effect: tuple[float, float]) -> tuple[np.ndarray, pl.DataFrame]:
    """BTC log returns N(0, 2%) with `effect` added on days 0 and +1 of every event day."""
    r = np.random.default_rng(seed).normal(0.0, 0.02, N_DAYS)
    for i in EVENT_DAYS:
        r[i] += effect[0]
        r[i + 1] += effect[1]
    rows = [
        (_day(i), "USDT" if k % 2 else "USDC", f"0x{k:04d}", 1, "mint", 1e9)
        for k, i in enumerate(EVENT_DAYS)
    ]
    # A second USDT mint on a USDT day and a USDC mint on that day: one BTC path, counted once.
    shared = _day(EVENT_DAYS[1])
    rows += [(shared, "USDT", "0xdup", 2, "mint", 5e8), (shared, "USDC", "0xboth", 1, "mint", 5e8)]
    return r, large_mints(_issuance(*rows))


def _hand_car(r: np.ndarray, i: int, first: int, last: int) -> float:
    expected = r[i - 60 : i - 10].mean()
    return float(sum(r[i + k] - expected for k in range(first, last + 1)))


def test_planted_abnormal_return_is_recovered_and_significant():
    r, mints = _planted_study(seed=11, effect=(0.05, 0.02))
    returns, summary = event_study(_btc_panel(r), mints)
    assert dict(summary.schema) == markets.EVENT_STUDY_SUMMARY_SCHEMA

    for token in ("USDT", "USDC", "all"):
        row = _summary_row(summary, token, "0..+1")
        assert row["mean_car"] == pytest.approx(0.07, abs=0.02)
        assert row["p_value"] < 0.001 and row["t_stat"] > 0

    # 'all' counts one event per day; its mean CAR is the plain average over the event days.
    row = _summary_row(summary, "all", "0..+5")
    assert row["n_events"] == len(EVENT_DAYS)
    hand = np.mean([_hand_car(r, i, 0, 5) for i in EVENT_DAYS])
    assert row["mean_car"] == pytest.approx(hand, abs=1e-12)
    # USDT days are the odd events (0xdup adds no day); 0xboth adds one USDC day.
    assert _summary_row(summary, "USDT", "0..+1")["n_events"] == len(EVENT_DAYS[1::2])
    assert _summary_row(summary, "USDC", "0..+1")["n_events"] == len(EVENT_DAYS[0::2]) + 1

    # Table 10: one 16-row block per mint log (the same-day duplicates included), values from r.
    assert dict(returns.schema) == markets.EVENT_STUDY_RETURNS_SCHEMA
    assert returns.height == 16 * mints.height
    block = returns.filter(pl.col("tx_hash") == "0xdup")
    i = EVENT_DAYS[1]
    assert block["offset"].to_list() == list(range(-5, 11))
    assert block["date"].to_list() == [_day(i + k) for k in range(-5, 11)]
    np.testing.assert_allclose(block["btc_return"].to_numpy(), r[i - 5 : i + 11], atol=1e-12)
    assert block["expected_return"][0] == pytest.approx(r[i - 60 : i - 10].mean(), abs=1e-12)
    assert block["car"][-1] == pytest.approx(_hand_car(r, i, -5, 10), abs=1e-12)


def test_no_planted_effect_is_not_significant():
    r, mints = _planted_study(seed=11, effect=(0.0, 0.0))
    _, summary = event_study(_btc_panel(r), mints)
    for token in ("USDT", "USDC", "all"):
        assert _summary_row(summary, token, "0..+1")["p_value"] > 0.05


def test_event_with_null_return_in_its_windows_is_skipped():
    r, mints = _planted_study(seed=11, effect=(0.05, 0.02))
    gap = _day(EVENT_DAYS[0] - 30)  # inside the first event's estimation window
    btc_mcap = pl.when(pl.col("date") == gap).then(None).otherwise(pl.col("btc_mcap"))
    returns, summary = event_study(_btc_panel(r).with_columns(btc_mcap.alias("btc_mcap")), mints)
    assert _day(EVENT_DAYS[0]) not in returns["event_date"].to_list()
    assert _summary_row(summary, "all", "0..+1")["n_events"] == len(EVENT_DAYS) - 1


def test_inventory_round_trip_is_excluded_from_the_study():
    r, mints = _planted_study(seed=3, effect=(0.05, 0.02))
    i = EVENT_DAYS[3]
    events = _issuance(
        *_as_issuance(mints),
        (_day(i), "USDT", "0xswap", 9, "mint", 2e9),
        (_day(i + 3), "USDT", "0xswapback", 1, "burn", 2e9),
    )
    returns, summary = event_study(_btc_panel(r), large_mints(events))
    assert "0xswap" not in returns["tx_hash"].to_list()
    one_window = summary.filter(pl.col("car_window") == "0..+1")
    excluded = dict(one_window.select("token", "excluded_inventory").rows())
    assert excluded == {"USDT": 1, "USDC": 0, "all": 1}


def test_short_panel_gives_empty_event_study():
    mints = large_mints(_issuance((_day(20), "USDT", "0x1", 1, "mint", 1e9)))
    returns, summary = event_study(_btc_panel(np.zeros(40)), mints)
    assert returns.is_empty() and dict(returns.schema) == markets.EVENT_STUDY_RETURNS_SCHEMA
    assert summary.height == 9 and summary["n_events"].sum() == 0
    assert summary["mean_car"].null_count() == 9 and summary["p_value"].null_count() == 9


# --- exchange migration -----------------------------------------------------------------------


def _share_panel(
    n: int, slope_per_year: float, seed: int
) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """derivatives_share = 0.2 + slope * years + AR(1) noise; independent BTC returns."""
    rng = np.random.default_rng(seed)
    noise = np.zeros(n)
    for t in range(1, n):  # serially correlated deviations: what the HAC errors are for
        noise[t] = 0.5 * noise[t - 1] + rng.normal(0.0, 0.005)
    share = 0.2 + slope_per_year * np.arange(n) / 365.25 + noise
    r = rng.normal(0.0, 0.02, n)
    return _btc_panel(r, derivatives_share=share), share, r


def test_planted_trend_is_recovered():
    panel, share, r = _share_panel(1096, slope_per_year=0.08, seed=5)
    table = exchange_migration(panel)
    assert dict(table.schema) == markets.EXCHANGE_MIGRATION_SCHEMA
    names = ["2020", "2021", "2022", "full", "trailing_365d", "trailing_90d"]
    assert table["period"].to_list() == names
    full = table.filter(pl.col("period") == "full").row(0, named=True)
    assert full["trend_per_year"] == pytest.approx(0.08, abs=0.005)
    assert full["trend_p_value"] < 1e-6
    assert (full["share_start"], full["share_end"], full["n_obs"]) == (share[0], share[-1], 1096)
    # Correlation of the share's daily change with BTC's return, aligned by hand.
    expected = np.corrcoef(np.diff(share), r[1:])[0, 1]
    assert full["corr_share_change_btc_return"] == pytest.approx(expected, abs=1e-12)


def test_short_windows_give_null_statistics():
    statistics_columns = (
        "trend_per_year", "trend_p_value", "corr_share_change_btc_return", "corr_p_value"
    )
    panel, _, _ = _share_panel(380, slope_per_year=0.08, seed=5)  # 2020-01-01 .. 2021-01-14
    table = exchange_migration(panel)
    short = table.filter(pl.col("period") == "2021").row(0, named=True)
    assert short["n_obs"] == 14 and short["share_start"] is not None
    assert [short[c] for c in statistics_columns] == [None] * 4
    assert table.filter(pl.col("period") == "full")["trend_per_year"][0] is not None

    tiny = _btc_panel(np.zeros(40), derivatives_share=np.full(40, 0.3))
    assert exchange_migration(tiny)["trend_per_year"].null_count() == 4  # full, 2020, both trailing


# --- risk panel -------------------------------------------------------------------------------


def test_risk_metrics_by_hand():
    assert max_drawdown(np.array([100.0, 120.0, 60.0, 90.0])) == -0.5
    assert max_drawdown(np.array([1.0, 2.0, 3.0])) == 0.0

    growing = 100 * 1.001 ** np.arange(101)  # 100 returns of 0.1%
    assert annualised_return(growing, 365) == pytest.approx(1.001**365 - 1, rel=1e-9)

    alternating = np.array([100.0, 110.0] * 50 + [100.0])  # 100 returns: +10%, -1/11, ...
    n = 100
    assert annualised_return(alternating, 252) == pytest.approx(0.0, abs=1e-12)
    log_sd = math.log(1.1) * math.sqrt(n / (n - 1))  # log returns are +-log(1.1), mean 0
    assert annualised_volatility(alternating, 252) == pytest.approx(log_sd * math.sqrt(252), rel=1e-12)
    mean = (0.1 - 1 / 11) / 2
    sd = (0.1 + 1 / 11) / 2 * math.sqrt(n / (n - 1))
    expected = (mean * 252 - 0.03) / (sd * math.sqrt(252))
    assert sharpe_ratio(alternating, 252, 0.03) == pytest.approx(expected, rel=1e-9)


def _weekdays(start: dt.date, end: dt.date) -> list[dt.date]:
    days = (start + dt.timedelta(days=i) for i in range((end - start).days + 1))
    return [d for d in days if d.weekday() < 5]


def test_risk_panel_matches_hand_computation():
    days = _weekdays(dt.date(2023, 1, 2), dt.date(2023, 4, 28))
    closes = [100.0, 120.0, 60.0, 90.0] + [90.0 * (1 + 0.01 * (-1) ** k) for k in range(len(days) - 4)]
    prices = pl.DataFrame({"date": days, "asset": "SP500", "close": closes, "periods_per_year": 252})
    holiday = dt.date(2023, 1, 16)
    risk_free = pl.DataFrame({"date": days, "rate": [None if d == holiday else 0.03 for d in days]})
    table = risk_panel(prices, risk_free)
    assert dict(table.schema) == markets.RISK_PANEL_SCHEMA
    row = table.filter(pl.col("period") == "full").row(0, named=True)

    n = len(closes) - 1
    simple = [b / a - 1 for a, b in zip(closes, closes[1:])]
    logs = [math.log(b / a) for a, b in zip(closes, closes[1:])]
    sharpe = (statistics.fmean(simple) * 252 - 0.03) / (statistics.stdev(simple) * math.sqrt(252))
    assert row["n_obs"] == n and row["periods_per_year"] == 252
    assert row["max_drawdown"] == pytest.approx(-0.5)
    assert row["annualised_return"] == pytest.approx((closes[-1] / closes[0]) ** (252 / n) - 1, rel=1e-9)
    volatility = statistics.stdev(logs) * math.sqrt(252)
    assert row["annualised_volatility"] == pytest.approx(volatility, rel=1e-9)
    assert row["risk_free_rate"] == pytest.approx(0.03, abs=1e-15)
    assert row["sharpe"] == pytest.approx(sharpe, rel=1e-9)


def test_risk_free_is_forward_filled_and_short_windows_are_null():
    days = [dt.date(2023, 1, 2) + dt.timedelta(days=i) for i in range(5)]
    closes = [1.0, 2.0, 3.0, 4.0, 5.0]
    prices = pl.DataFrame({"date": days, "asset": "BTC", "close": closes, "periods_per_year": 365})
    # Holidays on the 3rd and 4th carry 1%; the 6th, not yet published, carries the 5th's 4%.
    risk_free = pl.DataFrame({"date": days[:4], "rate": [0.01, None, None, 0.04]})
    row = risk_panel(prices, risk_free).filter(pl.col("period") == "full").row(0, named=True)
    assert row["risk_free_rate"] == pytest.approx((0.01 + 0.01 + 0.01 + 0.04 + 0.04) / 5)
    assert row["n_obs"] == 4
    metrics = ("annualised_return", "annualised_volatility", "sharpe", "max_drawdown")
    assert [row[c] for c in metrics] == [None] * 4

    corr = risk_correlation(prices)
    assert corr["correlation"].null_count() == corr.height == 2  # full and 2023, BTC x BTC


# --- risk correlation -------------------------------------------------------------------------


def test_correlation_on_trading_days_with_weekend_spanning_crypto():
    rng = np.random.default_rng(8)
    all_days = [dt.date(2022, 1, 1) + dt.timedelta(days=i) for i in range(730)]
    holidays = {dt.date(2022, 7, 4), dt.date(2022, 12, 26), dt.date(2023, 1, 2)}
    trading = [d for d in all_days if d.weekday() < 5 and d not in holidays]
    sp = 4000 * np.exp(np.cumsum(rng.normal(0, 0.01, len(trading))))
    ndx = sp * np.exp(np.cumsum(rng.normal(0, 0.005, len(trading))))
    eth = 2000 * np.exp(np.cumsum(rng.normal(0, 0.03, len(all_days))))
    # BTC equals 10 x SP500 at every trading-day close and wanders on weekends and holidays:
    # only close-to-close returns across the weekend make it perfectly correlated with SP500.
    sp_on = dict(zip(trading, sp))
    btc = [10 * sp_on[d] if d in sp_on else 40_000 * rng.uniform(0.5, 2.0) for d in all_days]
    prices = pl.concat([
        pl.DataFrame({"date": all_days, "asset": "BTC", "close": btc, "periods_per_year": 365}),
        pl.DataFrame({"date": all_days, "asset": "ETH", "close": eth, "periods_per_year": 365}),
        pl.DataFrame({"date": trading, "asset": "SP500", "close": sp, "periods_per_year": 252}),
        pl.DataFrame({"date": trading, "asset": "NASDAQ100", "close": ndx, "periods_per_year": 252}),
    ])
    table = risk_correlation(prices)
    assert dict(table.schema) == markets.RISK_CORRELATION_SCHEMA

    assets = ["BTC", "ETH", "NASDAQ100", "SP500"]
    eth_on = dict(zip(all_days, eth))
    aligned = np.column_stack([
        [10 * sp_on[d] for d in trading], [eth_on[d] for d in trading], ndx, sp
    ])
    years = {"full": (2022, 2023), "2022": (2022, 2022), "2023": (2023, 2023)}
    for window, (first_year, last_year) in years.items():
        closes = aligned[[first_year <= d.year <= last_year for d in trading]]
        expected = np.corrcoef(closes[1:] / closes[:-1] - 1, rowvar=False)
        part = table.filter(pl.col("period") == window)
        matrix = np.array(part["correlation"].to_list()).reshape(4, 4)
        assert part["asset_a"].to_list() == [a for a in assets for _ in assets]
        assert part["asset_b"].to_list() == assets * 4
        np.testing.assert_allclose(matrix, expected, atol=1e-12)
        assert (np.diag(matrix) == 1.0).all() and (matrix == matrix.T).all()
        assert set(part["n_obs"].to_list()) == {len(closes) - 1}
        assert matrix[0, 3] == pytest.approx(1.0, abs=1e-12)  # BTC vs SP500


# --- determinism ------------------------------------------------------------------------------


def _ipc_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_ipc(buffer)
    return buffer.getvalue()


def _all_tables(panel, issuance, prices, risk_free) -> list[pl.DataFrame]:
    mints = large_mints(issuance)
    return [
        mints,
        *event_study(panel, mints),
        exchange_migration(panel),
        risk_panel(prices, risk_free),
        risk_correlation(prices),
    ]


def test_same_rows_in_any_order_give_the_same_bytes():
    r, mints = _planted_study(seed=11, effect=(0.05, 0.02))
    panel, _, _ = _share_panel(N_DAYS, slope_per_year=0.05, seed=2)
    panel = panel.with_columns(_btc_panel(r)["btc_mcap"])
    burn_back = (_day(EVENT_DAYS[2] + 1), "USDC", "0xback", 1, "burn", 1e9)
    issuance = _issuance(*_as_issuance(mints), burn_back)
    crypto = panel.select(
        "date", asset=pl.lit("BTC"), close=pl.col("btc_mcap") / 1e7, periods_per_year=pl.lit(365)
    )
    equity = panel.filter(pl.col("date").dt.weekday() <= 5).select(
        "date", asset=pl.lit("SP500"), close=4000 + 100 * pl.col("derivatives_share"),
        periods_per_year=pl.lit(252),
    )
    prices = pl.concat([crypto, equity])
    risk_free = panel.select("date", rate=pl.lit(0.02))

    def shuffled(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.sample(fraction=1.0, shuffle=True, seed=1)

    first = _all_tables(panel, issuance, prices, risk_free)
    second = _all_tables(shuffled(panel), shuffled(issuance), shuffled(prices), shuffled(risk_free))
    assert first[0]["inventory"].sum() == 1
    assert all(frame.height > 0 for frame in first)
    assert [_ipc_bytes(f) for f in first] == [_ipc_bytes(f) for f in second]
