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
# Unix seconds of 2100-01-01: a timestamp beyond it is in milliseconds (or garbage), not seconds.
_LAST_SECOND = 4_102_444_800


def api_error(payload: Any) -> str | None:
    """The error an API put in a JSON body of the wrong shape, if it looks like one:
    CoinGecko's {"status": {"error_code", "error_message"}}, DefiLlama's {"message": ...},
    and the common {"error": ...}."""
    if not isinstance(payload, dict):
        return None
    status = payload.get("status")
    if isinstance(status, dict) and "error_code" in status:
        return f"error {status.get('error_code')}: {status.get('error_message', '')}".strip()
    for key in ("error", "message"):
        if isinstance(payload.get(key), (str, dict)):
            return f"{key}: {payload[key]}"
    return None


def require_shape(payload: Any, kind: type, source: str, keys: tuple[str, ...] = ()) -> None:
    """The body is a `kind` (dict or list) holding `keys`; a body that is not, but reads as
    an error (api_error, sent with status 200), fails in the API's own words."""
    if isinstance(payload, kind) and all(k in payload for k in keys):
        return
    said = api_error(payload)
    if said:
        raise SourceDataError(source, "(body)", said, "the API answered an error with status 200")
    if not isinstance(payload, kind):
        expected = "an object" if kind is dict else "a list"
        raise SourceDataError(source, "(body)", type(payload).__name__, f"not {expected}")


def utc_day(value: Any, source: str, field: str) -> dt.date:
    """The UTC day of a unix timestamp in seconds, given as a number or a numeric string."""
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        raise SourceDataError(source, field, value, "not a unix timestamp") from None
    if isinstance(value, bool) or isinstance(value, float) and value != seconds:
        raise SourceDataError(source, field, value, "not a whole unix timestamp")
    if not 0 <= seconds < _LAST_SECOND:
        raise SourceDataError(
            source, field, value, "not a unix timestamp in seconds (milliseconds?)"
        )
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
    values: tuple[str, ...] = (),
) -> None:
    """Refuse a re-fetch that lacks rows already stored for its window, or (for `values`
    columns) holds NULL where a number is stored. A source that answers empty or short (an
    outage page, a cut-off list, a blank field) must not delete history: the window is
    replaced only by an answer that still holds every stored key and value."""
    if not warehouse.table_exists(table):
        return
    # Table and column names come from the calling asset's code, never from input.
    stored = warehouse.read(
        f"SELECT {', '.join([*keys, *values])} FROM {table} WHERE date BETWEEN ? AND ?",
        [start, end],
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
    for column in values:
        blanked = stored.join(
            new.select(*keys, pl.col(column).alias("_new")), on=keys, how="inner"
        ).filter(pl.col(column).is_not_null() & pl.col("_new").is_null())
        if blanked.height:
            row = blanked.row(0, named=True)
            where = ", ".join(f"{k}={row[k]}" for k in keys)
            raise SourceDataError(
                source,
                f"{column} ({where})",
                f"empty, where {row[column]!r} is stored ({blanked.height} such row(s))",
                "the answer blanks values already stored; nothing was replaced",
            )
