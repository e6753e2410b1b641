"""The pipeline's own functions on the real recordings, beside what published studies found.

`python -m bench.studies` prints the markdown table the README's "Compared with published
studies" section holds between its `studies` markers; tests/analytics/test_studies.py
recomputes it and fails when the README's numbers drift from what the code now gives.

Data: the recordings (sandbox/recordings): DefiLlama supply, dated as the pipeline dates it
(close of D), and CoinGecko market caps and USDT prices (close of D = the 00:00 UTC sample of
D+1), 2018-10-26..2023-10-24. The overlap starts on 2020-01-02: before it DefiLlama's USDT
(and so the total) misses most of the supply (sql/seeds/known_incomplete_history.csv).
"""

import datetime as dt

import numpy as np
import polars as pl

from assets.analytics import decoupling as dc
from assets.analytics import markets
from bench.calibration import RealSeries, load_real_series, real_panel

START = dt.date(2020, 1, 2)  # DefiLlama's USDT is complete from here
END = dt.date(2023, 10, 24)  # the last close in the CoinGecko recordings
# A "large supply increase" day: USDT supply up by at least this many tokens in a day, the
# same size as the pipeline's large mint (markets.LARGE_MINT_TOKENS).
LARGE_INCREASE_TOKENS = markets.LARGE_MINT_TOKENS


def decoupling_tables(series: RealSeries) -> dict[str, pl.DataFrame]:
    panel = real_panel(series, START, END)
    correlation = dc.window_correlation(panel)
    granger = dc.granger_causality(panel)
    cointegration = dc.cointegration(panel)
    return {
        "panel": panel,
        "granger": granger,
        "summary": dc.decoupling_summary(correlation, granger, cointegration),
    }


def supply_increase_events(panel: pl.DataFrame) -> pl.DataFrame:
    """Days whose USDT supply rose by LARGE_INCREASE_TOKENS or more, shaped as large_mints
    (one event per day; the recordings have no mint logs, only daily supply)."""
    increases = panel.select("date", amount_tokens=pl.col("usdt_supply").diff()).filter(
        pl.col("amount_tokens") >= LARGE_INCREASE_TOKENS
    )
    return increases.select(
        "date",
        token=pl.lit("USDT"),
        tx_hash=pl.format("defillama:{}", pl.col("date")),
        log_index=pl.lit(0, dtype=pl.Int64),
        amount_tokens=pl.col("amount_tokens"),
        inventory=pl.lit(False),
        inventory_reason=pl.lit(None, dtype=pl.Utf8),
    ).cast(markets.LARGE_MINTS_SCHEMA)


def peg_granger(series: RealSeries) -> dict[str, tuple[int, float]]:
    """USDT's premium (CoinGecko price - 1) against USDT supply log growth, both ways: the
    smallest HC3 Granger p over 14 lags x 14, and its lag."""
    days = [START + dt.timedelta(days=i) for i in range((END - START).days + 1)]
    premium = np.array([series.usdt_price.get(d, np.nan) - 1 for d in days])
    supply = np.log(np.array([series.supply["USDT"].get(d, np.nan) for d in days]))
    growth = np.concatenate(([np.nan], np.diff(supply)))
    out = {}
    for name, cause, effect in (
        ("premium_to_supply", premium, growth),
        ("supply_to_premium", growth, premium),
    ):
        p_values = [
            (dc.granger_wald_test(cause, effect, lag)[1], lag) for lag in range(1, dc.MAX_LAG + 1)
        ]
        p, lag = min(p_values)
        out[name] = (lag, min(1.0, p * dc.MAX_LAG))
    return out


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _summary_cell(summary: pl.DataFrame, period: str, supply: str, price: str) -> str:
    row = summary.filter(period=period, supply_series=supply, price_series=price).row(0, named=True)
    return (
        f"{row['verdict']}: supply→price p={_p(row['supply_to_price_p_adj_lags'])} "
        f"(lag {row['supply_to_price_lag']}), price→supply "
        f"p={_p(row['price_to_supply_p_adj_lags'])} (lag {row['price_to_supply_lag']}), "
        f"q={_p(row['q_bh'])}"
    )


def table(series: RealSeries | None = None, tables: dict[str, pl.DataFrame] | None = None) -> str:
    """The README's comparison table, rows: finding, study, what the pipeline finds
    (`tables`: decoupling_tables(series), when already computed)."""
    series = series or load_real_series()
    tables = tables or decoupling_tables(series)
    summary, panel = tables["summary"], tables["panel"]
    mints = supply_increase_events(panel)
    _, event_summary = markets.event_study(panel, mints)
    peg = peg_granger(series)
    rows = [
        (
            "Kristoufek (2021), Finance Research Letters",
            "prices lead stablecoin supply; supply does not lead prices",
            f"{START}..{END}, daily log changes, HC3 Granger: USDT vs BTC "
            + _summary_cell(summary, "full", "USDT", "BTC")
            + "; USDC vs ETH "
            + _summary_cell(summary, "full", "USDC", "ETH")
            + "; total vs crypto "
            + _summary_cell(summary, "full", "total", "crypto"),
        ),
        (
            "Kristoufek (2021), by year",
            "(the same question per year)",
            "; ".join(
                f"{year}: total vs crypto " + _summary_cell(summary, year, "total", "crypto")
                for year in ("2020", "2021", "2022", "2023")
            ),
        ),
    ]
    cars = []
    for car_window in ("0..+1", "0..+5"):
        for model in ("constant_mean", "market_model"):
            r = event_summary.filter(model=model, token="USDT", car_window=car_window)
            if not r.is_empty():
                r = r.row(0, named=True)
                cars.append(
                    f"CAR {car_window} {model.replace('_', '-')} {_pct(r['mean_car'])} "
                    f"(overlap-robust p={_p(r['adj_bmp_p_value'])})"
                )
    events = supply_increase_events(panel).height
    rows.append(
        (
            "Ante, Fiedler & Strehle (2021), Finance Research Letters",
            "565 issuances of $1M+ (7 stablecoins, 2019-04..2020-03, hourly): positive abnormal "
            "returns in the 24 hours around issuance, downturns in the week before",
            f"{events} days with USDT supply up {LARGE_INCREASE_TOKENS / 1e6:,.0f}M+ "
            f"({START}..{END}, daily, one event per day), BTC: " + "; ".join(cars),
        )
    )
    rows.append(
        (
            "Lyons & Viswanath-Natraj (2023), J. Int. Money and Finance",
            "issuance plays only a limited role in keeping Tether's peg; "
            "demand-side arbitrage does",
            f"{START}..{END}, HC3 Granger on USDT premium (CoinGecko price - 1) and USDT supply "
            f"log growth: premium→supply p={_p(peg['premium_to_supply'][1])} (lag "
            f"{peg['premium_to_supply'][0]}), supply→premium p={_p(peg['supply_to_premium'][1])} "
            f"(lag {peg['supply_to_premium'][0]}), x14 lags",
        )
    )
    lines = [
        "| study | what it found | what stableflow finds on the overlapping data |",
        "|---|---|---|",
    ]
    lines += [f"| {study} | {found} | {ours} |" for study, found, ours in rows]
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2%}"


if __name__ == "__main__":
    print(table())
