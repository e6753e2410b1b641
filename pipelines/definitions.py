"""The Dagster code location: assembles assets, checks, resources, jobs and schedules."""

import os

import dagster as dg

from assets.analytics.assets import analytics_assets, analytics_checks
from assets.ingest import ingest_assets, ingest_checks
from assets.models import model_assets, model_checks
from assets.publish import analyst_warehouse
from core.chains import CHAINS, balances_from
from core.partitions import DAILY
from core.resources import HttpSource, Warehouse
from core.resources.evm import EvmRpc
from core.settings import Settings
from pipelines.jobs import daily_refresh_job
from pipelines.schedules import daily_refresh_schedule
from pipelines.sensors import build_missing_days_sensor, build_reorg_sensor

settings = Settings.from_env()

defs = dg.Definitions(
    assets=[*ingest_assets, *model_assets, *analytics_assets, analyst_warehouse],
    asset_checks=[*ingest_checks, *model_checks, *analytics_checks],
    jobs=[daily_refresh_job],
    # A process per step would cost ~2 s to start (loading the definitions), more than most
    # steps take; parallelism comes from runs instead (ingest steps are in no pool and take
    # turns only to write: docs/scaling.md), which a multiprocess or Kubernetes executor
    # would also allow.
    executor=dg.in_process_executor,
    schedules=[daily_refresh_schedule],
    sensors=[
        build_missing_days_sensor(
            daily_refresh_job,
            DAILY,
            [key for asset in ingest_assets if asset.partitions_def for key in asset.keys],
        ),
        build_reorg_sensor(daily_refresh_job, CHAINS),
    ],
    resources={
        "warehouse": Warehouse(path=settings.warehouse_path),
        "defillama": HttpSource(name="defillama", base_url=settings.defillama_url),
        "coingecko": HttpSource(
            name="coingecko",
            base_url=settings.coingecko_url,
            # A key is optional; EnvVar keeps its value out of Dagster's storage and UI.
            api_key=dg.EnvVar("COINGECKO_API_KEY") if os.environ.get("COINGECKO_API_KEY") else None,
            api_key_header=os.environ.get("COINGECKO_API_KEY_HEADER", "x-cg-demo-api-key"),
            min_interval_s=settings.coingecko_min_interval_s,
        ),
        "alternative_me": HttpSource(name="alternative.me", base_url=settings.alternative_me_url),
        "fred": HttpSource(name="fred", base_url=settings.fred_url),
        # One JSON-RPC endpoint per chain; URLs usually embed a provider key, so EnvVar.
        **{
            chain.resource_key: EvmRpc(
                chain=chain.name, url=dg.EnvVar(chain.rpc_url_env), balances=balances_from(chain)
            )
            for chain in CHAINS
        },
    },
)
