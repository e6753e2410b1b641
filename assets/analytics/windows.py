"""The windows every analytics table is computed over.

"full" is every day the marts hold; each calendar year present (partial years included) is
its own window, so a relation that held in 2021 and broke in 2023 shows as such; the trailing
365 and 90 days end on the last day of the data and answer "is it still true now?".
"""

import datetime as dt
from dataclasses import dataclass
from typing import Sequence

# Fewer usable daily observations than this and a window's statistics are NULL: with 14 lags
# and two series a Granger regression on fewer points has almost no power.
MIN_OBS = 60


@dataclass(frozen=True)
class Window:
    name: str
    start: dt.date
    end: dt.date

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


def windows(dates: Sequence[dt.date]) -> list[Window]:
    """full, each calendar year, trailing_365d and trailing_90d, for the days in `dates`."""
    if not dates:
        return []
    first, last = min(dates), max(dates)
    years = range(first.year, last.year + 1)
    return [
        Window("full", first, last),
        *(Window(str(y), max(first, dt.date(y, 1, 1)), min(last, dt.date(y, 12, 31))) for y in years),
        Window("trailing_365d", max(first, last - dt.timedelta(days=364)), last),
        Window("trailing_90d", max(first, last - dt.timedelta(days=89)), last),
    ]


def calendar_windows(dates: Sequence[dt.date]) -> list[Window]:
    """full and each calendar year (the risk panel compares whole periods, not trailing ones)."""
    return [w for w in windows(dates) if not w.name.startswith("trailing")]
