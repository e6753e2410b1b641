"""The code location's graph with every body a no-op: what Dagster alone costs a run.

The same assets, checks (names, partitions, subsetting, pools), job and executor as
`pipelines.definitions`, each step yielding its materialisations and passing checks at
once. A run of it stores the same events in the same storage, so its cost is the floor a
run of the real location cannot go below without fewer steps or events (bench/backfill.py).
"""

import dagster as dg

from pipelines import definitions


def _assets(assets_def: dg.AssetsDefinition) -> dg.AssetsDefinition:
    @dg.multi_asset(
        specs=list(assets_def.specs),
        check_specs=list(assets_def.check_specs),
        can_subset=assets_def.can_subset,
        name=assets_def.op.name,
        backfill_policy=assets_def.backfill_policy,
        pool=assets_def.op.pool,
    )
    def _noop(context: dg.AssetExecutionContext):
        for key in context.selected_asset_keys:
            yield dg.MaterializeResult(asset_key=key)
        yield from _passed(context.selected_asset_check_keys)

    return _noop


def _checks(checks_def: dg.AssetChecksDefinition) -> dg.AssetChecksDefinition:
    @dg.multi_asset_check(
        specs=list(checks_def.check_specs),
        name=checks_def.op.name,
        can_subset=True,
        pool=checks_def.op.pool,
    )
    def _noop(context: dg.AssetCheckExecutionContext):
        yield from _passed(context.selected_asset_check_keys)

    return _noop


def _passed(keys):
    for key in keys:
        yield dg.AssetCheckResult(asset_key=key.asset_key, check_name=key.name, passed=True)


def _unique(definitions_by_key) -> list:
    return list({id(d): d for d in definitions_by_key.values()}.values())


_repository = definitions.defs.get_repository_def()
defs = dg.Definitions(
    assets=[_assets(a) for a in _unique(_repository.assets_defs_by_key)],
    asset_checks=[_checks(c) for c in _unique(_repository.asset_checks_defs_by_key)],
    jobs=definitions.defs.jobs,
    executor=definitions.defs.executor,
)
