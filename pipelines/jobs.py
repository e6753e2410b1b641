"""Jobs: named selections of assets that schedules and people launch."""

import dagster as dg

from pipelines.partitions import DAILY

# Everything for a day (or, as one run, a range of days): ingest with its checks, then the
# SQL models, then the analysts' copy.
daily_refresh_job = dg.define_asset_job(
    "daily_refresh",
    selection=dg.AssetSelection.all(),
    partitions_def=DAILY,
    description="Ingest one day (or a backfill range) from every source, rebuild the models "
    "for it and publish the analysts' copy.",
)
