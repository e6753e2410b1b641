"""The windows every analytics table is computed over.

"full" is every day the marts hold; each calendar year present (partial years included) is
its own window, so a relation that held in 2021 and broke in 2023 shows as such; the trailing
365 and 90 days end on the last day of the data and answer "is it still true now?".
"""

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import stats

# Fewer usable daily observations than this and a window's statistics are NULL: with 14 lags
# and two series a Granger regression on fewer points has almost no power.
MIN_OBS = 60


@dataclass(frozen=True)
class Window:
    name: str
    start: dt.date
    end: dt.date


# The leading columns of every per-period table.
WINDOW_SCHEMA = {"period": pl.String, "window_start": pl.Date, "window_end": pl.Date}


def windows(dates: Sequence[dt.date]) -> list[Window]:
    """full, each calendar year, trailing_365d and trailing_90d, for the days in `dates`."""
    if not dates:
        return []
    first, last = min(dates), max(dates)
    years = range(first.year, last.year + 1)
    return [
        Window("full", first, last),
        *(
            Window(str(y), max(first, dt.date(y, 1, 1)), min(last, dt.date(y, 12, 31)))
            for y in years
        ),
        Window("trailing_365d", max(first, last - dt.timedelta(days=364)), last),
        Window("trailing_90d", max(first, last - dt.timedelta(days=89)), last),
    ]


def calendar_windows(dates: Sequence[dt.date]) -> list[Window]:
    """full and each calendar year (the risk panel compares whole periods, not trailing ones)."""
    return [w for w in windows(dates) if not w.name.startswith("trailing")]


def finite(value: float | None) -> float | None:
    """NaN and infinities (a zero variance somewhere) become NULL: a statistic that could not
    be computed is missing, not a number nobody can read."""
    if value is None or not math.isfinite(float(value)):
        return None
    return float(value)


def pearson(x: np.ndarray, y: np.ndarray) -> tuple[float | None, float | None]:
    """Pearson r and its two-sided p; NULL when either side is constant (r is undefined)."""
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None, None
    result = stats.pearsonr(x, y)
    return finite(result.statistic), finite(result.pvalue)
