"""The code location's graph with every body a no-op: what Dagster alone costs a run.

`defs`: the same assets, checks (names, partitions, subsetting, pools), job and executor as
`pipelines.definitions`, each step yielding its materialisations and passing checks at
once. A run of it stores the same events in the same storage, so its cost is the floor a
run of the real location cannot go below without fewer steps or events (bench/backfill.py).

Two redesigns of the same graph, measured the same way (`<module>:<attribute>` for the CLI):
- `fewer_steps`: each table's checks in its asset's step (where every other table a check
  reads is upstream of that step), the SQL models in one step: a quarter of the steps, the
  same asset and check events (fewer step events). A merged step keeps its asset's pool, so
  the raw tables' checks leave the `duckdb` pool; and a blocking check between two models
  no longer stops the next one (built for real, the models step would enforce them).
- `fewer_checks`: the same steps, each table's checks reported as one check per severity
  (one blocking, one warning): a quarter of the check events.
- `fewer_steps_and_checks`: both.
The measured gaps say which redesign buys what before any of it is built.
"""

import dagster as dg

from assets.models import model_assets
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
    return _check_step(list(checks_def.check_specs), checks_def.op.name, checks_def.op.pool)


def _check_step(specs: list[dg.AssetCheckSpec], name: str, pool: str | None):
    @dg.multi_asset_check(specs=specs, name=name, can_subset=True, pool=pool)
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


@dg.definitions
def fewer_steps() -> dg.Definitions:
    return _merge_steps(defs)


@dg.definitions
def fewer_checks() -> dg.Definitions:
    return _merge_checks(defs)


@dg.definitions
def fewer_steps_and_checks() -> dg.Definitions:
    return _merge_steps(_merge_checks(defs))


def _merge_steps(location: dg.Definitions) -> dg.Definitions:
    """Each table's checks in its asset's step, where every other table a check reads is
    materialised before that step ends; the SQL models in one step."""
    repository = location.get_repository_def()
    graph = repository.asset_graph
    model_keys = {key for asset in model_assets for key in asset.keys}
    assets = _unique(repository.assets_defs_by_key)
    groups = [[a] for a in assets if not set(a.keys) & model_keys]
    groups.append([a for a in assets if set(a.keys) & model_keys])
    check_defs = _unique(repository.asset_checks_defs_by_key)
    checks = [s for c in check_defs for s in c.check_specs]
    steps, folded = [], set()
    for group in groups:
        keys = {key for a in group for key in a.keys}
        ready = keys.union(*(graph.get_ancestor_asset_keys(key) for key in keys))
        own = [
            s
            for s in checks
            if s.asset_key in keys and all(d.asset_key in ready for d in s.additional_deps)
        ]
        folded |= {s.key for s in own}
        steps.append(_merged(group, own, _topological(graph, keys)))
    rest = [
        _check_step(specs, c.op.name, c.op.pool)
        for c in check_defs
        if (specs := [s for s in c.check_specs if s.key not in folded])
    ]
    return dg.Definitions(
        assets=steps, asset_checks=rest, jobs=location.jobs, executor=location.executor
    )


def _topological(graph, keys: set[dg.AssetKey]) -> list[dg.AssetKey]:
    """`keys` parents first: a multi-asset must yield its outputs in that order."""
    order: list[dg.AssetKey] = []
    pending = sorted(keys, key=str)
    while pending:
        key = next(k for k in pending if not (graph.get(k).parent_keys & keys) - set(order))
        order.append(key)
        pending.remove(key)
    return order


def _merged(group: list[dg.AssetsDefinition], checks: list, order: list[dg.AssetKey]):
    first = group[0]

    @dg.multi_asset(
        specs=[s for a in group for s in a.specs],
        check_specs=[s for a in group for s in a.check_specs] + checks,
        can_subset=True,
        name=first.op.name if len(group) == 1 else "models",
        backfill_policy=first.backfill_policy,
        pool=first.op.pool,
    )
    def _noop(context: dg.AssetExecutionContext):
        for key in order:
            if key in context.selected_asset_keys:
                yield dg.MaterializeResult(asset_key=key)
        yield from _passed(context.selected_asset_check_keys)

    return _noop


def _merge_checks(location: dg.Definitions) -> dg.Definitions:
    """Each table's checks reported as one check per severity: `blocking`, `warnings`."""
    steps = []
    for c in _unique(location.get_repository_def().asset_checks_defs_by_key):
        specs = list(c.check_specs)
        merged = [
            dg.AssetCheckSpec(
                name="blocking" if blocking else "warnings",
                asset=specs[0].asset_key,
                blocking=blocking,
                additional_deps=sorted(
                    {
                        d.asset_key
                        for s in specs
                        if s.blocking == blocking
                        for d in s.additional_deps
                    },
                    key=str,
                ),
            )
            for blocking in sorted({s.blocking for s in specs}, reverse=True)
        ]
        steps.append(_check_step(merged, c.op.name, c.op.pool))
    return dg.Definitions(
        assets=location.assets, asset_checks=steps, jobs=location.jobs, executor=location.executor
    )
