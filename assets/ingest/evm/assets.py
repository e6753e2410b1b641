"""On-chain ingest assets: every configured EVM chain (core/chains.yaml), per UTC day.

Owns: raw.evm_day_blocks, raw.evm_token_supply, raw.evm_issuance_events,
raw.evm_issuance_daily, raw.evm_exchange_balances, raw.evm_exchange_reserves,
raw.evm_exchange_flows.

Sampling time: values dated D are read at D's closing block (the last block before 00:00
UTC of D+1) or summed over the blocks after D-1's closing block up to D's. A window is
ingested only when its last day's end is covered by a final block ('finalized' tag, or a
confirmation depth on nodes without it); otherwise the run fails and writes nothing.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace

import dagster as dg
import polars as pl

from assets.ingest import plausibility
from assets.ingest.declare import raw_asset
from assets.ingest.evm.blocks import ClosingBlock, final_block, resolve_closing_blocks
from assets.ingest.evm.extract import (
    RAW,
    DayOfBlock,
    balances,
    daily_issuance,
    issuance_events,
    token_supply,
    transfers,
)
from assets.ingest.evm.rewind import Snapshot, rewind, snapshot, stored_snapshot
from assets.ingest.evm.rewind import owners as rewind_owners
from assets.ingest.labels import LabelSet, load_labels
from assets.ingest.noncirculating import (
    load_noncirculating,
    noncirculating,
    seed_version,
    wallets,
)
from assets.ingest.parsing import stamp, utc_now
from core.chains import CHAINS, Chain
from core.partitions import days, window_of
from core.resources import Rows, Warehouse
from core.resources.evm import EvmRpc
from core.settings import Settings

_RESOURCES = {"warehouse"} | {chain.resource_key for chain in CHAINS}
DAY_BLOCKS = "raw.evm_day_blocks"
NONCIRCULATING = "raw.evm_noncirculating_balances"
_SUPPLY_KEY = ["date", "chain", "token"]
_WALLET_KEY = ["date", "chain", "token", "address"]


def _closing_blocks(
    rpc: EvmRpc,
    warehouse: Warehouse,
    chain: Chain,
    first: dt.date,
    last: dt.date,
    use_cache: bool = True,
) -> list[ClosingBlock]:
    """Closing blocks of first..last: cached ones from raw.evm_day_blocks (they were final
    when stored), the rest resolved against the node's final block. Without the cache (the
    day blocks are being resolved again, e.g. after a reorg) stored timestamps are not used
    as search hints either: they may belong to blocks the chain no longer has."""
    cached: dict[dt.date, ClosingBlock] = {}
    hints: dict[int, int] = {}
    if use_cache and warehouse.table_exists(DAY_BLOCKS):
        rows = warehouse.read(
            f"SELECT date, block_number, epoch(block_timestamp)::BIGINT AS ts, block_hash "
            f"FROM {DAY_BLOCKS} WHERE chain = ? ORDER BY date",
            [chain.name],
        ).rows()
        for day, number, ts, block_hash in rows:
            hints[number] = ts
            if first <= day <= last:
                cached[day] = ClosingBlock(day, number, ts, block_hash)
    missing = [d for d in days(first, last) if d not in cached]
    if missing:
        cached.update(resolve_closing_blocks(rpc, missing, final_block(rpc, chain), hints))
    return [cached[d] for d in days(first, last)]


def _state_source(w: "_Window", call: str) -> str:
    """Where a state value came from: read at the closing block, or rewound with logs."""
    ways = {rpc.balances for _, rpc, _ in w.chains}
    return " + ".join(
        sorted(
            f"json-rpc eth_call {call}"
            if way == "state"
            else f"json-rpc eth_call {call} at the final block, rewound with eth_getLogs"
            for way in ways
        )
    )


@dataclass(frozen=True)
class _Window:
    """One materialisation's days on every configured chain: each chain's RPC client and
    closing blocks, the warehouse, and the metadata a run records."""

    start: dt.date
    end: dt.date
    warehouse: Warehouse
    chains: list[tuple[Chain, EvmRpc, list[ClosingBlock]]]
    # (requests, log splits) of each chain's client before this step: the client may serve
    # several steps of a run, and metadata reports this step's own cost.
    before: dict[str, tuple[int, int]]

    def write(self, *writes: Rows) -> dict[str, int]:
        """Replace the window's rows of the chains this step read, and only theirs: a run
        reading a subset of the chains (STABLEFLOW_CHAINS, or one run per chain extracting
        in parallel) leaves the other chains' rows as they are."""
        read = {"chain": [chain.name for chain, _, _ in self.chains]}
        return self.warehouse.replace_window(
            self.start, self.end, *(replace(write, within=read) for write in writes)
        )

    def metadata(self, **extra) -> dict:
        meta = {"window": f"{self.start}..{self.end}", "world": Settings.from_env().world, **extra}
        for chain, rpc, blocks in self.chains:
            requests, splits = self.before[chain.name]
            meta[f"{chain.name}_rpc_requests"] = rpc.requests_made - requests
            meta[f"{chain.name}_closing_blocks"] = f"{blocks[0].number}..{blocks[-1].number}"
            if rpc.log_splits > splits:
                meta[f"{chain.name}_log_range_splits"] = rpc.log_splits - splits
        return meta


# Long backfills are read this many days at a time, with a progress line after each part:
# a person watching the run log sees days done, days in all and requests so far. Parts this
# long add only a handful of requests (a partial batch, a log range per part).
PROGRESS_DAYS = 90


def _in_parts(
    context: dg.AssetExecutionContext,
    step: str,
    chain: Chain,
    rpc: EvmRpc,
    blocks: list[ClosingBlock],
    day_before: bool,
    work: Callable[[list[ClosingBlock]], pl.DataFrame | tuple[pl.DataFrame, ...]],
) -> pl.DataFrame | tuple[pl.DataFrame, ...]:
    """`work` over consecutive parts of `blocks`, concatenated (element-wise when it returns
    several frames: a part's raw rows can then be reduced before the next part is read,
    which keeps a long backfill's memory at one part's worth). With `day_before`, blocks[0]
    is the previous day's closing block and each part starts at its predecessor's last."""
    first = 1 if day_before else 0
    total, before, results = len(blocks) - first, rpc.requests_made, []
    for i in range(first, len(blocks), PROGRESS_DAYS):
        results.append(work(blocks[i - first : i + PROGRESS_DAYS]))
        done = min(i - first + PROGRESS_DAYS, total)
        context.log.info(
            f"{step} {chain.name}: {done}/{total} days, {rpc.requests_made - before} requests"
        )
    if isinstance(results[0], pl.DataFrame):
        return pl.concat(results)
    return tuple(pl.concat(frames) for frames in zip(*results))


def _rewound(
    context: dg.AssetExecutionContext,
    step: str,
    chain: Chain,
    rpc: EvmRpc,
    w: "_Window",
    blocks: list[ClosingBlock],
    labels: LabelSet | None,
    reduce: Callable,
    addresses: list[str] | None = None,
) -> tuple[pl.DataFrame, ...]:
    """Balances of the `labels`' addresses (or, without labels, of `addresses`) and supplies
    at `blocks` without reading old state (EvmRpc.balances = "logs",
    assets/ingest/evm/rewind.py): a later state (`_later_state`) rewound with logs, newest
    part first so each block is scanned once. `reduce(balances, supply)` shrinks each
    part's frames before the next is read."""
    addresses = labels.addresses() if labels else addresses or []
    later, start = _later_state(rpc, chain, w.warehouse, blocks[-1].date, addresses, labels)
    context.log.info(f"{step} {chain.name}: rewinding from {start}")
    parts = [blocks[i : i + PROGRESS_DAYS] for i in range(0, len(blocks), PROGRESS_DAYS)]
    before, results, done = rpc.requests_made, [], 0
    for part in reversed(parts):
        held, supply, later = rewind(rpc, chain, addresses, part, later)
        results.append(reduce(held, supply))
        done += len(part)
        context.log.info(
            f"{step} {chain.name}: {done}/{len(blocks)} days, {rpc.requests_made - before} requests"
        )
    return tuple(pl.concat(frames) for frames in zip(*reversed(results)))


def _later_state(
    rpc: EvmRpc,
    chain: Chain,
    warehouse: Warehouse,
    after: dt.date,
    addresses: list[str],
    labels: LabelSet | None,
) -> tuple[Snapshot, str]:
    """Where a rewind of the days up to `after` starts, and what that is: the nearest later
    day the warehouse holds whole (`_stored_day`) if its closing block is still the chain's,
    else the state at the final block. Re-reading an old day then scans the logs up to the
    next stored day, not every block since (and holds only those in memory). The tether
    owner() is read at the final block either way (rewind.py, Drift)."""
    final = final_block(rpc, chain).number
    stored = _stored_day(warehouse, chain, after, labels, addresses)
    if stored is not None:
        day, number, block_hash = stored
        if number <= final and rpc.headers([number])[number]["hash"] == block_hash:
            # Pinned to what _stored_day found: another run may rewrite the day meanwhile.
            at = "WHERE chain = ? AND date = ? AND block_number = ?"
            supply = warehouse.read(
                f"SELECT token, supply_raw FROM raw.evm_token_supply {at}",
                [chain.name, day, number],
            )
            held = None
            if addresses:  # the labelled wallets, or the noncirculating ones (every token)
                table, version = (
                    ("raw.evm_exchange_balances", " AND label_version = ?")
                    if labels
                    else (NONCIRCULATING, "")
                )
                held = warehouse.read(
                    f"SELECT token, address, balance_raw FROM {table} {at}{version}",
                    [chain.name, day, number, *([labels.version] if labels else [])],
                )
            if sorted(supply["token"]) == _symbols(chain):
                owners = rewind_owners(rpc, chain, final)
                state = stored_snapshot(chain, addresses, number, held, supply, owners)
                return state, f"the stored day {day} (block {number})"
    return snapshot(rpc, chain, addresses, final), f"the final block {final}"


def _symbols(chain: Chain) -> list[str]:
    return sorted(t.symbol for t in chain.tokens)


def _stored_day(
    warehouse: Warehouse,
    chain: Chain,
    after: dt.date,
    labels: LabelSet | None,
    addresses: list[str],
) -> tuple[dt.date, int, str] | None:
    """The first day after `after` whose closing block, supply of exactly the chain's tokens
    and (with `labels`) reserves of them under these very labels the warehouse holds, at
    that block: (day, block, hash). Its balances list every wallet holding anything, so the
    rest held zero. Other tokens (a symbol renamed), other labels or a part do not count.
    Without labels, `addresses` (the noncirculating wallets) must have a row for every token
    at that block, exactly: a seed edited since does not count."""
    tables = [DAY_BLOCKS, "raw.evm_token_supply"]
    if labels:
        tables += ["raw.evm_exchange_reserves", "raw.evm_exchange_balances"]
    elif addresses:
        tables.append(NONCIRCULATING)
    if not all(warehouse.table_exists(t) for t in tables):
        return None
    tokens = "(SELECT list_sort(list(DISTINCT token)) FROM {table} WHERE {same_day}) = $tokens"
    same_day = "chain = b.chain AND date = b.date"
    conditions = [
        tokens.format(
            table="raw.evm_token_supply", same_day=f"{same_day} AND block_number = b.block_number"
        )
    ]
    if labels:  # DuckDB binds every table a query names: name these only when they exist
        conditions += [
            tokens.format(table="raw.evm_exchange_reserves", same_day=same_day),
            f"""NOT EXISTS (
                SELECT 1 FROM raw.evm_exchange_reserves
                WHERE {same_day} AND label_version IS DISTINCT FROM $version)""",
            f"""NOT EXISTS (
                SELECT 1 FROM raw.evm_exchange_balances
                WHERE {same_day}
                  AND (label_version IS DISTINCT FROM $version
                       OR block_number <> b.block_number))""",
        ]
    elif addresses:
        conditions.append(
            f"""(SELECT list_sort(list(token || ' ' || address)) FROM {NONCIRCULATING}
                WHERE {same_day} AND block_number = b.block_number) = $pairs"""
        )
    found = warehouse.read(
        f"""
        SELECT b.date, b.block_number, b.block_hash
        FROM {DAY_BLOCKS} AS b
        WHERE b.chain = $chain AND b.date > $after AND {" AND ".join(conditions)}
        ORDER BY b.date
        LIMIT 1
        """,
        {
            "chain": chain.name,
            "after": after,
            "tokens": _symbols(chain),
            **({"version": labels.version} if labels else {}),
            **(
                {"pairs": sorted(f"{t} {a.lower()}" for t in _symbols(chain) for a in addresses)}
                if addresses and not labels
                else {}
            ),
        },
    )
    return found.row(0) if found.height else None


def _window(context: dg.AssetExecutionContext, day_before: bool, use_cache: bool = True) -> _Window:
    """The run's window; `day_before` adds the previous day's closing block, where sums over
    a day's blocks start."""
    start, end = window_of(context)
    warehouse: Warehouse = context.resources.warehouse
    first = start - dt.timedelta(days=1) if day_before else start
    chains, before = [], {}
    for chain in CHAINS:
        rpc: EvmRpc = getattr(context.resources, chain.resource_key)
        # checked with the first request, before anything it answers is used
        rpc.expect_chain(chain.chain_id, chain.rpc_url_env)
        before[chain.name] = (rpc.requests_made, rpc.log_splits)
        chains.append((chain, rpc, _closing_blocks(rpc, warehouse, chain, first, end, use_cache)))
    return _Window(start, end, warehouse, chains, before)


@raw_asset(
    "evm_day_blocks",
    name="evm_day_blocks",
    required_resource_keys=_RESOURCES,
)
def evm_day_blocks(context: dg.AssetExecutionContext):
    # Re-materialising a day resolves it again rather than trusting the cache.
    w = _window(context, day_before=True, use_cache=False)
    frame = pl.concat(
        [
            pl.DataFrame(
                {
                    "date": [b.date for b in blocks[1:]],
                    "chain": chain.name,
                    "block_number": [b.number for b in blocks[1:]],
                    "block_timestamp": [
                        dt.datetime.fromtimestamp(b.timestamp, dt.UTC).replace(tzinfo=None)
                        for b in blocks[1:]
                    ],
                    "block_hash": [b.hash for b in blocks[1:]],
                }
            )
            for chain, _, blocks in w.chains
        ]
    )
    frame = stamp(frame, "json-rpc eth_getBlockByNumber", utc_now())
    written = w.write(Rows(DAY_BLOCKS, frame, ["date", "chain"]))
    yield dg.MaterializeResult(
        asset_key=["raw", "evm_day_blocks"], metadata=w.metadata(rows=written[DAY_BLOCKS])
    )


_DEPS = [dg.AssetKey(["raw", "evm_day_blocks"])]


@raw_asset(
    "evm_token_supply",
    "evm_noncirculating_balances",
    name="evm_token_supply",
    deps=_DEPS,
    required_resource_keys=_RESOURCES,
)
def evm_token_supply(context: dg.AssetExecutionContext):
    w = _window(context, day_before=False)
    seed, version = load_noncirculating(), seed_version()
    supplies, held_rows = [], []
    for chain, rpc, blocks in w.chains:
        # what circulates: the supply less the noncirculating wallets' balances, read with it
        held_back = wallets(seed, chain.name)
        if rpc.balances == "logs":
            supply, held = _rewound(
                context,
                "evm_token_supply",
                chain,
                rpc,
                w,
                blocks,
                None,
                lambda held, supply: noncirculating(supply, held, seed),
                held_back,
            )
        else:
            # the first block each token had code at, over the parts (read oldest first)
            first_code: dict[str, int] = {}

            def read(part, rpc=rpc, chain=chain, held_back=held_back, first_code=first_code):
                supply = token_supply(rpc, chain, part, first_code)
                held = balances(rpc, chain, held_back, part, first_code) if held_back else None
                return noncirculating(supply, held, seed)

            supply, held = _in_parts(context, "evm_token_supply", chain, rpc, blocks, False, read)
        supplies.append(supply)
        held_rows.append(held)
    now = utc_now()
    supply_source = _state_source(w, "totalSupply()")
    held_source = _state_source(w, "balanceOf (BalanceReader)")
    written = w.write(
        Rows("raw.evm_token_supply", stamp(pl.concat(supplies), supply_source, now), _SUPPLY_KEY),
        Rows(
            NONCIRCULATING,
            stamp(
                pl.concat(held_rows).with_columns(seed_version=pl.lit(version)),
                held_source,
                now,
            ),
            _WALLET_KEY,
        ),
    )
    for table, rows in written.items():
        yield dg.MaterializeResult(asset_key=table.split("."), metadata=w.metadata(rows=rows))


@raw_asset(
    "evm_issuance_events",
    "evm_issuance_daily",
    name="evm_issuance",
    deps=_DEPS,
    required_resource_keys=_RESOURCES,
)
def evm_issuance(context: dg.AssetExecutionContext):
    w = _window(context, day_before=True)
    events, daily = [], []
    for chain, rpc, blocks in w.chains:
        chain_events = _in_parts(
            context,
            "evm_issuance",
            chain,
            rpc,
            blocks,
            True,
            lambda part, rpc=rpc, chain=chain: issuance_events(rpc, chain, DayOfBlock(part)),
        )
        events.append(chain_events)
        daily.append(daily_issuance(chain_events, chain, days(w.start, w.end)))
    now = utc_now()
    written = w.write(
        Rows(
            "raw.evm_issuance_events",
            stamp(pl.concat(events), "json-rpc eth_getLogs", now),
            ["date", "chain", "block_number", "log_index"],
        ),
        Rows(
            "raw.evm_issuance_daily",
            stamp(pl.concat(daily), "json-rpc eth_getLogs", now),
            ["date", "chain", "token"],
        ),
    )
    for table, rows in written.items():
        yield dg.MaterializeResult(asset_key=table.split("."), metadata=w.metadata(rows=rows))


def _labelled(frame: pl.DataFrame, labels: LabelSet, column: str, prefix: str) -> pl.DataFrame:
    lookup = labels.frame.select(
        pl.col("address").str.to_lowercase().alias(column),
        pl.col("exchange").alias(f"{prefix}exchange"),
    )
    return frame.with_columns(pl.col(column).str.to_lowercase()).join(lookup, on=column, how="left")


def exchange_reserves(balances_frame: pl.DataFrame, labels: LabelSet) -> pl.DataFrame:
    """Per-address balances of one chain (`labels` of that chain) -> one row per date,
    token and exchange."""
    joined = _labelled(balances_frame, labels, "address", "")
    return (
        joined.group_by("date", "chain", "token", "exchange")
        .agg(
            balance_raw=pl.col("balance_raw").sum().cast(RAW),
            balance_tokens=pl.col("balance_tokens").sum(),
            addresses_with_balance=(pl.col("balance_raw") > 0).sum().cast(pl.Int64),
        )
        .with_columns(label_version=pl.lit(labels.version))
    )


def exchange_flows(
    transfers_frame: pl.DataFrame, labels: LabelSet, days_: list[dt.date], chain: Chain
) -> pl.DataFrame:
    """Transfers touching labelled wallets of `chain` (`labels` of that chain) -> inflow,
    outflow and netflow per exchange and day. A transfer between two wallets of the same
    exchange is internal: not a flow."""
    t = _labelled(
        _labelled(transfers_frame, labels, "from_address", "from_"), labels, "to_address", "to_"
    )
    external = t.filter(
        pl.col("from_exchange").is_null()
        | pl.col("to_exchange").is_null()
        | (pl.col("from_exchange") != pl.col("to_exchange"))
    )
    keys = ["date", "chain", "token", "exchange"]
    inflow = (
        external.filter(pl.col("to_exchange").is_not_null())
        .group_by("date", "chain", "token", pl.col("to_exchange").alias("exchange"))
        .agg(
            inflow_raw=pl.col("value_raw").sum(),
            inflow_tokens=pl.col("value_tokens").sum(),
            transfers_in=pl.len().cast(pl.Int64),
        )
    )
    outflow = (
        external.filter(pl.col("from_exchange").is_not_null())
        .group_by("date", "chain", "token", pl.col("from_exchange").alias("exchange"))
        .agg(
            outflow_raw=pl.col("value_raw").sum(),
            outflow_tokens=pl.col("value_tokens").sum(),
            transfers_out=pl.len().cast(pl.Int64),
        )
    )
    exchanges = labels.frame.select("exchange").unique()
    grid = (
        pl.DataFrame({"date": days_}, schema={"date": pl.Date})
        .join(pl.DataFrame({"token": [tk.symbol for tk in chain.tokens]}), how="cross")
        .join(exchanges, how="cross")
        .with_columns(chain=pl.lit(chain.name))
    )
    flows = (
        grid.join(inflow, on=keys, how="left")
        .join(outflow, on=keys, how="left")
        .with_columns(
            pl.col("inflow_raw", "outflow_raw").fill_null(0).cast(RAW),
            pl.col("inflow_tokens", "outflow_tokens").fill_null(0.0),
            pl.col("transfers_in", "transfers_out").fill_null(0),
        )
    )
    return flows.with_columns(
        netflow_raw=(pl.col("inflow_raw") - pl.col("outflow_raw")).cast(RAW),
        netflow_tokens=pl.col("inflow_tokens") - pl.col("outflow_tokens"),
        label_version=pl.lit(labels.version),
    )


@raw_asset(
    "evm_exchange_balances",
    "evm_exchange_reserves",
    name="evm_exchange_reserves",
    deps=_DEPS,
    required_resource_keys=_RESOURCES,
)
def evm_exchange_reserves(context: dg.AssetExecutionContext):
    w = _window(context, day_before=False)
    labels = load_labels()
    per_address, reserves = [], []
    for chain, rpc, blocks in w.chains:
        own = labels.on_chain(chain.name)

        def reduce(frame: pl.DataFrame, *_, own=own) -> tuple[pl.DataFrame, pl.DataFrame]:
            # every labelled wallet's balance, reduced at once: reserves per exchange, and
            # the wallets that hold anything (most labelled wallets are empty on most days)
            return (
                exchange_reserves(frame, own),
                _labelled(frame.filter(pl.col("balance_raw") > 0), own, "address", "").with_columns(
                    label_version=pl.lit(own.version)
                ),
            )

        if rpc.balances == "logs":
            chain_reserves, chain_balances = _rewound(
                context, "evm_exchange_reserves", chain, rpc, w, blocks, own, reduce
            )
        else:
            first_code: dict[str, int] = {}  # as evm_token_supply's
            chain_reserves, chain_balances = _in_parts(
                context,
                "evm_exchange_reserves",
                chain,
                rpc,
                blocks,
                False,
                lambda part, own=own, reduce=reduce, rpc=rpc, chain=chain, seen=first_code: reduce(
                    balances(rpc, chain, own.addresses(), part, seen)
                ),
            )
        reserves.append(chain_reserves)
        per_address.append(chain_balances)
    now = utc_now()
    source = _state_source(w, "balanceOf (BalanceReader)")
    reserve_rows = stamp(pl.concat(reserves), source, now)
    # day-over-day moves (assets/ingest/plausibility.yaml): reserves only warn
    plausible = {
        "raw.evm_exchange_reserves": plausibility.check_window(
            context, w.warehouse, "raw.evm_exchange_reserves", reserve_rows, w.start, w.end
        )
    }
    written = w.write(
        Rows(
            "raw.evm_exchange_balances",
            stamp(pl.concat(per_address), source, now),
            ["date", "chain", "token", "address"],
        ),
        Rows("raw.evm_exchange_reserves", reserve_rows, ["date", "chain", "token", "exchange"]),
    )
    for table, rows in written.items():
        yield dg.MaterializeResult(
            asset_key=table.split("."),
            metadata=w.metadata(
                rows=rows,
                label_version=labels.version,
                **_labelled_counts(w, labels),
                **plausible.get(table, {}),
            ),
        )


@raw_asset(
    "evm_exchange_flows",
    name="evm_exchange_flows",
    deps=_DEPS,
    required_resource_keys=_RESOURCES,
)
def evm_exchange_flows(context: dg.AssetExecutionContext):
    w = _window(context, day_before=True)
    labels = load_labels()
    frames = []
    for chain, rpc, blocks in w.chains:
        own = labels.on_chain(chain.name)
        frames.append(
            exchange_flows(
                _in_parts(
                    context,
                    "evm_exchange_flows",
                    chain,
                    rpc,
                    blocks,
                    True,
                    lambda part, own=own, rpc=rpc, chain=chain: transfers(
                        rpc, chain, own.addresses(), DayOfBlock(part)
                    ),
                ),
                own,
                days(w.start, w.end),
                chain,
            )
        )
    frame = stamp(pl.concat(frames), "json-rpc eth_getLogs Transfer", utc_now())
    written = w.write(
        Rows("raw.evm_exchange_flows", frame, ["date", "chain", "token", "exchange"]),
    )
    yield dg.MaterializeResult(
        asset_key=["raw", "evm_exchange_flows"],
        metadata=w.metadata(
            rows=written["raw.evm_exchange_flows"],
            label_version=labels.version,
            **_labelled_counts(w, labels),
        ),
    )


def _labelled_counts(w: _Window, labels: LabelSet) -> dict[str, int]:
    return {
        f"{chain.name}_labelled_addresses": len(labels.addresses(chain.name))
        for chain, _, _ in w.chains
    }


evm_assets = [
    evm_day_blocks,
    evm_token_supply,
    evm_issuance,
    evm_exchange_reserves,
    evm_exchange_flows,
]
