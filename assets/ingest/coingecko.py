"""CoinGecko market data (https://api.coingecko.com/api/v3, free tier; optional demo key).

Owns: raw.coingecko_market_daily.

Sampling time: for ranges longer than 90 days `/coins/{id}/market_chart/range` returns one
point per day stamped 00:00 UTC, plus, when the range reaches the present, an intraday "now"
point. The 00:00 sample of day D+1 is the close of day D, so it is stored under date D; the
"now" point is not a daily sample and is dropped. Ranges of 90 days or less come back hourly,
so every request spans at least 91 days (a one-day partition asks for the 91 days before it
and keeps one); no request spans more than 365 days (the free tier's limit), so long
backfills are split, and a per-source rate limit spaces the calls.
"""


import datetime as dt
from typing import Any

import dagster as dg
import polars as pl

from assets.ingest.parsing import amount, require, require_every_day, stamp, utc_now
from pipelines.partitions import DAILY, window_of
from pipelines.resources import HttpSource, Rows, Warehouse

COINS = ("bitcoin", "ethereum", "tether", "usd-coin")
MAX_DAYS_PER_REQUEST = 365
MIN_DAYS_PER_REQUEST = 91
_DAY_MS = 86_400_000
_METRICS = {"prices": "price_usd", "market_caps": "market_cap_usd", "total_volumes": "volume_usd"}


def _midnight(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def request_ranges(start: dt.date, end: dt.date) -> list[tuple[int, int]]:
    """(from, to) unix-second pairs covering the samples of days start..end.

    Day D's close is the sample at 00:00 of D+1, so the samples needed are those of
    start+1 .. end+1. Each request covers at most 365 sample days and spans at least 91.
    """
    first, last = start + dt.timedelta(days=1), end + dt.timedelta(days=1)
    ranges = []
    while first <= last:
        chunk_last = min(last, first + dt.timedelta(days=MAX_DAYS_PER_REQUEST - 1))
        chunk_from = min(first, chunk_last - dt.timedelta(days=MIN_DAYS_PER_REQUEST))
        ranges.append((_midnight(chunk_from), _midnight(chunk_last)))
        first = chunk_last + dt.timedelta(days=1)
    return ranges


def parse_market_chart(payload: Any, coin_id: str, start: dt.date, end: dt.date) -> pl.DataFrame:
    """One market_chart(/range) response -> daily closes for start..end that it holds.

    Returns (date, coin_id, price_usd, market_cap_usd, volume_usd, sampled_at); days the
    response does not reach are simply absent (the caller checks completeness).
    """
    source = f"coingecko /coins/{coin_id}/market_chart/range"
    require(isinstance(payload, dict), source, "(body)", type(payload).__name__, "not an object")
    by_sample: dict[int, dict[str, float]] = {}
    for key, column in _METRICS.items():
        points = payload.get(key)
        require(isinstance(points, list), source, key, type(points).__name__, "not a list")
        for i, point in enumerate(points):
            field = f"{key}[{i}]"
            require(
                isinstance(point, list) and len(point) == 2, source, field, point,
                "not a [timestamp_ms, value] pair",
            )
            ms = point[0]
            require(isinstance(ms, int) and not isinstance(ms, bool), source, f"{field}[0]", ms,
                    "not a millisecond timestamp")
            if ms % _DAY_MS:
                continue  # the intraday "now" point: not a daily close
            sample_day = dt.datetime.fromtimestamp(ms / 1000, dt.UTC).date()
            day = sample_day - dt.timedelta(days=1)
            if not start <= day <= end:
                continue
            # Volumes can be zero on a quiet day; prices and caps cannot.
            value = amount(point[1], source, f"{field}[1]", positive=key != "total_volumes")
            seen = by_sample.setdefault(ms, {})
            require(seen.get(column, value) == value, source, field, point,
                    f"a second, different value for the sample at {sample_day}")
            seen[column] = value
    rows = []
    for ms, values in sorted(by_sample.items()):
        sampled_at = dt.datetime.fromtimestamp(ms / 1000, dt.UTC).replace(tzinfo=None)
        for key, column in _METRICS.items():
            require(column in values, source, key, f"no point at {sampled_at:%Y-%m-%dT%H:%MZ}",
                    "every daily sample needs a price, a market cap and a volume")
        rows.append({"date": sampled_at.date() - dt.timedelta(days=1), "coin_id": coin_id,
                     **values, "sampled_at": sampled_at})
    return pl.DataFrame(
        rows,
        schema={"date": pl.Date, "coin_id": pl.Utf8, "price_usd": pl.Float64,
                "market_cap_usd": pl.Float64, "volume_usd": pl.Float64,
                "sampled_at": pl.Datetime("us")},
    )


@dg.asset(
    key=["raw", "coingecko_market_daily"],
    group_name="ingest",
    kinds={"duckdb"},
    partitions_def=DAILY,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="duckdb",
)
def coingecko_market_daily(
    context: dg.AssetExecutionContext, coingecko: HttpSource, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Close price, market cap and 24h volume in USD for bitcoin, ethereum, tether and usd-coin,
    one row per coin and UTC day.

    Source: CoinGecko `/coins/{id}/market_chart/range`; the close of day D is the 00:00 UTC
    sample of D+1. Requests: one per coin per 365 days of window.
    """
    start, end = window_of(context)
    before = coingecko.requests_made  # the client may serve several steps of a run
    ingested_at = utc_now()
    frames = []
    for coin_id in COINS:
        path = f"/coins/{coin_id}/market_chart/range"
        parts = [
            parse_market_chart(
                coingecko.get_json(path, {"vs_currency": "usd", "from": lo, "to": hi}),
                coin_id, start, end,
            )
            for lo, hi in request_ranges(start, end)
        ]
        coin = pl.concat(parts).unique()  # overlapping requests repeat identical samples
        repeated = coin.filter(pl.col("date").is_duplicated())
        require(repeated.is_empty(), f"coingecko {path}", "prices",
                f"{repeated['date'][0] if repeated.height else ''}",
                "two requests returned different values for the same day")
        require_every_day(set(coin["date"]), start, end, f"coingecko {path}", "prices")
        frames.append(stamp(coin, f"coingecko {path}", ingested_at))
    written = warehouse.replace_window(
        start, end, Rows("raw.coingecko_market_daily", pl.concat(frames), ["date", "coin_id"])
    )
    return dg.MaterializeResult(
        metadata={
            "rows": written["raw.coingecko_market_daily"],
            "window": f"{start}..{end}",
            "requests": coingecko.requests_made - before,
        }
    )
