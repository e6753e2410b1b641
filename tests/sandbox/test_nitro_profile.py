"""The `arbitrum-nitro` node profile answers as a Nitro node without a classic node behind
it: state before the Nitro genesis is refused with Nitro's own error, while the classic
chain's blocks and logs are served (sandbox/rpc_proxy.py, with its sources)."""

import json

import polars as pl
import requests

from core.resources.evm import EvmRpc, RpcError
from sandbox.jsonrpc_server import JsonRpcServer
from sandbox.rpc_proxy import PROFILES, RpcProxy

GENESIS = 100
NITRO_ERROR = {
    "code": -32000,
    "message": "missing trie node 0000000000000000000000000000000000000000000000000000000000000000"
    " (path ) <nil>",
}


class AnsweringNode(JsonRpcServer):
    """Answers every call "0x1" and records the methods it ran."""

    def __init__(self) -> None:
        super().__init__()
        self.ran: list[str] = []

    def handle(self, body: bytes) -> tuple[int, bytes]:
        calls = json.loads(body)
        self.ran += [c["method"] for c in calls]
        answers = [{"jsonrpc": "2.0", "id": c["id"], "result": "0x1"} for c in calls]
        return 200, json.dumps(answers).encode()


def _call(i: int, method: str, *params) -> dict:
    return {"jsonrpc": "2.0", "id": i, "method": method, "params": list(params)}


def test_state_before_the_nitro_genesis_is_refused_as_nitro_does_and_history_is_served():
    below, at = hex(GENESIS - 1), hex(GENESIS)
    call = {"to": "0x" + "11" * 20, "data": "0x18160ddd"}
    batch = [
        _call(0, "eth_call", call, below),
        _call(1, "eth_getBalance", "0x" + "22" * 20, below),
        _call(2, "eth_call", call, at),
        _call(3, "eth_call", call, "latest"),
        _call(4, "eth_getBlockByNumber", "0x0", False),
        _call(5, "eth_getLogs", {"fromBlock": "0x0", "toBlock": below}),
    ]
    with AnsweringNode() as node, RpcProxy(node.url) as proxy:
        proxy.use("arbitrum-nitro", nitro_genesis=GENESIS)
        answers = requests.post(proxy.url, json=batch, timeout=30).json()
    assert [a.get("error") for a in answers[:2]] == [NITRO_ERROR, NITRO_ERROR]
    assert [a.get("result") for a in answers[2:]] == ["0x1"] * 4
    # refused before the node runs them; everything else reaches it
    assert node.ran == ["eth_call", "eth_call", "eth_getBlockByNumber", "eth_getLogs"]
    assert proxy.refused == {"nitro": 2}
    assert proxy.below_floor == {
        "eth_call": 1,
        "eth_getBalance": 1,
        "eth_getBlockByNumber": 1,
        "eth_getLogs": 1,
    }
    # the client reads it as missing state, which no retry cures
    error = RpcError("arbitrum", "eth_call", [call, below], **NITRO_ERROR)
    assert error.kind == "state"


def test_the_floor_is_arbitrum_ones_nitro_genesis_unless_set_per_chain():
    assert PROFILES["arbitrum-nitro"].nitro_genesis == 22_207_817
    with AnsweringNode() as node:
        with RpcProxy(node.url, profile="arbitrum-nitro", nitro_genesis=7) as proxy:
            assert proxy.profile.nitro_genesis == 7
            proxy.use("arbitrum-nitro")
            assert proxy.profile.nitro_genesis == 22_207_817
            # what a client asks at a block just above the sandbox floor is served
            proxy.use("arbitrum-nitro", nitro_genesis=7)
            rpc = EvmRpc(chain="arbitrum", url=proxy.url)
            assert rpc.call("eth_getBalance", ["0x" + "22" * 20, hex(7)]) == "0x1"


def test_the_sandbox_puts_the_floor_at_the_nitro_genesis_day_on_arbitrum_only():
    """`make demo NODE=arbitrum-nitro`: the planted Arbitrum chain's state up to 2022-08-30's
    close is refused (a classic node's), 2022-08-31's closing block, after 14:32 UTC, is
    Nitro's; Ethereum has no floor."""
    import datetime as dt

    import pytest

    from assets.ingest.evm.blocks import ClosingBlock
    from assets.ingest.evm.extract import token_supply
    from core.chains import CHAINS
    from core.resources.evm import NodeLimitError
    from sandbox.world import running_sandbox

    classic, nitro = dt.date(2022, 8, 30), dt.date(2022, 8, 31)
    with running_sandbox(classic, nitro, node_profile="arbitrum-nitro") as (env, truth, _):
        for chain in CHAINS:
            rpc = EvmRpc(chain=chain.name, url=env[chain.rpc_url_env], backoff_s=0.01)
            blocks = {
                day: ClosingBlock(day, number, 0, "")
                for day, number in truth.blocks.filter(pl.col("chain") == chain.name)
                .select("date", "closing_block")
                .rows()
            }
            expected = truth.supply.filter(pl.col("chain") == chain.name)
            if chain.name == "arbitrum":
                with pytest.raises(NodeLimitError, match="Nitro genesis"):
                    token_supply(rpc, chain, [blocks[classic]])
                read = token_supply(rpc, chain, [blocks[nitro]])
                expected = expected.filter(pl.col("date") == nitro)
            else:
                read = token_supply(rpc, chain, [blocks[classic], blocks[nitro]])
            assert sorted(read.select("date", "token", "supply_raw").rows()) == sorted(
                expected.select("date", "token", "supply_raw").rows()
            )
