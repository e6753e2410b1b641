"""Large mints, the event study, exchange migration, the risk panel and the risk-free mart's
bond-equivalent yield against truth built by hand.

Every expected value here is computed independently of assets/analytics/markets.py: from the
planted series directly (plain Python / numpy on the generating arrays), or by hand.
"""

import datetime as dt
import io
import math
import statistics

import duckdb
import numpy as np
import polars as pl
import pytest
from scipy import stats

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
from core.resources.warehouse import SQL_DIR

START = dt.date(2020, 1, 1)
ISSUANCE_SCHEMA = {
    "date": pl.Date,
    "chain": pl.Utf8,
    "token": pl.Utf8,
    "block_number": pl.Int64,
    "tx_hash": pl.Utf8,
    "log_index": pl.Int64,
    "event": pl.Utf8,
    "direction": pl.Utf8,
    "amount_tokens": pl.Float64,
}
MINT_EVENT = {"USDT": "Issue", "USDC": "Mint"}
BURN_EVENT = {"USDT": "Redeem", "USDC": "Burn"}
BLOCKS_PER_DAY = 10_000


def _day(i: int) -> dt.date:
    return START + dt.timedelta(days=i)


def _levels(log_returns: np.ndarray, first: float = 1e12) -> np.ndarray:
    """Levels whose log return on day t is log_returns[t] (day 0 has none)."""
    return first * np.exp(np.cumsum(np.concatenate([[0.0], log_returns[1:]])))


def _btc_panel(log_returns: np.ndarray, **columns) -> pl.DataFrame:
    """Daily panel whose BTC log return on day t is log_returns[t] (day 0 has none); ETH (the
    market model's regressor) is an independent N(0, 3%) walk unless given."""
    n = len(log_returns)
    eth = columns.pop("eth_mcap", None)
    if eth is None:
        eth = _levels(np.random.default_rng(99).normal(0.0, 0.03, n), 2e11)
    days = [_day(i) for i in range(n)]
    return pl.DataFrame(
        {"date": days, "btc_mcap": _levels(log_returns), "eth_mcap": eth, **columns}
    )


def _log(
    day: dt.date,
    token: str,
    tx_hash: str,
    amount: float,
    *,
    burn: bool = False,
    event: str | None = None,
    chain: str = "ethereum",
    block: int = 0,
    log_index: int = 1,
) -> tuple:
    """One issuance log; `block` counts from the day's first block, so blocks follow the days."""
    event = event or (BURN_EVENT if burn else MINT_EVENT)[token]
    block_number = day.toordinal() * BLOCKS_PER_DAY + block
    direction = "burn" if burn else "mint"
    return (day, chain, token, block_number, tx_hash, log_index, event, direction, amount)


def _issuance(*rows: tuple) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=ISSUANCE_SCHEMA, orient="row")


def _flags(table: pl.DataFrame) -> dict[str, bool | None]:
    return dict(zip(table["tx_hash"], table["inventory"]))


# --- large mints ------------------------------------------------------------------------------

D = dt.date(2021, 3, 1)
ENDS_LATER = _log(D + dt.timedelta(days=30), "USDT", "0xlast", 1.0)  # events run past all windows


def _later(days: int) -> dt.date:
    return D + dt.timedelta(days=days)


def test_round_trip_flagged_and_near_misses_not():
    events = _issuance(
        _log(D, "USDT", "0xm1", 1e9),
        _log(_later(3), "USDT", "0xb1", 1.003e9, burn=True, log_index=7),  # 0.3% more, 3 days on
        _log(D, "USDT", "0xm2", 5e8, log_index=2),
        _log(_later(8), "USDT", "0xb2", 5e8, burn=True),  # too late
        _log(D, "USDC", "0xm3", 8e8),
        _log(_later(2), "USDC", "0xb3", 6e8, burn=True),  # different amount
        _log(D, "USDC", "0xm4", 4e8, log_index=3),
        _log(_later(1), "USDT", "0xb4", 4e8, burn=True),  # other token
        _log(D, "USDT", "0xm5", 3e8, log_index=4),
        _log(_later(1), "USDT", "0xb5", 3e8, event="DestroyedBlackFunds", burn=True),  # seizure
        _log(D, "USDT", "0xsmall", 1e8, log_index=5),  # below the threshold
        ENDS_LATER,
    )
    table = large_mints(events)
    assert dict(table.schema) == markets.LARGE_MINTS_SCHEMA
    assert _flags(table) == {
        "0xm1": True,
        "0xm2": False,
        "0xm3": False,
        "0xm4": False,
        "0xm5": False,
    }
    reason = table.filter(pl.col("tx_hash") == "0xm1")["inventory_reason"][0]
    assert reason == (
        "burned 1,003,000,000 USDT again on 2021-03-04 (Redeem on ethereum, tx 0xb1, log 7)"
    )
    assert table.filter(~pl.col("inventory"))["inventory_reason"].null_count() == 4


def test_the_burn_must_come_after_the_mint():
    mint = _log(D, "USDC", "0xmint", 1e9, block=500, log_index=10)
    cases = {  # where the burn is (day, chain, block, log index) -> does it reverse the mint?
        "earlier block, same day": ((0, "ethereum", 499, 1), False),
        "same block, earlier log": ((0, "ethereum", 500, 9), False),
        "same block, later log": ((0, "ethereum", 500, 11), True),
        "later block, same day": ((0, "ethereum", 501, 1), True),
        # Another chain's blocks say nothing about order: only a later date does.
        "other chain, same day": ((0, "base", 900, 1), False),
        "other chain, next day": ((1, "base", 0, 1), True),
        "day 7": ((7, "ethereum", 0, 1), True),
        "earlier day": ((-1, "ethereum", 9_000, 1), False),
    }
    for case, ((days, chain, block, log_index), reverses) in cases.items():
        burn = _log(
            _later(days),
            "USDC",
            "0xb",
            1e9,
            burn=True,
            chain=chain,
            block=block,
            log_index=log_index,
        )
        table = large_mints(_issuance(mint, burn, ENDS_LATER))
        assert table["inventory"].to_list() == [reverses], case


def test_one_burn_reverses_only_one_mint():
    events = _issuance(
        _log(D, "USDT", "0xa", 3e8, block=2),  # mints in block order: 0xb first, then 0xa
        _log(D, "USDT", "0xb", 3e8, block=1),
        _log(_later(1), "USDT", "0xburn", 3e8, burn=True),
        ENDS_LATER,
    )
    assert _flags(large_mints(events)) == {"0xa": False, "0xb": True}


def test_mints_without_their_full_window_are_pending():
    last = _later(10)  # the events' last date
    events = _issuance(
        _log(_later(3), "USDT", "0xcomplete", 1e9),  # day 3 + 7 = day 10: its window is all in
        _log(_later(4), "USDT", "0xpending", 1e9),  # day 11 is not ingested yet
        _log(_later(9), "USDC", "0xreversed", 1e9),  # already burned back: inventory for certain
        _log(last, "USDC", "0xback", 1e9, burn=True),
    )
    table = large_mints(events)
    assert _flags(table) == {"0xcomplete": False, "0xpending": None, "0xreversed": True}
    pending = table.filter(pl.col("tx_hash") == "0xpending")["inventory_reason"][0]
    assert pending == "pending: the 7 days after it are not all ingested yet"


# --- event study ------------------------------------------------------------------------------

N_DAYS = 1500
EVENT_DAYS = list(range(70, N_DAYS - 11, 80))  # 80 days apart: no window overlaps another
MODELS = ("constant_mean", "market_model")


def _planted_study(seed: int, effect: tuple[float, float]) -> tuple[np.ndarray, list[tuple]]:
    """BTC log returns N(0, 2%) with `effect` added on days 0 and +1 of every event day."""
    r = np.random.default_rng(seed).normal(0.0, 0.02, N_DAYS)
    for i in EVENT_DAYS:
        r[i] += effect[0]
        r[i + 1] += effect[1]
    rows = [
        _log(_day(i), "USDT" if k % 2 else "USDC", f"0x{k:04d}", 1e9)
        for k, i in enumerate(EVENT_DAYS)
    ]
    # A second USDT mint on a USDT day and a USDC mint on that day: one BTC path, counted once.
    shared = _day(EVENT_DAYS[1])
    rows += [
        _log(shared, "USDT", "0xdup", 5e8, log_index=2),
        _log(shared, "USDC", "0xboth", 5e8, log_index=3),
    ]
    # Events ingested to the panel's end, so no mint is pending.
    rows.append(_log(_day(N_DAYS - 1), "USDT", "0xsmall", 1e6))
    return r, rows


def _hand_car(r: np.ndarray, i: int, first: int, last: int) -> float:
    expected = r[i - 60 : i - 10].mean()
    return float(sum(r[i + k] - expected for k in range(first, last + 1)))


def _model_row(summary: pl.DataFrame, token: str, car_window: str, model: str) -> dict:
    chosen = summary.filter(
        (pl.col("token") == token)
        & (pl.col("car_window") == car_window)
        & (pl.col("model") == model)
    )
    assert chosen.height == 1
    return chosen.row(0, named=True)


def test_planted_abnormal_return_is_recovered_and_significant():
    r, rows = _planted_study(seed=11, effect=(0.05, 0.02))
    mints = large_mints(_issuance(*rows))
    returns, summary = event_study(_btc_panel(r), mints)
    assert dict(summary.schema) == markets.EVENT_STUDY_SUMMARY_SCHEMA
    assert summary.select("token", "car_window", "model").rows() == [
        (t, w, m)
        for t in ("USDC", "USDT", "all")
        for w in ("-5..+10", "0..+1", "0..+5")
        for m in MODELS
    ]

    for token in ("USDT", "USDC", "all"):
        for model in MODELS:  # ETH is independent of the planted effect: both models see it
            row = _model_row(summary, token, "0..+1", model)
            assert row["mean_car"] == pytest.approx(0.07, abs=0.02)
            assert row["adj_bmp_p_value"] < 0.001 and row["adj_bmp_t_stat"] > 0
            assert row["t_p_value_independent"] < 0.001 and row["t_stat_independent"] > 0
            # 80 days apart, no CAR or estimation window touches another: r = 0, adjusted = BMP.
            assert row["overlapping_events"] == 0
            assert row["avg_cross_correlation"] == pytest.approx(0.0, abs=1e-12)
            assert row["adj_bmp_t_stat"] == pytest.approx(row["bmp_t_stat"], rel=1e-9)

    # 'all' counts one event per day; its mean CAR is the plain average over the event days.
    row = _model_row(summary, "all", "0..+5", "constant_mean")
    assert row["n_events"] == len(EVENT_DAYS)
    hand = np.mean([_hand_car(r, i, 0, 5) for i in EVENT_DAYS])
    assert row["mean_car"] == pytest.approx(hand, abs=1e-12)
    # USDT days are the odd events (0xdup adds no day); 0xboth adds one USDC day.
    usdt, usdc = (_model_row(summary, t, "0..+1", "market_model") for t in ("USDT", "USDC"))
    assert usdt["n_events"] == len(EVENT_DAYS[1::2])
    assert usdc["n_events"] == len(EVENT_DAYS[0::2]) + 1

    # event_study_returns: one 16-row block per mint log and model (same-day duplicates included).
    assert dict(returns.schema) == markets.EVENT_STUDY_RETURNS_SCHEMA
    assert returns.height == 2 * 16 * mints.height
    block = returns.filter((pl.col("tx_hash") == "0xdup") & (pl.col("model") == "constant_mean"))
    i = EVENT_DAYS[1]
    assert block["offset"].to_list() == list(range(-5, 11))
    assert block["date"].to_list() == [_day(i + k) for k in range(-5, 11)]
    np.testing.assert_allclose(block["btc_return"].to_numpy(), r[i - 5 : i + 11], atol=1e-12)
    assert block["expected_return"][0] == pytest.approx(r[i - 60 : i - 10].mean(), abs=1e-12)
    assert block["car"][-1] == pytest.approx(_hand_car(r, i, -5, 10), abs=1e-12)


def test_no_planted_effect_is_not_significant():
    r, rows = _planted_study(seed=11, effect=(0.0, 0.0))
    _, summary = event_study(_btc_panel(r), large_mints(_issuance(*rows)))
    for token in ("USDT", "USDC", "all"):
        for model in MODELS:
            assert _model_row(summary, token, "0..+1", model)["adj_bmp_p_value"] > 0.05


def _eth_btc(n: int, seed: int, beta: float = 0.7) -> tuple[np.ndarray, np.ndarray]:
    """ETH log returns N(0, 3%) and BTC = 0.001 + beta * ETH + N(0, 1.5%)."""
    rng = np.random.default_rng(seed)
    eth = rng.normal(0.0, 0.03, n)
    return 0.001 + beta * eth + rng.normal(0.0, 0.015, n), eth


def _hand_adjusted_bmp(
    btc: np.ndarray, eth: np.ndarray, days: list[int], first: int, last: int, model: str
) -> dict:
    """The adjusted BMP test from its textbook pieces: OLS by matrix algebra (Campbell, Lo &
    MacKinlay 1997, ch. 4), CAR variance sigma^2 (K + g'(X'X)^-1 g), r from the weight each
    CAR puts on each calendar day, Kolari & Pynnonen's factor, Kish's effective n."""
    length, k = 50, last - first + 1
    scars, weights = [], []
    for i in days:
        estimation = list(range(i - 60, i - 10))
        car_days = list(range(i + first, i + last + 1))
        y = btc[estimation]
        if model == "constant_mean":
            x, x_car = np.ones((length, 1)), np.ones((k, 1))
        else:
            x = np.column_stack([np.ones(length), eth[estimation]])
            x_car = np.column_stack([np.ones(k), eth[car_days]])
        xtx_inv = np.linalg.inv(x.T @ x)
        coef = xtx_inv @ x.T @ y
        residuals = y - x @ coef
        s2 = residuals @ residuals / (length - x.shape[1])
        car = float((btc[car_days] - x_car @ coef).sum())
        g = x_car.sum(axis=0)
        scars.append(car / math.sqrt(s2 * (k + g @ xtx_inv @ g)))
        h = x @ xtx_inv @ g  # the estimation days' weight in the CAR's prediction error
        w = {d: 1.0 for d in car_days}
        for d, weight in zip(estimation, h):
            w[d] = w.get(d, 0.0) - weight
        weights.append(w)

    def dot(a: dict, b: dict) -> float:
        return sum(v * b.get(d, 0.0) for d, v in a.items())

    n = len(days)
    corr = [
        dot(a, b) / math.sqrt(dot(a, a) * dot(b, b))
        for x_, a in enumerate(weights)
        for y_, b in enumerate(weights)
        if x_ != y_
    ]
    r_bar = statistics.fmean(corr)
    bmp = statistics.fmean(scars) / (statistics.stdev(scars) / math.sqrt(n))
    adjusted = bmp * math.sqrt((1 - r_bar) / (1 + (n - 1) * r_bar))
    # Student's t with n_eff - 1 degrees of freedom, n_eff = n / (1 + (n - 1) r) (Kish).
    df = min(n / (1 + (n - 1) * r_bar), n) - 1
    return {
        "bmp_t_stat": bmp,
        "avg_cross_correlation": r_bar,
        "adj_bmp_t_stat": adjusted,
        "adj_bmp_p_value": 2 * stats.t.sf(abs(adjusted), df),
    }


def test_adjusted_bmp_matches_a_hand_computation():
    btc, eth = _eth_btc(260, seed=21)
    days = [80, 83, 90, 170, 174]  # 80/83 and 170/174 share 0..+5 days; 90 only -5..+10 ones
    rows = [_log(_day(i), "USDT", f"0x{i}", 1e9) for i in days]
    rows.append(_log(_day(259), "USDT", "0xend", 1e6))
    panel = _btc_panel(btc, eth_mcap=_levels(eth))
    _, summary = event_study(panel, large_mints(_issuance(*rows)))
    windows = {"0..+1": (0, 1), "0..+5": (0, 5), "-5..+10": (-5, 10)}
    for car_window, (first, last) in windows.items():
        for model in MODELS:
            row = _model_row(summary, "all", car_window, model)
            hand = _hand_adjusted_bmp(btc, eth, days, first, last, model)
            for column, value in hand.items():
                where = (car_window, model, column)
                assert row[column] == pytest.approx(value, rel=1e-9, abs=1e-15), where
    overlapping = {
        w: _model_row(summary, "all", w, "market_model")["overlapping_events"]
        for w in ("0..+1", "0..+5", "-5..+10")
    }
    assert overlapping == {"0..+1": 0, "0..+5": 4, "-5..+10": 5}


def test_overlap_correlation_of_two_events_by_hand():
    """Two events 3 days apart, constant mean, CAR 0..+5 (K = 6, L = 50): the CARs share 3 days
    (weight 1 each) and 47 estimation days (weight -6/50 each); |w|^2 = 6 + 36/50."""
    btc, eth = _eth_btc(200, seed=4)
    rows = [
        _log(_day(100), "USDC", "0xa", 1e9),
        _log(_day(103), "USDC", "0xb", 1e9),
        _log(_day(199), "USDC", "0xend", 1e6),
    ]
    _, summary = event_study(_btc_panel(btc, eth_mcap=_levels(eth)), large_mints(_issuance(*rows)))
    row = _model_row(summary, "USDC", "0..+5", "constant_mean")
    expected = (3 + 47 * (6 / 50) ** 2) / (6 + 36 / 50)
    assert row["avg_cross_correlation"] == pytest.approx(expected, rel=1e-12)
    assert row["n_events"] == 2 and row["overlapping_events"] == 2
    assert row["mean_car"] is not None and row["adj_bmp_p_value"] is None  # fewer than 3 events


def test_market_model_abnormal_returns_are_ols_by_hand():
    btc, eth = _eth_btc(200, seed=9, beta=0.8)
    i = 120
    # A shock shared by BTC and ETH on day 0: abnormal against a constant mean, but predicted
    # by ETH's move in the market model (what the market model cannot see).
    btc[i] += 0.8 * 0.20
    eth[i] += 0.20
    rows = [_log(_day(i), "USDT", "0xm", 1e9), _log(_day(199), "USDT", "0xend", 1e6)]
    returns, _ = event_study(_btc_panel(btc, eth_mcap=_levels(eth)), large_mints(_issuance(*rows)))
    slope, intercept = statistics.linear_regression(eth[i - 60 : i - 10], btc[i - 60 : i - 10])
    block = returns.filter(pl.col("model") == "market_model")
    assert block["offset"].to_list() == list(range(-5, 11))
    np.testing.assert_allclose(block["eth_return"].to_numpy(), eth[i - 5 : i + 11], atol=1e-12)
    expected = intercept + slope * eth[i - 5 : i + 11]
    np.testing.assert_allclose(block["expected_return"].to_numpy(), expected, atol=1e-12)
    abnormal = btc[i - 5 : i + 11] - expected
    np.testing.assert_allclose(block["abnormal_return"].to_numpy(), abnormal, atol=1e-12)
    np.testing.assert_allclose(block["car"].to_numpy(), np.cumsum(abnormal), atol=1e-12)
    day0 = {
        m: returns.filter((pl.col("model") == m) & (pl.col("offset") == 0))["abnormal_return"][0]
        for m in MODELS
    }
    assert day0["constant_mean"] > 0.10 and abs(day0["market_model"]) < 0.06


def test_overlapping_events_keep_the_adjusted_test_near_its_nominal_size():
    """Null series (BTC and ETH driven by a common shock, no event effect) with events in
    clusters of five, two days apart: their CAR windows overlap, so the t-test that assumes
    independent events over-rejects; the adjusted BMP test stays near 5 %."""
    n_days, repetitions = 1000, 120
    days = [c + 2 * k for c in range(70, n_days - 21, 80) for k in range(5)]  # 12 clusters
    rows = [_log(_day(i), "USDT", f"0x{i:04d}", 1e9) for i in days]
    rows.append(_log(_day(n_days - 1), "USDT", "0xend", 1e6))
    mints = large_mints(_issuance(*rows))
    rng = np.random.default_rng(2024)
    naive, adjusted = {}, {}
    for _ in range(repetitions):
        common = rng.normal(0.0, 0.03, n_days)
        eth = common + rng.normal(0.0, 0.015, n_days)
        btc = 0.8 * common + rng.normal(0.0, 0.02, n_days)
        _, summary = event_study(_btc_panel(btc, eth_mcap=_levels(eth)), mints)
        for row in summary.filter(pl.col("token") == "all").iter_rows(named=True):
            key = (row["car_window"], row["model"])
            naive[key] = naive.get(key, 0) + (row["t_p_value_independent"] < 0.05)
            adjusted[key] = adjusted.get(key, 0) + (row["adj_bmp_p_value"] < 0.05)
    naive_rate = {k: v / repetitions for k, v in naive.items()}
    adjusted_rate = {k: v / repetitions for k, v in adjusted.items()}
    for key, rate in naive_rate.items():
        if key[0] != "0..+1":  # windows of 6 and 16 days: neighbours share most of them
            assert rate > 0.15, (key, naive_rate)
    assert all(rate <= 0.10 for rate in adjusted_rate.values()), adjusted_rate
    assert 0.025 <= statistics.fmean(adjusted_rate.values()) <= 0.075, adjusted_rate


def test_event_with_null_return_in_its_windows_is_skipped():
    r, rows = _planted_study(seed=11, effect=(0.05, 0.02))
    gap = _day(EVENT_DAYS[0] - 30)  # inside the first event's estimation window
    btc_mcap = pl.when(pl.col("date") == gap).then(None).otherwise(pl.col("btc_mcap"))
    panel = _btc_panel(r).with_columns(btc_mcap.alias("btc_mcap"))
    returns, summary = event_study(panel, large_mints(_issuance(*rows)))
    assert _day(EVENT_DAYS[0]) not in returns["event_date"].to_list()
    assert _model_row(summary, "all", "0..+1", "constant_mean")["n_events"] == len(EVENT_DAYS) - 1
    # A NULL ETH day drops the event from both models, so both describe the same events.
    gap = _day(EVENT_DAYS[1] + 4)
    eth_mcap = pl.when(pl.col("date") == gap).then(None).otherwise(pl.col("eth_mcap"))
    returns, summary = event_study(
        panel.with_columns(eth_mcap.alias("eth_mcap")), large_mints(_issuance(*rows))
    )
    assert _day(EVENT_DAYS[1]) not in returns["event_date"].to_list()
    for model in MODELS:
        assert _model_row(summary, "all", "0..+1", model)["n_events"] == len(EVENT_DAYS) - 2


def test_inventory_round_trip_is_excluded_from_the_study():
    r, rows = _planted_study(seed=3, effect=(0.05, 0.02))
    i = EVENT_DAYS[3]
    events = _issuance(
        *rows,
        _log(_day(i), "USDT", "0xswap", 2e9, log_index=9),
        _log(_day(i + 3), "USDT", "0xswapback", 2e9, burn=True, chain="tron"),
    )
    returns, summary = event_study(_btc_panel(r), large_mints(events))
    assert "0xswap" not in returns["tx_hash"].to_list()
    one_window = summary.filter(pl.col("car_window") == "0..+1")
    excluded = set(one_window.select("token", "excluded_inventory").rows())
    assert excluded == {("USDT", 1), ("USDC", 0), ("all", 1)}


def test_pending_mints_are_neither_studied_nor_excluded():
    r, rows = _planted_study(seed=3, effect=(0.05, 0.02))
    # The events end 20 days before the panel: the mint 5 days before that end is pending,
    # although the panel would give it a complete event window.
    end = N_DAYS - 21
    events = _issuance(
        *(row for row in rows if row[0] <= _day(end)),
        _log(_day(end - 5), "USDT", "0xrecent", 2e9),
        _log(_day(end), "USDC", "0xlast", 1e6),
    )
    mints = large_mints(events)
    assert _flags(mints)["0xrecent"] is None
    returns, summary = event_study(_btc_panel(r), mints)
    assert "0xrecent" not in returns["tx_hash"].to_list()
    assert summary["excluded_inventory"].sum() == 0
    assert _model_row(summary, "all", "0..+1", "market_model")["n_events"] == len(EVENT_DAYS)


def test_short_panel_gives_empty_event_study():
    events = _issuance(_log(_day(20), "USDT", "0x1", 1e9), _log(_day(39), "USDT", "0x2", 1e6))
    mints = large_mints(events)
    assert mints["inventory"].to_list() == [False]
    returns, summary = event_study(_btc_panel(np.zeros(40)), mints)
    assert returns.is_empty() and dict(returns.schema) == markets.EVENT_STUDY_RETURNS_SCHEMA
    assert summary.height == 18 and summary["n_events"].sum() == 0
    for column in ("mean_car", "avg_cross_correlation", "adj_bmp_p_value", "t_p_value_independent"):
        assert summary[column].null_count() == 18, column


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
        "trend_per_year",
        "trend_p_value",
        "corr_share_change_btc_return",
        "corr_p_value",
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
    assert annualised_volatility(alternating, 252) == pytest.approx(
        log_sd * math.sqrt(252), rel=1e-12
    )
    mean = (0.1 - 1 / 11) / 2
    sd = (0.1 + 1 / 11) / 2 * math.sqrt(n / (n - 1))
    expected = (mean * 252 - 0.03) / (sd * math.sqrt(252))
    assert sharpe_ratio(alternating, 252, 0.03) == pytest.approx(expected, rel=1e-9)


def _weekdays(start: dt.date, end: dt.date) -> list[dt.date]:
    days = (start + dt.timedelta(days=i) for i in range((end - start).days + 1))
    return [d for d in days if d.weekday() < 5]


def test_risk_panel_matches_hand_computation():
    days = _weekdays(dt.date(2023, 1, 2), dt.date(2023, 4, 28))
    closes = [100.0, 120.0, 60.0, 90.0] + [
        90.0 * (1 + 0.01 * (-1) ** k) for k in range(len(days) - 4)
    ]
    prices = pl.DataFrame(
        {"date": days, "asset": "SP500", "close": closes, "periods_per_year": 252}
    )
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
    assert row["annualised_return"] == pytest.approx(
        (closes[-1] / closes[0]) ** (252 / n) - 1, rel=1e-9
    )
    volatility = statistics.stdev(logs) * math.sqrt(252)
    assert row["annualised_volatility"] == pytest.approx(volatility, rel=1e-9)
    assert row["risk_free_rate"] == pytest.approx(0.03, abs=1e-15)
    assert row["sharpe"] == pytest.approx(sharpe, rel=1e-9)
    # 2 January .. 28 April: 117 days, a partial 2023 ('full' is never partial).
    assert (row["days_in_window"], row["coverage"], row["partial_period"]) == (117, 1.0, False)
    year = table.filter(pl.col("period") == "2023").row(0, named=True)
    assert (year["days_in_window"], year["partial_period"]) == (117, True)
    assert year["coverage"] == pytest.approx(117 / 365, rel=1e-15)


def test_risk_free_is_the_mean_of_the_given_rates_and_short_windows_are_null():
    days = [dt.date(2023, 1, 2) + dt.timedelta(days=i) for i in range(5)]
    closes = [1.0, 2.0, 3.0, 4.0, 5.0]
    prices = pl.DataFrame({"date": days, "asset": "BTC", "close": closes, "periods_per_year": 365})
    # marts.risk_free_daily already fills weekends and holidays: a day without a rate, in it
    # or after it, does not count (no second forward fill here).
    risk_free = pl.DataFrame({"date": days[:4], "rate": [0.01, None, 0.02, 0.06]})
    row = risk_panel(prices, risk_free).filter(pl.col("period") == "full").row(0, named=True)
    assert row["risk_free_rate"] == pytest.approx((0.01 + 0.02 + 0.06) / 3)
    assert row["n_obs"] == 4
    metrics = ("annualised_return", "annualised_volatility", "sharpe", "max_drawdown")
    assert [row[c] for c in metrics] == [None] * 4

    no_rate = risk_panel(prices, risk_free.filter(pl.col("date") > days[-1]))
    assert no_rate["risk_free_rate"].null_count() == no_rate.height == 2  # full and 2023

    corr = risk_correlation(prices)
    assert corr["correlation"].null_count() == corr.height == 2  # full and 2023, BTC x BTC
    assert corr["n_obs"].to_list() == [4, 4]  # returns, not days


def test_partial_periods_are_labelled():
    days = [dt.date(2023, 3, 1) + dt.timedelta(days=i) for i in range(672)]  # to 2024-12-31
    closes = 100 * 1.001 ** np.arange(len(days))
    prices = pl.DataFrame({"date": days, "asset": "BTC", "close": closes, "periods_per_year": 365})
    risk_free = pl.DataFrame({"date": days, "rate": 0.05})
    table = risk_panel(prices, risk_free)
    assert dict(table.schema) == markets.RISK_PANEL_SCHEMA
    got = {
        row["period"]: (row["days_in_window"], row["coverage"], row["partial_period"])
        for row in table.iter_rows(named=True)
    }
    # 2023 from 1 March: 306 of 365 days; 2024 is a whole leap year; full covers itself.
    assert got == {
        "full": (672, 1.0, False),
        "2023": (306, 306 / 365, True),
        "2024": (366, 1.0, False),
    }
    # A partial year is still annualised, from the returns it has (305 in 2023).
    row = table.filter(pl.col("period") == "2023").row(0, named=True)
    assert row["n_obs"] == 305
    assert row["annualised_return"] == pytest.approx(1.001**365 - 1, rel=1e-9)


# --- risk-free mart ----------------------------------------------------------------------------


def _risk_free_mart(dtb3: list[tuple[dt.date, float | None]]) -> list[tuple]:
    """sql/marts/risk_free_daily.sql run as written over a staging table holding `dtb3`."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging")
    con.execute(
        "CREATE TABLE staging.stg_fred__series (date DATE, series_id VARCHAR, value DOUBLE)"
    )
    con.executemany("INSERT INTO staging.stg_fred__series VALUES (?, 'DTB3', ?)", dtb3)
    con.execute("INSERT INTO staging.stg_fred__series VALUES ('2022-12-30', 'SP500', 3839.5)")
    return con.execute((SQL_DIR / "marts" / "risk_free_daily.sql").read_text()).fetchall()


def test_risk_free_rate_is_the_bond_equivalent_yield():
    d = dt.date
    rows = _risk_free_mart(
        [
            (d(2022, 12, 29), None),  # before the first value: no row (nothing to carry)
            (d(2022, 12, 30), 4.975),
            (d(2023, 1, 2), None),  # holiday
            (d(2023, 1, 3), 5.00),
            (d(2023, 1, 4), 0.0),
        ]
    )
    assert [r[0] for r in rows] == [d(2022, 12, 30) + dt.timedelta(days=i) for i in range(6)]
    rate = {r[0]: r[2] for r in rows}
    # TreasuryDirect, a 91-day bill auction: discount rate 4.975 %, price 98.742431,
    # investment rate 5.108 % (both rounded as published).
    price = 100 * (1 - 0.04975 * 91 / 360)
    assert round(price, 6) == 98.742431
    assert rate[d(2022, 12, 30)] == pytest.approx((100 / price - 1) * 365 / 91, rel=1e-12)
    assert round(100 * rate[d(2022, 12, 30)], 3) == 5.108
    # 5 % on a discount basis: 365 * 0.05 / (360 - 0.05 * 91) = 18.25 / 355.45 = 5.13434 %.
    assert rate[d(2023, 1, 3)] == pytest.approx(0.0513433675622450, rel=1e-12)
    assert rate[d(2023, 1, 4)] == 0.0
    # Weekend and holiday carry the last published yield; dtb3_percent stays as published.
    assert rate[d(2023, 1, 2)] == rate[d(2022, 12, 31)] == rate[d(2022, 12, 30)]
    carried = {r[0]: (r[1], r[3]) for r in rows}
    assert carried[d(2023, 1, 1)] == (None, True) and carried[d(2023, 1, 3)] == (5.00, False)


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
    prices = pl.concat(
        [
            pl.DataFrame({"date": all_days, "asset": "BTC", "close": btc, "periods_per_year": 365}),
            pl.DataFrame({"date": all_days, "asset": "ETH", "close": eth, "periods_per_year": 365}),
            pl.DataFrame({"date": trading, "asset": "SP500", "close": sp, "periods_per_year": 252}),
            pl.DataFrame(
                {"date": trading, "asset": "NASDAQ100", "close": ndx, "periods_per_year": 252}
            ),
        ]
    )
    table = risk_correlation(prices)
    assert dict(table.schema) == markets.RISK_CORRELATION_SCHEMA

    assets = ["BTC", "ETH", "NASDAQ100", "SP500"]
    eth_on = dict(zip(all_days, eth))
    aligned = np.column_stack(
        [[10 * sp_on[d] for d in trading], [eth_on[d] for d in trading], ndx, sp]
    )
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
    r, rows = _planted_study(seed=11, effect=(0.05, 0.02))
    panel, _, _ = _share_panel(N_DAYS, slope_per_year=0.05, seed=2)
    panel = panel.with_columns(_btc_panel(r)["btc_mcap"])
    burn_back = _log(_day(EVENT_DAYS[2] + 1), "USDC", "0xback", 1e9, burn=True)
    recent = _log(_day(N_DAYS - 3), "USDT", "0xrecent", 1e9)  # pending
    issuance = _issuance(*rows, burn_back, recent)
    crypto = panel.select(
        "date", asset=pl.lit("BTC"), close=pl.col("btc_mcap") / 1e7, periods_per_year=pl.lit(365)
    )
    equity = panel.filter(pl.col("date").dt.weekday() <= 5).select(
        "date",
        asset=pl.lit("SP500"),
        close=4000 + 100 * pl.col("derivatives_share"),
        periods_per_year=pl.lit(252),
    )
    prices = pl.concat([crypto, equity])
    risk_free = panel.select("date", rate=pl.lit(0.02))

    def shuffled(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.sample(fraction=1.0, shuffle=True, seed=1)

    first = _all_tables(panel, issuance, prices, risk_free)
    second = _all_tables(shuffled(panel), shuffled(issuance), shuffled(prices), shuffled(risk_free))
    assert first[0]["inventory"].sum() == 1 and first[0]["inventory"].null_count() == 1
    assert all(frame.height > 0 for frame in first)
    assert [_ipc_bytes(f) for f in first] == [_ipc_bytes(f) for f in second]
