"""Balances and supplies rewound from recent state with logs equal the archive-state reads.

The sandbox anvil keeps every state, so each rewound frame is compared with balances() /
token_supply() read by eth_call at the same closing blocks, and with the planted ground
truth. The rewind itself must send no eth_call: it is what a full node can serve.
"""

import dataclasses
import datetime as dt
from decimal import Decimal

import polars as pl
import pytest

from assets.ingest.evm.blocks import ClosingBlock
from assets.ingest.evm.extract import balances, token_supply, transfer_filters
from assets.ingest.evm.rewind import RewindDriftError, Snapshot, rewind, snapshot
from assets.ingest.labels import load_labels
from core.chains import CHAINS
from core.errors import SourceDataError
from core.resources.evm import LOG_FIELDS, EvmRpc
from sandbox.chain import BLACKLISTED, HOLDERS, MINTER, TREASURY
from sandbox.rpc_proxy import RpcProxy
from sandbox.world import planted_chain

D = dt.date
# Planted 9 days; the window is the first 6, rewound from the head, 3 days and ~70 blocks
# later. The blacklisted holder's funds are destroyed on the middle day (index 9 // 2 = 4).
START, PLANTED_END = D(2021, 3, 1), D(2021, 3, 9)
DAYS = [START + dt.timedelta(days=i) for i in range(6)]
CHAIN = next(c for c in CHAINS if c.name == "ethereum")
# The unlabelled actors whose balances move without a Transfer: the USDT owner (Issue,
# Redeem), the blacklisted holder (DestroyedBlackFunds), USDC's minter and a few holders.
SYNTHETIC = [TREASURY, BLACKLISTED, MINTER, *HOLDERS[:3]]


def same(a: Snapshot, b: Snapshot) -> bool:
    return (
        a.block == b.block
        and a.balances.equals(b.balances)
        and a.supply.equals(b.supply)
        and a.owners == b.owners
    )


@pytest.fixture(scope="module")
def chain():
    labels = load_labels()
    with (
        planted_chain(START, PLANTED_END, labels, chain=CHAIN) as (node_url, truth),
        RpcProxy(node_url) as proxy,
    ):
        rpc = EvmRpc(chain=CHAIN.name, url=proxy.url, backoff_s=0.01)
        head = int(rpc.call("eth_blockNumber", []), 16)
        planted = (
            truth.blocks.filter(pl.col("date").is_in(DAYS))
            .sort("date")
            .select("date", "closing_block", "closing_timestamp")
        )
        hashes = rpc.headers(planted["closing_block"])
        closing = [ClosingBlock(day, n, ts, hashes[n]["hash"]) for day, n, ts in planted.rows()]
        assert [c.date for c in closing] == DAYS
        yield proxy, rpc, truth, closing, head, labels


@pytest.fixture(scope="module")
def addresses(chain):
    labels = chain[5]
    return [*labels.addresses(CHAIN.name), *SYNTHETIC]


@pytest.fixture(scope="module")
def state(chain, addresses):
    """The archive-state reads the rewind must reproduce."""
    _, rpc, _, closing, head, _ = chain
    return (
        balances(rpc, CHAIN, addresses, closing),
        token_supply(rpc, CHAIN, closing),
        snapshot(rpc, CHAIN, addresses, head),
    )


def test_rewind_equals_state_reads_and_ground_truth_in_one_pass_or_newest_part_first(
    chain, addresses, state
):
    proxy, rpc, truth, closing, head, _ = chain
    state_balances, state_supply, latest = state
    assert latest.owners == {"USDT": TREASURY.lower()}

    proxy.reset_counts()
    one_balances, one_supply, earlier = rewind(rpc, CHAIN, addresses, closing, latest)
    newer = rewind(rpc, CHAIN, addresses, closing[3:], latest)
    older = rewind(rpc, CHAIN, addresses, closing[:3], newer[2])
    assert proxy.calls["eth_call"] == 0 and proxy.calls["eth_getLogs"] > 0

    assert one_balances.equals(state_balances)
    assert one_supply.equals(state_supply)
    assert pl.concat([older[0], newer[0]]).equals(one_balances)
    assert pl.concat([older[1], newer[1]]).equals(one_supply)
    # the returned snapshot is the state at the window's first closing block
    at_first = snapshot(rpc, CHAIN, addresses, closing[0].number)
    assert same(earlier, at_first) and same(older[2], at_first)
    # a snapshot at the only closing block: nothing to rewind, the same values
    alone = rewind(rpc, CHAIN, addresses, closing[:1], at_first)
    assert alone[0].equals(state_balances.filter(pl.col("date") == DAYS[0]))
    assert same(alone[2], at_first)

    planted = truth.reserves.filter(pl.col("date").is_in(DAYS)).select(
        "date", "token", "address", pl.col("balance_raw").cast(pl.Decimal(38, 0))
    )
    found = one_balances.join(planted, on=["date", "token", "address"], how="inner")
    assert planted.height and found.height == planted.height
    assert found["balance_raw"].equals(found["balance_raw_right"])
    supply = truth.supply.filter(pl.col("date").is_in(DAYS)).sort("date", "token")
    assert (
        one_supply.sort("date", "token")
        .select(pl.col("supply_raw").cast(pl.Int64))
        .to_series()
        .to_list()
        == supply["supply_raw"].to_list()
    )


def test_events_without_a_transfer_move_the_right_balances(chain, state):
    """The blacklisted holder's funds are destroyed inside the window and the USDT owner
    issues and redeems in it: only their own events (no Transfer) explain those changes."""
    _, rpc, truth, closing, _, _ = chain
    rewound_range = pl.col("block_number") > closing[0].number
    events = truth.large_events.filter(rewound_range)
    assert {"Issue", "Redeem", "DestroyedBlackFunds", "Mint", "Burn"} <= set(events["event"])
    destroyed = events.filter(pl.col("event") == "DestroyedBlackFunds").row(0, named=True)

    latest = state[2]
    only = SYNTHETIC
    later = dataclasses.replace(
        latest, balances=latest.balances.filter(pl.col("address").is_in(only))
    )
    rewound, _, _ = rewind(rpc, CHAIN, only, closing, later)
    assert rewound.equals(balances(rpc, CHAIN, only, closing))

    blacklisted = rewound.filter(pl.col("token") == "USDT", pl.col("address") == BLACKLISTED)
    before = blacklisted.filter(pl.col("date") < destroyed["date"])["balance_raw"]
    after = blacklisted.filter(pl.col("date") >= destroyed["date"])["balance_raw"]
    assert before.len() and after.len()
    assert (before == Decimal(destroyed["amount_raw"])).all() and (after == 0).all()


def test_log_queries_are_a_few_per_block_range_not_per_day(chain, addresses, state):
    """Cost: the Transfer filters (two per token and chunk of addresses) and one issuance
    filter per token, once per max_log_blocks range of blocks, and in each scan's first batch
    its first block's token logs (that the node holds them: no header asked, as it does hold
    some): O(log queries), so 2 days or 6 cost the same here, and no state is read."""
    proxy, rpc, _, closing, _, _ = chain
    counts = []
    for days in (2, 6):
        proxy.reset_counts()
        rewind(rpc, CHAIN, addresses, closing[-days:], state[2])
        counts.append(dict(proxy.calls))
    assert counts[0] == counts[1]
    scans = 2  # transfers and issuance, each with its first block's token logs
    filters = len(transfer_filters(CHAIN, addresses)) + len(CHAIN.tokens)
    assert counts[0] == {"eth_getLogs": filters + scans}


def test_a_balance_going_negative_fails_naming_where(chain, addresses, state):
    _, rpc, _, closing, _, _ = chain
    latest = state[2]
    # the wallet whose balance grew most over the window: a snapshot short by more than its
    # lowest balance cannot be rewound past that low
    one, _, _ = rewind(rpc, CHAIN, addresses, closing, latest)
    grew = (
        one.group_by("token", "address")
        .agg(low=pl.col("balance_raw").min())
        .join(latest.balances, on=["token", "address"])
        .with_columns(gain=pl.col("balance_raw") - pl.col("low"))
        .sort("gain", descending=True)
        .row(0, named=True)
    )
    assert grew["gain"] > 0
    short = latest.balances.with_columns(
        pl.when((pl.col("token") == grew["token"]) & (pl.col("address") == grew["address"]))
        .then(pl.col("balance_raw") - grew["low"] - 1)
        .otherwise(pl.col("balance_raw"))
        .cast(pl.Decimal(38, 0))
    )
    with pytest.raises(RewindDriftError) as error:
        rewind(rpc, CHAIN, addresses, closing, dataclasses.replace(latest, balances=short))
    message = str(error.value)
    assert (
        f"rpc ethereum: rewinding from block {latest.block}, the {grew['token']} balance "
        f"of {grew['address'].lower()} at block " in message
    )
    assert " would be -" in message


class _Logs:
    """An EvmRpc stand-in whose Transfer logs carry a cut-short amount."""

    def get_logs(self, queries, first, last, held=()):  # it holds every log it has
        bad = {
            "blockNumber": hex(first),
            "transactionHash": "0xab",
            "logIndex": "0x0",
            "topics": [queries[0][1][0], "0x" + "0" * 24 + "1" * 40, "0x" + "0" * 24 + "2" * 40],
            "data": "0x12",
            "query": 0,
        }
        # issuance filters put a list of topic0s first; Transfer filters one topic0
        transfer = isinstance(queries[0][1][0], str)
        rows = [bad] if transfer else []
        return pl.DataFrame(rows, schema={**LOG_FIELDS, "query": pl.Int64})


def test_malformed_log_amounts_fail_clearly():
    address = "0x" + "1" * 40
    later = Snapshot(
        10,
        pl.DataFrame(
            {
                "token": [t.symbol for t in CHAIN.tokens],
                "address": address,
                "balance_raw": [Decimal(5)] * 2,
            },
            schema_overrides={"balance_raw": pl.Decimal(38, 0)},
        ),
        pl.DataFrame(
            {"token": [t.symbol for t in CHAIN.tokens], "supply_raw": [Decimal(9)] * 2},
            schema_overrides={"supply_raw": pl.Decimal(38, 0)},
        ),
        {"USDT": "0x" + "3" * 40},
    )
    closing = [ClosingBlock(D(2021, 3, 1), 5, 0, "")]
    with pytest.raises(SourceDataError, match="Transfer log 0xab data.*not 64 hex digits"):
        rewind(_Logs(), CHAIN, [address], closing, later)
