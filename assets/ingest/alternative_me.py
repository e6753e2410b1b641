"""Crypto Fear & Greed Index (alternative.me, https://api.alternative.me, free, keyless).

Owns: raw.fear_greed_daily.

Sampling time: alternative.me computes one value per UTC day and stamps it 00:00 UTC of that
day; it is the value shown all through the day, so a row stamped D is stored under D (it uses
nothing from after D ends). `/fng/?limit=0` returns the whole history, newest first, with
values and timestamps as strings: one request covers any window. The index has real gaps
(e.g. 2018-04-14..16, 2024-10-25..26): a missing day stays missing and is reported in the
materialisation's metadata, never filled.
"""

import datetime as dt
import re
from typing import Any

import dagster as dg
import polars as pl

from assets.ingest.declare import raw_asset
from assets.ingest.parsing import (
    missing_days,
    require,
    require_nothing_lost,
    require_shape,
    stamp,
    utc_day,
    utc_now,
)
from core.partitions import window_of
from core.resources import HttpSource, Rows, Warehouse

CLASSIFICATIONS = ("Extreme Fear", "Fear", "Neutral", "Greed", "Extreme Greed")


def parse_fear_greed(payload: Any, start: dt.date, end: dt.date) -> pl.DataFrame:
    """`/fng/` response -> (date, value, classification) for the days start..end it holds."""
    source = "alternative.me /fng/"
    require_shape(payload, dict, source, ("data",))
    metadata = payload.get("metadata")
    require(isinstance(metadata, dict), source, "metadata", metadata, "not an object")
    require(
        metadata.get("error") is None,
        source,
        "metadata.error",
        metadata.get("error"),
        "the API reported an error",
    )
    data = payload.get("data")
    require(isinstance(data, list), source, "data", type(data).__name__, "not a list")
    rows: dict[dt.date, tuple[int, str]] = {}
    for i, entry in enumerate(data):
        require(isinstance(entry, dict), source, f"data[{i}]", entry, "not an object")
        day = utc_day(entry.get("timestamp"), source, f"data[{i}].timestamp")
        # The dating above relies on the index being stamped at 00:00 UTC.
        require(
            int(entry["timestamp"]) % 86_400 == 0,
            source,
            f"data[{i}].timestamp",
            entry["timestamp"],
            "not 00:00 UTC",
        )
        if not start <= day <= end:
            continue
        raw = entry.get("value")
        require(
            isinstance(raw, str) and re.fullmatch(r"[0-9]{1,3}", raw) is not None,
            source,
            f"data[{i}].value",
            raw,
            "not a whole number",
        )
        value = int(raw)
        require(0 <= value <= 100, source, f"data[{i}].value", raw, "outside the index's 0..100")
        label = entry.get("value_classification")
        require(
            label in CLASSIFICATIONS,
            source,
            f"data[{i}].value_classification",
            label,
            f"not one of {', '.join(CLASSIFICATIONS)}",
        )
        require(
            rows.get(day, (value, label)) == (value, label),
            source,
            f"data[{i}]",
            entry,
            f"a second, different value for {day}",
        )
        rows[day] = (value, label)
    return pl.DataFrame(
        [{"date": d, "value": v, "classification": c} for d, (v, c) in sorted(rows.items())],
        schema={"date": pl.Date, "value": pl.Int32, "classification": pl.Utf8},
    )


@raw_asset("fear_greed_daily")
def fear_greed_daily(
    context: dg.AssetExecutionContext, alternative_me: HttpSource, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Crypto Fear & Greed Index (0 = extreme fear, 100 = extreme greed), one row per UTC day.

    Source: alternative.me `/fng/?limit=0` (one request for any window). Days the index
    skipped stay absent and are listed in the metadata.
    """
    start, end = window_of(context)
    before = alternative_me.requests_made
    frame = parse_fear_greed(alternative_me.get_json("/fng/", {"limit": 0}), start, end)
    require_nothing_lost(
        warehouse, "raw.fear_greed_daily", frame, ["date"], start, end, "alternative.me /fng/"
    )
    rows = stamp(frame, "alternative.me /fng/", utc_now())
    written = warehouse.replace_window(start, end, Rows("raw.fear_greed_daily", rows, ["date"]))
    gaps = missing_days(set(frame["date"]), start, end)
    if gaps:
        context.log.warning(
            f"alternative.me has no Fear & Greed value for {len(gaps)} day(s) "
            f"of {start}..{end}: {', '.join(map(str, gaps[:10]))}"
        )
    return dg.MaterializeResult(
        metadata={
            "rows": written["raw.fear_greed_daily"],
            "window": f"{start}..{end}",
            "days_without_value": len(gaps),
            "requests": alternative_me.requests_made - before,
        }
    )
