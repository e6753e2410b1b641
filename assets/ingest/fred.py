"""FRED series: equity indices and the risk-free rate (https://fred.stlouisfed.org, keyless).

Owns: raw.fred_series_daily.

`/graph/fredgraph.csv?id=<SERIES>&cosd=<from>&coed=<to>` is FRED's public CSV download; it
needs no API key and FRED does not document it as an API. Its header is
`observation_date,<SERIES>`; until late 2024 it was `DATE,<SERIES>` (observed, e.g.
github.com/FinanceData/FinanceDataReader/issues/238), and both are read alike. Series: SP500
and NASDAQ100 (index close of the US trading day, about 20:00-21:00 UTC, so within the UTC day
it is dated) and DTB3 (3-month Treasury bill, secondary market, discount basis, percent per
year). FRED has a row for every weekday; a holiday's value is empty (the older downloads
wrote "."), stored as NULL because FRED says so, and a weekend has no row.

FRED posts a day's value a day or more after it: a run re-reads the LOOKBACK_DAYS before its
window too, so a value missing when its own day ran is picked up by a later daily run.
Unchanged rows keep their ingested_at, so the re-read leaves nothing changed.

Plausibility: before the write each value is compared with the series' previous trading day
(for the first, the stored one, up to 5 days back): an index a third lower or half higher, or
a T-bill yield 2 points away, fails the run (assets/ingest/plausibility.yaml); a rare move is
logged.
"""

import datetime as dt
import math

import dagster as dg
import polars as pl

from assets.ingest import plausibility
from assets.ingest.declare import raw_asset
from assets.ingest.parsing import missing_days, require, require_nothing_lost, stamp, utc_now
from core.errors import SourceDataError
from core.partitions import DAILY, window_of
from core.resources import HttpSource, Rows, Warehouse

# Series id -> (description, plausible range). The bounds catch unit and parsing errors: index
# levels are positive and far below 10^6; a T-bill yield stays within -5..30 percent.
SERIES = {
    "SP500": ("S&P 500 index, daily close", 0.0, 1e6),
    "NASDAQ100": ("Nasdaq-100 index, daily close", 0.0, 1e6),
    "DTB3": ("3-month Treasury bill, secondary market, discount basis (percent)", -5.0, 30.0),
}
LOOKBACK_DAYS = 7


def _value(raw: str, source: str, field: str, low: float, high: float) -> float | None:
    if raw in ("", "."):
        return None  # FRED's "no value on this trading day" (a holiday)
    try:
        number = float(raw)
    except ValueError:
        raise SourceDataError(source, field, raw, "not a number") from None
    if not (math.isfinite(number) and low < number <= high):
        raise SourceDataError(source, field, raw, f"outside the plausible range {low:g}..{high:g}")
    return number


def parse_fredgraph(
    rows: list[dict[str, str]],
    series: str,
    start: dt.date,
    end: dt.date,
    header: list[str] | None = None,
) -> pl.DataFrame:
    """fredgraph.csv rows -> (date, series_id, value) for start..end; value NULL on holidays.
    `header`, the document's first line: an error page or a JSON error on one line reads as
    a header with no rows, which only the header tells from FRED's empty answer (a window the
    series does not cover)."""
    source = f"fred {series}"
    _, low, high = SERIES[series]
    if header is not None:
        require(
            header in (["observation_date", series], ["DATE", series]),
            source,
            "(header)",
            ",".join(header),
            f"expected observation_date,{series} (or DATE,{series})",
        )
    values: dict[dt.date, float | None] = {}
    seen: set[dt.date] = set()
    for i, row in enumerate(rows, start=2):  # line numbers as in the file, after the header
        date_column = "DATE" if "DATE" in row else "observation_date"  # the older header
        # csv.DictReader gives None for a missing field and a None key for an extra one.
        require(
            set(row) == {date_column, series} and None not in row.values(),
            source,
            f"line {i}",
            ",".join(str(v) for v in row.values()),
            f"expected two fields, observation_date (or DATE),{series}",
        )
        raw_date = row[date_column]
        try:
            day = dt.date.fromisoformat(raw_date or "")
        except ValueError:
            raise SourceDataError(
                source, f"line {i} {date_column}", raw_date, "not a YYYY-MM-DD date"
            ) from None
        require(
            day not in seen, source, f"line {i} {date_column}", raw_date, "the date appears twice"
        )
        seen.add(day)
        if start <= day <= end:
            values[day] = _value(row[series], source, f"{raw_date}.{series}", low, high)
    # FRED's last row may come before `end` (a value not posted yet); none is missing inside
    inside = missing_days(set(values), min(values), max(values)) if values else []
    gaps = [day for day in inside if day.weekday() < 5]
    if gaps:
        raise SourceDataError(
            source,
            "observation_date",
            f"{len(gaps)} weekday(s) without a row, e.g. {gaps[0]}",
            "FRED has a row for every weekday (a holiday's value empty)",
        )
    return pl.DataFrame(
        [{"date": d, "series_id": series, "value": v} for d, v in sorted(values.items())],
        schema={"date": pl.Date, "series_id": pl.Utf8, "value": pl.Float64},
    )


@raw_asset("fred_series_daily")
def fred_series_daily(
    context: dg.AssetExecutionContext, fred: HttpSource, warehouse: Warehouse
) -> dg.MaterializeResult:
    """S&P 500 and Nasdaq-100 closes and the 3-month T-bill rate, one row per series and US
    trading day (FRED). Requests: one per series per run; the 7 days before the window are
    re-read to pick up values FRED posted late."""
    start, end = window_of(context)
    first = max(start - dt.timedelta(days=LOOKBACK_DAYS), DAILY.start.date())
    before = fred.requests_made
    ingested_at = utc_now()
    frames = []
    for series in SERIES:
        rows = fred.get_csv(
            "/graph/fredgraph.csv",
            {"id": series, "cosd": first.isoformat(), "coed": end.isoformat()},
        )
        frames.append(
            stamp(
                parse_fredgraph(rows, series, first, end, rows.header),
                f"fred {series}",
                ingested_at,
            )
        )
    rows = pl.concat(frames)
    require_nothing_lost(
        warehouse,
        "raw.fred_series_daily",
        rows,
        ["date", "series_id"],
        first,
        end,
        "fred",
        values=("value",),
    )
    plausible = plausibility.check_window(
        context, warehouse, "raw.fred_series_daily", rows, first, end
    )
    written = warehouse.replace_window(
        first, end, Rows("raw.fred_series_daily", rows, ["date", "series_id"])
    )
    return dg.MaterializeResult(
        metadata={
            "rows": written["raw.fred_series_daily"],
            "window": f"{start}..{end}",
            "reread_from": str(first),
            "requests": fred.requests_made - before,
            **plausible,
        }
    )
