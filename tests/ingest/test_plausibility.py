"""The plausibility limits (assets/ingest/plausibility.yaml) against the real recordings: every
recorded day passes the blocking limits, the numbers the limits cite are the recordings' own,
and the pure comparisons (day over day, chains appearing and disappearing) behave at their
edges. The bad input each limit refuses is in tests/test_bad_input.py (46-61)."""

import datetime as dt
import json

import polars as pl
import pytest

from assets.ingest import plausibility
from assets.ingest.coingecko import COINS, parse_market_chart
from assets.ingest.defillama import parse_token, parse_token_chart, parse_total_supply
from assets.ingest.fred import SERIES, parse_fredgraph
from sandbox.replay import RECORDINGS, build_fred, build_stablecoin, build_stablecoin_chart

D = dt.date


def coingecko() -> pl.DataFrame:
    return pl.concat(
        [
            parse_market_chart(
                json.loads((RECORDINGS / "coingecko" / f"market_chart_{coin}.json").read_text()),
                coin,
                D(2018, 10, 25),
                D(2023, 10, 24),
            ).with_columns(source=pl.lit(f"coingecko {coin}"))
            for coin in COINS
        ]
    )


def token_supply() -> pl.DataFrame:
    return pl.concat(
        [
            parse_token_chart(
                build_stablecoin_chart(llama_id), token, first, D(2026, 7, 9)
            ).with_columns(source=pl.lit(token))
            for llama_id, token, first in (
                (1, "USDT", D(2017, 11, 29)),
                (2, "USDC", D(2018, 9, 11)),
            )
        ]
    )


def fred(series: str) -> pl.DataFrame:
    # as served: the trading-day files with FRED's empty holiday rows (sandbox/replay.py)
    rows = [{"observation_date": d, series: v} for d, v in build_fred(series)]
    return parse_fredgraph(rows, series, D(2006, 1, 1), D(2026, 12, 31)).with_columns(
        source=pl.lit(f"fred {series}")
    )


def recorded_tables() -> dict[str, pl.DataFrame]:
    total = json.loads(
        (RECORDINGS / "defillama" / "stablecoincharts_all_2026-08-22.json").read_text()
    )
    by_chain = pl.concat(
        [
            parse_token(
                build_stablecoin(llama_id, history_from=None),
                token,
                D(2020, 12, 31),
                D(2023, 10, 24),
            )[1]
            for llama_id, token in ((1, "USDT"), (2, "USDC"))
        ]
    )
    return {
        "raw.coingecko_market_daily": coingecko(),
        "raw.defillama_total_supply": parse_total_supply(
            total, D(2017, 11, 29), D(2026, 8, 20)
        ).with_columns(source=pl.lit("total")),
        "raw.defillama_token_supply": token_supply(),
        "raw.defillama_token_supply_by_chain": by_chain.with_columns(source=pl.lit("chains")),
        "raw.fred_series_daily": pl.concat([fred(s) for s in SERIES]),
    }


def test_the_limits_admit_every_recorded_day():
    """No recorded day (2006-2026, whatever the source) would be refused: the blocking limits
    are above the real history, DefiLlama's catch-up steps included."""
    for table, frame in recorded_tables().items():
        moves = plausibility.day_over_day(frame, table)
        assert [m.line() for m in moves if m.level == "block"] == [], table
    # The by-chain ceiling too: no chain above its token's all-chain supply.
    chains = recorded_tables()["raw.defillama_token_supply_by_chain"]
    ceiling = plausibility.config().ceiling("chain within all chains")
    frame = chains.select(
        "date", "token", "chain", pl.col("circulating_tokens").alias("value")
    ).join(
        token_supply().select("date", "token", pl.col("circulating_tokens").alias("ceiling")),
        on=["date", "token"],
    )
    assert frame.height > 30_000
    assert plausibility.over_ceiling(frame, ceiling) == []
    assert frame.select((pl.col("value") / pl.col("ceiling")).max()).item() == pytest.approx(
        0.993, abs=0.001
    )


def largest(frame: pl.DataFrame, column: str, by: str | None = None) -> tuple:
    """(day, ratio) of the largest fall and the largest rise from one row to the next."""
    previous = pl.col(column).shift(1)
    frame = frame.sort([by, "date"] if by else "date").with_columns(
        ratio=pl.col(column) / (previous.over(by) if by else previous)
    )
    fall = frame.sort("ratio", nulls_last=True).row(0, named=True)
    rise = frame.sort("ratio", descending=True, nulls_last=True).row(0, named=True)
    return (fall["date"], round(fall["ratio"], 4)), (rise["date"], round(rise["ratio"], 4))


def test_the_recorded_numbers_the_limits_cite():
    """The sources quoted in assets/ingest/plausibility.yaml, recomputed from the recordings."""
    market = coingecko()
    btc = market.filter(pl.col("coin_id") == "bitcoin")
    assert largest(btc, "price_usd") == ((D(2020, 3, 12), 0.6481), (D(2021, 2, 8), 1.1925))
    eth = market.filter(pl.col("coin_id") == "ethereum")
    assert largest(eth, "price_usd") == ((D(2020, 3, 12), 0.5695), (D(2021, 5, 24), 1.2453))
    usdt = market.filter(pl.col("coin_id") == "tether")
    assert largest(usdt, "market_cap_usd")[1] == (D(2019, 6, 19), 1.7254)
    usdc = market.filter(pl.col("coin_id") == "usd-coin")
    assert largest(usdc, "volume_usd")[1] == (D(2019, 1, 24), 225.9222)
    supply = token_supply().filter(pl.col("circulating_tokens") >= 1e8)
    assert largest(supply.filter(pl.col("token") == "USDT"), "circulating_tokens")[1] == (
        D(2020, 4, 2),
        1.4677,
    )
    assert largest(supply.filter(pl.col("token") == "USDC"), "circulating_tokens")[1] == (
        D(2022, 1, 1),
        1.1191,
    )
    sp500 = fred("SP500").drop_nulls("value")
    assert largest(sp500, "value") == ((D(2020, 3, 16), 0.8802), (D(2025, 4, 9), 1.0952))
    tbill = (
        fred("DTB3")
        .drop_nulls("value")
        .sort("date")
        .with_columns(step=(pl.col("value") - pl.col("value").shift(1)).abs())
    )
    top = tbill.sort("step", descending=True, nulls_last=True).row(0, named=True)
    assert (top["date"], round(top["step"], 2)) == (D(2008, 9, 17), 0.81)


def test_every_limit_states_its_reason_and_source():
    config = plausibility.config()
    assert {limit.table for limit in config.limits} == set(plausibility.SERIES_KEYS)
    for item in (*config.limits, *config.ceilings):
        assert len(item.reason) > 40 and len(item.source) > 20, item.name
    # Prices, market caps, supplies and reserves each have a limit.
    columns = {(limit.table, limit.column) for limit in config.limits}
    assert {
        ("raw.coingecko_market_daily", "price_usd"),
        ("raw.coingecko_market_daily", "market_cap_usd"),
        ("raw.defillama_token_supply", "circulating_tokens"),
        ("raw.defillama_total_supply", "circulating_usd"),
        ("raw.evm_exchange_reserves", "balance_tokens"),
    } <= columns


def test_the_window_is_compared_with_the_stored_days_around_it():
    """The first day against yesterday (FRED: the previous trading day, over a weekend), the
    last against the stored day after; two stored days are not judged again."""
    limits = [limit for limit in plausibility.config().limits if limit.name == "S&P 500"]
    stored = pl.DataFrame(
        {
            "date": [D(2022, 4, 28), D(2022, 4, 29), D(2022, 5, 3)],
            "series_id": ["SP500"] * 3,
            "value": [4100.0, 41.0, 4200.0],
            "source": ["fred SP500"] * 3,
        }
    )
    monday = pl.DataFrame(
        {
            "date": [D(2022, 5, 2)],
            "series_id": ["SP500"],
            "value": [4150.0],
            "source": ["fred SP500"],
        }
    )
    moves = plausibility.day_over_day(monday, "raw.fred_series_daily", stored, limits)
    # Friday (stored, 3 days earlier) against Monday; Tuesday (stored) against Monday.
    assert [(m.date, m.previous_date, m.level, m.new, m.previous_new) for m in moves] == [
        (D(2022, 5, 2), D(2022, 4, 29), "block", True, False)
    ]
    assert moves[0].field == "value of SP500 on 2022-05-02"
    assert "on 2022-04-29 (stored), 3 days earlier" in moves[0].describe()
    # A stored day after the window is compared with the window's last day.
    tuesday = stored.with_columns(value=pl.lit(4100.0)).filter(pl.col("date") != D(2022, 5, 3))
    later = pl.DataFrame(
        {"date": [D(2022, 5, 3)], "series_id": ["SP500"], "value": [41.0], "source": ["fred SP500"]}
    )
    moves = plausibility.day_over_day(
        monday, "raw.fred_series_daily", pl.concat([tuesday, later]), limits
    )
    assert [(m.date, m.new, m.previous_new, m.field) for m in moves] == [
        (D(2022, 5, 3), False, True, "value of SP500 on 2022-05-02")
    ]
    # More than max_gap_days apart: not compared.
    far = stored.with_columns(date=pl.col("date") - dt.timedelta(days=10))
    assert plausibility.day_over_day(monday, "raw.fred_series_daily", far, limits) == []


def test_chain_changes_at_the_edges():
    first, end = D(2022, 6, 3), D(2022, 6, 4)

    def rows(pairs):
        return pl.DataFrame(pairs, schema={"date": pl.Date, "chain": pl.Utf8}, orient="row")

    answer = rows([(first, "Ethereum"), (first, "Tron"), (end, "Ethereum"), (end, "Tron")])
    # Nothing stored: nothing to compare with (a first backfill takes DefiLlama's history).
    assert plausibility.chain_changes(answer, rows([]), first, end) == []
    # The same chains stored the day before and the day after: no change.
    same = rows(
        [
            (first - dt.timedelta(days=1), "Ethereum"),
            (first - dt.timedelta(days=1), "Tron"),
            (end + dt.timedelta(days=1), "Ethereum"),
            (end + dt.timedelta(days=1), "Tron"),
        ]
    )
    assert plausibility.chain_changes(answer, same, first, end) == []
    # A re-run of stored days that the answer no longer has under that name.
    renamed = answer.with_columns(chain=pl.col("chain").replace("Ethereum", "Ethereum Mainnet"))
    changes = plausibility.chain_changes(renamed, answer, first, end)
    assert [(c.chain, c.change, c.answer_day, c.stored_day) for c in changes] == [
        ("Ethereum Mainnet", "appears", first, first),
        ("Ethereum", "disappears", first, first),
    ]
    # A gap filled between stored days: the day after the window names the change too.
    after = rows(
        [
            (end + dt.timedelta(days=1), "Ethereum"),
            (end + dt.timedelta(days=1), "Tron"),
            (end + dt.timedelta(days=1), "Base"),
        ]
    )
    (change,) = plausibility.chain_changes(answer, after, first, end)
    assert (change.chain, change.change, change.answer_day) == ("Base", "disappears", end)


def test_rare_moves_beyond_the_logged_number_are_counted():
    class Log:
        def __init__(self):
            self.lines: list[str] = []

        def warning(self, text):
            self.lines.append(text)

    context = type("Context", (), {"log": Log()})()
    days = [D(2022, 5, 1) + dt.timedelta(days=i) for i in range(30)]
    frame = pl.DataFrame(
        {
            "date": days,
            "coin_id": ["bitcoin"] * 30,
            "price_usd": [30_000.0 * (1.3 if i % 2 else 1.0) for i in range(30)],
            "source": ["coingecko"] * 30,
        }
    )
    meta = plausibility.report(
        context, plausibility.day_over_day(frame, "raw.coingecko_market_daily")
    )
    assert len(context.log.lines) == plausibility.MAX_LOGGED + 1
    assert context.log.lines[-1].startswith("RARE MOVE: 9 more in this window")
    assert len(meta["rare_moves"].splitlines()) == 29
