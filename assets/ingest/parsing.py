"""Strict readers for values in API payloads, shared by every source's parser.

Each raises `SourceDataError` naming the source, the field and the value, so a bad payload
fails the run with the offending value in the message instead of writing a wrong row.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

import polars as pl

from core.errors import SourceDataError

if TYPE_CHECKING:
    from core.resources import Warehouse

# No stablecoin, coin or market has ever been near 10 trillion units or dollars: above this a
# value is a unit or parsing error, not data.
MAX_PLAUSIBLE = 1e13


def utc_day(value: Any, source: str, field: str) -> dt.date:
    """The UTC day of a unix timestamp in seconds, given as a number or a numeric string."""
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        raise SourceDataError(source, field, value, "not a unix timestamp") from None
    if isinstance(value, bool) or isinstance(value, float) and value != seconds:
        raise SourceDataError(source, field, value, "not a whole unix timestamp")
    return dt.datetime.fromtimestamp(seconds, dt.UTC).date()


def amount(
    value: Any, source: str, field: str, *, positive: bool = True, maximum: float = MAX_PLAUSIBLE
) -> float:
    """A finite number in range: > 0 (or >= 0 when `positive` is False) and below `maximum`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SourceDataError(source, field, value, "not a number")
    number = float(value)
    if not math.isfinite(number):
        raise SourceDataError(source, field, value, "not a finite number")
    if number < 0 or (positive and number == 0):
        raise SourceDataError(
            source, field, value, "must be positive" if positive else "must not be negative"
        )
    if number > maximum:
        raise SourceDataError(source, field, value, f"implausibly large (> {maximum:g})")
    return number


def require(condition: bool, source: str, field: str, value: Any, reason: str) -> None:
    if not condition:
        raise SourceDataError(source, field, value, reason)


def missing_days(present: set[dt.date], start: dt.date, end: dt.date) -> list[dt.date]:
    wanted = (start + dt.timedelta(days=i) for i in range((end - start).days + 1))
    return [day for day in wanted if day not in present]


def require_every_day(
    present: set[dt.date], start: dt.date, end: dt.date, source: str, field: str
) -> None:
    """A window is written whole or not at all: a day the source lacks fails the run."""
    missing = missing_days(present, start, end)
    if missing:
        shown = ", ".join(str(day) for day in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise SourceDataError(
            source,
            field,
            f"{len(missing)} missing day(s): {shown}",
            f"the source has no value for every day of {start}..{end}",
        )


def utc_now() -> dt.datetime:
    """Ingestion time: naive UTC, as stored in TIMESTAMP columns."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def stamp(frame: pl.DataFrame, source: str, ingested_at: dt.datetime) -> pl.DataFrame:
    """Every raw row records where it came from and when it was fetched."""
    return frame.with_columns(
        source=pl.lit(source, pl.Utf8), ingested_at=pl.lit(ingested_at, pl.Datetime("us"))
    )


def require_nothing_lost(
    warehouse: Warehouse,
    table: str,
    new: pl.DataFrame,
    keys: list[str],
    start: dt.date,
    end: dt.date,
    source: str,
) -> None:
    """Refuse a re-fetch that lacks rows already stored for its window. A source that answers
    empty or short (an outage page, a cut-off list) must not delete history: the window is
    replaced only by an answer that still holds every stored key."""
    if not warehouse.table_exists(table):
        return
    # Table and key names come from the calling asset's code, never from input.
    stored = warehouse.read(
        f"SELECT {', '.join(keys)} FROM {table} WHERE date BETWEEN ? AND ?", [start, end]
    )
    lost = stored.join(new.select(keys), on=keys, how="anti")
    if lost.height:
        first = ", ".join(f"{k}={lost[k][0]}" for k in keys)
        raise SourceDataError(
            source,
            "(rows)",
            f"{lost.height} stored row(s) missing, e.g. {first}",
            "the answer lacks rows that are already stored; nothing was replaced",
        )
