"""Jobs: named selections of assets that schedules and people launch."""

import dagster as dg

from pipelines.partitions import DAILY

# Every ingest asset for a day (or, as one run, a range of days) with its checks.
ingest_job = dg.define_asset_job(
    "ingest_daily",
    selection=dg.AssetSelection.groups("ingest"),
    partitions_def=DAILY,
    description="Fetch one day's (or a backfill range's) raw data from every source.",
)
