"""Refusals as real clients and providers word them, read by kind: what can succeed if asked
differently (rate, batch, response, range) and what cannot (pruned, state, topics)."""

import json

import pytest

from core.resources.evm import EvmRpc, NodeLimitError, RpcError
from sandbox.jsonrpc_server import JsonRpcServer

# (code, message, kind): each message as its source sends it
REAL = [
    # go-ethereum
    (-32602, "exceed max topics", "topics"),
    (-32602, "exceed max addresses or topics per search position", "topics"),
    (-32600, "batch too large", "batch"),
    (-32003, "response too large", "response"),
    (4444, "pruned history unavailable", "pruned"),
    (
        -32000,
        "missing trie node 59030c2a3d552c0af0eae6635117d919c9a3c36bc98c2180207f8535c9b67163 "
        "(path ) state 0x59030c2a3d552c0af0eae6635117d919c9a3c36bc98c2180207f8535c9b67163 "
        "is not available",
        "state",
    ),  # piplabs/story-geth#137
    (-32000, "historical state not available in path scheme yet", "state"),
    # Erigon
    (-32602, "query exceeds the maximum of 1000 addresses or topics per search position", "topics"),
    # Infura: documented, and what the live API answers (INFURA/infura#237)
    (
        -32005,
        "query returned more than 10000 results. Try with this block range [0x1, 0x2].",
        "range",
    ),
    (-32602, "range 1000000 exceeds limit of 10000", "range"),
    # QuickNode, with HTTP 413 (eternalsafe/wallet#57)
    (-32614, "eth_getLogs is limited to a 10,000 range", "range"),
    (-32005, "project ID request rate exceeded", "rate"),
    # Alchemy (BobTheBuidler/dank_mids#772, bancorprotocol/webapp#523)
    (
        -32600,
        "You can make eth_getLogs requests with up to a 500 block range. Based on your "
        "parameters, this block range should work: [0x123c9b2, 0x123cba5]",
        "range",
    ),
    (-32602, "Log response size exceeded. Please reduce query block range.", "range"),
    (429, "Your app has exceeded its compute units per second capacity.", "rate"),
    # reth
    (-32602, "query exceeds max block range 100000", "range"),
    # (reth's suggested range is decimal: crates/rpc/rpc-eth-types EthFilterError)
    (-32602, "query exceeds max results 20000, retry with the range 22382105-22382515", "range"),
    (-32600, "The batch request/response was too large", "batch"),
    # go-ethereum -32002: calls of a batch unanswered when its HTTP timeout struck
    (-32002, "request timed out", "timeout"),
    # an eth_call too heavy for the node (extract.balances asks less of one call): geth's
    # vm.ErrOutOfGas, the balance reader's own revert, DoCall's wrapped core.ErrIntrinsicGas
    # and EIP-7623 floor, --rpc.evmtimeout; reth's cap
    (-32000, "out of gas", "gas"),
    (3, "execution reverted: out of gas", "gas"),
    (-32000, "err: intrinsic gas too low: have 21100, want 21200 (supplied gas 21100)", "gas"),
    (
        -32000,
        "err: insufficient gas for floor data gas cost: have 21000, want 21400 "
        "(supplied gas 21000)",
        "gas",
    ),
    (-32000, "execution aborted (timeout = 5s)", "gas"),
    (-32000, "out of gas: gas required exceeds: 50000000", "gas"),
    # Nethermind: the calls after a batch answer past its cap; a log scan past its timeout
    (-32005, "MaxBatchResponseBodySize of 32768KB exceeded", "response"),
    (-32016, "eth_getLogs request was canceled due to enabled timeout.", "range"),
    # reth: old state gone (paradigmxyz/reth#21122)
    (-32603, "state at block #12369623 is pruned", "state"),
    (
        -32000,
        "state transitaion failed: seek with txNum=1962853355 but data before "
        "txNum=2662500000 is not available: blockNum=16999999, txNum=1962853355",
        "state",
    ),
    # rate limits in other codes: QuickNode (foundry-rs/foundry#6712), OP proxyd (server.go),
    # a 429 wrapped in -32000 (base/node#368: not a range, though it says "too many")
    (-32012, "credits limited to 6000/sec", "rate"),
    (-32016, "over rate limit", "rate"),
    (-32000, '429 Too Many Requests: {"code":-32016,"message":"over rate limit"}', "rate"),
    # a whole batch refused: public endpoints (ethers-io/ethers.js#4128), proxyd's body cap
    (-32600, 'Too many ["eth_getLogs"] methods in the batch', "batch"),
    (-32021, "request body too large", "batch"),
    # java-tron's JSON-RPC (TronJsonRpcImpl, LogFilterWrapper, LogBlockQuery, JsonRpcServlet)
    (-32602, "QUANTITY not supported, just support TAG as latest", "state"),
    (-32602, "exceed max block range: 5000", "range"),
    (-32005, "query returned more than 10000 results", "range"),
    (-32602, "exceed max topics: 1000", "topics"),
    (-32602, "exceed max addresses: 1000", "topics"),
    (-32005, "Batch size 150 exceeds the limit of 100", "batch"),
]


@pytest.mark.parametrize("code,message,kind", REAL)
def test_real_refusals_are_read_by_kind(code, message, kind):
    assert RpcError("ethereum", "eth_getLogs", [], code, message).kind == kind


def test_a_nethermind_timeout_is_a_heavy_call_for_eth_call_and_a_wide_range_for_logs():
    """Nethermind words its timeout alike for every method (JsonRpcService): an eth_call past
    it asks fewer balances of one call (gas), a log scan past it a narrower range."""
    text = "{} request was canceled due to enabled timeout."
    kinds = {m: RpcError("ethereum", m, [], -32016, text.format(m)).kind for m in METHODS}
    assert kinds == {"eth_call": "gas", "eth_estimateGas": "gas", "eth_getLogs": "range"}


METHODS = ("eth_call", "eth_estimateGas", "eth_getLogs")


@pytest.mark.parametrize(
    "message,lo,hi,expected",
    [
        # a stated maximum range cuts every range to it
        (
            "You can make eth_getLogs requests with up to a 500 block range. Based on your "
            "parameters, this block range should work: [0x64, 0x257]",
            100,
            1299,
            [(100, 599), (600, 1099), (1100, 1299)],
        ),
        (
            "range 30000 exceeds limit of 10000",
            0,
            29_999,
            [(0, 9999), (10_000, 19_999), (20_000, 29_999)],
        ),
        # a suggested range cuts this range where the node says
        (
            "query returned more than 10000 results. Try with this block range [0x64, 0x95].",
            100,
            300,
            [(100, 149), (150, 300)],
        ),
        (
            "query exceeds max results 20000, retry with the range 100-110",
            100,
            300,
            [(100, 110), (111, 300)],
        ),
        # Alchemy's paid tiers offer a choice, not a limit: only the suggested range is used
        (
            "Log response size exceeded. You can make eth_getLogs requests with up to a 2K "
            "block range and no limit on the response size, or you can request any block range "
            "with a cap of 10K logs in the response. Based on your parameters and the response "
            "size limit, this block range should work: [0x64, 0x1387]",
            100,
            2_000_099,
            [(100, 4999), (5000, 2_000_099)],
        ),
        (
            "block range is larger than max block range, block range = 5120, "
            "max block range = 5000",
            0,
            5119,
            [(0, 4999), (5000, 5119)],
        ),
        ("block range too large, max range: 1000", 0, 1999, [(0, 999), (1000, 1999)]),
        ("exceed max block range: 5000", 0, 5119, [(0, 4999), (5000, 5119)]),  # java-tron
        # nothing said: halve
        ("block range is too wide", 100, 199, [(100, 149), (150, 199)]),
    ],
)
def test_ranges_are_cut_where_the_node_says(message, lo, hi, expected):
    rpc = EvmRpc(chain="ethereum", url="http://127.0.0.1:1")
    error = RpcError("ethereum", "eth_getLogs", [], -32600, message)
    assert [(a, b) for _, a, b in rpc._narrow(error, 0, lo, hi)] == expected


class _Rewriting(JsonRpcServer):
    """Answers a batch in reverse order (a load balancer, dshackle#148) with the last answer's
    id rewritten, as GetBlock's proxy was seen to ("gbiid:4112", qRoC/getblock.io-bug4004);
    each eth_blockNumber answer is its own id."""

    def handle(self, body: bytes) -> tuple[int, bytes]:
        calls = json.loads(body)
        answers = [{"jsonrpc": "2.0", "id": c["id"], "result": hex(c["id"])} for c in calls][::-1]
        answers[-1]["id"] = f"gbiid:{answers[-1]['id']}"
        return 200, json.dumps(answers).encode()


def test_an_answer_without_its_id_is_never_taken_by_position():
    """Where the other answers carry their ids, the one whose id was rewritten is no answer:
    by position it would be another call's (here the last call's result for the first)."""
    with _Rewriting() as node:
        rpc = EvmRpc(chain="ethereum", url=node.url)
        results = rpc.batch([("eth_blockNumber", [])] * 3, errors="return")
    first = rpc._next_id - 3
    assert isinstance(results[0], RpcError) and "no answer in batch" in str(results[0])
    assert results[1:] == [hex(first + 1), hex(first + 2)]


@pytest.mark.parametrize(
    "message",
    ["method parameters invalid", "too many arguments, want at most 2"],  # java-tron, old geth
)
def test_a_refused_state_override_names_the_balance_reader(message):
    """An eth_call's third parameter refused is no range, however worded ("too many"): the
    balance reader cannot be placed, so the read fails naming what the node lacks."""
    rpc = EvmRpc(chain="ethereum", url="http://127.0.0.1:1")
    call = [{"to": "0x" + "11" * 20, "data": "0x"}, "0x5", {"0x" + "22" * 20: {"code": "0x00"}}]
    error = rpc._permanent(RpcError("ethereum", "eth_call", call, -32602, message))
    assert isinstance(error, NodeLimitError) and "state override" in str(error)
