"""Market-side analytics: large mints, the mint event study, exchange migration and the risk panel.

Pure functions, polars in and out, for the tables large_mints, event_study_returns,
event_study_summary, exchange_migration, risk_panel and risk_correlation. Every table is
sorted by its key and built without randomness or wall-clock, so the same input rows, in any
order, give the same bytes. A window with fewer than MIN_OBS usable observations gives NULL
statistics, never an exception. A day missing from the panel counts as a NULL day (returns
never silently span two days), and NaN counts as NULL.

Large mints (`large_mints`)
    A large mint is one mint log (USDT Issue, USDC Mint) of at least LARGE_MINT_TOKENS tokens.
    It is flagged as *inventory* when a later burn of the same token and the same amount
    (within 0.5%) reverses it within INVENTORY_MAX_DAYS = 7 calendar days, on any chain: such
    round trips (chain swaps, treasury inventory moved and returned) create no new dollars, so
    they are left out of the event study. Only Redeem (USDT) and Burn (USDC) reverse a mint;
    DestroyedBlackFunds is the seizure of a blacklisted address's tokens, not inventory going
    back. "Later" uses the order the events table has: on the mint's own chain the burn's
    (block_number, log_index) must come after the mint's; on another chain, whose blocks are
    not comparable, only a later UTC date counts. Matching is one to one: mints in
    chronological order (date, chain, block_number, log_index) each take the earliest
    reversing burn not already taken (by date, then chain, block_number, log_index), so one
    burn never excuses two mints. A burn before its mint is never a match.
    The events data ends on its last date (the latest date of any event log; the panel may
    end elsewhere, but only the events say what has been ingested). A mint whose 7 days run
    past that date and that no burn has reversed yet is *pending*: inventory is NULL, with the
    reason "pending: ...", because a burn ingested on the next run could still reverse it. A
    mint already reversed is inventory for certain. Pending mints are neither studied nor
    counted as excluded inventory.

Event study (`event_study_returns`, `event_study_summary`)
    Question: is BTC's return unusual around large non-inventory mints (inventory false, so
    neither inventory nor pending)? BTC's daily return is the log change of panel.btc_mcap
    between consecutive UTC closes; a day whose own or previous close is NULL has a NULL
    return. Day 0 is the mint's UTC date, so day 0's return is the move from the previous
    close to the close of the mint's day. Constant-mean model:
    the expected return is BTC's mean return over the estimation window (offsets -60..-11,
    50 days, ending before the event window so the event cannot leak into it); the abnormal
    return is the actual minus that mean, over the event window -5..+10; CAR is the running
    sum from offset -5. Events whose estimation or event window runs off the panel or holds a
    NULL return are skipped (and not counted). event_study_returns has one block of rows per
    mint log.
    The summary tests the mean CAR over '0..+1', '0..+5' and '-5..+10' against zero with a
    cross-sectional one-sample t-test (two-sided; t and p are NULL with fewer than 3 events,
    mean_car only with none). Several mints on the same day share the same BTC returns, so
    counting each would count one day's return several times and overstate significance: a
    token's group counts one event per (token, event_date) and 'all' one per event_date.
    Read a small p with care: the t-test assumes independent events, and mints cluster in
    bull markets (overlapping windows, estimation windows containing earlier events), which
    it does not correct for; and a positive CAR says returns were high around mints, not that
    mints caused them.

Exchange migration (`exchange_migration`)
    derivatives_share (stablecoins on derivatives exchanges / on all labelled exchanges) per
    window: its first and last non-NULL value, the OLS slope on time in years (share units per
    year; +0.05 = five percentage points a year) with a Newey-West (HAC) p-value using
    HAC_MAXLAGS = 7 lags (a week of serially correlated daily deviations; close to the usual
    4(n/100)^(2/9) rule for one to four years of days, and fixed so windows are comparable),
    and the Pearson correlation of the share's daily change with BTC's daily log return. A
    share is a persistent level, so residual autocorrelation can outlast 7 lags and the trend
    p-value is indicative; the slope itself is the descriptive answer. Daily changes and
    returns are computed on the whole panel and then assigned to a window by their date, so a
    window's first change reaches back one day. n_obs counts days with a non-NULL share;
    the trend needs MIN_OBS of them and the correlation MIN_OBS non-NULL pairs.

Risk panel (`risk_panel`) over 'full' and each calendar year
    Computed from the asset's closes within the window only (n_obs = number of returns, the
    number of closes minus one; the first day's move from the previous year is not in it):
    annualised return = (last/first)^(periods_per_year/n_obs) - 1 (geometric);
    annualised volatility = sample std of daily log returns * sqrt(periods_per_year);
    Sharpe = (mean simple return * periods_per_year - risk-free) / (sample std of simple
    returns * sqrt(periods_per_year)); max drawdown = the lowest close / running peak - 1
    (a negative fraction). These four need MIN_OBS returns; the risk-free rate and
    periods_per_year are reported regardless. The risk-free rate is the 3-month bill yield
    (annual decimal) that marts.risk_free_daily gives for every calendar day (weekends and
    holidays already carry the last published rate there), averaged over the window's days
    that have one; days without a rate (before the first publication, after the last) simply
    do not count. With no rate in the window the Sharpe ratio is NULL. Crypto uses 365
    periods a year and equities 252, as given per row of risk_prices.

Risk correlation (`risk_correlation`) over 'full' and each calendar year
    Pearson correlation of daily simple returns on the days every asset has a close, which
    with equities present are the US trading days (crypto trades every day). Returns run
    close to close between consecutive such days, so a crypto return from Friday to Monday
    spans the weekend exactly as the equity return does. All ordered pairs, diagonal (1)
    included; one common calendar for all assets keeps the matrix consistent (symmetric,
    positive semi-definite), at the price that a day one asset lacks is dropped for all.
    n_obs counts the common returns, not days: one fewer than the common days in the window.
    NULL, diagonal included, with fewer than MIN_OBS returns; NULL for a constant asset.
"""

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import polars as pl
import statsmodels.api as sm
from scipy import stats

from assets.analytics.windows import (MIN_OBS, WINDOW_SCHEMA, Window, calendar_windows, finite,
                                     pearson, windows)

LARGE_MINT_TOKENS = 250_000_000
INVENTORY_MAX_DAYS = 7
INVENTORY_AMOUNT_TOLERANCE = 0.005
# Burns that send tokens back to the issuer; DestroyedBlackFunds (a seizure) is not one.
REVERSING_BURN_EVENTS = ("Redeem", "Burn")
PENDING_REASON = f"pending: the {INVENTORY_MAX_DAYS} days after it are not all ingested yet"

ESTIMATION_WINDOW = (-60, -11)
EVENT_WINDOW = (-5, 10)
CAR_WINDOWS = {"0..+1": (0, 1), "0..+5": (0, 5), "-5..+10": (-5, 10)}
SUMMARY_GROUPS = ("USDT", "USDC", "all")
MIN_EVENTS = 3

HAC_MAXLAGS = 7
DAYS_PER_YEAR = 365.25


LARGE_MINTS_SCHEMA = {
    "date": pl.Date,
    "token": pl.Utf8,
    "tx_hash": pl.Utf8,
    "log_index": pl.Int64,
    "amount_tokens": pl.Float64,
    "inventory": pl.Boolean,
    "inventory_reason": pl.Utf8,
}
EVENT_STUDY_RETURNS_SCHEMA = {
    "event_date": pl.Date,
    "token": pl.Utf8,
    "tx_hash": pl.Utf8,
    "log_index": pl.Int64,
    "offset": pl.Int32,
    "date": pl.Date,
    "btc_return": pl.Float64,
    "expected_return": pl.Float64,
    "abnormal_return": pl.Float64,
    "car": pl.Float64,
}
EVENT_STUDY_SUMMARY_SCHEMA = {
    "token": pl.Utf8,
    "car_window": pl.Utf8,
    "n_events": pl.Int32,
    "excluded_inventory": pl.Int32,
    "mean_car": pl.Float64,
    "t_stat": pl.Float64,
    "p_value": pl.Float64,
}
EXCHANGE_MIGRATION_SCHEMA = {
    **WINDOW_SCHEMA,
    "share_start": pl.Float64,
    "share_end": pl.Float64,
    "trend_per_year": pl.Float64,
    "trend_p_value": pl.Float64,
    "corr_share_change_btc_return": pl.Float64,
    "corr_p_value": pl.Float64,
    "n_obs": pl.Int32,
}
RISK_PANEL_SCHEMA = {
    **WINDOW_SCHEMA,
    "asset": pl.Utf8,
    "annualised_return": pl.Float64,
    "annualised_volatility": pl.Float64,
    "sharpe": pl.Float64,
    "max_drawdown": pl.Float64,
    "risk_free_rate": pl.Float64,
    "periods_per_year": pl.Int32,
    "n_obs": pl.Int32,
}
RISK_CORRELATION_SCHEMA = {
    **WINDOW_SCHEMA,
    "asset_a": pl.Utf8,
    "asset_b": pl.Utf8,
    "correlation": pl.Float64,
    "n_obs": pl.Int32,
}

_MINT_KEY = ["date", "token", "tx_hash", "log_index"]
# Event order within the events table: blocks order the logs of one chain.
_CHAIN_ORDER = ["date", "chain", "block_number", "log_index"]
_BURN_COLUMNS = ["date", "chain", "block_number", "log_index", "tx_hash", "event", "amount_tokens"]


# --- shared helpers ---------------------------------------------------------------------------


def _complete_calendar(panel: pl.DataFrame) -> pl.DataFrame:
    """The panel on every calendar day, so a missing day is a NULL row, not a silent 2-day return."""
    if panel.is_empty():
        return panel
    days = pl.date_range(panel["date"].min(), panel["date"].max(), "1d", eager=True).alias("date")
    return days.to_frame().join(panel, on="date", how="left").sort("date")


def _log_return(column: str) -> pl.Expr:
    """Close-to-close log change; NULL when either close is NULL (NaN is treated as missing)."""
    return (pl.col(column).log() - pl.col(column).shift(1).log()).fill_nan(None)


def _in_window(window: Window) -> pl.Expr:
    return pl.col("date").is_between(window.start, window.end)


# --- large_mints ------------------------------------------------------------------------------


def large_mints(issuance_events: pl.DataFrame) -> pl.DataFrame:
    """Every mint of at least LARGE_MINT_TOKENS: inventory, not inventory, or pending (NULL)."""
    mints = issuance_events.filter(
        (pl.col("direction") == "mint") & (pl.col("amount_tokens") >= LARGE_MINT_TOKENS)
    ).sort(_CHAIN_ORDER)
    candidates = _reversing_burn_candidates(mints, issuance_events)
    last_day = issuance_events["date"].max()
    taken: set[tuple] = set()  # one to one: a matched burn cannot excuse a second mint
    rows = []
    for mint in mints.iter_rows(named=True):  # chronological: earlier mints choose first
        burns = candidates.get(_log_id(mint), [])
        burn = next((b for b in burns if _log_id(b) not in taken), None)
        if burn is not None:
            taken.add(_log_id(burn))
            inventory, reason = True, _inventory_reason(burn)
        elif mint["date"] + dt.timedelta(days=INVENTORY_MAX_DAYS) > last_day:
            inventory, reason = None, PENDING_REASON
        else:
            inventory, reason = False, None
        rows.append((*_key(mint), mint["amount_tokens"], inventory, reason))
    return pl.DataFrame(rows, schema=LARGE_MINTS_SCHEMA, orient="row").sort(_MINT_KEY)


def _key(mint: dict) -> tuple:
    return tuple(mint[c] for c in _MINT_KEY)


def _log_id(event: dict) -> tuple:
    """The events table's grain: one log per (chain, block_number, log_index)."""
    return event["chain"], event["block_number"], event["log_index"]


def _reversing_burn_candidates(mints: pl.DataFrame, events: pl.DataFrame) -> dict[tuple, list[dict]]:
    """Per mint, the burns that could reverse it, earliest first (the preferred match)."""
    burns = events.filter(pl.col("event").is_in(REVERSING_BURN_EVENTS)).select(
        "token",
        *(pl.col(c).alias(f"burn_{c}") for c in _BURN_COLUMNS),
    )
    days_after = (pl.col("burn_date") - pl.col("date")).dt.total_days()
    later_on_same_chain = (pl.col("burn_chain") == pl.col("chain")) & (
        (pl.col("burn_block_number") > pl.col("block_number"))
        | ((pl.col("burn_block_number") == pl.col("block_number"))
           & (pl.col("burn_log_index") > pl.col("log_index")))
    )
    pairs = (
        mints.join(burns, on="token", how="inner")
        .filter(
            days_after.is_between(0, INVENTORY_MAX_DAYS)
            # Blocks of different chains are not comparable: there only a later date is later.
            & ((days_after > 0) | later_on_same_chain)
            & ((pl.col("burn_amount_tokens") - pl.col("amount_tokens")).abs()
               <= INVENTORY_AMOUNT_TOLERANCE * pl.col("amount_tokens"))
        )
        .sort([*_CHAIN_ORDER, *(f"burn_{c}" for c in _CHAIN_ORDER)])
    )
    candidates: dict[tuple, list[dict]] = {}
    for row in pairs.iter_rows(named=True):
        burn = {"token": row["token"], **{c: row[f"burn_{c}"] for c in _BURN_COLUMNS}}
        candidates.setdefault(_log_id(row), []).append(burn)
    return candidates


def _inventory_reason(burn: dict) -> str:
    return (
        f"burned {burn['amount_tokens']:,.0f} {burn['token']} again on {burn['date'].isoformat()} "
        f"({burn['event']} on {burn['chain']}, tx {burn['tx_hash']}, log {burn['log_index']})"
    )


# --- event_study_returns and event_study_summary ----------------------------------------------


@dataclass(frozen=True)
class _Event:
    date: dt.date
    token: str
    tx_hash: str
    log_index: int
    returns: np.ndarray  # BTC log returns at offsets EVENT_WINDOW[0]..EVENT_WINDOW[1]
    expected: float  # mean BTC log return over the estimation window

    @property
    def abnormal(self) -> np.ndarray:
        return self.returns - self.expected

    def car(self, first: int, last: int) -> float:
        return float(self.abnormal[first - EVENT_WINDOW[0] : last - EVENT_WINDOW[0] + 1].sum())


def event_study(
    panel: pl.DataFrame, large_mints_table: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(event_study_returns, event_study_summary) for the non-inventory large mints."""
    btc = _complete_calendar(panel).select("date", _log_return("btc_mcap").alias("btc_return"))
    # A filter keeps only rows where its condition is true, so pending (NULL) mints are in neither.
    mints = large_mints_table.filter(pl.col("inventory").not_()).sort(_MINT_KEY)
    events = _complete_events(btc, mints)
    inventory = large_mints_table.filter(pl.col("inventory"))
    return _event_returns_table(events), _event_summary_table(events, inventory)


def _complete_events(btc: pl.DataFrame, mints: pl.DataFrame) -> list[_Event]:
    """The mints whose estimation and event windows are inside the panel with no NULL return."""
    if btc.is_empty():
        return []
    position = {day: i for i, day in enumerate(btc["date"].to_list())}
    returns = btc["btc_return"].to_numpy()  # NULL -> NaN
    events = []
    for mint in mints.iter_rows(named=True):
        i = position.get(mint["date"])
        if i is None or i + ESTIMATION_WINDOW[0] < 0 or i + EVENT_WINDOW[1] >= len(returns):
            continue
        estimation = returns[i + ESTIMATION_WINDOW[0] : i + ESTIMATION_WINDOW[1] + 1]
        window = returns[i + EVENT_WINDOW[0] : i + EVENT_WINDOW[1] + 1]
        if np.isnan(estimation).any() or np.isnan(window).any():
            continue
        events.append(_Event(*_key(mint), returns=window, expected=float(estimation.mean())))
    return events


def _event_returns_table(events: list[_Event]) -> pl.DataFrame:
    offsets = range(EVENT_WINDOW[0], EVENT_WINDOW[1] + 1)
    rows = [
        (e.date, e.token, e.tx_hash, e.log_index, offset, e.date + dt.timedelta(days=offset),
         float(ret), e.expected, float(abnormal), float(car))
        for e in events
        for offset, ret, abnormal, car in zip(offsets, e.returns, e.abnormal, np.cumsum(e.abnormal))
    ]
    return pl.DataFrame(rows, schema=EVENT_STUDY_RETURNS_SCHEMA, orient="row").sort(
        "event_date", "token", "tx_hash", "log_index", "offset"
    )


def _event_summary_table(events: list[_Event], inventory: pl.DataFrame) -> pl.DataFrame:
    rows = []
    for group in SUMMARY_GROUPS:
        distinct = _one_event_per_day(events, group)
        excluded = inventory if group == "all" else inventory.filter(pl.col("token") == group)
        for name, (first, last) in CAR_WINDOWS.items():
            cars = np.array([e.car(first, last) for e in distinct])
            rows.append((group, name, len(cars), excluded.height, *_t_test(cars)))
    summary = pl.DataFrame(rows, schema=EVENT_STUDY_SUMMARY_SCHEMA, orient="row")
    return summary.sort("token", "car_window")


def _one_event_per_day(events: list[_Event], group: str) -> list[_Event]:
    """Same-day mints share one BTC path: keep the first per (token, day), or per day for 'all'."""
    seen: set[tuple] = set()
    distinct = []
    for event in events:
        if group != "all" and event.token != group:
            continue
        day = (event.date,) if group == "all" else (event.token, event.date)
        if day not in seen:
            seen.add(day)
            distinct.append(event)
    return distinct


def _t_test(cars: np.ndarray) -> tuple[float | None, float | None, float | None]:
    """(mean, t, two-sided p) of the CARs against zero; t and p need MIN_EVENTS events."""
    if len(cars) == 0:
        return None, None, None
    mean = float(cars.mean())
    if len(cars) < MIN_EVENTS or np.ptp(cars) == 0:
        return mean, None, None
    result = stats.ttest_1samp(cars, 0.0)
    return mean, finite(result.statistic), finite(result.pvalue)


# --- exchange_migration -----------------------------------------------------------------------


def exchange_migration(panel: pl.DataFrame) -> pl.DataFrame:
    """Trend of derivatives_share and its daily co-movement with BTC, per window."""
    daily = (
        _complete_calendar(panel)
        .select(
            "date",
            pl.col("derivatives_share").fill_nan(None).alias("share"),
            _log_return("btc_mcap").alias("btc_return"),
        )
        .with_columns(pl.col("share").diff().alias("share_change"))
    )
    rows = [_migration_row(w, daily.filter(_in_window(w))) for w in windows(panel["date"].to_list())]
    return pl.DataFrame(rows, schema=EXCHANGE_MIGRATION_SCHEMA, orient="row").sort("period")


def _migration_row(window: Window, daily: pl.DataFrame) -> tuple:
    shares = daily.drop_nulls("share")
    trend, trend_p = (None, None)
    if shares.height >= MIN_OBS:
        trend, trend_p = _hac_trend(shares["date"], shares["share"].to_numpy(), window.start)
    pairs = daily.drop_nulls(["share_change", "btc_return"])
    corr, corr_p = (None, None)
    if pairs.height >= MIN_OBS:
        corr, corr_p = pearson(pairs["share_change"].to_numpy(), pairs["btc_return"].to_numpy())
    return (window.name, window.start, window.end, shares["share"].first(), shares["share"].last(),
            trend, trend_p, corr, corr_p, shares.height)


def _hac_trend(
    dates: pl.Series, share: np.ndarray, origin: dt.date
) -> tuple[float | None, float | None]:
    """OLS slope of share on time in years, with a Newey-West p-value (HAC_MAXLAGS lags)."""
    years = (dates - origin).dt.total_days().to_numpy() / DAYS_PER_YEAR
    fit = sm.OLS(share, sm.add_constant(years)).fit(cov_type="HAC", cov_kwds={"maxlags": HAC_MAXLAGS})
    return finite(fit.params[1]), finite(fit.pvalues[1])


# --- risk_panel -------------------------------------------------------------------------------


def annualised_return(closes: np.ndarray, periods_per_year: int) -> float:
    """Geometric: (last/first)^(periods_per_year/n_returns) - 1."""
    return float((closes[-1] / closes[0]) ** (periods_per_year / (len(closes) - 1)) - 1)


def annualised_volatility(closes: np.ndarray, periods_per_year: int) -> float:
    """Sample std of daily log returns, scaled by sqrt(periods_per_year)."""
    return float(np.diff(np.log(closes)).std(ddof=1) * math.sqrt(periods_per_year))


def sharpe_ratio(closes: np.ndarray, periods_per_year: int, risk_free_rate: float) -> float | None:
    """(annualised mean simple return - risk-free) / annualised std of simple returns."""
    simple = closes[1:] / closes[:-1] - 1
    excess = simple.mean() * periods_per_year - risk_free_rate
    return finite(excess / (simple.std(ddof=1) * math.sqrt(periods_per_year)))


def max_drawdown(closes: np.ndarray) -> float:
    """Deepest fall from a running peak, as a negative fraction (0 if it never fell)."""
    return float((closes / np.maximum.accumulate(closes) - 1).min())


def risk_panel(risk_prices: pl.DataFrame, risk_free: pl.DataFrame) -> pl.DataFrame:
    """Return, volatility, Sharpe and drawdown per asset over 'full' and each calendar year."""
    prices = risk_prices.drop_nulls("close").sort("asset", "date")
    rates = risk_free.select("date", pl.col("rate").fill_nan(None))
    rows = []
    for window in calendar_windows(risk_prices["date"].unique().sort().to_list()):
        rate = rates.filter(_in_window(window))["rate"].mean()  # days without a rate don't count
        for asset in prices["asset"].unique().sort().to_list():
            series = prices.filter(pl.col("asset") == asset)
            periods = int(series["periods_per_year"][0])
            closes = series.filter(_in_window(window))["close"].to_numpy()
            n_returns = max(len(closes) - 1, 0)
            metrics = _risk_metrics(closes, periods, rate)
            rows.append(
                (window.name, window.start, window.end, asset, *metrics, rate, periods, n_returns)
            )
    return pl.DataFrame(rows, schema=RISK_PANEL_SCHEMA, orient="row").sort("period", "asset")


def _risk_metrics(closes: np.ndarray, periods: int, rate: float | None) -> tuple:
    """(return, volatility, Sharpe, drawdown), all NULL below MIN_OBS returns."""
    if len(closes) - 1 < MIN_OBS:
        return None, None, None, None
    return (
        finite(annualised_return(closes, periods)),
        finite(annualised_volatility(closes, periods)),
        None if rate is None else sharpe_ratio(closes, periods, rate),
        finite(max_drawdown(closes)),
    )


# --- risk_correlation -------------------------------------------------------------------------


def risk_correlation(risk_prices: pl.DataFrame) -> pl.DataFrame:
    """Correlation of daily simple returns on common trading days, all ordered asset pairs."""
    closes = risk_prices.drop_nulls("close").pivot(on="asset", index="date", values="close")
    assets = sorted(c for c in closes.columns if c != "date")
    # Days every asset has a close: the US trading days when equities are in the frame.
    common = closes.select("date", *assets).drop_nulls().sort("date")
    rows = []
    for window in calendar_windows(risk_prices["date"].unique().sort().to_list()):
        matrix = common.filter(_in_window(window)).select(assets).to_numpy()
        returns = matrix[1:] / matrix[:-1] - 1
        corr = _correlation_matrix(returns, len(assets))
        rows.extend(
            (window.name, window.start, window.end, a, b, corr[i][j], len(returns))
            for i, a in enumerate(assets)
            for j, b in enumerate(assets)
        )
    table = pl.DataFrame(rows, schema=RISK_CORRELATION_SCHEMA, orient="row")
    return table.sort("period", "asset_a", "asset_b")


def _correlation_matrix(returns: np.ndarray, k: int) -> list[list[float | None]]:
    """Exactly symmetric, unit diagonal; NULL below MIN_OBS returns or for a constant asset."""
    if len(returns) < MIN_OBS:
        return [[None] * k for _ in range(k)]
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.atleast_2d(np.corrcoef(returns, rowvar=False))
    # Mirror the upper triangle and pin the diagonal: floating-point noise must not make
    # corr(a, b) differ from corr(b, a) or the diagonal read 0.9999999999999998.
    unit_diagonal = np.diag(np.where(np.isfinite(np.diag(corr)), 1.0, np.nan))
    corr = np.triu(corr, 1) + np.triu(corr, 1).T + unit_diagonal
    return [[finite(value) for value in row] for row in corr]
