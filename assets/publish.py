"""The analysts' copy of the warehouse, published after every model is built.

Analysts open `data/stableflow_analyst.duckdb` (STABLEFLOW_ANALYST_WAREHOUSE) read-only
with any DuckDB client; the pipeline writes only its working file. So an analyst never
blocks a run (DuckDB allows one writer, or readers, per file, never both) and never sees a
half-written state: the copy is rebuilt beside the old one and renamed over it.
"""

import dagster as dg

from assets.analytics.assets import analytics_assets
from assets.models import model_assets
from core.resources import Warehouse
from core.settings import Settings


@dg.asset(
    key=["analyst_warehouse"],
    group_name="publish",
    kinds={"duckdb"},
    deps=[key for asset in [*model_assets, *analytics_assets] for key in asset.keys],
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="duckdb",
)
def analyst_warehouse(warehouse: Warehouse) -> dg.MaterializeResult:
    """A read-only copy of the whole warehouse for analysts (every schema, with its table
    and column comments), replaced atomically once the models and analytics of a run are
    built."""
    target = Settings.from_env().analyst_warehouse_path
    size = warehouse.publish(target)
    return dg.MaterializeResult(metadata={"path": target, "bytes": size})
