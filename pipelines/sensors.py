"""Sensors: what the pipeline notices and acts on by itself.

`missing_days_sensor` keeps the raw layer whole: it finds the days some raw asset has never
materialised (a failed daily run, a schedule switched on late, a new source added with a
history to fill) and requests one run per contiguous gap, each a single-run backfill of that
range through the daily job, so the models and analytics are rebuilt once per gap.

`reorg_sensor` keeps the on-chain days true to the chain: only final days are stored, so a
reorganisation of newer blocks never touches them; should a node's history change below
finality anyway, the days whose closing blocks changed are ingested again.
"""

import datetime as dt
from collections.abc import Iterable, Sequence

import dagster as dg

from core.chains import Chain
from core.partitions import days
from core.resources import Warehouse
from core.resources.evm import EvmRpc, RpcError
from pipelines.schedules import SETTLE_AFTER

# A gap is requested again only after this long, so a run that fails (an API down for the
# day) is retried the next hour rather than in a tight loop.
RETRY_AFTER = dt.timedelta(hours=1)
_RANGE_START, _RANGE_END = (
    "dagster/asset_partition_range_start",
    "dagster/asset_partition_range_end",
)
_ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def days_in_progress(instance: dg.DagsterInstance) -> set[str]:
    """Partition keys a queued or running run of any job will write: a range run's
    (backfills, the CLI, this sensor) or a single partition's (the schedule)."""
    keys: set[str] = set()
    for run in instance.get_runs(dg.RunsFilter(statuses=_ACTIVE)):
        start, end = run.tags.get(_RANGE_START), run.tags.get(_RANGE_END)
        if start and end:
            keys.update(
                d.isoformat()
                for d in days(dt.date.fromisoformat(start), dt.date.fromisoformat(end))
            )
        elif run.tags.get("dagster/partition"):
            keys.add(run.tags["dagster/partition"])
    return keys


def missing_ranges(
    all_days: Sequence[str], materialized: Iterable[set[str]]
) -> list[tuple[str, str]]:
    """Contiguous runs of `all_days` (partition keys in order) missing from any of the sets."""
    have = set(all_days)
    for done in materialized:
        have &= done
    ranges: list[tuple[str, str]] = []
    start = previous = None
    for day in all_days:
        if day in have:
            if start is not None:
                ranges.append((start, previous))
                start = None
        elif start is None:
            start = day
        previous = day
    if start is not None:
        ranges.append((start, previous))
    return ranges


def build_missing_days_sensor(
    job, partitions_def: dg.PartitionsDefinition, asset_keys: Sequence[dg.AssetKey]
) -> dg.SensorDefinition:
    """The sensor for `job` (an asset job over `partitions_def`, e.g. daily_refresh),
    watching `asset_keys` (the raw assets)."""

    @dg.sensor(
        name="missing_days_sensor",
        job=job,
        minimum_interval_seconds=int(RETRY_AFTER.total_seconds()),
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Requests a run of the daily job for every contiguous range of days that "
        "some raw asset has not materialised yet (one single-run backfill per gap).",
    )
    def missing_days_sensor(context: dg.SensorEvaluationContext):
        now = dt.datetime.now(dt.UTC)
        # A day is due once it has ended and settled (finality, the sources' first snapshot of
        # the new day), the same margin the daily schedule waits.
        due = [
            day
            for day in partitions_def.get_partition_keys(current_time=now)
            if dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
            + dt.timedelta(days=1)
            + SETTLE_AFTER
            <= now
        ]
        # Days a queued or running run will write are not requested again.
        going = days_in_progress(context.instance)
        due = [day for day in due if day not in going]
        ranges = missing_ranges(
            due, (context.instance.get_materialized_partitions(k) for k in asset_keys)
        )
        if not ranges:
            return dg.SkipReason(
                f"no missing day among {len(due)} settled days (or its run is in progress)"
            )
        # The run key names the gap and the hour: a gap still open an hour later (its run
        # failed) is requested again, never twice within the hour.
        hour = now.strftime("%Y-%m-%dT%H")
        return [
            dg.RunRequest(
                run_key=f"{start}..{end}@{hour}", tags={_RANGE_START: start, _RANGE_END: end}
            )
            for start, end in ranges
        ]

    return missing_days_sensor


# How many of the newest stored days the reorg check compares with the chain: one batched
# request per chain. Stored days are final, so a change there means the node's history was
# rewritten deeper than its finality (a broken or switched node, a chain halt and restart).
REORG_LOOKBACK_DAYS = 30


def reorged_days(
    warehouse: Warehouse, rpc: EvmRpc, chain: str, lookback_days: int = REORG_LOOKBACK_DAYS
) -> list[str]:
    """The stored days, among the newest `lookback_days`, from the first whose closing block
    hash the chain no longer has to the newest: the days to ingest again."""
    if not warehouse.table_exists("raw.evm_day_blocks"):
        return []
    stored = warehouse.read(
        "SELECT date, block_number, block_hash FROM raw.evm_day_blocks WHERE chain = ? "
        "ORDER BY date DESC LIMIT ?",
        [chain, lookback_days],
    ).sort("date")
    if stored.is_empty():
        return []
    numbers = stored["block_number"].to_list()
    try:
        current = {n: h["hash"] for n, h in rpc.headers(numbers).items()}
    except RpcError:  # the chain is now shorter: compare block by block
        current = {}
        for n in numbers:
            try:
                current[n] = rpc.headers([n])[n]["hash"]
            except RpcError:
                current[n] = None
    dates = [d.isoformat() for d in stored["date"]]
    changed = [i for i, (n, h) in enumerate(zip(numbers, stored["block_hash"])) if current[n] != h]
    # The day before the first changed closing block may have gained or lost blocks after
    # its own (unchanged) closing block: it is ingested again too.
    return dates[max(changed[0] - 1, 0) :] if changed else []


def build_reorg_sensor(job, chains: Sequence[Chain]) -> dg.SensorDefinition:
    """For `job` (the daily job): re-ingest the days whose stored closing blocks the chain
    no longer has."""

    @dg.sensor(
        name="reorg_sensor",
        job=job,
        minimum_interval_seconds=int(RETRY_AFTER.total_seconds()),
        default_status=dg.DefaultSensorStatus.STOPPED,
        required_resource_keys={"warehouse", *(c.resource_key for c in chains)},
        description="Compares the stored closing blocks of the newest days with each chain "
        "and requests a run of the daily job over the days whose blocks changed.",
    )
    # Resources are read from the context; calling the sensor directly (tests) also passes
    # them as keyword arguments, which `**_` accepts.
    def reorg_sensor(context: dg.SensorEvaluationContext, **_):
        hour = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H")
        requests = []
        going = days_in_progress(context.instance)
        for chain in chains:
            rpc = getattr(context.resources, chain.resource_key)
            # a node of another network would look like a reorg of every stored day
            rpc.expect_chain(chain.chain_id, chain.rpc_url_env)
            changed = reorged_days(context.resources.warehouse, rpc, chain.name)
            if changed and not set(changed) <= going:
                context.log.warning(
                    f"{chain.name}: the closing blocks of {changed[0]}.."
                    f"{changed[-1]} are no longer on the chain; ingesting "
                    "those days again"
                )
                requests.append(
                    dg.RunRequest(
                        run_key=f"reorg {chain.name} {changed[0]}..{changed[-1]}@{hour}",
                        tags={_RANGE_START: changed[0], _RANGE_END: changed[-1]},
                    )
                )
        return requests or dg.SkipReason("every stored closing block is still on its chain")

    return reorg_sensor
