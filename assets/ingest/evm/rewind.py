"""Past balances and supplies without an archive node: read state once, rewind with logs.

`eth_call` at a past block needs that block's state, which only archive nodes keep (geth
keeps the newest 128 blocks: go-ethereum issue #20874; most provider tiers likewise). But a
token balance only changes through events, so a wallet's balance at day D's closing block
is its balance at a recent block B the node can still read, minus every change after D's
closing block up to B:

- Transfer logs from and to the wallet (USDC's Mint and Burn also emit a Transfer from/to
  0x0, so they are covered here and not counted again);
- USDT's events that move balances without a Transfer: `Issue` credits and `Redeem` debits
  the token's `owner()`, `DestroyedBlackFunds` zeroes the blacklisted user's balance.

Total supply at D is totalSupply at B minus the net issuance after D's closing block (the
Issue/Redeem/DestroyedBlackFunds and Mint/Burn events of `issuance_events`).

`snapshot` reads the state at B (three eth_calls, whatever the addresses and days);
`rewind` goes back from a snapshot over consecutive days and returns the snapshot at its
first day's closing block, so a long backfill is read newest part first and every block is
scanned once.

Cost: `rewind` sends no eth_call at all. Its eth_getLogs calls are the filters of
`transfers` (two per token and chunk of `chain.max_topic_values` addresses) and of
`issuance_events` (one per token), each once per `max_log_blocks` range of the blocks
from the window's first closing block to B. With USDT, USDC and up to 500 addresses that is
six queries per 50,000 blocks (about a week of Ethereum, under one a day): it grows with the
blocks from the window's start to B, not with the number of days like the eth_call reads it
replaces. So the snapshot is taken as late as needed and no later: assets.py starts from
the nearest later day the warehouse holds whole (`stored_snapshot`, its closing block
checked against the chain), and from the final block only when there is none. A node
that refuses a range as too large (more than 10,000 results, busy exchange wallets) makes
the client split it: the count then grows with the number of matching logs.

Drift: the rewound values are only as right as the list of balance-changing events. A
change no log here shows (a token upgrade or migration that moves balances, a new event
type, USDT's owner changing within the rewound range: the old contract's transferOwnership
emits no event, and Issue/Redeem are credited to the snapshot's owner for the whole range),
or a snapshot taken at a block later reorganised away, shifts every earlier value of that
wallet by the same amount. A balance or supply that would go negative is the symptom
that can be seen: `rewind` then fails naming the chain, token, address, block and value.
Drift that keeps values non-negative is not detected; the supply and reserve checks built
from the same events cannot see it either, only a comparison with state read at an old
block (an archive node, once in a while) can.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import polars as pl

from assets.ingest.evm.blocks import ClosingBlock
from assets.ingest.evm.extract import (
    RAW,
    DayOfBlock,
    balances,
    issuance_events,
    token_supply,
    transfers,
)
from core.chains import ISSUANCE_EVENTS, Chain
from core.errors import SourceDataError
from core.resources.evm import EvmRpc

_OWNER = "0x8da5cb5b"  # owner()
_ADDRESS_WORD = re.compile(r"0x0{24}[0-9a-fA-F]{40}")
# Tether-standard events move balances without a Transfer; fiattoken's Mint/Burn do emit
# one, which `transfers` already reads.
_WITHOUT_TRANSFER = list(ISSUANCE_EVENTS["tether"].values())
# Amounts are summed as Int128 (Decimal(38, 0) fits); polars cannot negate it, only subtract.
_ZERO = pl.lit(0, dtype=pl.Int128)


class RewindDriftError(RuntimeError):
    """Rewinding gave a negative balance or supply: a balance change the rewind does not
    know of, or a wrong snapshot."""


@dataclass(frozen=True)
class Snapshot:
    """Balances and supplies at one block: the point a rewind starts from."""

    block: int
    balances: pl.DataFrame  # token, address (as in balances()), balance_raw Decimal(38,0)
    supply: pl.DataFrame  # token, supply_raw Decimal(38,0)
    # owner() of each tether-standard token at `block`, lower case: whom Issue credits and
    # Redeem debits. Carried unchanged into older snapshots (assumed constant; see Drift).
    owners: dict[str, str]


def snapshot(rpc: EvmRpc, chain: Chain, addresses: list[str], block: int) -> Snapshot:
    """balanceOf of every address, totalSupply and (tether-standard) owner() of every token
    at `block`, a recent block whose state the node keeps (e.g. the final block)."""
    # balances() and token_supply() read at closing blocks; the date is only a label here.
    at = [ClosingBlock(dt.date(1970, 1, 1), block, 0, "")]
    return Snapshot(
        block,
        balances(rpc, chain, addresses, at).select("token", "address", "balance_raw"),
        token_supply(rpc, chain, at).select("token", "supply_raw"),
        owners(rpc, chain, block),
    )


def owners(rpc: EvmRpc, chain: Chain, block: int) -> dict[str, str]:
    """owner() of every tether-standard token at `block`, lower case (one eth_call each)."""
    tether = [t for t in chain.tokens if t.standard == "tether"]
    found = {}
    for token, answer in zip(tether, rpc.eth_calls([(t.address, _OWNER, block) for t in tether])):
        if not isinstance(answer, str) or not _ADDRESS_WORD.fullmatch(answer):
            raise SourceDataError(
                f"rpc {chain.name} eth_call",
                f"owner() of {token.symbol} at block {block}",
                answer,
                "not one 32-byte address word",
            )
        found[token.symbol] = "0x" + answer[-40:].lower()
    return found


def stored_snapshot(
    chain: Chain,
    addresses: list[str],
    block: int,
    held: pl.DataFrame | None,
    supply: pl.DataFrame,
    token_owners: dict[str, str],
) -> Snapshot:
    """The snapshot at a stored day's closing `block`, from the warehouse's rows of that
    day: `held` (token, address, balance_raw) lists the wallets holding anything (the others
    held zero; None without `addresses`), `supply` (token, supply_raw) every token. The
    same values as `snapshot` reads at that block (rows token by token; `rewind` places
    values by key, not by row)."""
    if held is None:
        held = pl.DataFrame(schema={"token": pl.Utf8, "address": pl.Utf8, "balance_raw": RAW})
    layout = pl.DataFrame(
        {
            "token": [t.symbol for t in chain.tokens for _ in addresses],
            "address": [a for _ in chain.tokens for a in addresses],
        },
        schema={"token": pl.Utf8, "address": pl.Utf8},
    )
    nonzero = held.select(
        "token", pl.col("address").str.to_lowercase().alias("key"), pl.col("balance_raw").cast(RAW)
    )
    frame = (
        layout.with_columns(key=pl.col("address").str.to_lowercase())
        .join(nonzero, on=["token", "key"], how="left", maintain_order="left")
        .select("token", "address", pl.col("balance_raw").fill_null(0).cast(RAW))
    )
    order = pl.DataFrame({"token": [t.symbol for t in chain.tokens]})
    supply = order.join(
        supply.select("token", pl.col("supply_raw").cast(RAW)),
        on="token",
        how="left",
        maintain_order="left",
    )
    if supply["supply_raw"].null_count():
        missing = supply.filter(pl.col("supply_raw").is_null())["token"].to_list()
        raise ValueError(f"rpc {chain.name}: no stored supply of {missing} at block {block}")
    return Snapshot(block, frame, supply, token_owners)


def _walk_back(
    start: pl.DataFrame, changes: pl.DataFrame, keys: list[str], numbers: list[int]
) -> pl.DataFrame:
    """Every key's value at each closing block (`closing` = index into `numbers`) and just
    before each block with a change (`closing` null), going back from `start` (keys, start:
    the value at the snapshot block) by subtracting `changes` (keys, block_number, delta)."""
    probes = start.select(keys).join(
        pl.DataFrame(
            {"closing": range(len(numbers)), "block_number": numbers},
            schema={"closing": pl.Int64, "block_number": pl.Int64},
        ),
        how="cross",
    )
    changes = (
        changes.join(start.select(keys), on=keys, how="semi")
        .group_by(*keys, "block_number")
        .agg(pl.col("delta").sum())
    )
    # Newest block first; at a closing block the probe comes before that block's changes,
    # so its running sum holds exactly the changes after it.
    walk = pl.concat([probes, changes], how="diagonal").sort(
        [*keys, "block_number", "closing"],
        descending=[False] * len(keys) + [True, False],
        nulls_last=True,
    )
    return walk.join(start, on=keys, maintain_order="left").select(
        *keys,
        "closing",
        pl.when(pl.col("closing").is_null())
        .then(pl.col("block_number") - 1)
        .otherwise(pl.col("block_number"))
        .alias("block_number"),
        (pl.col("start") - pl.col("delta").fill_null(0).cum_sum().over(keys)).alias("value"),
    )


def _no_negative(walk: pl.DataFrame, chain: Chain, later: Snapshot, what: str) -> None:
    negative = walk.filter(pl.col("value") < 0).sort("block_number", descending=True)
    if negative.height:
        row = negative.row(0, named=True)
        raise RewindDriftError(
            f"rpc {chain.name}: rewinding from block {later.block}, the {row['token']} "
            f"{what.format(**row)} at block {row['block_number']} would be {row['value']}: "
            f"a change after it is missing (an event that moves balances without a Transfer, "
            f"or an owner() that differed), or the snapshot is wrong"
        )


def _frame(
    layout: pl.DataFrame,
    walk: pl.DataFrame,
    keys: list[str],
    closing: list[ClosingBlock],
    chain: Chain,
    name: str,
    columns: list[str],
) -> pl.DataFrame:
    """The walk's values at the closing blocks, in `layout`'s row order within each day,
    with the columns and amount arithmetic of extract.py's state readers."""
    days = pl.DataFrame(
        {
            "closing": range(len(closing)),
            "date": [c.date for c in closing],
            "block_number": [c.number for c in closing],
        },
        schema={"closing": pl.Int64, "date": pl.Date, "block_number": pl.Int64},
    )
    decimals = pl.DataFrame(
        {"token": [t.symbol for t in chain.tokens], "decimals": [t.decimals for t in chain.tokens]}
    )
    values = walk.filter(pl.col("closing").is_not_null()).select(*keys, "closing", "value")
    raw = pl.col("value").cast(RAW)
    return (
        days.join(layout, how="cross", maintain_order="left_right")
        .join(values, on=[*keys, "closing"], maintain_order="left")
        .join(decimals, on="token", maintain_order="left")
        .select(
            "date",
            pl.lit(chain.name).alias("chain"),
            *columns,
            "block_number",
            raw.alias(f"{name}_raw"),
            (raw.cast(pl.Float64) / pl.lit(10.0).pow(pl.col("decimals"))).alias(f"{name}_tokens"),
        )
    )


def rewind(
    rpc: EvmRpc, chain: Chain, addresses: list[str], closing: list[ClosingBlock], later: Snapshot
) -> tuple[pl.DataFrame, pl.DataFrame, Snapshot]:
    """Balances of `addresses` and supplies at consecutive days' `closing` blocks (all at or
    before `later.block`), from `later` and the logs of blocks closing[0]+1..later.block.

    Returns frames identical to `balances(rpc, chain, addresses, closing)` and
    `token_supply(rpc, chain, closing)` (same columns, types and row order), and the
    snapshot at closing[0], from which the days before are rewound next. Reads no state;
    see the module docstring for the cost and where the method can drift.
    """
    numbers = [c.number for c in closing]
    if not numbers or numbers != sorted(set(numbers)) or numbers[-1] > later.block:
        raise ValueError(
            f"rpc {chain.name}: closing blocks {numbers} must increase and end "
            f"at or before the snapshot's block {later.block}"
        )
    snapped = later.balances.filter(pl.col("token") == chain.tokens[0].symbol)["address"]
    if snapped.to_list() != list(addresses):
        raise ValueError(
            f"rpc {chain.name}: the snapshot at block {later.block} holds other "
            f"addresses than the {len(addresses)} asked for"
        )
    missing = [
        t.symbol for t in chain.tokens if t.standard == "tether" and t.symbol not in later.owners
    ]
    if missing:
        raise ValueError(
            f"rpc {chain.name}: the snapshot at block {later.block} has no owner() "
            f"of {missing}, whom Issue and Redeem credit and debit"
        )

    # The extractors place each log on a day; a stand-in day ending at the snapshot's block
    # lets them read up to it. Values are placed by block number below, not by that date.
    tail = ClosingBlock(closing[-1].date + dt.timedelta(days=1), later.block, 0, "")
    day_of = DayOfBlock([*closing, tail])
    events = issuance_events(rpc, chain, day_of)
    amount = pl.col("amount_raw").cast(pl.Int128)
    signed = (
        pl.when(pl.col("direction") == "mint").then(amount).otherwise(_ZERO - amount).alias("delta")
    )

    # Balances: keyed by lower-case address, as logs carry them.
    key = pl.col("address").str.to_lowercase().alias("key")
    start = later.balances.select(
        "token", key, pl.col("balance_raw").cast(pl.Int128).alias("start")
    ).unique(["token", "key"], maintain_order=True)
    moved = (
        transfers(rpc, chain, addresses, day_of)
        if addresses
        else pl.DataFrame(
            schema={
                "token": pl.Utf8,
                "from_address": pl.Utf8,
                "to_address": pl.Utf8,
                "block_number": pl.Int64,
                "value_raw": RAW,
            }
        )
    )
    value = pl.col("value_raw").cast(pl.Int128)
    owner = pl.col("token").replace_strict(later.owners, default=None, return_dtype=pl.Utf8)
    changes = pl.concat(
        [
            moved.select(
                "token",
                pl.col("from_address").str.to_lowercase().alias("key"),
                "block_number",
                (_ZERO - value).alias("delta"),
            ),
            moved.select(
                "token",
                pl.col("to_address").str.to_lowercase().alias("key"),
                "block_number",
                value.alias("delta"),
            ),
            events.filter(pl.col("event").is_in(_WITHOUT_TRANSFER)).select(
                "token",
                pl.when(pl.col("event") == "DestroyedBlackFunds")
                .then(pl.col("account"))
                .otherwise(owner)
                .str.to_lowercase()
                .alias("key"),
                "block_number",
                signed,
            ),
        ]
    )
    walk = _walk_back(start, changes, ["token", "key"], numbers)
    _no_negative(walk, chain, later, "balance of {key}")
    layout = later.balances.select("token", "address", key)
    balance_frame = _frame(
        layout, walk, ["token", "key"], closing, chain, "balance", ["token", "address"]
    )

    supply_start = later.supply.select("token", pl.col("supply_raw").cast(pl.Int128).alias("start"))
    supply_walk = _walk_back(
        supply_start, events.select("token", "block_number", signed), ["token"], numbers
    )
    _no_negative(supply_walk, chain, later, "totalSupply")
    supply_frame = _frame(
        later.supply.select("token"), supply_walk, ["token"], closing, chain, "supply", ["token"]
    )

    first = pl.col("block_number") == numbers[0]
    earlier = Snapshot(
        numbers[0],
        balance_frame.filter(first).select("token", "address", "balance_raw"),
        supply_frame.filter(first).select("token", "supply_raw"),
        later.owners,
    )
    return balance_frame, supply_frame, earlier
