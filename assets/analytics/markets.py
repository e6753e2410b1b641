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
    close to the close of the mint's day. The estimation window is offsets -60..-11 (L = 50
    days, ending before the event window so the event cannot leak into it); the event window
    is -5..+10; CAR is the running sum of abnormal returns from offset -5. Two benchmarks
    (MODELS), both reported, one row each (column `model`):
    - constant_mean: expected return = BTC's mean return over the estimation window. Simple,
      but when BTC's drift changes between the estimation and the event window (a trend that
      starts, turns or ends) the change shows as abnormal return, and every market-wide move
      stays in the abnormal return.
    - market_model: expected return = alpha + beta * ETH's daily log return (panel.eth_mcap,
      MARKET_PROXY), alpha and beta fitted by OLS over the estimation window. ETH is the only
      broad crypto price in the panel that does not contain BTC itself (crypto_mcap is
      BTC + ETH, so BTC would partly be regressed on itself; total_supply is the stablecoin
      supply, the treatment). Limitation: ETH's daily returns correlate about 0.8 with BTC's
      and ETH reacts to the same crypto-wide news, so a market-model abnormal return measures
      BTC's move relative to what ETH's move predicts: a mint that lifts all crypto alike
      shows in constant_mean but not here. An exogenous benchmark (an equity index) is not in
      the panel, and it trades on weekdays only.
    An event is studied only if its estimation and event windows are inside the panel with no
    NULL BTC or ETH return (and ETH is not constant over the estimation window), so both
    models describe the same events; skipped events are not counted. event_study_returns has
    one block of rows per mint log and model.
    The summary tests the mean CAR over '0..+1', '0..+5' and '-5..+10' against zero, per token
    group and model. Several mints on the same day share the same BTC returns, so counting each
    would count one day's return several times: a token's group counts one event per (token,
    event_date) and 'all' one per event_date. Large mints cluster (most have another within 15
    days), so the windows of different events share days and their CARs are correlated, which
    a test assuming independent events ignores. The deciding test is therefore the
    Kolari-Pynnonen adjusted BMP test (Kolari & Pynnonen 2010, Review of Financial Studies 23,
    "Event study testing with cross-sectional correlation of abnormal returns"; Boehmer,
    Musumeci & Poulsen 1991, Journal of Financial Economics 30):
    - SCAR_i = CAR_i / (s_i * sqrt(w_i . w_i)), where s_i is the residual standard deviation
      of the event's estimation window (L - 1 degrees of freedom for constant_mean, L - 2 for
      market_model) and w_i writes CAR_i as weights on daily residuals: 1 on each CAR day and
      minus the estimation weights on the estimation days (for constant_mean -K/L each, K the
      CAR days; for the market model the OLS prediction-error weights). w_i . w_i is then the
      forecast-error variance factor of the CAR (K + K^2/L for constant_mean).
    - BMP t = sqrt(n) * mean(SCAR) / sd(SCAR), the standardized cross-sectional test, robust
      to event-induced variance.
    - adjusted t = BMP t * sqrt((1 - r) / (1 + (n - 1) r)), with r (avg_cross_correlation)
      the mean pairwise correlation of the SCARs; two-sided p (adj_bmp_p_value, the summary's
      deciding p) from Student's t with n_eff - 1 degrees of freedom, n_eff = n / (1 + (n - 1)
      r) being Kish's effective number of events (n - 1 when no windows touch): the variance
      of correlated SCARs is estimated with fewer degrees of freedom than n - 1, and with n - 1
      a dozen tight clusters of events made the test reject a true null up to 7 % of the time.
    Kolari and Pynnonen estimate r from the estimation-window residuals of firms that share
    calendar days. Here every event is the same asset (BTC) on a different date, so residuals
    aligned in event time fall on different days and correlate about zero: that r would not
    see the overlap. r is instead the correlation the windows imply under the null of
    independent residuals with one variance: corr(CAR_i, CAR_j) = w_i . w_j / (|w_i| |w_j|) on
    the common calendar, which counts shared CAR days (and, with small weights, a CAR day
    inside another event's estimation window, and shared estimation days). With that r the
    adjustment is exact in expectation: the variance of mean(SCAR) is (1 + (n - 1) r) / n and
    E[sd(SCAR)^2] = 1 - r. On simulated nulls with clustered events (BTC and ETH driven by a
    common shock; tests/analytics/test_markets.py) it rejects at close to the nominal rate
    while the t-test for independent events rejects 20-36 % of the time over 0..+5 and
    -5..+10. The test still assumes serially uncorrelated residuals with a locally constant
    variance over windows that share days. BTC's residual against ETH is not: in the recorded
    2018-2023 CoinGecko prices 16-day sums of market-model residuals vary about 1.4 times as
    much as 16 independent days (BTC's performance relative to ETH drifts for weeks). In a
    placebo on those prices (the days on which DefiLlama's USDT or USDC supply rose by 250 M
    or more, a stand-in for large mints, shifted in time by 20, 40, ... days) the market
    model's adjusted test rejected the true null at 5 % in about 12 % (0..+5) and 14 %
    (-5..+10) of the shifts, constant_mean in 6 % and 2 %, both in 8 % over 0..+1, against
    12-19 % for the independent t-test over the longer windows. Read market_model p over the
    longer windows as indicative. The cross-sectional t-test is
    kept, named for what it assumes (t_stat_independent, t_p_value_independent), to show how
    much the overlap matters; overlapping_events counts the events whose CAR days include a
    day of another event's CAR. Read a small adjusted p with care too: mints cluster in bull
    markets, estimation windows contain earlier events (their abnormal returns move the
    benchmark toward them), and a positive CAR says returns were high around mints, not that
    mints caused them. With fewer than MIN_EVENTS = 3 events the statistics are NULL (mean_car
    only with none); r needs two events.

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
    periods_per_year are reported regardless. A calendar year the data covers only in part
    (the first and last years, e.g. 2023 to 24 October) is still annualised, from its n_obs
    returns: days_in_window says how many calendar days the window has, coverage which share
    of its year that is, and partial_period flags coverage below 1, so a partial year's
    figures are read as an annualised rate over those days, not as the year's outcome (a
    drawdown over ten months is not a calendar-year drawdown). 'full' is the whole history by
    definition: coverage 1, never partial. The columns describe the window, not an asset's
    closes within it (n_obs does). The risk-free rate is the 3-month bill's bond-equivalent
    yield (annual decimal, converted from FRED's discount-basis DTB3 in the mart) that
    marts.risk_free_daily gives for every calendar day (weekends and holidays already carry the
    last published rate there), averaged over the window's days that have one; days without a
    rate (before the first publication, after the last) simply do not count. With no rate in
    the window the Sharpe ratio is NULL. Crypto uses 365 periods a year and equities 252, as
    given per row of risk_prices.

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

from assets.analytics.windows import (
    MIN_OBS,
    WINDOW_SCHEMA,
    Window,
    calendar_windows,
    finite,
    pearson,
    windows,
)

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
# Benchmarks for the expected BTC return; the market model regresses BTC on MARKET_PROXY.
MODELS = ("constant_mean", "market_model")
MARKET_PROXY = "eth_mcap"

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
    "model": pl.Utf8,
    "offset": pl.Int32,
    "date": pl.Date,
    "btc_return": pl.Float64,
    "eth_return": pl.Float64,
    "expected_return": pl.Float64,
    "abnormal_return": pl.Float64,
    "car": pl.Float64,
}
EVENT_STUDY_SUMMARY_SCHEMA = {
    "token": pl.Utf8,
    "car_window": pl.Utf8,
    "model": pl.Utf8,
    "n_events": pl.Int32,
    "overlapping_events": pl.Int32,
    "excluded_inventory": pl.Int32,
    "mean_car": pl.Float64,
    "t_stat_independent": pl.Float64,
    "t_p_value_independent": pl.Float64,
    "bmp_t_stat": pl.Float64,
    "avg_cross_correlation": pl.Float64,
    "adj_bmp_t_stat": pl.Float64,
    "adj_bmp_p_value": pl.Float64,
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
    "days_in_window": pl.Int32,
    "coverage": pl.Float64,
    "partial_period": pl.Boolean,
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
    """The panel on every calendar day, so a missing day is a NULL row, not a silent 2-day
    return."""
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


def _reversing_burn_candidates(
    mints: pl.DataFrame, events: pl.DataFrame
) -> dict[tuple, list[dict]]:
    """Per mint, the burns that could reverse it, earliest first (the preferred match)."""
    burns = events.filter(pl.col("event").is_in(REVERSING_BURN_EVENTS)).select(
        "token",
        *(pl.col(c).alias(f"burn_{c}") for c in _BURN_COLUMNS),
    )
    days_after = (pl.col("burn_date") - pl.col("date")).dt.total_days()
    later_on_same_chain = (pl.col("burn_chain") == pl.col("chain")) & (
        (pl.col("burn_block_number") > pl.col("block_number"))
        | (
            (pl.col("burn_block_number") == pl.col("block_number"))
            & (pl.col("burn_log_index") > pl.col("log_index"))
        )
    )
    pairs = (
        mints.join(burns, on="token", how="inner")
        .filter(
            days_after.is_between(0, INVENTORY_MAX_DAYS)
            # Blocks of different chains are not comparable: there only a later date is later.
            & ((days_after > 0) | later_on_same_chain)
            & (
                (pl.col("burn_amount_tokens") - pl.col("amount_tokens")).abs()
                <= INVENTORY_AMOUNT_TOLERANCE * pl.col("amount_tokens")
            )
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
class _Fit:
    """One benchmark model fitted on one event's estimation window.

    `projection` maps the estimation-window residuals onto the event window's prediction
    errors: an event-window abnormal return is its own day's residual minus
    projection @ (estimation residuals), so a CAR is a fixed linear combination of daily
    residuals, which gives its forecast-error variance and its overlap with other events."""

    expected: np.ndarray  # expected BTC log return at each event-window offset
    sd: float  # residual standard deviation over the estimation window (ddof = parameters)
    projection: np.ndarray  # event days x estimation days


@dataclass(frozen=True)
class _Event:
    date: dt.date
    token: str
    tx_hash: str
    log_index: int
    day: int  # position of the event date on the complete calendar
    returns: np.ndarray  # BTC log returns at offsets EVENT_WINDOW[0]..EVENT_WINDOW[1]
    eth_returns: np.ndarray  # ETH log returns over the same days (the market model's regressor)
    fits: tuple[_Fit, ...]  # one per model, in MODELS order

    def abnormal(self, model: int) -> np.ndarray:
        return self.returns - self.fits[model].expected

    def car(self, model: int, first: int, last: int) -> float:
        return float(self.abnormal(model)[_car_slice(first, last)].sum())

    def car_weights(self, model: int, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
        """CAR as weights on the daily residuals: (on the CAR days, on the estimation days)."""
        projection = self.fits[model].projection[_car_slice(first, last)]
        return np.ones(last - first + 1), -projection.sum(axis=0)

    def scar(self, model: int, first: int, last: int) -> float | None:
        """CAR / its forecast-error standard deviation (BMP's standardised CAR)."""
        on_car, on_estimation = self.car_weights(model, first, last)
        sd = self.fits[model].sd * math.sqrt(on_car @ on_car + on_estimation @ on_estimation)
        return finite(self.car(model, first, last) / sd) if sd > 0 else None


def _car_slice(first: int, last: int) -> slice:
    return slice(first - EVENT_WINDOW[0], last - EVENT_WINDOW[0] + 1)


def event_study(
    panel: pl.DataFrame, large_mints_table: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(event_study_returns, event_study_summary) for the non-inventory large mints."""
    daily = _complete_calendar(panel).select(
        "date",
        _log_return("btc_mcap").alias("btc_return"),
        _log_return(MARKET_PROXY).alias("eth_return"),
    )
    # A filter keeps only rows where its condition is true, so pending (NULL) mints are in neither.
    mints = large_mints_table.filter(pl.col("inventory").not_()).sort(_MINT_KEY)
    events = _complete_events(daily, mints)
    inventory = large_mints_table.filter(pl.col("inventory"))
    return _event_returns_table(events), _event_summary_table(events, inventory)


def _complete_events(daily: pl.DataFrame, mints: pl.DataFrame) -> list[_Event]:
    """The mints whose estimation and event windows are inside the panel with no NULL BTC or
    ETH return and a non-constant ETH return over the estimation window."""
    if daily.is_empty():
        return []
    position = {day: i for i, day in enumerate(daily["date"].to_list())}
    btc = daily["btc_return"].to_numpy()  # NULL -> NaN
    eth = daily["eth_return"].to_numpy()
    events = []
    for mint in mints.iter_rows(named=True):
        i = position.get(mint["date"])
        if i is None or i + ESTIMATION_WINDOW[0] < 0 or i + EVENT_WINDOW[1] >= len(btc):
            continue
        estimation = slice(i + ESTIMATION_WINDOW[0], i + ESTIMATION_WINDOW[1] + 1)
        window = slice(i + EVENT_WINDOW[0], i + EVENT_WINDOW[1] + 1)
        if any(np.isnan(a[s]).any() for a in (btc, eth) for s in (estimation, window)):
            continue
        if np.ptp(eth[estimation]) == 0:  # no market model can be fitted
            continue
        fits = (
            _constant_mean(btc[estimation], window.stop - window.start),
            _market_model(btc[estimation], eth[estimation], eth[window]),
        )
        events.append(
            _Event(*_key(mint), day=i, returns=btc[window], eth_returns=eth[window], fits=fits)
        )
    return events


def _constant_mean(y: np.ndarray, event_days: int) -> _Fit:
    """Expected return = the estimation-window mean (one parameter)."""
    mean = float(y.mean())
    residuals = y - mean
    sd = math.sqrt(residuals @ residuals / (len(y) - 1))
    return _Fit(np.full(event_days, mean), sd, np.full((event_days, len(y)), 1 / len(y)))


def _market_model(y: np.ndarray, x: np.ndarray, x_event: np.ndarray) -> _Fit:
    """OLS of BTC on ETH over the estimation window: expected = alpha + beta * ETH return."""
    x_mean, y_mean = x.mean(), y.mean()
    sxx = float((x - x_mean) @ (x - x_mean))
    beta = float((x - x_mean) @ (y - y_mean)) / sxx
    alpha = float(y_mean - beta * x_mean)
    residuals = y - alpha - beta * x
    sd = math.sqrt(residuals @ residuals / (len(y) - 2))
    # Prediction error of event day k: e_k - sum_t projection[k, t] e_t, since
    # (alpha_hat + beta_hat x_k) - (alpha + beta x_k) = sum_t [1/L + (x_k - x_mean)(x_t - x_mean)
    # / Sxx] e_t over the estimation days t.
    projection = 1 / len(y) + np.outer(x_event - x_mean, x - x_mean) / sxx
    return _Fit(alpha + beta * x_event, sd, projection)


def _event_returns_table(events: list[_Event]) -> pl.DataFrame:
    offsets = range(EVENT_WINDOW[0], EVENT_WINDOW[1] + 1)
    rows = [
        (
            e.date,
            e.token,
            e.tx_hash,
            e.log_index,
            model,
            offset,
            e.date + dt.timedelta(days=offset),
            float(ret),
            float(eth),
            float(expected),
            float(abnormal),
            float(car),
        )
        for e in events
        for m, model in enumerate(MODELS)
        for offset, ret, eth, expected, abnormal, car in zip(
            offsets,
            e.returns,
            e.eth_returns,
            e.fits[m].expected,
            e.abnormal(m),
            np.cumsum(e.abnormal(m)),
        )
    ]
    return pl.DataFrame(rows, schema=EVENT_STUDY_RETURNS_SCHEMA, orient="row").sort(
        "event_date", "token", "tx_hash", "log_index", "model", "offset"
    )


def _event_summary_table(events: list[_Event], inventory: pl.DataFrame) -> pl.DataFrame:
    rows = []
    for group in SUMMARY_GROUPS:
        distinct = _one_event_per_day(events, group)
        excluded = inventory if group == "all" else inventory.filter(pl.col("token") == group)
        for name, (first, last) in CAR_WINDOWS.items():
            overlapping = _overlapping_events(distinct, first, last)
            for m, model in enumerate(MODELS):
                cars = np.array([e.car(m, first, last) for e in distinct])
                rows.append(
                    (
                        group,
                        name,
                        model,
                        len(cars),
                        overlapping,
                        excluded.height,
                        *_t_test(cars),
                        *_adjusted_bmp_test(distinct, m, first, last),
                    )
                )
    summary = pl.DataFrame(rows, schema=EVENT_STUDY_SUMMARY_SCHEMA, orient="row")
    return summary.sort("token", "car_window", "model")


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


def _overlapping_events(events: list[_Event], first: int, last: int) -> int:
    """Events whose CAR days include a day of another event's CAR (another event within
    last - first days)."""
    days = np.array([e.day for e in events])
    span = last - first
    return sum(int(np.count_nonzero(np.abs(days - e.day) <= span) > 1) for e in events)


def _t_test(cars: np.ndarray) -> tuple[float | None, float | None, float | None]:
    """(mean, t, two-sided p) of the CARs against zero, as if the events were independent;
    t and p need MIN_EVENTS events."""
    if len(cars) == 0:
        return None, None, None
    mean = float(cars.mean())
    if len(cars) < MIN_EVENTS or np.ptp(cars) == 0:
        return mean, None, None
    result = stats.ttest_1samp(cars, 0.0)
    return mean, finite(result.statistic), finite(result.pvalue)


def _adjusted_bmp_test(
    events: list[_Event], model: int, first: int, last: int
) -> tuple[float | None, float | None, float | None, float | None]:
    """(BMP t, r_bar, Kolari-Pynnonen adjusted BMP t, its two-sided p) for the mean CAR.

    BMP t = sqrt(n) * mean(SCAR) / sd(SCAR); adjusted t = BMP t *
    sqrt((1 - r_bar) / (1 + (n - 1) r_bar)), referred to Student's t with n_eff - 1 degrees
    of freedom. r_bar is the mean pairwise correlation of the standardised CARs implied by the
    days their weights share (overlap_correlation); it is reported from two events on, the
    test from MIN_EVENTS."""
    n = len(events)
    r_bar = overlap_correlation(events, model, first, last)
    if n < MIN_EVENTS:
        return None, r_bar, None, None
    scars = [e.scar(model, first, last) for e in events]
    if any(s is None for s in scars) or r_bar is None:
        return None, r_bar, None, None
    scars = np.array(scars)
    # 1 + (n - 1) r_bar = |sum of the unit weight vectors|^2 / n >= 0: zero only when the CARs
    # cancel exactly, where the mean CAR has no variance to test against.
    inflation = 1 + (n - 1) * r_bar
    if np.ptp(scars) == 0 or inflation <= 0:
        return None, r_bar, None, None
    bmp = math.sqrt(n) * scars.mean() / scars.std(ddof=1)
    adjusted = bmp * math.sqrt(max(1 - r_bar, 0.0) / inflation)
    # Correlated SCARs carry less information than n independent ones: Student's t with
    # n_eff - 1 degrees of freedom, n_eff = n / (1 + (n - 1) r_bar) (Kish's effective
    # number of events), n - 1 when the events do not overlap.
    effective = min(n / inflation, n)
    p_value = 2 * stats.t.sf(abs(adjusted), df=max(effective - 1, 1.0))
    return finite(bmp), r_bar, finite(adjusted), finite(p_value)


def overlap_correlation(events: list[_Event], model: int, first: int, last: int) -> float | None:
    """Mean pairwise correlation (i != j) of the events' CARs over first..last under the null.

    Each CAR is a fixed combination of BTC's daily residuals: +1 on its CAR days, minus the
    estimation weights on its estimation days. With residuals independent and of one variance,
    corr(CAR_i, CAR_j) = w_i . w_j / (|w_i| |w_j|), the cosine of the two weight vectors on
    the common calendar: it counts shared CAR days, and (with small negative or positive
    weights) CAR days inside another event's estimation window and shared estimation days.
    Events on days far apart are uncorrelated. NULL below two events."""
    n = len(events)
    if n < 2:
        return None
    origin = min(e.day for e in events) + ESTIMATION_WINDOW[0]
    total = np.zeros(max(e.day for e in events) + EVENT_WINDOW[1] - origin + 1)
    for event in events:  # sum_ij corr_ij = |sum_i w_i / |w_i||^2, and the diagonal adds n
        on_car, on_estimation = event.car_weights(model, first, last)
        norm = math.sqrt(on_car @ on_car + on_estimation @ on_estimation)
        total[event.day + first - origin : event.day + last - origin + 1] += on_car / norm
        start = event.day + ESTIMATION_WINDOW[0] - origin
        total[start : start + len(on_estimation)] += on_estimation / norm
    return finite((total @ total - n) / (n * (n - 1)))


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
    rows = [
        _migration_row(w, daily.filter(_in_window(w))) for w in windows(panel["date"].to_list())
    ]
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
    return (
        window.name,
        window.start,
        window.end,
        shares["share"].first(),
        shares["share"].last(),
        trend,
        trend_p,
        corr,
        corr_p,
        shares.height,
    )


def _hac_trend(
    dates: pl.Series, share: np.ndarray, origin: dt.date
) -> tuple[float | None, float | None]:
    """OLS slope of share on time in years, with a Newey-West p-value (HAC_MAXLAGS lags)."""
    years = (dates - origin).dt.total_days().to_numpy() / DAYS_PER_YEAR
    fit = sm.OLS(share, sm.add_constant(years)).fit(
        cov_type="HAC", cov_kwds={"maxlags": HAC_MAXLAGS}
    )
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
                (
                    window.name,
                    window.start,
                    window.end,
                    asset,
                    *metrics,
                    rate,
                    periods,
                    n_returns,
                    *_coverage(window),
                )
            )
    return pl.DataFrame(rows, schema=RISK_PANEL_SCHEMA, orient="row").sort("period", "asset")


def _coverage(window: Window) -> tuple[int, float, bool]:
    """(days in the window, share of its calendar period's days, partial?); 'full' is the
    whole history by definition, so it covers itself."""
    days = (window.end - window.start).days + 1
    if window.name == "full":
        return days, 1.0, False
    year = int(window.name)
    period_days = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days
    return days, days / period_days, days < period_days


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
