"""Ground truth for the decoupling statistics (assets/analytics/decoupling.py).

Every test builds a synthetic panel whose truth is known by construction (a planted lead, a
planted break, independent random walks, a planted divergence) or checks a statistic against an
independent computation (statsmodels, numpy, a hand formula). Heavy per-window work is done for
the 'full' window and one (supply, price) pair only, through the module's per-window helpers.
"""

import datetime as dt
import math
import re
import warnings

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.tsa.stattools import coint

from assets.analytics import decoupling as dc
from assets.analytics.windows import MIN_OBS, Window
from bench import calibration

START = dt.date(2021, 1, 1)
PAIR = [("USDT", "BTC")]
BONFERRONI_LAGS = 14


def days(n: int, start: dt.date = START) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range(n)]


def pair_panel(log_supply: np.ndarray, log_price: np.ndarray) -> pl.DataFrame:
    """A one-pair panel (USDT supply, BTC market cap) from log levels, starting on START."""
    return pl.DataFrame(
        {
            "date": days(log_supply.size),
            "usdt_supply": 8e10 * np.exp(log_supply),
            "btc_mcap": 6e11 * np.exp(log_price),
        }
    )


def full_panel(
    rng: np.random.Generator, log_usdt: np.ndarray, log_btc: np.ndarray, start: dt.date = START
) -> pl.DataFrame:
    """Every panel column; USDC and ETH are independent random walks, total/crypto sums."""
    n = log_usdt.size
    usdt, btc = 8e10 * np.exp(log_usdt), 6e11 * np.exp(log_btc)
    usdc = 3e10 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    eth = 2e11 * np.exp(np.cumsum(rng.normal(0, 0.04, n)))
    spot = 0.1 * (usdt + usdc)
    derivatives = 0.05 * (usdt + usdc)
    return pl.DataFrame(
        {
            "date": days(n, start),
            "usdt_supply": usdt,
            "usdc_supply": usdc,
            "total_supply": usdt + usdc,
            "btc_mcap": btc,
            "eth_mcap": eth,
            "crypto_mcap": btc + eth,
            "spot_reserve": spot,
            "derivatives_reserve": derivatives,
            "derivatives_share": derivatives / (spot + derivatives),
            "ssr": btc / (usdt + usdc),
            "fear_greed": pl.Series([None] * n, dtype=pl.Float64),
        }
    )


def full_window(panel: pl.DataFrame) -> Window:
    return Window("full", panel["date"].min(), panel["date"].max())


def lead_panel(k: int, seed: int, n: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Log levels where price log return_t = 0.6 * supply growth_{t-k} + noise."""
    rng = np.random.default_rng(seed)
    growth = rng.normal(0.001, 0.01, n)
    returns = rng.normal(0.0, 0.01, n)
    returns[k:] += 0.6 * growth[:-k]
    return np.cumsum(growth), np.cumsum(returns)


def one_row(frame: pl.DataFrame, **key) -> dict:
    return frame.filter(**key).row(0, named=True)


# ---------------------------------------------------------------------------------------------
# Granger: the F-test itself, then the planted lead


def test_granger_wald_test_equals_statsmodels_hc3_wald_test():
    rng = np.random.default_rng(3)
    cause = rng.normal(0, 0.01, 400)
    effect = rng.normal(0, 0.03, 400) * (1 + 2 * (np.arange(400) > 200))  # heteroskedastic
    effect[2:] += 0.3 * cause[:-2]
    for lag in (1, 4, 14):
        target, own, other = dc._granger_design(cause, effect, lag)
        design = sm.add_constant(np.hstack([own, other]))
        restriction = np.zeros((lag, design.shape[1]))
        restriction[np.arange(lag), 1 + lag + np.arange(lag)] = 1
        reference = (
            sm.OLS(target, design)
            .fit(cov_type="HC3")
            .wald_test(restriction, use_f=True, scalar=True)
        )
        f_stat, p_value, equivalence_p, n = dc.granger_wald_test(cause, effect, lag)
        assert f_stat == pytest.approx(reference.fvalue, rel=1e-9)
        assert p_value == pytest.approx(reference.pvalue, rel=1e-9, abs=1e-300)
        assert (n - 2 * lag - 1, lag) == (reference.df_denom, reference.df_num)
        # At the margin the Wald statistic is noncentral chi-square(lag, n * 0.02).
        assert equivalence_p == pytest.approx(
            stats.ncx2.cdf(f_stat * lag, lag, n * dc.F2_MARGIN), rel=1e-12
        )


def test_granger_wald_test_drops_only_rows_touching_a_gap():
    rng = np.random.default_rng(4)
    cause, effect = rng.normal(size=300), rng.normal(size=300)
    effect[150] = np.nan  # lost as target and as lags 1..4 of the next four rows
    cause[200] = np.nan  # lost as lags 1..4 of the next four rows
    assert dc.granger_wald_test(cause, effect, 4)[3] == (300 - 4) - 5 - 4


@pytest.mark.parametrize("case", ["constant cause", "constant effect", "cause equals effect"])
def test_an_untestable_regression_gives_null_not_an_error(case):
    rng = np.random.default_rng(6)
    x = rng.normal(size=200)
    cause, effect = {
        "constant cause": (np.zeros(200), x),
        "constant effect": (x, np.ones(200)),
        "cause equals effect": (x, x.copy()),
    }[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert dc.granger_wald_test(cause, effect, 2) == (None, None, None, 198)


def test_the_robust_test_holds_its_size_where_the_plain_f_test_does_not():
    """Volatility clustering in the cause and the effect together (GARCH-like, sharing the
    variance path) inflates the homoskedastic F-test; HC3 keeps its level."""
    rejections = {"hc3": 0, "plain": 0}
    seeds = range(300)
    for seed in seeds:
        rng = np.random.default_rng(seed)
        volatility = np.exp(np.cumsum(rng.normal(0, 0.15, 365)))  # a shared volatility path
        cause = rng.standard_t(3, 365) * volatility
        effect = rng.standard_t(3, 365) * volatility * np.roll(np.abs(cause), 1) / volatility.mean()
        rejections["hc3"] += dc.granger_wald_test(cause, effect, 1)[1] < 0.05
        target, own, other = dc._granger_design(cause, effect, 1)
        plain = sm.OLS(target, sm.add_constant(np.hstack([own, other]))).fit()
        rejections["plain"] += plain.f_test(np.eye(3)[2:]).pvalue < 0.05
    assert rejections["plain"] / len(seeds) > 0.10
    assert rejections["hc3"] / len(seeds) <= 0.08


@pytest.mark.parametrize("k", [1, 3, 7])
def test_planted_lead_is_found_at_its_lag_in_the_right_direction(k):
    panel = pair_panel(*lead_panel(k, seed=100 + k))
    full = full_window(panel)
    granger = dc._granger_for(panel, full, PAIR)

    supply_to_price = granger.filter(cause="USDT").sort("p_value", "lag")
    price_to_supply = granger.filter(cause="BTC").sort("p_value", "lag")
    assert supply_to_price["lag"][0] == k
    assert min(1.0, BONFERRONI_LAGS * supply_to_price["p_value"][0]) < 0.05
    assert min(1.0, BONFERRONI_LAGS * price_to_supply["p_value"][0]) >= 0.05

    summary = dc.decoupling_summary(
        dc._window_correlation_for(panel, full, PAIR),
        granger,
        dc._cointegration_for(panel, full, PAIR),
    )
    row = one_row(summary, period="full", supply_series="USDT", price_series="BTC")
    assert row["verdict"] == "coupled"
    assert row["supply_to_price_lag"] == k
    assert row["q_bh"] == row["p_adj_family"] < 0.05  # one row: BH changes nothing
    assert (
        f"Daily USDT supply log growth helped forecast daily BTC market-cap returns {k} "
        f"day{'' if k == 1 else 's'} ahead"
    ) in row["explanation"]


def random_walk_verdicts(n: int, seeds: range) -> list[str]:
    """Summary verdicts for independent random walks of n days, through the whole per-window
    path: correlation -> Granger -> cointegration -> summary. Supply drifts (log growth
    0.001/day, sd 0.003) as real supply does; log price has sd 0.03."""
    verdicts = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        panel = pair_panel(
            np.cumsum(rng.normal(0.001, 0.003, n)), np.cumsum(rng.normal(0.0, 0.03, n))
        )
        window = full_window(panel)
        summary = dc.decoupling_summary(
            dc._window_correlation_for(panel, window, PAIR),
            dc._granger_for(panel, window, PAIR),
            dc._cointegration_for(panel, window, PAIR, johansen=False),
        )
        verdicts.append(summary["verdict"].item())
    return verdicts


@pytest.mark.parametrize("n", [90, 365])
def test_independent_random_walks_are_rarely_called_coupled(n):
    # 90 days: the family is Granger both ways (Engle-Granger too short to vote); 365 days:
    # Granger both ways and Engle-Granger. 200 seeds: the nominal level is 5%.
    seeds = range(200)
    verdicts = random_walk_verdicts(n, seeds)
    assert verdicts.count("coupled") / len(seeds) <= 0.05
    # On this little data a 2% effect is rarely ruled out: mostly "not detected", not
    # "decoupled" (which needs positive evidence).
    assert verdicts.count("not detected") / len(seeds) >= 0.9


def test_long_independent_walks_are_shown_decoupled_and_short_ones_not_detected():
    """The equivalence test has power where the data allow it: 2,000 days of independent
    series rule out a 2% effect; 365 days of the same series do not."""
    rng = np.random.default_rng(77)
    log_supply = np.cumsum(rng.normal(0.001, 0.003, 2000))
    log_price = np.cumsum(rng.normal(0.0, 0.03, 2000))
    verdicts = {}
    for n in (2000, 365):
        panel = pair_panel(log_supply[:n], log_price[:n])
        window = full_window(panel)
        summary = dc.decoupling_summary(
            dc._window_correlation_for(panel, window, PAIR),
            dc._granger_for(panel, window, PAIR),
            dc._cointegration_for(panel, window, PAIR, johansen=False),
        )
        verdicts[n] = summary.row(0, named=True)
    assert verdicts[2000]["verdict"] == "decoupled"
    assert verdicts[2000]["equivalence_p"] < 0.05
    assert "shown to be negligible" in verdicts[2000]["explanation"]
    assert verdicts[365]["verdict"] == "not detected"
    assert "absence of evidence, not evidence of independence" in verdicts[365]["explanation"]


@pytest.mark.slow  # 200 draws x 9 pairs through the whole verdict path: about 45 s
def test_real_supply_against_time_shifted_real_prices_is_rarely_called_coupled():
    """The realistic null (issue 14): real DefiLlama supply years (2021, 2022, 2022-10..2023-10)
    against real CoinGecko market-cap years starting at least 395 days away, from the
    recordings: unrelated by construction, with every fat tail and volatility cluster of the
    real data. 200 draws, each pair: at most 5% called coupled."""
    verdicts = calibration.null_verdicts(calibration.load_real_series(), draws=200, seed=14)
    # Draws are independent of the supply window: every supply year is used and every shift
    # keeps a year and a month between supply and prices.
    assert verdicts["supply_start"].n_unique() == 3
    shift = (verdicts["price_start"] - verdicts["supply_start"]).dt.total_days().abs()
    assert shift.min() >= calibration.NULL_MIN_SHIFT_DAYS
    rates = calibration.coupled_rates(verdicts)
    assert rates.height == 9 and rates["draws"].min() == 200
    assert rates["coupled"].max() <= 0.05, rates


def test_equivalence_of_a_correlation_is_the_two_one_sided_fisher_z_test():
    n, r = 1000, 0.02
    z, se, margin = math.atanh(r), 1 / math.sqrt(n - 3), math.atanh(dc.CORRELATION_MARGIN)
    by_hand = max(stats.norm.sf((z + margin) / se), stats.norm.cdf((z - margin) / se))
    assert dc.correlation_equivalence_p(r, n) == pytest.approx(by_hand, rel=1e-12)
    assert dc.correlation_equivalence_p(r, n) < 0.05  # 0.02 is well inside +-0.14 at n = 1000
    assert dc.correlation_equivalence_p(0.2, n) > 0.5  # outside the margin: not negligible
    assert dc.correlation_equivalence_p(None, n) is None


def test_benjamini_hochberg_equals_statsmodels():
    p_values = [0.001, 0.2, None, 0.04, 0.03, 0.9, 0.011]
    present = [p for p in p_values if p is not None]
    reference = iter(multipletests(present, method="fdr_bh")[1])
    expected = [None if p is None else next(reference) for p in p_values]
    q_values = dc.benjamini_hochberg(p_values)
    assert [q is None for q in q_values] == [p is None for p in p_values]
    assert [q for q in q_values if q is not None] == pytest.approx(
        [q for q in expected if q is not None], rel=1e-12
    )


# ---------------------------------------------------------------------------------------------
# Stationarity and cointegration


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_unit_root_diagnostics_tell_a_walk_from_an_ar1(seed):
    rng = np.random.default_rng(seed)
    n = 1000
    walk = np.cumsum(rng.normal(0, 0.02, n))
    ar1 = np.zeros(n)
    for t in range(1, n):
        ar1[t] = 0.5 * ar1[t - 1] + rng.normal(0, 0.02)
    panel = pair_panel(walk, ar1)  # USDT: random walk in logs; BTC: stationary AR(1) in logs
    table = dc._stationarity_for(panel, full_window(panel), ["USDT", "BTC"])
    assert table["transform"].unique().sort().to_list() == ["log_diff", "log_level"]
    assert one_row(table, series="USDT", transform="log_level")["stationary"] is False
    assert one_row(table, series="USDT", transform="log_diff")["stationary"] is True
    assert one_row(table, series="BTC", transform="log_level")["stationary"] is True


def test_engle_granger_equals_statsmodels_coint():
    rng = np.random.default_rng(5)
    log_supply = np.cumsum(rng.normal(0, 0.01, 500))
    log_price = 2.0 * log_supply + rng.normal(0, 0.02, 500)
    reference = coint(log_price, log_supply, trend="c")
    mine = dc._engle_granger(log_supply, log_price)
    assert mine["statistic"] == pytest.approx(reference.coint_t, rel=1e-9)
    assert mine["p_value"] == pytest.approx(reference.pvalue, rel=1e-9, abs=1e-12)
    assert mine["critical_value_5pct"] == pytest.approx(reference.critical_values[1])
    assert mine["cointegrated"] is True


def test_cointegrated_agrees_with_the_reported_p_value_or_critical_value(tables):
    rows = tables["cointegration"].drop_nulls("statistic")
    assert rows.height > 0
    for row in rows.iter_rows(named=True):
        if row["method"] == "engle_granger":
            assert row["cointegrated"] == (row["p_value"] < 0.05), row
        else:
            assert row["p_value"] is None
            assert row["cointegrated"] == (row["statistic"] > row["critical_value_5pct"]), row


# ---------------------------------------------------------------------------------------------
# Structural break


def break_panel(seed: int, slope_after: float, n: int = 1000, at: int = 600) -> pl.DataFrame:
    """Price log return = 0.2 * supply growth + noise, slope `slope_after` from row `at` on."""
    rng = np.random.default_rng(seed)
    growth = rng.normal(0.001, 0.01, n)
    returns = np.where(np.arange(n) < at, 0.2, slope_after) * growth + rng.normal(0, 0.005, n)
    return full_panel(rng, np.cumsum(growth), np.cumsum(returns))


def chow_f_by_loop(x: np.ndarray, y: np.ndarray, tau: int) -> float:
    def ssr(xs, ys):
        design = np.column_stack([np.ones(xs.size), xs])
        residuals = ys - design @ np.linalg.lstsq(design, ys, rcond=None)[0]
        return residuals @ residuals

    split = ssr(x[:tau], y[:tau]) + ssr(x[tau:], y[tau:])
    return ((ssr(x, y) - split) / 2) / (split / (x.size - 4))


def test_planted_slope_break_is_located_and_significant():
    panel = break_panel(seed=7, slope_after=1.5)
    row = one_row(dc.structural_breaks(panel), supply_series="USDT", price_series="BTC")
    assert abs((row["break_date"] - START).days - 600) <= 5
    assert row["p_value"] < 0.05
    assert row["slope_before"] == pytest.approx(0.2, abs=0.15)
    assert row["slope_after"] == pytest.approx(1.5, abs=0.2)
    # The vectorised sup-F equals the largest Chow F from one regression pair per candidate.
    x = np.diff(np.log(panel["usdt_supply"].to_numpy()))
    y = np.diff(np.log(panel["btc_mcap"].to_numpy()))
    n, trim = x.size, int(0.15 * x.size)
    by_loop = [chow_f_by_loop(x, y, tau) for tau in range(trim, n - trim + 1)]
    assert row["sup_f"] == pytest.approx(max(by_loop), rel=1e-8)
    assert row["break_date"] == START + dt.timedelta(days=1 + trim + int(np.argmax(by_loop)))


def test_stable_relation_shows_no_break():
    row = one_row(
        dc.structural_breaks(break_panel(seed=8, slope_after=0.2)),
        supply_series="USDT",
        price_series="BTC",
    )
    assert row["p_value"] > 0.05


def test_sup_f_null_table_regenerates_and_matches_andrews():
    regenerated = dict(dc.sup_f_quantile_table(dc.simulate_sup_f_null(5_000, 500, seed=7)))
    for tail, critical in dc.SUP_F_NULL_QUANTILES:
        if 0.05 <= tail <= 0.5:  # the far tail of 5,000 draws is too noisy to compare
            assert regenerated[tail] == pytest.approx(critical, rel=0.05)
    five_percent = dict(dc.SUP_F_NULL_QUANTILES)[0.05]
    # Andrews (1993): about 11.7 at 5% for p = 2, pi0 = 0.15 on the Wald (k * F) scale.
    assert 2 * five_percent == pytest.approx(11.7, abs=0.3)
    assert dc.sup_f_p_value(five_percent) == pytest.approx(0.05)
    assert dc.sup_f_p_value(0.0) == pytest.approx(0.99)


# ---------------------------------------------------------------------------------------------
# Correlation and regimes


def test_rolling_correlation_equals_numpy_and_is_null_until_the_window_is_full():
    rng = np.random.default_rng(21)
    panel = full_panel(
        rng, np.cumsum(rng.normal(0, 0.01, 400)), np.cumsum(rng.normal(0, 0.03, 400))
    )
    panel = panel.with_columns(
        usdt_supply=pl.when(pl.int_range(pl.len()) == 200)
        .then(None)
        .otherwise(pl.col("usdt_supply"))
    )
    table = dc.rolling_correlation(panel)
    rows = table.filter(supply_series="USDT", price_series="BTC", window_days=30)
    assert rows["date"].to_list() == panel["date"].to_list()
    correlation, n_obs = rows["correlation"], rows["n_obs"]

    # Row t's window holds the log changes of rows t-29..t, i.e. np.diff entries t-30..t-1.
    x = np.diff(np.log(panel["usdt_supply"].to_numpy()))
    y = np.diff(np.log(panel["btc_mcap"].to_numpy()))
    assert correlation[150] == pytest.approx(np.corrcoef(x[120:150], y[120:150])[0, 1], rel=1e-12)
    assert correlation[:30].null_count() == 30 and correlation[30] is not None
    # The missing supply on row 200 removes the changes of rows 200 and 201.
    assert correlation[200:231].null_count() == 31 and correlation[231] is not None
    assert (n_obs[29], n_obs[30], n_obs[215]) == (29, 30, 28)
    # 365 days never fit between the gap and either end of 400 rows.
    assert (
        table.filter(supply_series="USDT", window_days=365)["correlation"].null_count() == 3 * 400
    )
    assert (
        table.filter(supply_series="USDC", window_days=365)["correlation"].null_count() == 3 * 365
    )


def test_window_correlation_equals_the_t_test_by_hand():
    rng = np.random.default_rng(22)
    growth = rng.normal(0, 0.01, 300)
    panel = pair_panel(np.cumsum(growth), np.cumsum(0.5 * growth + rng.normal(0, 0.02, 300)))
    row = dc._window_correlation_for(panel, full_window(panel), PAIR).row(0, named=True)
    x = np.diff(np.log(panel["usdt_supply"].to_numpy()))
    y = np.diff(np.log(panel["btc_mcap"].to_numpy()))
    r = np.corrcoef(x, y)[0, 1]
    t = r * math.sqrt((x.size - 2) / (1 - r * r))
    assert row["n_obs"] == 299
    assert row["correlation"] == pytest.approx(r, rel=1e-12)
    assert row["p_value"] == pytest.approx(2 * stats.t.sf(abs(t), x.size - 2), rel=1e-8)


def test_divergent_regime_is_dated_from_30_day_changes():
    n = 300
    log_supply = 0.001 * np.arange(n)
    # Price rises 0.2%/day except on rows 100-199, where it falls 0.35%/day. A 30-day change
    # ending on row t is negative once it spans >= 11 falling days: rows 110 to 218.
    price_step = np.where((np.arange(n) >= 100) & (np.arange(n) <= 199), -0.0035, 0.002)
    log_price = np.concatenate(([0.0], np.cumsum(price_step[1:])))
    panel = full_panel(np.random.default_rng(0), log_supply, log_price)
    daily, periods = dc.regimes(panel)

    regime = daily.filter(supply_series="USDT", price_series="BTC")["regime"]
    assert regime[:30].null_count() == 30
    assert (regime[109], regime[110], regime[218], regime[219]) == (
        "both_up",
        "supply_up_price_down",
        "supply_up_price_down",
        "both_up",
    )
    period = periods.filter(supply_series="USDT", price_series="BTC")
    assert period.height == 1
    row = period.row(0, named=True)
    assert (row["regime"], row["start_date"], row["end_date"], row["days"]) == (
        "supply_up_price_down",
        START + dt.timedelta(days=110),
        START + dt.timedelta(days=218),
        109,
    )
    assert row["supply_growth"] == pytest.approx(log_supply[218] - log_supply[109])
    assert row["price_return"] == pytest.approx(log_price[218] - log_price[109])


# ---------------------------------------------------------------------------------------------
# Whole tables: schemas, NULL windows, traceability of the summary


SCHEMAS = {
    "rolling_correlation": {
        "date": pl.Date,
        "supply_series": pl.String,
        "price_series": pl.String,
        "window_days": pl.Int32,
        "correlation": pl.Float64,
        "n_obs": pl.Int32,
    },
    "window_correlation": {
        "period": pl.String,
        "window_start": pl.Date,
        "window_end": pl.Date,
        "supply_series": pl.String,
        "price_series": pl.String,
        "correlation": pl.Float64,
        "p_value": pl.Float64,
        "equivalence_p": pl.Float64,
        "n_obs": pl.Int32,
    },
    "stationarity": {
        "period": pl.String,
        "window_start": pl.Date,
        "window_end": pl.Date,
        "series": pl.String,
        "transform": pl.String,
        "adf_stat": pl.Float64,
        "adf_p_value": pl.Float64,
        "kpss_stat": pl.Float64,
        "kpss_p_value": pl.Float64,
        "stationary": pl.Boolean,
    },
    "granger_causality": {
        "period": pl.String,
        "window_start": pl.Date,
        "window_end": pl.Date,
        "cause": pl.String,
        "effect": pl.String,
        "cause_transform": pl.String,
        "effect_transform": pl.String,
        "lag": pl.Int32,
        "wald_f": pl.Float64,
        "p_value": pl.Float64,
        "equivalence_p": pl.Float64,
        "n_obs": pl.Int32,
    },
    "cointegration": {
        "period": pl.String,
        "window_start": pl.Date,
        "window_end": pl.Date,
        "supply_series": pl.String,
        "price_series": pl.String,
        "method": pl.String,
        "statistic": pl.Float64,
        "critical_value_5pct": pl.Float64,
        "p_value": pl.Float64,
        "lags": pl.Int32,
        "cointegrated": pl.Boolean,
        "n_obs": pl.Int32,
    },
    "regime_daily": {
        "date": pl.Date,
        "supply_series": pl.String,
        "price_series": pl.String,
        "supply_growth_30d": pl.Float64,
        "price_return_30d": pl.Float64,
        "regime": pl.String,
    },
    "regime_periods": {
        "supply_series": pl.String,
        "price_series": pl.String,
        "regime": pl.String,
        "start_date": pl.Date,
        "end_date": pl.Date,
        "days": pl.Int32,
        "supply_growth": pl.Float64,
        "price_return": pl.Float64,
    },
    "structural_breaks": {
        "supply_series": pl.String,
        "price_series": pl.String,
        "period": pl.String,
        "window_start": pl.Date,
        "window_end": pl.Date,
        "break_date": pl.Date,
        "sup_f": pl.Float64,
        "p_value": pl.Float64,
        "slope_before": pl.Float64,
        "slope_after": pl.Float64,
        "n_obs": pl.Int32,
    },
    "decoupling_summary": {
        "period": pl.String,
        "window_start": pl.Date,
        "window_end": pl.Date,
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
    },
}
KEYS = {
    "rolling_correlation": ["supply_series", "price_series", "window_days", "date"],
    "window_correlation": ["period", "supply_series", "price_series"],
    "stationarity": ["period", "series", "transform"],
    "granger_causality": ["period", "cause", "effect", "lag"],
    "cointegration": ["period", "supply_series", "price_series", "method"],
    "regime_daily": ["supply_series", "price_series", "date"],
    "regime_periods": ["supply_series", "price_series", "start_date"],
    "structural_breaks": ["supply_series", "price_series"],
    "decoupling_summary": ["period", "supply_series", "price_series"],
}


def all_tables(panel: pl.DataFrame) -> dict[str, pl.DataFrame]:
    tables = {
        "rolling_correlation": dc.rolling_correlation(panel),
        "window_correlation": dc.window_correlation(panel),
        "stationarity": dc.stationarity(panel),
        "cointegration": dc.cointegration(panel),
        "structural_breaks": dc.structural_breaks(panel),
        "granger_causality": dc.granger_causality(panel),
    }
    tables["regime_daily"], tables["regime_periods"] = dc.regimes(panel)
    tables["decoupling_summary"] = dc.decoupling_summary(
        tables["window_correlation"], tables["granger_causality"], tables["cointegration"]
    )
    return tables


PANEL_START = dt.date(2022, 9, 1)


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    """500 days from 2022-09-01: windows full, 2022, 2023, 2024 (13 days), trailing 365/90;
    USDT supply leads BTC by 3 days; one missing USDC value."""
    log_usdt, log_btc = lead_panel(3, seed=31, n=500)
    # Another seed than lead_panel's: with the same one USDC would copy USDT's growth.
    panel = full_panel(np.random.default_rng(32), log_usdt, log_btc, start=PANEL_START)
    return panel.with_columns(
        usdc_supply=pl.when(pl.int_range(pl.len()) == 250)
        .then(None)
        .otherwise(pl.col("usdc_supply"))
    )


@pytest.fixture(scope="module")
def tables(panel) -> dict[str, pl.DataFrame]:
    return all_tables(panel)


def test_every_table_has_its_schema_key_and_order(tables):
    for name, table in tables.items():
        assert dict(table.schema) == SCHEMAS[name], name
        assert table.equals(table.sort(KEYS[name])), name
        assert not table.select(KEYS[name]).is_duplicated().any(), name
    assert tables["decoupling_summary"].height == 6 * 9
    assert tables["granger_causality"].height == 6 * 9 * 2 * 14


def test_every_granger_test_is_on_daily_log_changes(tables):
    granger = tables["granger_causality"]
    assert set(granger["cause_transform"]) == set(granger["effect_transform"]) == {"log_diff"}
    assert set(tables["stationarity"]["transform"]) == {"log_level", "log_diff"}


def test_short_window_rows_have_null_statistics(tables):
    short = {
        name: tables[name].filter(period="2024")
        for name in ("window_correlation", "stationarity", "granger_causality", "cointegration")
    }
    assert short["window_correlation"]["n_obs"].unique().to_list() == [12]
    for name, columns in {
        "window_correlation": ["correlation", "p_value"],
        "stationarity": ["adf_stat", "adf_p_value", "kpss_stat", "kpss_p_value", "stationary"],
        "granger_causality": ["wald_f", "p_value", "equivalence_p"],
        "cointegration": ["statistic", "p_value", "lags", "cointegrated"],
    }.items():
        assert short[name].height > 0
        assert short[name].select(pl.all_horizontal(pl.col(columns).is_null()).all()).item(), name
    verdicts = tables["decoupling_summary"].filter(period="2024")["verdict"]
    assert verdicts.unique().to_list() == ["inconclusive"]


def test_granger_n_obs_is_regression_rows_in_every_window(tables):
    granger = tables["granger_causality"].filter(cause="USDT", effect="BTC")
    # 2024 holds 13 days, too few to test: 12 daily changes, and lag p leaves 12 - p rows
    # with the effect and all lags present.
    short = granger.filter(period="2024").sort("lag")
    assert short["n_obs"].to_list() == [max(0, 12 - lag) for lag in range(1, 15)]
    # The same count where the test runs: 2023 (365 days) leaves 364 - p rows.
    year = granger.filter(period="2023").sort("lag")
    assert year["n_obs"].to_list() == [364 - lag for lag in range(1, 15)]


def test_a_panel_shorter_than_min_obs_gives_null_rows_not_errors():
    rng = np.random.default_rng(41)
    panel = full_panel(rng, np.cumsum(rng.normal(0, 0.01, 40)), np.cumsum(rng.normal(0, 0.03, 40)))
    tables = all_tables(panel)
    assert tables["structural_breaks"]["sup_f"].null_count() == 9
    # Only the 30-day correlation fits: from row 30 on.
    assert tables["rolling_correlation"]["correlation"].null_count() == 9 * (30 + 40 + 40)
    assert tables["regime_periods"].height == 0
    assert set(tables["decoupling_summary"]["verdict"]) == {"inconclusive"}
    assert tables["cointegration"]["statistic"].null_count() == tables["cointegration"].height


def family_columns(row: dict) -> list[str]:
    """The summary columns that vote: Engle-Granger only with >= 250 daily changes."""
    columns = ["supply_to_price_p_adj_lags", "price_to_supply_p_adj_lags"]
    return columns + ["engle_granger_p"] if row["n_obs"] >= 250 else columns


def family_p(row: dict) -> float | None:
    if row["n_obs"] < MIN_OBS:
        return None
    columns = family_columns(row)
    ps = [row[c] for c in columns if row[c] is not None]
    return min(1.0, len(columns) * min(ps)) if ps else None


def test_summary_numbers_trace_back_to_correlation_granger_and_cointegration(tables):
    correlation = {
        (r["period"], r["supply_series"], r["price_series"]): r
        for r in tables["window_correlation"].iter_rows(named=True)
    }
    granger = tables["granger_causality"]
    cointegration = tables["cointegration"]
    summary = tables["decoupling_summary"]
    # q_bh: Benjamini-Hochberg over every row's p_adj_family, by hand from statsmodels.
    tested = summary.drop_nulls("p_adj_family")
    q_by_hand = dict(
        zip(
            zip(tested["period"], tested["supply_series"], tested["price_series"]),
            multipletests(tested["p_adj_family"].to_list(), method="fdr_bh")[1],
        )
    )
    verdicts = set()
    for row in summary.iter_rows(named=True):
        window, supply, price = row["period"], row["supply_series"], row["price_series"]
        corr = correlation[(window, supply, price)]
        assert (row["n_obs"], row["correlation"], row["correlation_equivalence_p"]) == (
            corr["n_obs"],
            corr["correlation"],
            corr["equivalence_p"],
        )
        equivalence = []
        for cause, effect, lag_col, p_col in (
            (supply, price, "supply_to_price_lag", "supply_to_price_p_adj_lags"),
            (price, supply, "price_to_supply_lag", "price_to_supply_p_adj_lags"),
        ):
            lags = (
                granger.filter(period=window, cause=cause, effect=effect)
                .drop_nulls("p_value")
                .select("lag", "p_value", "equivalence_p")
                .rows()
            )
            best_lag, best_p, _ = min(lags, key=lambda lp: (lp[1], lp[0])) if lags else (None,) * 3
            assert row[lag_col] == best_lag
            assert row[p_col] == (None if best_p is None else min(1.0, BONFERRONI_LAGS * best_p))
            equivalence.append(max(e for _, _, e in lags) if len(lags) == 14 else None)
        assert row["granger_equivalence_p"] == (None if None in equivalence else max(equivalence))
        parts = (row["correlation_equivalence_p"], row["granger_equivalence_p"])
        assert row["equivalence_p"] == (None if None in parts else max(parts))
        eg = one_row(
            cointegration,
            period=window,
            supply_series=supply,
            price_series=price,
            method="engle_granger",
        )
        johansen = one_row(
            cointegration,
            period=window,
            supply_series=supply,
            price_series=price,
            method="johansen",
        )
        assert row["engle_granger_p"] == eg["p_value"]
        assert (row["johansen_trace"], row["johansen_critical_5pct"]) == (
            johansen["statistic"],
            johansen["critical_value_5pct"],
        )
        p = family_p(row)
        assert row["p_adj_family"] == p
        q = q_by_hand.get((window, supply, price))
        assert row["q_bh"] == (None if q is None else pytest.approx(q, rel=1e-12))

        # The verdict rule, restated.
        if row["n_obs"] < MIN_OBS:
            expected = "inconclusive"
        elif q is not None and q < 0.05:
            expected = "coupled"
        elif None in [row[c] for c in family_columns(row)]:
            expected = "inconclusive"
        elif row["equivalence_p"] is not None and row["equivalence_p"] < 0.05:
            expected = "decoupled"
        else:
            expected = "not detected"
        assert row["verdict"] == expected, row
        verdicts.add(expected)

        # Every number in the sentence is a p or q of this row, a lag or n_obs, the family's
        # size, the lag count, the margins or the Engle-Granger threshold.
        allowed = {f"{v:.2g}" for v in (p, q, row["equivalence_p"]) if v is not None}
        allowed |= {str(row[c]) for c in ("n_obs", "supply_to_price_lag", "price_to_supply_lag")}
        allowed |= {str(len(family_columns(row))), str(dc.EG_MIN_OBS), "14", "0.14", "2"}
        sentence = row["explanation"].replace(window, "WINDOW").replace("HC3", "HC")
        assert sentence.endswith(".") and sentence.count(". ") == 0
        numbers = re.findall(r"\d+(?:\.\d+)?(?:e-\d+)?", sentence)
        assert numbers and set(numbers) <= allowed, (sentence, allowed)
        assert (
            "daily log changes" in sentence
            or "log growth" in sentence
            or "usable daily observations" in sentence
            or "cointegrated" in sentence
        )
        if row["verdict"] in ("coupled", "not detected", "decoupled"):
            assert (
                f"{p:.2g}" in sentence
                and f"Bonferroni over 14 lags and {len(family_columns(row))} tests" in sentence
            )
    assert {"coupled", "not detected", "inconclusive"} <= verdicts
    # Filtering on the deciding column gives exactly the coupled rows.
    assert summary.filter(pl.col("q_bh") < 0.05).equals(summary.filter(verdict="coupled"))
    # Both families occur: 2022 (122 days) and trailing_90d vote on Granger only.
    n_obs = summary["n_obs"]
    assert (n_obs >= dc.EG_MIN_OBS).any() and ((n_obs >= MIN_OBS) & (n_obs < dc.EG_MIN_OBS)).any()


def test_a_missing_engle_granger_matters_only_where_it_votes(tables):
    cointegration = tables["cointegration"].with_columns(
        p_value=pl.when(pl.col("method") == "engle_granger").then(None).otherwise(pl.col("p_value"))
    )
    summary = dc.decoupling_summary(
        tables["window_correlation"], tables["granger_causality"], cointegration
    )
    before = tables["decoupling_summary"]
    short = (pl.col("n_obs") >= MIN_OBS) & (pl.col("n_obs") < dc.EG_MIN_OBS)
    assert summary.filter(short)["p_adj_family"].equals(before.filter(short)["p_adj_family"])
    assert set(summary.filter(short)["verdict"]) >= {"coupled", "not detected"}
    # Where it votes, a missing Engle-Granger leaves only 'coupled' (from Granger) decidable.
    long = summary.filter(pl.col("n_obs") >= dc.EG_MIN_OBS)
    assert set(long["verdict"]) <= {"coupled", "inconclusive"}
    assert "inconclusive" in set(long["verdict"])
    incomplete = long.filter(verdict="inconclusive")["explanation"]
    assert incomplete.str.starts_with("The Engle-Granger test could not be computed").all()


def test_statistics_of_other_window_dates_are_not_attached(tables):
    # The panel moved on by a day: window_correlation has the new trailing windows, the Granger
    # and cointegration tables still hold the old ones. Their numbers must not be reused.
    moved = pl.col("period").str.starts_with("trailing")
    correlation = tables["window_correlation"].with_columns(
        window_start=pl.when(moved)
        .then(pl.col("window_start") + pl.duration(days=1))
        .otherwise(pl.col("window_start")),
        window_end=pl.when(moved)
        .then(pl.col("window_end") + pl.duration(days=1))
        .otherwise(pl.col("window_end")),
    )
    summary = dc.decoupling_summary(
        correlation, tables["granger_causality"], tables["cointegration"]
    )
    statistics = [
        "supply_to_price_lag",
        "supply_to_price_p_adj_lags",
        "price_to_supply_lag",
        "price_to_supply_p_adj_lags",
        "engle_granger_p",
        "johansen_trace",
        "johansen_critical_5pct",
        "p_adj_family",
        "q_bh",
        "granger_equivalence_p",
    ]
    stale = summary.filter(moved)
    assert stale.height == 2 * 9
    assert stale.select(pl.all_horizontal(pl.col(statistics).is_null()).all()).item()
    assert set(stale["verdict"]) == {"inconclusive"}
    # The other rows keep their numbers; only the q-values move (fewer rows are tested).
    kept = summary.filter(~moved).drop("q_bh", "verdict", "explanation")
    assert kept.equals(
        tables["decoupling_summary"].filter(~moved).drop("q_bh", "verdict", "explanation")
    )


def test_engle_granger_rows_equal_statsmodels_coint_on_the_panel(panel, tables):
    eg = one_row(
        tables["cointegration"],
        period="2023",
        supply_series="USDT",
        price_series="BTC",
        method="engle_granger",
    )
    in_2023 = panel.filter(pl.col("date").dt.year() == 2023)
    reference = coint(
        np.log(in_2023["btc_mcap"].to_numpy()), np.log(in_2023["usdt_supply"].to_numpy()), trend="c"
    )
    assert eg["n_obs"] == 365
    assert eg["statistic"] == pytest.approx(reference.coint_t, rel=1e-6)
    assert eg["p_value"] == pytest.approx(reference.pvalue, rel=1e-6)


def test_cheap_tables_are_deterministic(panel, tables):
    again = dc.decoupling_summary(
        tables["window_correlation"], tables["granger_causality"], tables["cointegration"]
    )
    assert again.equals(tables["decoupling_summary"])
    assert dc.window_correlation(panel).equals(tables["window_correlation"])
    assert dc.structural_breaks(panel).equals(tables["structural_breaks"])
    assert dc.rolling_correlation(panel.reverse()).equals(tables["rolling_correlation"])
