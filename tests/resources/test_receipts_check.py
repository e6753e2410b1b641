"""The receipts check before a log scan (EvmRpc.check_logs_held): a node with pruned receipts
that answers eth_getLogs with [] fails, and a healthy node never does, not even when a block's
logsBloom matches a token by chance (a bloom's false positive)."""

import json

import pytest
from eth_utils import keccak

from core.resources.evm import EvmRpc, NodeLimitError
from sandbox.jsonrpc_server import JsonRpcServer

USDT = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
OTHER = "0x" + "42" * 20


def bloom_of(*addresses: str) -> str:
    """A logsBloom naming `addresses`: 3 bits of each one's keccak (yellow paper M3:2048)."""
    bits = 0
    for address in addresses:
        digest = keccak(bytes.fromhex(address[2:]))
        for i in (0, 2, 4):
            bits |= 1 << (int.from_bytes(digest[i : i + 2], "big") & 2047)
    return "0x" + format(bits, "0512x")


class Node(JsonRpcServer):
    """A block whose header's bloom names USDT, whose eth_getLogs answer is empty, and whose
    receipts are `receipts` (a JSON-RPC result, or an error object)."""

    def __init__(self, receipts, header: dict | None = None, by_tx: dict | None = None) -> None:
        super().__init__()
        self.receipts, self.asked = receipts, []
        self.header = header or {"number": "0x5", "logsBloom": bloom_of(USDT)}
        self.by_tx = by_tx or {}  # eth_getTransactionReceipt's answers by transaction hash

    def handle(self, body: bytes) -> tuple[int, bytes]:
        payload = json.loads(body)
        answers = []
        for call in payload if isinstance(payload, list) else [payload]:
            self.asked.append(call["method"])
            answer = {"jsonrpc": "2.0", "id": call["id"]}
            if call["method"] == "eth_getBlockByNumber":
                answer["result"] = self.header
            elif call["method"] == "eth_getLogs":
                answer["result"] = []
            elif call["method"] == "eth_getTransactionReceipt":
                answer["result"] = self.by_tx.get(call["params"][0])
            elif isinstance(self.receipts, dict) and "code" in self.receipts:
                answer["error"] = self.receipts
            else:
                answer["result"] = self.receipts
            answers.append(answer)
        return 200, json.dumps(answers if isinstance(payload, list) else answers[0]).encode()


def receipt(*addresses: str) -> dict:
    return {"logs": [{"address": a.lower()} for a in addresses]}


@pytest.mark.parametrize(
    "receipts",
    [
        [receipt(OTHER)],  # the bloom matched USDT by chance: the receipts hold none of its logs
        {"code": -32601, "message": "the method eth_getBlockReceipts does not exist"},
    ],
    ids=["false-positive", "no-receipts-method"],
)
def test_a_healthy_node_passes_when_the_bloom_matches_by_chance(receipts):
    with Node(receipts) as node:
        EvmRpc(chain="ethereum", url=node.url).check_logs_held(5, [USDT])
    assert node.asked.count("eth_getBlockReceipts") == 1  # asked only because of the match


@pytest.mark.parametrize(
    "receipts, words",
    [
        (None, "its receipts are pruned (the node answered null)"),  # reth --full
        ({"code": -32603, "message": "state at block #5 is pruned"}, "its receipts are pruned"),
        ([receipt(OTHER, USDT)], "the node's log index lacks the block"),  # Erigon full
    ],
    ids=["null", "refused", "held-but-not-answered"],
)
def test_a_node_missing_the_blocks_logs_fails_naming_pruned_receipts(receipts, words):
    with Node(receipts) as node:
        rpc = EvmRpc(chain="ethereum", url=node.url)
        with pytest.raises(NodeLimitError, match="rpc ethereum: block 5's header names") as failure:
            rpc.check_logs_held(5, [USDT])
    assert words in str(failure.value) and "archive node" in str(failure.value)


# java-tron's headers carry 256 zero bytes for a bloom (BlockResult: "no value"), and its
# eth_getLogs answers blocks from before its log index was built with [] (java-tron#6384).
BLIND = {"number": "0x5", "logsBloom": "0x" + "0" * 512, "transactions": ["0x" + "ab" * 32]}


def test_an_empty_bloom_tells_nothing_so_the_receipts_decide():
    with Node([receipt(OTHER, USDT)], header=BLIND) as node:
        rpc = EvmRpc(chain="tron", url=node.url)
        with pytest.raises(NodeLimitError, match="header has an all-zero logsBloom") as failure:
            rpc.check_logs_held(5, [USDT])
    assert "log index lacks the block" in str(failure.value)
    with Node([receipt(OTHER)], header=BLIND) as node:  # the block holds no USDT log: passes
        EvmRpc(chain="tron", url=node.url).check_logs_held(5, [USDT])
    assert node.asked == ["eth_getBlockByNumber", "eth_getBlockReceipts"]


def test_an_empty_block_needs_no_receipts():
    header = {**BLIND, "transactions": []}  # nothing ran in it: no log can be missing
    with Node(None, header=header) as node:
        EvmRpc(chain="tron", url=node.url).check_logs_held(5, [USDT])
    assert node.asked == ["eth_getBlockByNumber"]


TX = ["0x" + "01" * 32, "0x" + "02" * 32]
NO_METHOD = {"code": -32601, "message": "the method eth_getBlockReceipts does not exist"}


@pytest.mark.parametrize(
    "by_tx, words",
    [
        ({TX[0]: receipt(OTHER), TX[1]: receipt(USDT)}, "log index lacks the block"),
        ({TX[0]: receipt(OTHER)}, "its receipts are pruned (the node answered null)"),
        ({TX[0]: receipt(OTHER), TX[1]: receipt()}, None),  # healthy: no USDT log in the block
    ],
    ids=["held-but-not-answered", "one-gone", "healthy"],
)
def test_without_block_receipts_each_transactions_receipt_decides(by_tx, words):
    """A node without eth_getBlockReceipts (geth before 1.13, java-tron before 2025) still
    has eth_getTransactionReceipt: the header's transactions' receipts, in one batch, confirm
    or clear the suspects instead of letting the check pass unconfirmed."""
    header = {"number": "0x5", "logsBloom": bloom_of(USDT), "transactions": TX}
    with Node(NO_METHOD, header=header, by_tx=by_tx) as node:
        rpc = EvmRpc(chain="ethereum", url=node.url)
        if words is None:
            rpc.check_logs_held(5, [USDT])
        else:
            with pytest.raises(NodeLimitError, match="header names") as failure:
                rpc.check_logs_held(5, [USDT])
            assert words in str(failure.value)
    assert node.asked.count("eth_getTransactionReceipt") == len(TX)
