"""The one way to declare an ingest asset: a step that writes raw.<table> tables.

Every source, HTTP APIs and EVM chains alike, declares its assets with `raw_asset`, so what
all raw assets share is said once: the `raw` key prefix, the group, the `duckdb` kind, the
daily partitions and the single-run backfill policy (a backfill of any range is one run,
whose step reads the whole window at once: one request per source instead of one per day),
and each table's description, taken from its contract (sql/raw/<table>.yaml), the one place
a table is described. A source says only which tables its step writes and what it needs.

Ingest steps are not in the Dagster pool `duckdb`: most of their time is spent reading a
chain or an API, and a pool slot is held for a whole step (Dagster cannot take one for part
of it). They hold the warehouse only for short reads and their one write transaction, taking
turns with every other process through the warehouse's lock file (core/resources/warehouse.py),
so parallel runs (windows, or chains with STABLEFLOW_CHAINS) extract at once and queue only
to write. Steps that rebuild from the whole warehouse (models, analytics, the analysts' copy)
and the checks stay in the pool.
"""

from collections.abc import Callable, Iterable

import dagster as dg

from core.contracts import load_contract
from core.partitions import DAILY


def raw_asset(
    *tables: str,
    name: str | None = None,
    deps: Iterable[dg.AssetKey | str] = (),
    partitioned: bool = True,
    group: str = "ingest",
    required_resource_keys: set[str] | None = None,
) -> Callable[[Callable], dg.AssetsDefinition]:
    """Declare the decorated function as the step writing `raw.<table>` for each table.

    `name` is the step's name; a one-table step defaults to
    `raw__<table>`, the name Dagster gives an asset keyed raw/<table>. Unpartitioned
    (`partitioned=False`, e.g. reference data replaced whole) joins any partition-range
    run, like the models.
    """

    def declare(fn: Callable) -> dg.AssetsDefinition:
        specs = [
            dg.AssetSpec(
                ["raw", table],
                group_name=group,
                kinds={"duckdb"},
                description=load_contract(f"raw.{table}").description,
                deps=list(deps),
            )
            for table in tables
        ]
        if name is None and len(specs) != 1:
            raise ValueError(f"{fn.__name__}: a step writing several tables needs a name")
        return dg.multi_asset(
            specs=specs,
            name=name or f"raw__{tables[0]}",
            partitions_def=DAILY if partitioned else None,
            backfill_policy=dg.BackfillPolicy.single_run(),
            required_resource_keys=required_resource_keys,
        )(fn)

    return declare
