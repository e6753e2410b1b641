"""CoinGecko market data (https://api.coingecko.com/api/v3: keyless, demo key or paid key).

Owns: raw.coingecko_market_daily.

Sampling time: `/coins/{id}/market_chart/range` returns one point per day stamped 00:00 UTC,
plus, when the range reaches the present, an intraday "now" point. The 00:00 sample of day D+1
is the close of day D, so it is stored under date D; the "now" point is not a daily sample and
is dropped.

What the requests rely on (CoinGecko's docs,
https://docs.coingecko.com/reference/coins-id-market-chart-range, unless marked):
- Granularity: without `interval`, ranges of 2-90 days come back hourly and longer ones
  daily at 00:00 UTC. Every request asks for `interval=daily` (listed for this endpoint in the
  demo plan's reference too, docs.coingecko.com/demo/reference/coins-id-market-chart-range)
  and still spans at least 91 days (a one-day partition asks for 91 days and keeps one): older
  pages document only the automatic granularity for ranges, and that keyless calls honour
  `interval` is not verified, so the span keeps the points daily on every tier, at no extra
  request.
- `to`: the docs do not say whether it is inclusive, so each request ends one hour after the
  last midnight it needs. The next daily point is 23 hours later, so inclusive or exclusive
  gives the same points.
- History: the public host api.coingecko.com, keyless or with a demo key, answers a `from`
  more than 365 days ago with HTTP 401, error_code 10012 ("Public API users are limited to
  querying historical data within the past 365 days": the answer users report, e.g. with a
  demo key in github.com/ghostfolio/ghostfolio/issues/5213; https://www.coingecko.com/en/api/pricing
  gives the demo plan one year of history). Paid keys use pro-api.coingecko.com. So against the
  public host, a window reaching back further fails before any request, naming the limit, the
  dates and what to do; and no request reaches back past the limit.
Plausibility: before the write each price, market cap and volume is compared with the day
before (for the window's first day, the stored one); a move beyond a blocking limit of
assets/ingest/plausibility.yaml (BTC halving or doubling in a day, say) fails the run, a rare one
is logged. Each request names one coin, so no coin can appear in or vanish from an answer
unnoticed: a coin CoinGecko stops serving fails its request or the every-day check.

No request spans more than 365 days (all the public host serves), so long backfills are
split; a per-source rate limit (`STABLEFLOW_COINGECKO_MIN_INTERVAL_S`, core/settings.py)
spaces the calls.
"""

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
import polars as pl

from assets.ingest import plausibility
from assets.ingest.declare import raw_asset
from assets.ingest.parsing import (
    amount,
    require,
    require_every_day,
    require_shape,
    stamp,
    utc_now,
)
from core.errors import SourceError
from core.partitions import window_of
from core.resources import HttpSource, Rows, Warehouse

COINS = ("bitcoin", "ethereum", "tether", "usd-coin")
MAX_DAYS_PER_REQUEST = 365
MIN_DAYS_PER_REQUEST = 91
PUBLIC_HOST = "api.coingecko.com"
PUBLIC_HISTORY_DAYS = 365
_DAY = dt.timedelta(days=1)
_DAY_MS = 86_400_000
_TO_PAST_MIDNIGHT_S = 3600
_METRICS = {"prices": "price_usd", "market_caps": "market_cap_usd", "total_volumes": "volume_usd"}


def _midnight(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def earliest_day(base_url: str, today: dt.date) -> dt.date | None:
    """The oldest day whose close `base_url` serves today; None when it serves all history.

    The public host serves the past 365 days; the close of day D is the sample at 00:00 of
    D+1. One day is kept in hand, so a run that crosses midnight stays within the limit.
    """
    if urlsplit(base_url).hostname != PUBLIC_HOST:
        return None
    return today - dt.timedelta(days=PUBLIC_HISTORY_DAYS - 1)


def request_ranges(
    start: dt.date, end: dt.date, earliest: dt.date | None = None
) -> list[tuple[int, int]]:
    """(from, to) unix-second pairs covering the samples of days start..end.

    Day D's close is the sample at 00:00 of D+1, so the samples needed are those of
    start+1 .. end+1. Each request covers at most 365 sample days and spans at least 91: it
    reaches back before the samples it needs or, where that would pass the close of
    `earliest` (the oldest day the source serves), forward past them. `to` is an hour after
    the last midnight needed, so whether CoinGecko includes `to` does not matter.
    """
    first, last = start + _DAY, end + _DAY
    oldest = earliest + _DAY if earliest else None  # the oldest sample that may be asked for
    min_span = dt.timedelta(days=MIN_DAYS_PER_REQUEST)
    ranges = []
    while first <= last:
        chunk_last = min(last, first + dt.timedelta(days=MAX_DAYS_PER_REQUEST - 1))
        lo, hi = min(first, chunk_last - min_span), chunk_last
        if oldest and lo < oldest:
            lo, hi = oldest, max(chunk_last, oldest + min_span)
        ranges.append((_midnight(lo), _midnight(hi) + _TO_PAST_MIDNIGHT_S))
        first = chunk_last + _DAY
    return ranges


def parse_market_chart(payload: Any, coin_id: str, start: dt.date, end: dt.date) -> pl.DataFrame:
    """One market_chart(/range) response -> daily closes for start..end that it holds.

    Returns (date, coin_id, price_usd, market_cap_usd, volume_usd, sampled_at); days the
    response does not reach are simply absent (the caller checks completeness).
    """
    source = f"coingecko /coins/{coin_id}/market_chart/range"
    require_shape(payload, dict, source, ("prices",))
    by_sample: dict[int, dict[str, float]] = {}
    for key, column in _METRICS.items():
        points = payload.get(key)
        require(isinstance(points, list), source, key, type(points).__name__, "not a list")
        for i, point in enumerate(points):
            field = f"{key}[{i}]"
            require(
                isinstance(point, list) and len(point) == 2,
                source,
                field,
                point,
                "not a [timestamp_ms, value] pair",
            )
            ms = point[0]
            require(
                isinstance(ms, int) and not isinstance(ms, bool),
                source,
                f"{field}[0]",
                ms,
                "not a millisecond timestamp",
            )
            if ms % _DAY_MS:
                # the intraday "now" point, last: not a daily close; any other is no daily point
                require(
                    i == len(points) - 1,
                    source,
                    f"{field}[0]",
                    ms,
                    "not at 00:00 UTC, and not the last point (CoinGecko's 'now')",
                )
                continue
            sample_day = dt.datetime.fromtimestamp(ms / 1000, dt.UTC).date()
            day = sample_day - dt.timedelta(days=1)
            if not start <= day <= end:
                continue
            # Volumes can be zero on a quiet day; prices and caps cannot.
            value = amount(point[1], source, f"{field}[1]", positive=key != "total_volumes")
            seen = by_sample.setdefault(ms, {})
            require(
                seen.get(column, value) == value,
                source,
                field,
                point,
                f"a second, different value for the sample at {sample_day}",
            )
            seen[column] = value
    rows = []
    for ms, values in sorted(by_sample.items()):
        sampled_at = dt.datetime.fromtimestamp(ms / 1000, dt.UTC).replace(tzinfo=None)
        for key, column in _METRICS.items():
            require(
                column in values,
                source,
                key,
                f"no point at {sampled_at:%Y-%m-%dT%H:%MZ}",
                "every daily sample needs a price, a market cap and a volume",
            )
        rows.append(
            {
                "date": sampled_at.date() - dt.timedelta(days=1),
                "coin_id": coin_id,
                **values,
                "sampled_at": sampled_at,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "date": pl.Date,
            "coin_id": pl.Utf8,
            "price_usd": pl.Float64,
            "market_cap_usd": pl.Float64,
            "volume_usd": pl.Float64,
            "sampled_at": pl.Datetime("us"),
        },
    )


@raw_asset("coingecko_market_daily")
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
    earliest = earliest_day(coingecko.base_url, ingested_at.date())
    if earliest and start < earliest:
        raise SourceError(
            f"coingecko: the public API ({PUBLIC_HOST}, keyless or with a demo key) serves only "
            f"the last {PUBLIC_HISTORY_DAYS} days of history, so today it can close the days "
            f"from {earliest} on, and the window {start}..{end} starts before that. Nothing was "
            "requested. Use a paid key (COINGECKO_API_KEY, COINGECKO_API_KEY_HEADER="
            "x-cg-pro-api-key, STABLEFLOW_COINGECKO_URL=https://pro-api.coingecko.com/api/v3) "
            f"or materialise only days from {earliest} on (STABLEFLOW_START_DATE={earliest} or "
            "later)."
        )
    frames = []
    for coin_id in COINS:
        path = f"/coins/{coin_id}/market_chart/range"
        parts = [
            parse_market_chart(
                coingecko.get_json(
                    path, {"vs_currency": "usd", "from": lo, "to": hi, "interval": "daily"}
                ),
                coin_id,
                start,
                end,
            )
            for lo, hi in request_ranges(start, end, earliest)
        ]
        coin = pl.concat(parts).unique()  # overlapping requests repeat identical samples
        repeated = coin.filter(pl.col("date").is_duplicated())
        require(
            repeated.is_empty(),
            f"coingecko {path}",
            "prices",
            f"{repeated['date'][0] if repeated.height else ''}",
            "two requests returned different values for the same day",
        )
        require_every_day(set(coin["date"]), start, end, f"coingecko {path}", "prices")
        frames.append(stamp(coin, f"coingecko {path}", ingested_at))
    rows = pl.concat(frames)
    plausible = plausibility.check_window(
        context, warehouse, "raw.coingecko_market_daily", rows, start, end
    )
    written = warehouse.replace_window(
        start, end, Rows("raw.coingecko_market_daily", rows, ["date", "coin_id"])
    )
    return dg.MaterializeResult(
        metadata={
            "rows": written["raw.coingecko_market_daily"],
            "window": f"{start}..{end}",
            "requests": coingecko.requests_made - before,
            **plausible,
        }
    )
