"""The closing-block search on a mainnet-shaped chain of ~26 million headers (sandbox/headers.py,
a model: genesis at timestamp 0, proof-of-work lines between real blocks, 12-second slots
with a drifting 1 % of them missed after the Merge), reached through the geth node profile.
Every answer is checked against the model's own truth (a bisection over its formula), never
against the search."""

import dataclasses
import datetime as dt

import pytest

from assets.ingest.evm.blocks import final_block, resolve_closing_blocks
from core.chains import CHAINS, Anchor
from core.resources.evm import EvmRpc, NodeLimitError, midnight
from sandbox.headers import HeaderNode, last_block_before, timestamp
from sandbox.rpc_proxy import RpcProxy

NOW = dt.datetime(2026, 11, 30, 1, 30, tzinfo=dt.UTC)  # the daily schedule's tick
ETHEREUM = CHAINS[0]


@pytest.fixture(scope="module")
def node():
    with (
        HeaderNode(int(NOW.timestamp())) as headers,
        RpcProxy(headers.url, profile="geth") as proxy,
    ):
        yield proxy


def cold(proxy, chain, days):
    """Closing blocks of `days` with nothing stored: (found, HTTP requests it took)."""
    proxy.reset_counts()
    rpc = EvmRpc(chain=chain.name, url=proxy.url)
    found = resolve_closing_blocks(rpc, days, final_block(rpc, chain))
    return {d: b.number for d, b in found.items()}, proxy.http_requests


def truth(days, head=40_000_000):
    return {d: last_block_before(midnight(d + dt.timedelta(days=1)), head) for d in days}


def test_the_model_is_mainnet_shaped():
    assert timestamp(0) == 0 and timestamp(1) == 1438269988
    assert timestamp(15_537_394) == 1663224179  # the Merge's first proof-of-stake block
    post = [timestamp(n + 1) - timestamp(n) for n in range(15_537_394, 15_547_394)]
    assert min(post) >= 12 and all(gap % 12 == 0 for gap in post)
    assert 0.005 < sum(gap > 12 for gap in post) / len(post) < 0.02  # ~1 % missed slots


def test_a_cold_start_for_yesterday_costs_at_most_three_requests(node):
    yesterday = NOW.date() - dt.timedelta(days=1)
    days = [yesterday - dt.timedelta(days=1), yesterday]  # sums over a day start the day before
    found, requests = cold(node, ETHEREUM, days)
    assert found == truth(days)
    assert requests <= 3


def test_a_cold_start_from_2021_uses_the_anchor_and_stays_cheap(node):
    days = [dt.date(2020, 12, 31), dt.date(2021, 1, 1)]
    found, with_anchor = cold(node, ETHEREUM, days)
    assert found == truth(days)
    # Without an anchor the search starts at genesis, whose timestamp is 0: the bisection
    # safeguard still bounds it, but it costs more rounds than from the anchor.
    unanchored = dataclasses.replace(ETHEREUM, anchor=Anchor(10**12, 1))
    found_without, without_anchor = cold(node, unanchored, days)
    assert found_without == found
    assert with_anchor <= 12 and without_anchor <= 40
    assert with_anchor < without_anchor


def test_an_anchor_with_another_timestamp_means_another_chain(node):
    wrong = dataclasses.replace(
        ETHEREUM, anchor=Anchor(ETHEREUM.anchor.number, ETHEREUM.anchor.timestamp + 12)
    )
    rpc = EvmRpc(chain="ethereum", url=node.url)
    with pytest.raises(
        NodeLimitError,
        match=r"block 15537394 has timestamp 1663224179 .*"
        r"\.anchor says 1663224191: the node serves another",
    ):
        final_block(rpc, wrong)
