"""The one way to declare an ingest asset: a step that writes raw.<table> tables.

Every source, HTTP APIs and EVM chains alike, declares its assets with `raw_asset`, so what
all raw assets share is said once: the `raw` key prefix, the group, the `duckdb` kind and
pool (one DuckDB file, one writer at a time), the daily partitions and the single-run
backfill policy (a backfill of any range is one run, whose step reads the whole window at
once: one request per source instead of one per day). A source says only which tables its
step writes, what each holds, and what it needs.
"""

import inspect
from collections.abc import Callable, Iterable, Mapping

import dagster as dg

from core.partitions import DAILY


def raw_asset(
    tables: Mapping[str, str | None],
    *,
    name: str | None = None,
    deps: Iterable[dg.AssetKey | str] = (),
    partitioned: bool = True,
    group: str = "ingest",
    required_resource_keys: set[str] | None = None,
) -> Callable[[Callable], dg.AssetsDefinition]:
    """Declare the decorated function as the step writing `raw.<table>` for each table.

    `tables` maps each table to its description; None takes the function's docstring (for a
    step writing one table). `name` is the step's name; a one-table step defaults to
    `raw__<table>`, the name Dagster gives an asset keyed raw/<table>. Unpartitioned
    (`partitioned=False`, e.g. reference data replaced whole) joins any partition-range
    run, like the models.
    """

    def declare(fn: Callable) -> dg.AssetsDefinition:
        doc = inspect.cleandoc(fn.__doc__) if fn.__doc__ else None
        specs = [
            dg.AssetSpec(
                ["raw", table],
                group_name=group,
                kinds={"duckdb"},
                description=text if text is not None else doc,
                deps=list(deps),
            )
            for table, text in tables.items()
        ]
        if name is None and len(specs) != 1:
            raise ValueError(f"{fn.__name__}: a step writing several tables needs a name")
        return dg.multi_asset(
            specs=specs,
            name=name or f"raw__{next(iter(tables))}",
            partitions_def=DAILY if partitioned else None,
            backfill_policy=dg.BackfillPolicy.single_run(),
            pool="duckdb",
            required_resource_keys=required_resource_keys,
        )(fn)

    return declare
