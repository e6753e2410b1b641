"""Arbitrum One's Nitro floor, read through the sandbox's `arbitrum-nitro` node profile.

A Nitro node serves the classic (pre-Nitro) chain's blocks and logs but executes nothing
before its Nitro genesis block: state there needs a classic node (sandbox/rpc_proxy.py, with
its sources). The sandbox's Arbitrum chain is a small anvil chain from block 0, so its Nitro
genesis is a block inside the planted window, and the chain's anchor (chains.yaml: Arbitrum
One's Nitro genesis) is moved to it as well.
"""

import dataclasses
import datetime as dt

import polars as pl
import pytest

from assets.ingest.evm.blocks import final_block, resolve_closing_blocks
from assets.ingest.evm.extract import DayOfBlock, issuance_events, token_supply
from assets.ingest.evm.rewind import rewind, snapshot
from core.chains import CONFIGURED, Anchor
from core.partitions import days
from core.resources.evm import EvmRpc, NodeLimitError
from sandbox.chain import Rpc
from sandbox.rpc_proxy import RpcProxy
from sandbox.world import planted_chain

ARBITRUM = next(c for c in CONFIGURED if c.name == "arbitrum")
START, END = dt.date(2021, 6, 1), dt.date(2021, 6, 10)  # ~2 blocks a day
LAST_CLASSIC = dt.date(2021, 6, 4)  # the Nitro genesis is the first block after this day
CLASSIC = days(START, dt.date(2021, 6, 3))  # closing blocks below the floor
NITRO = days(dt.date(2021, 6, 6), END)  # their day before (06-05) closes above it too


@pytest.fixture(scope="module")
def nitro():
    with planted_chain(START, END, chain=ARBITRUM) as (url, truth):
        closing = dict(truth.blocks.select("date", "closing_block").iter_rows())
        genesis = closing[LAST_CLASSIC] + 1
        stamp = int(Rpc(url)("eth_getBlockByNumber", hex(genesis), False)["timestamp"], 16)
        chain = dataclasses.replace(ARBITRUM, anchor=Anchor(genesis, stamp))
        with RpcProxy(url, profile="arbitrum-nitro", nitro_genesis=genesis) as proxy:
            yield proxy, chain, truth, genesis


def closing_blocks(rpc, chain, wanted):
    """The closing blocks of `wanted` days and of the day before them, in order."""
    final = final_block(rpc, chain)
    found = resolve_closing_blocks(rpc, [wanted[0] - dt.timedelta(days=1), *wanted], final)
    return [found[d] for d in sorted(found)], final


def true_supply(truth, wanted):
    return (
        truth.supply.filter(pl.col("date").is_in(wanted))
        .select("date", "token", "supply_raw")
        .sort("date", "token")
        .rows()
    )


def read_supply(supply):
    return (
        supply.select("date", "token", pl.col("supply_raw").cast(pl.Int64))
        .sort("date", "token")
        .rows()
    )


def test_days_after_the_nitro_genesis_ask_nothing_below_it(nitro):
    """The anchor at the Nitro genesis keeps the closing-block search above the floor: no
    header, log or state below it is asked for, served or not."""
    proxy, chain, truth, genesis = nitro
    proxy.reset_counts()
    rpc = EvmRpc(chain="arbitrum", url=proxy.url, backoff_s=0.01)
    blocks, _ = closing_blocks(rpc, chain, NITRO)
    supply = token_supply(rpc, chain, blocks[1:])
    issuance_events(rpc, chain, DayOfBlock(blocks))
    assert read_supply(supply) == true_supply(truth, NITRO)
    assert blocks[0].number >= genesis
    assert proxy.calls["eth_getBlockByNumber"] and proxy.calls["eth_call"]
    assert proxy.calls["eth_getLogs"]
    assert not proxy.below_floor and not proxy.refused

    # Without an anchor this node has (chains.yaml's is Arbitrum One's, far past the
    # sandbox's head) the search reads the genesis block, below the floor.
    proxy.reset_counts()
    closing_blocks(EvmRpc(chain="arbitrum", url=proxy.url), ARBITRUM, NITRO)
    assert proxy.below_floor["eth_getBlockByNumber"] > 0


def test_state_before_the_nitro_genesis_fails_at_once_naming_the_floor_and_a_classic_node(
    nitro,
):
    proxy, chain, truth, genesis = nitro
    rpc = EvmRpc(chain="arbitrum", url=proxy.url, backoff_s=0.01)
    proxy.reset_counts()
    # the classic chain's blocks and logs are served
    blocks, _ = closing_blocks(rpc, chain, CLASSIC)
    issuance_events(rpc, chain, DayOfBlock(blocks))
    expected = truth.blocks.filter(pl.col("date").is_in(CLASSIC))["closing_block"].to_list()
    assert [b.number for b in blocks[1:]] == expected
    assert proxy.below_floor["eth_getBlockByNumber"] and proxy.below_floor["eth_getLogs"]
    assert not proxy.refused

    proxy.reset_counts()
    with pytest.raises(NodeLimitError) as failure:
        token_supply(rpc, chain, blocks[1:])
    message = str(failure.value)
    first = blocks[1].number
    assert message.startswith("rpc arbitrum: eth_call(")
    assert "error -32000: missing trie node 000" in message
    assert f"State at block {first:,} needs a classic (pre-Nitro) Arbitrum node" in message
    assert "Arbitrum One's floor: block 22,207,817" in message
    assert "--execution.rpc.classic-redirect" in message
    assert "STABLEFLOW_ARBITRUM_BALANCES=logs" in message
    assert "not an archive node" not in message  # an archive Nitro node has no such state
    # one request: each of its state calls refused once, none asked again
    assert proxy.http_requests == 1
    assert proxy.refused == {"nitro": len(blocks[1:]) * len(chain.tokens)}


def test_balances_from_logs_read_days_before_the_nitro_genesis(nitro):
    """What the failure suggests works on a Nitro node: state at the final block only,
    rewound with the classic chain's logs, gives the true supplies."""
    proxy, chain, truth, genesis = nitro
    rpc = EvmRpc(chain="arbitrum", url=proxy.url, balances="logs", backoff_s=0.01)
    proxy.reset_counts()
    blocks, final = closing_blocks(rpc, chain, CLASSIC)
    _, supply, _ = rewind(rpc, chain, [], blocks[1:], snapshot(rpc, chain, [], final.number))
    assert read_supply(supply) == true_supply(truth, CLASSIC)
    assert proxy.below_floor["eth_getLogs"] and not proxy.refused
