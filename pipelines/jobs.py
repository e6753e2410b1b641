"""Jobs: named selections of assets that schedules and people launch."""

import dagster as dg

from core.partitions import DAILY

# Everything for a day (or, as one run, a range of days): ingest with its checks, then the
# SQL models, the analytics (unpartitioned: rebuilt over the whole history) and the report,
# then the analysts' copy.
daily_refresh_job = dg.define_asset_job(
    "daily_refresh",
    selection=dg.AssetSelection.all(),
    partitions_def=DAILY,
    description="Ingest one day (or a backfill range) from every source, rebuild the models "
    "and the analytics, and publish the report and the analysts' copy.",
)
