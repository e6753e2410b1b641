"""Does stablecoin supply move with crypto market caps, which one leads, and did that change?

Pure functions from the daily `panel` (one row per UTC day: supply and market-cap columns) to the
decoupling tables of schema `analytics`: rolling_correlation, window_correlation, stationarity,
granger_causality, cointegration, regime_daily, regime_periods, structural_breaks and
decoupling_summary. Supply series: USDT, USDC and total supply; price series: BTC, ETH and
"crypto" (BTC+ETH) market cap; every statistic is computed for all nine (supply, price) pairs.

Conventions
- One tested quantity, fixed in advance: every correlation and Granger test is on daily log
  changes (log_diff = first difference of ln(x): daily log growth of supply, daily log return
  of a market cap) on both sides, in every window. log_level = ln(x) is what cointegration and
  the regimes use. Missing or non-positive values are missing (NULL in, NaN inside, NULL out).
- Windows come from `windows.windows()`; a window is named by its `period` column and dated by
  window_start and window_end. A statistic over a window uses only that window's days (so a
  difference starts on the window's second day). A window with fewer than MIN_OBS usable
  observations gives rows whose statistics are NULL; n_obs then says how many there were.
- n_obs counts what the statistic was computed on: daily changes for the correlations (364 for a
  full year), regression rows for Granger (daily values of the effect whose lags are all present,
  so it falls with the lag), log-level days for cointegration (365 for a full year), daily changes
  for the break test.
- Gaps: Granger regressions drop any day whose value or lags are missing, so a lag is always in
  calendar days. Tests that need one contiguous series (ADF, KPSS, cointegration, the break
  test) drop missing days and treat the rest as adjacent; the marts allow only rare gaps.
- Output is deterministic: rows sorted by each table's key, exact dtypes, no randomness at run
  time (the sup-F null table below was simulated once, offline, with a fixed seed).

Methods, assumptions and how to read them
- rolling_correlation: Pearson correlation of daily supply log growth and market-cap log return
  over the trailing 30/90/365 rows (= days); NULL until the window holds that many non-null pairs.
- window_correlation: the same correlation over each window, with the t-test p-value (assumes
  roughly independent daily pairs; daily log changes are close to that), and equivalence_p: two
  one-sided tests on Fisher's z of H0 |rho| >= CORRELATION_MARGIN (0.14); a small value is
  evidence that the correlation is negligible.
- stationarity: diagnostics, reported, deciding nothing. ADF (H0: unit root; constant, lag by
  AIC) and KPSS (H0: level-stationary; constant, automatic bandwidth) on the log level and the
  daily log change. stationary = ADF p < 0.05 and KPSS p >= 0.05. KPSS p-values are
  interpolated from a short table and clipped to [0.01, 0.10]: 0.01 reads "0.01 or less", 0.10
  reads "0.10 or more". Earlier versions let these tests pick the transform per window (and
  fell back to second differences), so the tested quantity changed between periods; now a
  window whose log changes do not look stationary is visible here, and the Granger test on it
  is read with that in mind.
- granger_causality: does the past of `cause` improve a linear forecast of `effect` beyond the
  effect's own past? OLS of effect_t on a constant, p own lags and p cause lags (daily log
  changes), and a Wald test that the p cause coefficients are zero with the HC3
  heteroskedasticity-robust covariance (MacKinnon and White 1985), referred to F(p, n - 2p - 1)
  (wald_f = Wald / p; identical to statsmodels' OLS(...).fit(cov_type="HC3").wald_test(...,
  use_f=True)). Robust because daily crypto returns and supply growth have fat tails and
  volatility clusters: the homoskedastic F-test called 7.7% of unrelated real paths coupled
  (bench/calibration.py has the realistic null). equivalence_p tests H0: f2 >= F2_MARGIN
  (0.02), f2 being the share of the effect's remaining variance the cause's p lags explain,
  reading the Wald statistic as noncentral chi-square(p, n x 0.02) at the margin; a small value
  is evidence that the cause's lags explain a negligible share. A small p at lag p means "cause
  precedes effect", predictive precedence, not proof of causation; p_value is per lag and
  unadjusted (the summary adjusts for the 14 lags).
- cointegration (log levels): Engle-Granger, i.e. OLS of ln(price) on a constant and ln(supply),
  then ADF without constant (lag by AIC) on the residuals; the same computation as statsmodels'
  coint(trend='c'), done step by step to record the ADF lag. p_value is MacKinnon's (1994)
  asymptotic p-value and `cointegrated` is p_value < 0.05, so the two never disagree;
  critical_value_5pct is MacKinnon's (2010) finite-sample 5% value for this n, for reference
  only (in short windows it is further out than the asymptotic one, so a statistic can have
  p < 0.05 without passing it). Johansen trace test for rank 0 with a constant (det_order=0);
  k_ar_diff chosen by BIC (statsmodels select_order, up to 14 lags); `cointegrated` is trace
  statistic > its 5% critical value, p_value NULL. Cointegrated means the levels share a
  long-run equilibrium: they may drift apart for a while but not forever. Johansen is
  reported, not voted on: in samples of a year or less it rejects more often than its nominal
  5% (about 10% for independent random walks of 365 days).
- regime_daily / regime_periods: 30-day log change of supply and of market cap; a day is
  'supply_up_price_down', 'supply_down_price_up', 'both_up' or 'both_down' ("up" = change > 0,
  otherwise "down"). regime_periods lists runs of at least 14 consecutive days of a divergent
  regime, with the log changes from the day before the run to its last day.
- structural_breaks: Quandt-Andrews sup-F. For price_return_t = a + b * supply_growth_t (daily
  log changes, full window), the Chow F statistic (k = 2: intercept and slope both change) at
  every candidate break in the middle 70% of the sample; sup_f is the largest, break_date the
  first day of the second regime. Its p-value comes from the asymptotic null distribution of
  sup-F (Andrews 1993), tabulated in SUP_F_NULL_QUANTILES; it is clipped to [0.001, 0.99].
  Assumes homoskedastic errors (the Chow F), so volatile markets make it somewhat liberal.
- decoupling_summary: one verdict per window and pair. The voting family is the Granger test
  both ways (each its smallest p over the 14 lags, x14: supply_to_price_p_adj_lags,
  price_to_supply_p_adj_lags) plus, in windows with at least EG_MIN_OBS observations (n_obs),
  Engle-Granger (engle_granger_p, unadjusted). p_adj_family = family size x the smallest of
  those (Bonferroni over lags and tests: 3 tests, 2 in shorter windows where Engle-Granger is
  reported but does not vote; see EG_MIN_OBS). q_bh = Benjamini-Hochberg q-value of
  p_adj_family across every pair and period of the table (false discovery rate 5%; the rows
  overlap in time and pairs share series, positively dependent tests for which BH holds).
  Verdicts:
    coupled       q_bh < 0.05;
    inconclusive  fewer than MIN_OBS observations, or a voting test could not be computed;
    decoupled     not coupled and equivalence_p < 0.05: positive evidence that the relation is
                  negligible, i.e. the correlation within +-CORRELATION_MARGIN AND, at every
                  lag 1..14 both ways, the Granger effect f2 < F2_MARGIN (an intersection-union
                  test: equivalence_p is the largest of those p-values, so no correction is
                  needed). Engle-Granger not rejecting is not required to be shown: no standard
                  test has "no cointegration" as its alternative;
    not detected  otherwise: no relation detected, but none ruled out either. This is about
                  power, not independence; a year of daily data rarely rules out a 2% effect
                  at 14 lags, so "not detected" is the usual answer for a single year.
  The explanation names what was tested (daily log changes), the decisive test and lag, and
  quotes p_adj_family and q_bh. Correlation and Johansen are reported, not voted. n_obs is
  window_correlation's: daily changes, so 364 for a full year. Calibration: on independent
  Gaussian random walks and on the realistic null (real supply paths against real price
  paths a year or more away, bench/calibration.py) no pair is called coupled more often than
  5% (tests/analytics/test_decoupling.py).
"""

import datetime as dt
import itertools
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import polars as pl
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike
from scipy import stats
from statsmodels.tools.sm_exceptions import InterpolationWarning
from statsmodels.tsa.adfvalues import mackinnoncrit, mackinnonp
from statsmodels.tsa.stattools import adfuller, kpss
from statsmodels.tsa.vector_ar.vecm import coint_johansen, select_order

from assets.analytics.windows import MIN_OBS, WINDOW_SCHEMA, Window, finite, pearson, windows

SUPPLY_SERIES = {"USDT": "usdt_supply", "USDC": "usdc_supply", "total": "total_supply"}
PRICE_SERIES = {"BTC": "btc_mcap", "ETH": "eth_mcap", "crypto": "crypto_mcap"}
MAX_LAG = 14
ALPHA = 0.05
ROLLING_WINDOWS = (30, 90, 365)

# The stationarity diagnostics are reported for both; every Granger test and correlation is on
# TESTED_TRANSFORM, fixed in advance, so a verdict means the same thing in every window.
TRANSFORMS = ("log_level", "log_diff")
TESTED_TRANSFORM = "log_diff"
PAIRS = tuple(itertools.product(SUPPLY_SERIES, PRICE_SERIES))
# Engle-Granger votes in the summary only in windows with at least this many observations (the
# summary's n_obs, daily changes: 364 in a full year). Its p-value (MacKinnon's asymptotic one)
# over-rejects in short samples, more so when supply drifts, as it does: for independent random
# walks with log supply drift 0.001/day (sd 0.003) and log price sd 0.03, p < 0.05 in 12.4% of
# 60-day, 9.8% of 90-day and 6.9% of 365-day samples (review measurement; 2,000 seeds here:
# 11.8%, 9.4%, 7.6% and 7.2% at 60, 90, 250 and 365 days), which pushed the summary's "coupled"
# rate up to 6% in short windows. In windows of most of a year the excess is small enough for
# the Bonferroni family of 3 to absorb; shorter ones (trailing_90d, partial years) vote on the
# two Granger tests only. With this rule the same random walks are called coupled in 1.9% of
# 90-day and 3.3% of 365-day windows (1,000 seeds, the whole per-window path).
EG_MIN_OBS = 250
# "Negligible", stated once for both equivalence tests: the other side explains under 2% of a
# series' variance. Granger: f2 (the share of the effect's remaining variance its 14 lags of the
# cause explain) < 0.02, Cohen's (1988) "small" effect; correlation: |rho| < sqrt(0.02) = 0.14.
# For daily returns 2% is already economically large, so "negligible" is not a loose standard.
F2_MARGIN = 0.02
CORRELATION_MARGIN = math.sqrt(F2_MARGIN)
REGIME_HORIZON_DAYS = 30
MIN_REGIME_DAYS = 14
DIVERGENT_REGIMES = ("supply_up_price_down", "supply_down_price_up")
BREAK_TRIM = 0.15
BREAK_RESTRICTIONS = 2  # intercept and slope

_SERIES_COLUMN = {**SUPPLY_SERIES, **PRICE_SERIES}

# Asymptotic null distribution of the Quandt-Andrews sup-F for k = 2 restrictions and 15%
# trimming, on the F scale (sup of the Wald statistic divided by k): pairs (P(sup-F > c), c).
# Produced once by sup_f_quantile_table(simulate_sup_f_null(20_000, 1_000, seed=1993)), i.e.
# 20,000 two-dimensional Brownian motions on a 1,000-point grid. Andrews (1993, table 1) gives
# about 11.7 at 5% on the Wald scale for p = 2, pi0 = 0.15, i.e. about 5.85 on this scale (Stock
# and Watson's QLR table: 5.86); a grid's sup is slightly below the continuous one, hence 5.80.
SUP_F_NULL_QUANTILES: tuple[tuple[float, float], ...] = (
    (0.99, 0.858),
    (0.95, 1.19),
    (0.9, 1.417),
    (0.8, 1.771),
    (0.7, 2.07),
    (0.6, 2.381),
    (0.5, 2.696),
    (0.4, 3.062),
    (0.3, 3.513),
    (0.2, 4.051),
    (0.15, 4.428),
    (0.1, 4.947),
    (0.075, 5.303),
    (0.05, 5.8),
    (0.025, 6.674),
    (0.01, 7.765),
    (0.005, 8.429),
    (0.001, 10.611),
)
_SIMULATION_CHUNK = 1_000  # paths per batch of simulate_sup_f_null, to bound memory

ROLLING_CORRELATION_SCHEMA = {
    "date": pl.Date,
    "supply_series": pl.String,
    "price_series": pl.String,
    "window_days": pl.Int32,
    "correlation": pl.Float64,
    "n_obs": pl.Int32,
}
WINDOW_CORRELATION_SCHEMA = {
    **WINDOW_SCHEMA,
    "supply_series": pl.String,
    "price_series": pl.String,
    "correlation": pl.Float64,
    "p_value": pl.Float64,
    "equivalence_p": pl.Float64,
    "n_obs": pl.Int32,
}
STATIONARITY_SCHEMA = {
    **WINDOW_SCHEMA,
    "series": pl.String,
    "transform": pl.String,
    "adf_stat": pl.Float64,
    "adf_p_value": pl.Float64,
    "kpss_stat": pl.Float64,
    "kpss_p_value": pl.Float64,
    "stationary": pl.Boolean,
}
GRANGER_SCHEMA = {
    **WINDOW_SCHEMA,
    "cause": pl.String,
    "effect": pl.String,
    "cause_transform": pl.String,
    "effect_transform": pl.String,
    "lag": pl.Int32,
    "wald_f": pl.Float64,
    "p_value": pl.Float64,
    "equivalence_p": pl.Float64,
    "n_obs": pl.Int32,
}
COINTEGRATION_SCHEMA = {
    **WINDOW_SCHEMA,
    "supply_series": pl.String,
    "price_series": pl.String,
    "method": pl.String,
    "statistic": pl.Float64,
    "critical_value_5pct": pl.Float64,
    "p_value": pl.Float64,
    "lags": pl.Int32,
    "cointegrated": pl.Boolean,
    "n_obs": pl.Int32,
}
REGIME_DAILY_SCHEMA = {
    "date": pl.Date,
    "supply_series": pl.String,
    "price_series": pl.String,
    "supply_growth_30d": pl.Float64,
    "price_return_30d": pl.Float64,
    "regime": pl.String,
}
REGIME_PERIODS_SCHEMA = {
    "supply_series": pl.String,
    "price_series": pl.String,
    "regime": pl.String,
    "start_date": pl.Date,
    "end_date": pl.Date,
    "days": pl.Int32,
    "supply_growth": pl.Float64,
    "price_return": pl.Float64,
}
STRUCTURAL_BREAKS_SCHEMA = {
    "supply_series": pl.String,
    "price_series": pl.String,
    **WINDOW_SCHEMA,
    "break_date": pl.Date,
    "sup_f": pl.Float64,
    "p_value": pl.Float64,
    "slope_before": pl.Float64,
    "slope_after": pl.Float64,
    "n_obs": pl.Int32,
}
DECOUPLING_SUMMARY_SCHEMA = {
    **WINDOW_SCHEMA,
    "supply_series": pl.String,
    "price_series": pl.String,
    "n_obs": pl.Int32,
    "verdict": pl.String,
    "q_bh": pl.Float64,
    "p_adj_family": pl.Float64,
    "supply_to_price_lag": pl.Int32,
    "supply_to_price_p_adj_lags": pl.Float64,
    "price_to_supply_lag": pl.Int32,
    "price_to_supply_p_adj_lags": pl.Float64,
    "engle_granger_p": pl.Float64,
    "equivalence_p": pl.Float64,
    "correlation_equivalence_p": pl.Float64,
    "granger_equivalence_p": pl.Float64,
    "correlation": pl.Float64,
    "johansen_trace": pl.Float64,
    "johansen_critical_5pct": pl.Float64,
    "explanation": pl.String,
}

_PAIR_KEY = ["supply_series", "price_series"]
_WINDOW_PAIR_KEY = ["period", *_PAIR_KEY]
# A window is identified by its name and dates: a trailing window's dates move with the panel.
_WINDOW_KEY = ["period", "window_start", "window_end"]

_SUPPLY_LABEL = {"USDT": "USDT supply", "USDC": "USDC supply", "total": "total stablecoin supply"}
_PRICE_LABEL = {
    "BTC": "BTC market cap",
    "ETH": "ETH market cap",
    "crypto": "crypto (BTC+ETH) market cap",
}
_PRICE_RETURNS_LABEL = {
    "BTC": "BTC market-cap returns",
    "ETH": "ETH market-cap returns",
    "crypto": "crypto (BTC+ETH) market-cap returns",
}


# ---------------------------------------------------------------------------------------------
# Shared helpers


def _table(
    rows: Iterable[dict], schema: Mapping[str, pl.DataType], key: Sequence[str]
) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=dict(schema)).sort(key)


def _concat(
    frames: Sequence[pl.DataFrame], schema: Mapping[str, pl.DataType], key: Sequence[str]
) -> pl.DataFrame:
    if not frames:
        return pl.DataFrame(schema=dict(schema))
    return pl.concat(frames).sort(key)


def _values(frame: pl.DataFrame, column: str) -> np.ndarray:
    return frame[column].cast(pl.Float64).to_numpy()


def _log_transform(levels: np.ndarray, transform: str) -> np.ndarray:
    """ln, then `transform`'s number of differences; same length, NaN where undefined."""
    out = np.log(np.where(levels > 0, levels, np.nan))
    for _ in range(TRANSFORMS.index(transform)):
        out = np.concatenate(([np.nan], np.diff(out)))
    return out


def _is_constant(values: np.ndarray) -> bool:
    return values.size == 0 or bool(np.ptp(values) == 0)


def _panel_windows(panel: pl.DataFrame) -> list[Window]:
    return windows(panel["date"].to_list())


def _window_frame(panel: pl.DataFrame, window: Window) -> pl.DataFrame:
    return panel.filter(pl.col("date").is_between(window.start, window.end)).sort("date")


def _window_columns(window: Window) -> dict:
    return {"period": window.name, "window_start": window.start, "window_end": window.end}


def _full_window(panel: pl.DataFrame) -> Window:
    return next(w for w in _panel_windows(panel) if w.name == "full")


# ---------------------------------------------------------------------------------------------
# Correlation: rolling_correlation, window_correlation


def _trailing_correlation(x: np.ndarray, y: np.ndarray, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Correlation and non-null pair count over the trailing `days` rows ending at each row."""
    n = x.size
    valid = ~(np.isnan(x) | np.isnan(y))
    counts = np.cumsum(valid)
    n_obs = counts - np.concatenate((np.zeros(days, dtype=counts.dtype), counts))[:n]
    correlation = np.full(n, np.nan)
    if n >= days:
        # Rows with a missing value are masked out below (n_obs < days), so zeros are harmless.
        xs = sliding_window_view(np.where(valid, x, 0.0), days)
        ys = sliding_window_view(np.where(valid, y, 0.0), days)
        xc = xs - xs.mean(axis=1, keepdims=True)
        yc = ys - ys.mean(axis=1, keepdims=True)
        numerator = (xc * yc).sum(axis=1)
        denominator = np.sqrt((xc * xc).sum(axis=1) * (yc * yc).sum(axis=1))
        correlation[days - 1 :] = np.divide(
            numerator, denominator, out=np.full(numerator.size, np.nan), where=denominator > 0
        )
    return np.where(n_obs == days, correlation, np.nan), n_obs


def rolling_correlation(panel: pl.DataFrame) -> pl.DataFrame:
    """rolling_correlation: trailing 30/90/365-day correlation of daily supply growth and
    market-cap return (n_obs = non-null pairs of daily changes in the trailing window)."""
    panel = panel.sort("date")
    frames = []
    for supply, price in PAIRS:
        x = _log_transform(_values(panel, SUPPLY_SERIES[supply]), "log_diff")
        y = _log_transform(_values(panel, PRICE_SERIES[price]), "log_diff")
        for days in ROLLING_WINDOWS:
            correlation, n_obs = _trailing_correlation(x, y, days)
            frames.append(
                pl.DataFrame(
                    {
                        "date": panel["date"],
                        "supply_series": supply,
                        "price_series": price,
                        "window_days": days,
                        "correlation": correlation,
                        "n_obs": n_obs,
                    },
                    schema=ROLLING_CORRELATION_SCHEMA,
                    nan_to_null=True,
                )
            )
    return _concat(
        frames, ROLLING_CORRELATION_SCHEMA, ["supply_series", "price_series", "window_days", "date"]
    )


def _window_correlation_for(
    panel: pl.DataFrame, window: Window, pairs: Iterable[tuple[str, str]]
) -> pl.DataFrame:
    frame = _window_frame(panel, window)
    rows = []
    for supply, price in pairs:
        x = _log_transform(_values(frame, SUPPLY_SERIES[supply]), "log_diff")
        y = _log_transform(_values(frame, PRICE_SERIES[price]), "log_diff")
        usable = ~(np.isnan(x) | np.isnan(y))
        n_obs = int(usable.sum())
        correlation, p_value = pearson(x[usable], y[usable]) if n_obs >= MIN_OBS else (None, None)
        rows.append(
            {
                **_window_columns(window),
                "supply_series": supply,
                "price_series": price,
                "correlation": correlation,
                "p_value": p_value,
                "equivalence_p": correlation_equivalence_p(correlation, n_obs),
                "n_obs": n_obs,
            }
        )
    return _table(rows, WINDOW_CORRELATION_SCHEMA, _WINDOW_PAIR_KEY)


def correlation_equivalence_p(correlation: float | None, n_obs: int) -> float | None:
    """Two one-sided tests (TOST) on Fisher's z of H0: |rho| >= CORRELATION_MARGIN; a small p
    is evidence that the correlation is negligible (inside +-CORRELATION_MARGIN)."""
    if correlation is None or n_obs <= 3:
        return None
    z = math.atanh(max(-1 + 1e-15, min(1 - 1e-15, correlation)))
    margin = math.atanh(CORRELATION_MARGIN)
    se = 1 / math.sqrt(n_obs - 3)
    below_upper = stats.norm.cdf((z - margin) / se)  # H0: rho >= +margin
    above_lower = stats.norm.sf((z + margin) / se)  # H0: rho <= -margin
    return float(max(below_upper, above_lower))


def window_correlation(panel: pl.DataFrame) -> pl.DataFrame:
    """window_correlation: correlation of daily supply log growth and market-cap log return per
    window (n_obs = daily changes, 364 for a full year)."""
    return _concat(
        [_window_correlation_for(panel, w, PAIRS) for w in _panel_windows(panel)],
        WINDOW_CORRELATION_SCHEMA,
        _WINDOW_PAIR_KEY,
    )


# ---------------------------------------------------------------------------------------------
# Stationarity


def _unit_root_tests(values: np.ndarray) -> tuple[float | None, ...]:
    """(ADF stat, ADF p, KPSS stat, KPSS p), all None when the series cannot be tested."""
    if values.size < MIN_OBS or _is_constant(values):
        return None, None, None, None
    adf = adfuller(values, regression="c", autolag="AIC", result_object=True)
    with warnings.catch_warnings():
        # KPSS warns when its p-value hits the table's edge; the clipping is documented above.
        warnings.simplefilter("ignore", InterpolationWarning)
        kp = kpss(values, regression="c", nlags="auto", result_object=True)
    return finite(adf.statistic), finite(adf.pvalue), finite(kp.statistic), finite(kp.pvalue)


def _stationarity_rows(levels: np.ndarray, series: str, window: Window) -> list[dict]:
    rows = []
    for transform in TRANSFORMS:
        values = _log_transform(levels, transform)
        adf_stat, adf_p, kpss_stat, kpss_p = _unit_root_tests(values[~np.isnan(values)])
        stationary = None if adf_p is None else (adf_p < ALPHA and kpss_p >= ALPHA)
        rows.append(
            {
                **_window_columns(window),
                "series": series,
                "transform": transform,
                "adf_stat": adf_stat,
                "adf_p_value": adf_p,
                "kpss_stat": kpss_stat,
                "kpss_p_value": kpss_p,
                "stationary": stationary,
            }
        )
    return rows


def _stationarity_for(panel: pl.DataFrame, window: Window, series: Iterable[str]) -> pl.DataFrame:
    frame = _window_frame(panel, window)
    rows = [
        row
        for name in series
        for row in _stationarity_rows(_values(frame, _SERIES_COLUMN[name]), name, window)
    ]
    return _table(rows, STATIONARITY_SCHEMA, ["period", "series", "transform"])


def stationarity(panel: pl.DataFrame) -> pl.DataFrame:
    """stationarity: ADF and KPSS on the log level and the daily log change of the six series
    per window; diagnostics only (the tests run on daily log changes whatever they say)."""
    return _concat(
        [_stationarity_for(panel, w, _SERIES_COLUMN) for w in _panel_windows(panel)],
        STATIONARITY_SCHEMA,
        ["period", "series", "transform"],
    )


# ---------------------------------------------------------------------------------------------
# Granger causality


def _granger_design(
    cause: np.ndarray, effect: np.ndarray, lag: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(target, own lags, cause lags) of the rows the regression uses: the effect and all lags
    of both series present."""
    n_total = effect.size
    if n_total <= lag:
        return np.empty(0), np.empty((0, lag)), np.empty((0, lag))
    own = np.column_stack([effect[lag - j : n_total - j] for j in range(1, lag + 1)])
    other = np.column_stack([cause[lag - j : n_total - j] for j in range(1, lag + 1)])
    target = effect[lag:]
    usable = ~(np.isnan(target) | np.isnan(own).any(axis=1) | np.isnan(other).any(axis=1))
    return target[usable], own[usable], other[usable]


def granger_wald_test(
    cause: np.ndarray, effect: np.ndarray, lag: int
) -> tuple[float | None, float | None, float | None, int]:
    """HC3-robust Wald test that `lag` lags of `cause` help forecast `effect`:
    (F = Wald / lag, p-value, equivalence p, rows used).

    OLS of effect_t on a constant, `lag` own lags and `lag` cause lags; the cause block is
    tested with the HC3 covariance (MacKinnon and White 1985), F(lag, n - 2 lag - 1), as
    statsmodels' OLS(...).fit(cov_type="HC3").wald_test(..., use_f=True). The equivalence p
    tests H0: f2 >= F2_MARGIN against "negligible" (f2 < F2_MARGIN), reading the Wald
    statistic as noncentral chi-square(lag, n * F2_MARGIN) at the margin (f2 = the share of
    the effect's remaining variance the cause's lags explain). Arrays are aligned day by day,
    NaN = missing; see _granger_design for the rows used.
    """
    target, own, other = _granger_design(cause, effect, lag)
    n = target.size
    if n - 2 * lag - 1 < 1:
        return None, None, None, n
    design = np.hstack([np.ones((n, 1)), own, other])
    # Each column scaled to unit size so the normal equations stay well conditioned (daily log
    # changes are ~0.01 beside the constant's 1); the Wald statistic does not depend on scale.
    scale = np.sqrt((design * design).mean(axis=0))
    if not scale.all():
        return None, None, None, n  # an all-zero lag column (no change at all): nothing to test
    design = design / scale
    gram = design.T @ design
    if np.linalg.cond(gram) > 1e12:
        return None, None, None, n  # collinear lags (a constant series): nothing to test
    gram_inverse = np.linalg.inv(gram)
    coefficients = gram_inverse @ (design.T @ target)
    residuals = target - design @ coefficients
    leverage = np.einsum("ij,jk,ik->i", design, gram_inverse, design)
    scaled = design * (residuals / (1.0 - np.minimum(leverage, 1 - 1e-12)))[:, None]
    covariance = gram_inverse @ (scaled.T @ scaled) @ gram_inverse
    block = slice(1 + lag, 1 + 2 * lag)
    beta = coefficients[block]
    try:
        wald = float(beta @ np.linalg.solve(covariance[block, block], beta))
    except np.linalg.LinAlgError:
        return None, None, None, n
    if not np.isfinite(wald):
        return None, None, None, n
    f_stat = wald / lag
    p_value = float(stats.f.sf(f_stat, lag, n - 2 * lag - 1))
    equivalence_p = float(stats.ncx2.cdf(wald, lag, n * F2_MARGIN))
    return f_stat, p_value, equivalence_p, n


def _granger_rows(
    levels: Mapping[str, np.ndarray], cause: str, effect: str, window: Window
) -> list[dict]:
    x = _log_transform(levels[cause], TESTED_TRANSFORM)
    y = _log_transform(levels[effect], TESTED_TRANSFORM)
    testable = int((~(np.isnan(x) | np.isnan(y))).sum()) >= MIN_OBS
    rows = []
    for lag in range(1, MAX_LAG + 1):
        # n_obs is the regression rows in every window, also where the test is not run.
        f_stat, p_value, equivalence_p, n_obs = (
            granger_wald_test(x, y, lag)
            if testable
            else (None, None, None, _granger_design(x, y, lag)[0].size)
        )
        rows.append(
            {
                **_window_columns(window),
                "cause": cause,
                "effect": effect,
                "cause_transform": TESTED_TRANSFORM,
                "effect_transform": TESTED_TRANSFORM,
                "lag": lag,
                "wald_f": f_stat,
                "p_value": p_value,
                "equivalence_p": equivalence_p,
                "n_obs": n_obs,
            }
        )
    return rows


def _granger_for(
    panel: pl.DataFrame, window: Window, pairs: Iterable[tuple[str, str]]
) -> pl.DataFrame:
    frame = _window_frame(panel, window)
    rows = []
    for supply, price in pairs:
        levels = {name: _values(frame, _SERIES_COLUMN[name]) for name in (supply, price)}
        rows += _granger_rows(levels, supply, price, window)
        rows += _granger_rows(levels, price, supply, window)
    return _table(rows, GRANGER_SCHEMA, ["period", "cause", "effect", "lag"])


def granger_causality(panel: pl.DataFrame) -> pl.DataFrame:
    """granger_causality: HC3-robust Granger Wald tests at lags 1..14, both directions, on
    daily log changes; n_obs = regression rows (days with the effect and all lags present)."""
    return _concat(
        [_granger_for(panel, w, PAIRS) for w in _panel_windows(panel)],
        GRANGER_SCHEMA,
        ["period", "cause", "effect", "lag"],
    )


# ---------------------------------------------------------------------------------------------
# Cointegration


def _engle_granger(log_supply: np.ndarray, log_price: np.ndarray) -> dict:
    """statsmodels coint(log_price, log_supply, trend='c') step by step, keeping the ADF lag."""
    design = np.column_stack([np.ones(log_supply.size), log_supply])
    coefficients = np.linalg.lstsq(design, log_price, rcond=None)[0]
    residuals = log_price - design @ coefficients
    adf = adfuller(residuals, regression="n", autolag="AIC", result_object=True)
    # Finite-sample 5% value, for reference only: N = 2 variables; nobs - 1 as statsmodels does
    # (to match Stata's egranger).
    critical = mackinnoncrit(N=2, regression="c", nobs=log_supply.size - 1)[1]
    p_value = finite(mackinnonp(adf.statistic, regression="c", N=2))
    # Decided on the p-value, so the row's p_value and cointegrated never disagree.
    return {
        "statistic": finite(adf.statistic),
        "critical_value_5pct": finite(critical),
        "p_value": p_value,
        "lags": int(adf.lags),
        "cointegrated": None if p_value is None else p_value < ALPHA,
    }


def _johansen(log_supply: np.ndarray, log_price: np.ndarray) -> dict:
    levels = np.column_stack([log_price, log_supply])
    # select_order reports the VECM's k_ar_diff (VAR order in levels minus one). BIC, not AIC:
    # on 60-90 days AIC often picks 10-14 lags, and the trace test then rejects for ~40% of
    # independent random walks.
    lags = int(select_order(levels, maxlags=MAX_LAG, deterministic="co").bic)
    result = coint_johansen(levels, det_order=0, k_ar_diff=lags)
    statistic, critical = float(result.lr1[0]), float(result.cvt[0, 1])
    return {
        "statistic": finite(statistic),
        "critical_value_5pct": critical,
        "p_value": None,
        "lags": lags,
        "cointegrated": bool(statistic > critical),
    }


_NO_TEST = {
    "statistic": None,
    "critical_value_5pct": None,
    "p_value": None,
    "lags": None,
    "cointegrated": None,
}


def _cointegration_for(
    panel: pl.DataFrame, window: Window, pairs: Iterable[tuple[str, str]], johansen: bool = True
) -> pl.DataFrame:
    """Engle-Granger and Johansen rows; johansen=False leaves Johansen's empty (it never votes,
    and it is the costliest step: the calibration runs skip it)."""
    frame = _window_frame(panel, window)
    rows = []
    for supply, price in pairs:
        x = _log_transform(_values(frame, SUPPLY_SERIES[supply]), "log_level")
        y = _log_transform(_values(frame, PRICE_SERIES[price]), "log_level")
        usable = ~(np.isnan(x) | np.isnan(y))
        x, y = x[usable], y[usable]
        testable = x.size >= MIN_OBS and not (_is_constant(x) or _is_constant(y))
        for method, test in (("engle_granger", _engle_granger), ("johansen", _johansen)):
            rows.append(
                {
                    **_window_columns(window),
                    "supply_series": supply,
                    "price_series": price,
                    "method": method,
                    **(test(x, y) if testable and (johansen or method != "johansen") else _NO_TEST),
                    "n_obs": x.size,
                }
            )
    return _table(rows, COINTEGRATION_SCHEMA, [*_WINDOW_PAIR_KEY, "method"])


def cointegration(panel: pl.DataFrame) -> pl.DataFrame:
    """cointegration: Engle-Granger and Johansen cointegration of log supply and log market cap
    (n_obs = log-level days used)."""
    return _concat(
        [_cointegration_for(panel, w, PAIRS) for w in _panel_windows(panel)],
        COINTEGRATION_SCHEMA,
        [*_WINDOW_PAIR_KEY, "method"],
    )


# ---------------------------------------------------------------------------------------------
# Regimes: regime_daily, regime_periods


def _change(log_levels: np.ndarray, days: int) -> np.ndarray:
    change = np.full(log_levels.size, np.nan)
    change[days:] = log_levels[days:] - log_levels[:-days]
    return change


def _regime(supply_growth: float, price_return: float) -> str | None:
    if np.isnan(supply_growth) or np.isnan(price_return):
        return None
    supply = "up" if supply_growth > 0 else "down"
    price = "up" if price_return > 0 else "down"
    return f"both_{supply}" if supply == price else f"supply_{supply}_price_{price}"


def _divergent_periods(
    dates: Sequence[dt.date],
    log_supply: np.ndarray,
    log_price: np.ndarray,
    labels: Sequence[str | None],
) -> list[dict]:
    periods = []
    start = 0
    for label, run in itertools.groupby(labels):
        days = len(list(run))
        end = start + days - 1
        if label in DIVERGENT_REGIMES and days >= MIN_REGIME_DAYS:
            # A run never starts on row 0: the 30-day change is NULL there.
            periods.append(
                {
                    "regime": label,
                    "start_date": dates[start],
                    "end_date": dates[end],
                    "days": days,
                    "supply_growth": finite(log_supply[end] - log_supply[start - 1]),
                    "price_return": finite(log_price[end] - log_price[start - 1]),
                }
            )
        start = end + 1
    return periods


def regimes(panel: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """regime_daily and regime_periods: the daily 30-day supply/price regime, and the divergent
    runs of at least 14 days."""
    panel = panel.sort("date")
    dates = panel["date"].to_list()
    daily, periods = [], []
    for supply, price in PAIRS:
        log_supply = _log_transform(_values(panel, SUPPLY_SERIES[supply]), "log_level")
        log_price = _log_transform(_values(panel, PRICE_SERIES[price]), "log_level")
        growth = _change(log_supply, REGIME_HORIZON_DAYS)
        returns = _change(log_price, REGIME_HORIZON_DAYS)
        labels = [_regime(g, r) for g, r in zip(growth, returns)]
        daily.append(
            pl.DataFrame(
                {
                    "date": panel["date"],
                    "supply_series": supply,
                    "price_series": price,
                    "supply_growth_30d": growth,
                    "price_return_30d": returns,
                    "regime": labels,
                },
                schema=REGIME_DAILY_SCHEMA,
                nan_to_null=True,
            )
        )
        periods += [
            {"supply_series": supply, "price_series": price, **period}
            for period in _divergent_periods(dates, log_supply, log_price, labels)
        ]
    return (
        _concat(daily, REGIME_DAILY_SCHEMA, [*_PAIR_KEY, "date"]),
        _table(periods, REGIME_PERIODS_SCHEMA, [*_PAIR_KEY, "start_date"]),
    )


# ---------------------------------------------------------------------------------------------
# Structural break (Quandt-Andrews sup-F): structural_breaks


def _candidate_breaks(n: int) -> np.ndarray:
    """Break positions tau (first row of the second regime) in the middle 70% of n rows."""
    trim = int(np.floor(BREAK_TRIM * n))
    return np.arange(trim, n - trim + 1)


def _segment_fit(
    count: ArrayLike,
    sum_x: ArrayLike,
    sum_y: ArrayLike,
    sum_xx: ArrayLike,
    sum_yy: ArrayLike,
    sum_xy: ArrayLike,
) -> tuple[np.ndarray, np.ndarray]:
    """OLS slope and SSR of y = a + b x from a segment's sums (arrays or scalars)."""
    sxx = sum_xx - sum_x * sum_x / count
    sxy = sum_xy - sum_x * sum_y / count
    syy = sum_yy - sum_y * sum_y / count
    slope = np.divide(sxy, sxx, out=np.full(np.shape(sxx), np.nan), where=sxx > 0)
    # A segment with constant x fits only an intercept: its SSR is syy.
    ssr = np.where(sxx > 0, syy - np.nan_to_num(slope) * sxy, syy)
    return slope, ssr


def _quandt_andrews(x: np.ndarray, y: np.ndarray) -> tuple[int, float, float, float]:
    """(break position, sup-F, slope before, slope after) for y = a + b x, all breaks at once."""
    n = x.size
    # Each segment has its own intercept, so centring changes no SSR; it keeps the running sums
    # of squares well conditioned.
    x, y = x - x.mean(), y - y.mean()
    sums = [np.concatenate(([0.0], np.cumsum(v))) for v in (x, y, x * x, y * y, x * y)]
    tau = _candidate_breaks(n)
    before = [s[tau] for s in sums]
    after = [s[n] - s[tau] for s in sums]
    slope_before, ssr_before = _segment_fit(tau, *before)
    slope_after, ssr_after = _segment_fit(n - tau, *after)
    _, ssr_pooled = _segment_fit(n, *(s[n] for s in sums))
    ssr_split = ssr_before + ssr_after
    k = BREAK_RESTRICTIONS
    chow = ((ssr_pooled - ssr_split) / k) / (ssr_split / (n - 2 * k))
    best = int(np.nanargmax(chow))  # first maximum: the earliest date on exact ties
    return int(tau[best]), float(chow[best]), float(slope_before[best]), float(slope_after[best])


def simulate_sup_f_null(n_paths: int, n_grid: int, seed: int) -> np.ndarray:
    """Draws of the asymptotic sup-F under no break (k = 2, 15% trimming), on the F scale.

    sup over pi of |B(pi) - pi B(1)|^2 / (pi (1 - pi)) / k for a k-dimensional standard Brownian
    motion B observed on n_grid points, pi restricted to the same candidates as the data.
    Not used at run time: kept, with sup_f_quantile_table, to document how SUP_F_NULL_QUANTILES
    was made; the tests regenerate the table with it.
    """
    rng = np.random.default_rng(seed)
    k = BREAK_RESTRICTIONS
    tau = _candidate_breaks(n_grid)
    pi = tau / n_grid
    draws = []
    for first in range(0, n_paths, _SIMULATION_CHUNK):
        paths = min(_SIMULATION_CHUNK, n_paths - first)
        steps = rng.standard_normal((paths, n_grid, k)) / np.sqrt(n_grid)
        brownian = np.concatenate((np.zeros((paths, 1, k)), np.cumsum(steps, axis=1)), axis=1)
        bridge = brownian[:, tau, :] - pi[None, :, None] * brownian[:, -1:, :]
        wald = (bridge * bridge).sum(axis=2) / (pi * (1 - pi))
        draws.append(wald.max(axis=1) / k)
    return np.concatenate(draws)


def sup_f_quantile_table(draws: np.ndarray) -> tuple[tuple[float, float], ...]:
    """(upper-tail probability, critical value) pairs of simulated sup-F draws, at the tail
    probabilities of SUP_F_NULL_QUANTILES. Not used at run time (see simulate_sup_f_null)."""
    return tuple((p, round(float(np.quantile(draws, 1 - p)), 3)) for p, _ in SUP_F_NULL_QUANTILES)


def sup_f_p_value(sup_f: float) -> float:
    """P(sup-F > sup_f) under no break, log-linearly interpolated, clipped to [0.001, 0.99]."""
    probabilities, critical_values = zip(*SUP_F_NULL_QUANTILES)
    # The upper tail decays roughly exponentially, so interpolate log p linearly in the statistic.
    return float(np.exp(np.interp(sup_f, critical_values, np.log(probabilities))))


def structural_breaks(panel: pl.DataFrame) -> pl.DataFrame:
    """structural_breaks: Quandt-Andrews break in price_return = a + b * supply_growth over
    'full' (n_obs = daily changes used)."""
    if panel.is_empty():
        return pl.DataFrame(schema=STRUCTURAL_BREAKS_SCHEMA)
    panel = panel.sort("date")
    window = _full_window(panel)
    rows = []
    for supply, price in PAIRS:
        x = _log_transform(_values(panel, SUPPLY_SERIES[supply]), "log_diff")
        y = _log_transform(_values(panel, PRICE_SERIES[price]), "log_diff")
        usable = ~(np.isnan(x) | np.isnan(y))
        x, y = x[usable], y[usable]
        dates = panel["date"].filter(pl.Series(usable)).to_list()
        result = {
            "break_date": None,
            "sup_f": None,
            "p_value": None,
            "slope_before": None,
            "slope_after": None,
        }
        if x.size >= MIN_OBS and not (_is_constant(x) or _is_constant(y)):
            position, sup_f, slope_before, slope_after = _quandt_andrews(x, y)
            result = {
                "break_date": dates[position],
                "sup_f": finite(sup_f),
                "p_value": sup_f_p_value(sup_f),
                "slope_before": finite(slope_before),
                "slope_after": finite(slope_after),
            }
        rows.append(
            {
                "supply_series": supply,
                "price_series": price,
                **_window_columns(window),
                **result,
                "n_obs": x.size,
            }
        )
    return _table(rows, STRUCTURAL_BREAKS_SCHEMA, _PAIR_KEY)


# ---------------------------------------------------------------------------------------------
# Summary: decoupling_summary


def _best_lag(granger_table: pl.DataFrame, causes: Iterable[str]) -> pl.DataFrame:
    """Per window and (cause, effect): the lag with the smallest p (ties: shortest lag), that p
    x 14 (capped at 1), and the largest equivalence p over the lags."""
    tested = granger_table.filter(
        pl.col("cause").is_in(list(causes)) & pl.col("p_value").is_not_null()
    )
    best = (
        tested.sort([*_WINDOW_KEY, "cause", "effect", "p_value", "lag"])
        .group_by([*_WINDOW_KEY, "cause", "effect"], maintain_order=True)
        .first()
        .select(
            *_WINDOW_KEY,
            "cause",
            "effect",
            "lag",
            p_adj_lags=(pl.col("p_value") * MAX_LAG).clip(upper_bound=1.0),
        )
    )
    # Equivalence must hold at every lag (an intersection-union test): the largest p decides.
    equivalence = tested.group_by([*_WINDOW_KEY, "cause", "effect"]).agg(
        equivalence_p=pl.col("equivalence_p").max(), lags=pl.len()
    )
    return best.join(equivalence, on=[*_WINDOW_KEY, "cause", "effect"], how="left")


def benjamini_hochberg(p_values: Sequence[float | None]) -> list[float | None]:
    """Benjamini-Hochberg (1995) q-values of the non-missing p-values; None stays None."""
    present = [(p, i) for i, p in enumerate(p_values) if p is not None]
    q: list[float | None] = [None] * len(p_values)
    m = len(present)
    running = 1.0
    for rank, (p, i) in reversed(list(enumerate(sorted(present), start=1))):
        running = min(running, p * m / rank)
        q[i] = running
    return q


def _format_p(p: float) -> str:
    return f"{p:.2g}"


def _capitalised(sentence: str) -> str:
    return sentence[0].upper() + sentence[1:]


_SUPPLY_LEADS = "the Granger test of supply leading price"
_PRICE_LEADS = "the Granger test of price leading supply"
_ENGLE_GRANGER = "the Engle-Granger test"


def _family(row: dict) -> dict[str, float | None]:
    """The tests that vote in this row's window, by name, with their p-values (None = missing);
    Granger p-values already x14 for the lags.

    Dict order breaks ties: supply->price, then price->supply, then Engle-Granger.
    """
    tests = {
        _SUPPLY_LEADS: row["supply_to_price_p_adj_lags"],
        _PRICE_LEADS: row["price_to_supply_p_adj_lags"],
    }
    if row["n_obs"] >= EG_MIN_OBS:
        tests[_ENGLE_GRANGER] = row["engle_granger_p"]
    return tests


def _family_p(row: dict) -> float | None:
    """Bonferroni over the family: its size x the smallest available p (capped at 1)."""
    if not row["n_obs"] or row["n_obs"] < MIN_OBS:
        return None
    tests = _family(row)
    present = [p for p in tests.values() if p is not None]
    return min(1.0, len(tests) * min(present)) if present else None


def _family_phrase(size: int) -> str:
    if size == 3:
        return "Bonferroni over 14 lags and 3 tests: Granger both ways and Engle-Granger"
    return (
        f"Bonferroni over 14 lags and 2 tests: Granger both ways, Engle-Granger not used "
        f"under {EG_MIN_OBS} observations"
    )


def _equivalence(row: dict) -> float | None:
    """Intersection-union: negligible only if the correlation and every Granger effect are."""
    parts = (row["correlation_equivalence_p"], row["granger_equivalence_p"])
    return None if None in parts else max(parts)


def _verdict(row: dict) -> tuple[str, str]:
    """(verdict, one-sentence explanation) for one summary row; see the module docstring."""
    supply, price = row["supply_series"], row["price_series"]
    where = "over the full sample" if row["period"] == "full" else f"in {row['period']}"
    pair = f"daily log changes of {_SUPPLY_LABEL[supply]} and {_PRICE_LABEL[price]}"
    if not row["n_obs"] or row["n_obs"] < MIN_OBS:
        count = f"Only {row['n_obs']}" if row["n_obs"] else "No"
        return "inconclusive", f"{count} usable daily observations {where}, too few to test {pair}."
    tests = _family(row)
    over = _family_phrase(len(tests))
    family = {name: p for name, p in tests.items() if p is not None}
    decisive = min(family, key=family.get) if family else None
    q = row["q_bh"]
    if q is not None and q < ALPHA:
        return "coupled", _coupled_sentence(row, decisive, where, over)
    missing = [name for name, p in tests.items() if p is None]
    if missing:
        return "inconclusive", _capitalised(
            f"{' and '.join(missing)} could not be computed "
            f"{where}, so the evidence on {pair} is "
            f"incomplete."
        )
    p = (
        f"smallest p = {_format_p(row['p_adj_family'])} ({over}), q = {_format_p(q)} "
        f"(Benjamini-Hochberg over every pair and period)"
    )
    margin = (
        f"the correlation within +-{CORRELATION_MARGIN:.2f} and each side's lags "
        f"explaining under {F2_MARGIN:.0%} of the other's remaining variance"
    )
    equivalence = row["equivalence_p"]
    if equivalence is not None and equivalence < ALPHA:
        return "decoupled", (
            f"No relation between {pair} was detected {where} ({p}), and the "
            f"relation is shown to be negligible: {margin} (equivalence "
            f"p = {_format_p(equivalence)})."
        )
    shown = (
        "could not be tested"
        if equivalence is None
        else f"is not shown (equivalence p = {_format_p(equivalence)})"
    )
    return "not detected", (
        f"No relation between {pair} was detected {where} ({p}), but a "
        f"negligible relation ({margin}) {shown}: absence of evidence, not "
        f"evidence of independence."
    )


def _coupled_sentence(row: dict, decisive: str, where: str, over: str) -> str:
    supply, price = row["supply_series"], row["price_series"]
    growth = f"daily {_SUPPLY_LABEL[supply]} log growth"
    returns = f"daily {_PRICE_RETURNS_LABEL[price]}"
    p = (
        f"p = {_format_p(row['p_adj_family'])}, {over}; q = {_format_p(row['q_bh'])}, "
        f"Benjamini-Hochberg over every pair and period"
    )
    if decisive == _ENGLE_GRANGER:
        sentence = (
            f"log {_SUPPLY_LABEL[supply]} and log {_PRICE_LABEL[price]} were cointegrated "
            f"{where} (Engle-Granger, {p})."
        )
    else:
        supply_leads = decisive == _SUPPLY_LEADS
        lag = row["supply_to_price_lag"] if supply_leads else row["price_to_supply_lag"]
        leader, follower = (growth, returns) if supply_leads else (returns, growth)
        sentence = (
            f"{leader} helped forecast {follower} {lag} day{'' if lag == 1 else 's'} "
            f"ahead {where} (HC3-robust Granger Wald test, {p}): the leader moved "
            f"first, which is not proof that it caused the move."
        )
    return _capitalised(sentence)


def decoupling_summary(
    window_correlation_table: pl.DataFrame,
    granger_table: pl.DataFrame,
    cointegration_table: pl.DataFrame,
) -> pl.DataFrame:
    """decoupling_summary: one verdict per window and pair; every number is taken from the
    window_correlation, granger_causality and cointegration tables, or computed from them as
    the table's documentation states (p_adj_family, q_bh, equivalence_p).

    The rows are window_correlation's (its windows and n_obs: daily changes, 364 for a full
    year). Granger and cointegration rows join on the window's name and dates, so statistics
    computed for other dates (a trailing window of an older panel) are never attached; they
    count as missing, and a missing test of the family makes a verdict other than 'coupled'
    inconclusive.
    """
    key = [*_WINDOW_KEY, *_PAIR_KEY]
    grid = window_correlation_table.select(
        *key, "n_obs", "correlation", correlation_equivalence_p="equivalence_p"
    )
    supply_to_price = _best_lag(granger_table, SUPPLY_SERIES).rename(
        {
            "cause": "supply_series",
            "effect": "price_series",
            "lag": "supply_to_price_lag",
            "p_adj_lags": "supply_to_price_p_adj_lags",
            "equivalence_p": "supply_equivalence_p",
            "lags": "supply_lags",
        }
    )
    price_to_supply = _best_lag(granger_table, PRICE_SERIES).rename(
        {
            "cause": "price_series",
            "effect": "supply_series",
            "lag": "price_to_supply_lag",
            "p_adj_lags": "price_to_supply_p_adj_lags",
            "equivalence_p": "price_equivalence_p",
            "lags": "price_lags",
        }
    )
    engle_granger = cointegration_table.filter(pl.col("method") == "engle_granger").select(
        *key, engle_granger_p="p_value"
    )
    johansen = cointegration_table.filter(pl.col("method") == "johansen").select(
        *key, johansen_trace="statistic", johansen_critical_5pct="critical_value_5pct"
    )
    joined = grid
    for table in (supply_to_price, price_to_supply, engle_granger, johansen):
        joined = joined.join(table, on=key, how="left")
    # Equivalence needs all 14 lags both ways: a lag that could not be tested leaves it open.
    joined = joined.with_columns(
        granger_equivalence_p=pl.when(
            (pl.col("supply_lags") == MAX_LAG) & (pl.col("price_lags") == MAX_LAG)
        ).then(pl.max_horizontal("supply_equivalence_p", "price_equivalence_p"))
    )
    rows = [
        {**row, "p_adj_family": _family_p(row)} for row in joined.sort(key).iter_rows(named=True)
    ]
    for row, q in zip(rows, benjamini_hochberg([row["p_adj_family"] for row in rows])):
        row["q_bh"] = q
        row["equivalence_p"] = _equivalence(row)
        row["verdict"], row["explanation"] = _verdict(row)
    return _table(
        ({c: row[c] for c in DECOUPLING_SUMMARY_SCHEMA} for row in rows),
        DECOUPLING_SUMMARY_SCHEMA,
        _WINDOW_PAIR_KEY,
    )
