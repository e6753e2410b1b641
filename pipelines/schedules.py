"""Schedules: when jobs run unattended."""

import dagster as dg

from pipelines.jobs import daily_refresh_job

# 01:30 UTC: yesterday has ended and DefiLlama has written its last snapshot of it.
daily_refresh_schedule = dg.build_schedule_from_partitioned_job(
    daily_refresh_job, hour_of_day=1, minute_of_hour=30
)
