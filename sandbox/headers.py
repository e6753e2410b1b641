"""A node that serves only block headers, shaped like Ethereum mainnet's: for measuring the
closing-block search where it matters, on 26 million blocks, without mining any.

A MODEL, not recorded data. Block 0 has timestamp 0, as mainnet's genesis does. Up to the
Merge, timestamps follow straight lines between real blocks (1: 2015-07-30 15:26:28 UTC,
Byzantium 4,370,000: 2017-10-16 05:22:11, London 12,965,000: 2021-08-05 12:33:42, the last
proof-of-work block 15,537,393: 2022-09-15 06:42:42); real proof-of-work block times varied
around those lines. From the first proof-of-stake block 15,537,394 (06:42:59) on, blocks sit
on 12-second slots with about 1 % of slots missed, at a rate that drifts between 0.6 % and
1.4 % over weeks (so interpolation is off by tens of blocks over a day, as on mainnet).
Headers hold number, timestamp and a hash derived from the number; `finalized` trails the
head by 96 blocks (two epochs and a half).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math

from sandbox.jsonrpc_server import JsonRpcServer

POW = [
    (0, 0),
    (1, 1438269988),
    (4_370_000, 1508131331),
    (12_965_000, 1628166822),
    (15_537_393, 1663224162),
]
MERGE_BLOCK, MERGE_TIME = 15_537_394, 1663224179
FINALITY = 96


def _missed(k: int) -> float:
    # increasing in k (slope >= 0.01 - 30/7919 > 0), so slots never repeat
    return 0.01 * k + 30 * (1 + math.sin(k / 7919))


def timestamp(number: int) -> int:
    if number >= MERGE_BLOCK:
        k = number - MERGE_BLOCK
        return MERGE_TIME + 12 * (k + math.floor(_missed(k)) - math.floor(_missed(0)))
    i = bisect.bisect_right([n for n, _ in POW], number) - 1
    (n0, t0), (n1, t1) = POW[i], POW[min(i + 1, len(POW) - 1)]
    return t0 if n1 == n0 else t0 + (number - n0) * (t1 - t0) // (n1 - n0)


def last_block_before(ts: int, head: int) -> int:
    """The truth the search must find: the last block with a timestamp below `ts`."""
    lo, hi = 0, head  # timestamp(lo) < ts <= timestamp(hi + 1), by bisection
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if timestamp(mid) < ts else (lo, mid - 1)
    return lo


def block_hash(number: int) -> str:
    return "0x" + hashlib.sha256(number.to_bytes(8, "big")).hexdigest()


class HeaderNode(JsonRpcServer):
    """JSON-RPC on 127.0.0.1: eth_chainId (1), eth_blockNumber and eth_getBlockByNumber for
    blocks up to the last one before `now` (unix seconds)."""

    def __init__(self, now: int):
        super().__init__()
        self.head = last_block_before(now, 40_000_000)
        self.requests = 0

    def handle(self, body: bytes) -> tuple[int, bytes]:
        payload = json.loads(body)
        self.requests += 1
        answer = (
            [self.answer(c) for c in payload] if isinstance(payload, list) else self.answer(payload)
        )
        return 200, json.dumps(answer).encode()

    def answer(self, call: dict) -> dict:
        method, params = call.get("method"), call.get("params") or []
        reply = {"jsonrpc": "2.0", "id": call.get("id")}
        if method == "eth_chainId":
            return reply | {"result": "0x1"}
        if method == "eth_blockNumber":
            return reply | {"result": hex(self.head)}
        if method == "eth_getBlockByNumber":
            tag = params[0]
            number = {"latest": self.head, "finalized": self.head - FINALITY}.get(tag)
            number = int(tag, 16) if number is None else number
            if number > self.head:
                return reply | {"result": None}
            return reply | {
                "result": {
                    "number": hex(number),
                    "timestamp": hex(timestamp(number)),
                    "hash": block_hash(number),
                }
            }
        return reply | {
            "error": {
                "code": -32601,
                "message": f"the method {method} does not exist/is not available",
            }
        }
