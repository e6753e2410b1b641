"""Schedules: when jobs run unattended."""

import datetime as dt

import dagster as dg

from pipelines.jobs import daily_refresh_job

# How long after midnight UTC a day counts as settled: it has ended, its closing blocks are
# final (Ethereum finalises in about 13 minutes), and DefiLlama has written today's first
# snapshot (yesterday's close).
SETTLE_AFTER = dt.timedelta(hours=1, minutes=30)
assert SETTLE_AFTER < dt.timedelta(days=1), "the schedule runs once a day, at this time of day"

# 01:30 UTC: yesterday's partitions, then the models, analytics and the analysts' copy.
daily_refresh_schedule = dg.build_schedule_from_partitioned_job(
    daily_refresh_job,
    hour_of_day=SETTLE_AFTER.seconds // 3600,
    minute_of_hour=SETTLE_AFTER.seconds % 3600 // 60,
)
