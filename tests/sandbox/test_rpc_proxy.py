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


def test_log_scans_past_the_cap_are_not_run_at_all():
    """A log scan is what the cap is there for: the proxy runs them one at a time, so the
    node runs none after the one whose answer crosses the cap, as geth does (handleBatch),
    and a client resending them does not pay for them twice."""
    scan = {"fromBlock": "0x0", "toBlock": "0x9"}
    batch = [
        {"jsonrpc": "2.0", "id": i, "method": "eth_getLogs", "params": [scan]} for i in range(10)
    ]
    with CountingNode() as node:
        capped = dataclasses.replace(PROFILES["geth"], max_batch_response=250)
        with RpcProxy(node.url, profile=capped) as proxy:
            answers = requests.post(proxy.url, json=batch, timeout=30).json()
    answered = [a for a in answers if "result" in a]
    assert len(answered) == 3 and node.ran == 3  # ~102 bytes each: the 3rd crosses 250


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


class GasNode(JsonRpcServer):
    """Records the gas each eth_call names; runs out of gas above `burns`, as anvil answers."""

    def __init__(self, burns: int) -> None:
        super().__init__()
        self.burns, self.gas = burns, []

    def handle(self, body: bytes) -> tuple[int, bytes]:
        answers = []
        for c in json.loads(body):
            gas = c["params"][0].get("gas") if c["method"] == "eth_call" else None
            self.gas.append(gas)
            if gas is not None and c["params"][0].get("data"):  # data costing more than gas
                error = {
                    "code": -32000,
                    "message": "intrinsic gas too high -- CallGasCostMoreThanGasLimit",
                }
                answers.append({"jsonrpc": "2.0", "id": c["id"], "error": error})
            elif gas is not None and int(gas, 16) < self.burns:
                error = {"code": -32603, "message": "EVM error OutOfGas"}
                answers.append({"jsonrpc": "2.0", "id": c["id"], "error": error})
            else:
                answers.append({"jsonrpc": "2.0", "id": c["id"], "result": "0x"})
        return 200, json.dumps(answers).encode()


def test_geth_runs_an_eth_call_with_at_most_its_gas_cap():
    """geth's --rpc.gascap (50M by default): a call naming no gas gets the cap, one naming
    more is cut to it (internal/ethapi CallDefaults), and running out answers -32000 "out of
    gas"; anvil, which the sandbox runs with no cap, runs what it is given."""

    def call(i: int, **gas: str) -> dict:
        return {"jsonrpc": "2.0", "id": i, "method": "eth_call", "params": [{"to": "0x1", **gas}]}

    batch = [
        call(0),
        call(1, gas=hex(10**9)),
        call(2, gas=hex(1_000_000)),
        {"jsonrpc": "2.0", "id": 3, "method": "eth_getBalance", "params": ["0x1", "latest"]},
    ]
    with GasNode(burns=60_000_000) as node:
        with RpcProxy(node.url, profile="geth") as proxy:
            answers = requests.post(proxy.url, json=batch, timeout=30).json()
            refused = proxy.refused["gas"]
        assert node.gas == [hex(50_000_000), hex(50_000_000), hex(1_000_000), None]
        assert [a.get("error") for a in answers[:3]] == [
            {"code": -32000, "message": "out of gas"}
        ] * 3
        assert answers[3]["result"] == "0x" and refused == 3
        node.gas.clear()
        with RpcProxy(node.url, profile="anvil") as proxy:
            answers = requests.post(proxy.url, json=batch, timeout=30).json()
        assert node.gas == [None, hex(10**9), hex(1_000_000), None]
        assert "error" not in answers[1]
        with RpcProxy(node.url, profile="geth") as proxy:
            data = call(4, gas=hex(21_100))
            data["params"][0]["data"] = "0x" + "00" * 10 + "ff" * 10
            answer = requests.post(proxy.url, json=data, timeout=30).json()
        # geth core.ErrIntrinsicGas: 21,000 + 10 zero bytes x 4 + 10 others x 16
        assert answer["error"] == {
            "code": -32000,
            "message": "err: intrinsic gas too low: have 21100, want 21200 (supplied gas 21100)",
        }
    assert {PROFILES[p].gas_cap for p in ("geth", "erigon", "arbitrum-nitro", "full-node")} == {
        50_000_000
    }


def test_a_load_balancer_answers_a_batch_in_another_order_with_every_id_once():
    """dshackle (dshackle#148) and Chainstack (dev-portal#158) answer a batch's calls in the
    order their upstreams finish; JSON-RPC 2.0 allows any order, matched by id."""
    batch = [
        {"jsonrpc": "2.0", "id": i, "method": "eth_getBalance", "params": ["0x0", "latest"]}
        for i in range(20)
    ]
    with CountingNode() as node, RpcProxy(node.url, profile="dshackle") as proxy:
        first = [a["id"] for a in requests.post(proxy.url, json=batch, timeout=30).json()]
        second = [a["id"] for a in requests.post(proxy.url, json=batch, timeout=30).json()]
        one = requests.post(proxy.url, json=batch[0], timeout=30).json()
        shuffled = proxy.shuffled
    assert first != list(range(20)) and sorted(first) == list(range(20))
    assert second != first and sorted(second) == list(range(20))  # each request its own order
    assert one["id"] == 0  # a single call is answered as one object, as ever
    assert shuffled == 2
