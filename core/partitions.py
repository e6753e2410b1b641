"""The daily partitioning every dated asset shares: one partition per UTC day."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from core.settings import Settings


def daily_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    # end_offset=0: the newest partition is yesterday, the last day that has ended.
    end = settings.end_date + dt.timedelta(days=1) if settings.end_date else None
    return dg.DailyPartitionsDefinition(
        start_date=settings.start_date.isoformat(),
        end_date=end.isoformat() if end else None,
        timezone="UTC",
    )


def window_of(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """The run's partition window as inclusive UTC dates (one day or a backfill range)."""
    window = context.partition_time_window
    return window.start.date(), (window.end - dt.timedelta(days=1)).date()


def days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


DAILY = daily_partitions(Settings.from_env())
