"""The RPC proxy is no kinder than geth, and no harsher: once a batch's answer passes the
response cap, the remaining calls are refused without being run (rpc/handler.go
handleBatch), so a tool whose batch hits the cap pays for the calls geth runs, no more."""

import dataclasses
import json

import requests

from sandbox.jsonrpc_server import JsonRpcServer
from sandbox.rpc_proxy import PROFILES, RpcProxy


class CountingNode(JsonRpcServer):
    """Answers every call with 100 bytes of result and counts the calls it ran."""

    def __init__(self) -> None:
        super().__init__()
        self.ran = 0

    def handle(self, body: bytes) -> tuple[int, bytes]:
        calls = json.loads(body)
        self.ran += len(calls)
        answers = [{"jsonrpc": "2.0", "id": c["id"], "result": "0x" + "ab" * 49} for c in calls]
        return 200, json.dumps(answers).encode()


def test_calls_after_the_answer_passes_the_cap_are_refused_unrun():
    batch = [
        {"jsonrpc": "2.0", "id": i, "method": "eth_getBalance", "params": ["0x0", "latest"]}
        for i in range(200)
    ]
    with CountingNode() as node:
        capped = dataclasses.replace(PROFILES["geth"], max_batch_response=1_000)
        with RpcProxy(node.url, profile=capped) as proxy:
            answers = requests.post(proxy.url, json=batch, timeout=30).json()
    answered = [a for a in answers if "result" in a]
    refused = [a for a in answers if a.get("error", {}).get("message") == "response too large"]
    # ~102 bytes a result: the 10th passes 1,000 bytes and is still answered (geth pushes the
    # response that crosses the cap), the rest are refused
    assert len(answered) == 10 and len(refused) == 190
    assert [a["id"] for a in answers] == list(range(200))
    # the node ran the calls up to the crossing one's group of 16, not all 200
    assert node.ran <= 16


def test_infura_rate_limits_carry_its_documented_backoff():
    """Infura's docs ("Avoid rate limiting"): HTTP 429, -32005, and in `data` how long to
    wait; other profiles answer -32005 inside HTTP 200, with no hint."""
    call = {"jsonrpc": "2.0", "id": 7, "method": "eth_blockNumber", "params": []}
    with CountingNode() as node, RpcProxy(node.url, profile="infura") as proxy:
        proxy.rate_limit_next = 1
        limited = requests.post(proxy.url, json=call, timeout=30)
        answered = requests.post(proxy.url, json=call, timeout=30)
        proxy.use("geth")
        proxy.rate_limit_next = 1
        plain = requests.post(proxy.url, json=call, timeout=30)
    assert limited.status_code == 429
    assert limited.json() == {
        "jsonrpc": "2.0",
        "id": 7,
        "error": {
            "code": -32005,
            "message": "project ID request rate exceeded",
            "data": {
                "see": "https://infura.io/docs/ethereum/jsonrpc/ratelimits",
                "current_rps": 13.333,
                "allowed_rps": 10.0,
                "backoff_seconds": 30.0,
            },
        },
    }
    assert answered.status_code == 200 and "result" in answered.json()
    assert plain.status_code == 200
    assert plain.json()["error"] == {"code": -32005, "message": "request rate exceeded"}
    assert node.ran == 1 and proxy.rate_limited == 2  # refused requests never reach the node
