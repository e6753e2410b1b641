"""JSON-RPC access to one EVM chain: batches, adaptive log scans, closing blocks of days.

Transport is the project's one HTTP client (`HttpSource`): HTTP-level retries, Retry-After
and the request count come from there, and the URL (which often carries a provider key in
its path) is shown as scheme and host only. This module adds what JSON-RPC needs on top:
many calls per HTTP request (batches), and what real nodes refuse, read by kind
(`RpcError.kind`). Refusals that can succeed if asked differently are adapted to: rate
limits back off (at least as long as the provider asks: Infura's `backoff_seconds`, in a 200
or a 429 answer), a batch too large is halved, calls cut off by a batch answer's size limit
go again, an `eth_getLogs` range too wide or too full is cut where the node says or in half,
so a strict node yields the same logs as a generous one. Refusals that cannot (pruned
history, missing state, another chain, too many topic values) fail at once as
`NodeLimitError`, naming the node's limit and the setting to change: no retry loop hides
them. Each client checks `eth_chainId` with its first request (`expect_chain`).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import dagster as dg
import polars as pl
import requests
from eth_utils import keccak
from pydantic import PrivateAttr

from core.errors import SourceError, SourceTimeout
from core.resources.http import HttpSource, Undecodable

# java-tron serves state at "latest" only (TronJsonRpcImpl QUANTITY_NOT_SUPPORT_ERROR).
_LATEST_ONLY = "just support tag as latest"
# An eth_call's third parameter (a state override) refused: java-tron's jsonrpc4j answers
# -32602 "method parameters invalid" to a parameter more than the method takes
# (JsonRpcBasicServer, allowExtraParams false); geth before overrides "too many arguments".
_NO_OVERRIDE = ("method parameters invalid", "too many arguments")
# What a node's refusal means, by kind, from the messages real clients and providers send
# (lower-cased; first match wins). Only "rate", "batch", "response", "timeout" and "range"
# can succeed if asked again differently, and "gas" if the caller asks less of one call
# (extract.balances); every other refusal is permanent and fails at once.
_KINDS = (
    # rate limits whatever their code: QuickNode -32012 "credits limited to 6000/sec"
    # (foundry-rs/foundry#6712), OP proxyd -32016 "over rate limit" (proxyd server.go
    # ErrOverRateLimit), a 429 wrapped in -32000 "429 Too Many Requests: ..." (base/node#368):
    # read first, as "too many" would otherwise read as a range
    ("rate", ("rate limit", "credits limited", "too many requests")),
    ("pruned", ("pruned history",)),  # geth core/history PrunedHistoryError (code 4444)
    # geth: "missing trie node ... state 0x.. is not available" (go-ethereum #20874), path
    # scheme "historical state ... not available"; Erigon/Nethermind/providers similar
    # reth: "state at block #12369623 is pruned" (paradigmxyz/reth#21122); java-tron keeps
    # state at "latest" only: -32602 "QUANTITY not supported, just support TAG as latest"
    # (TronJsonRpcImpl QUANTITY_NOT_SUPPORT_ERROR)
    (
        "state",
        (
            "missing trie node",
            "historical state",
            "state not available",
            "old data not available",
            "is pruned",
            # Erigon 3 below its pruned history: "seek with txNum=N but data before txNum=M
            # is not available" (erigontech/erigon#13198)
            "data before txnum",
            _LATEST_ONLY,
        ),
    ),
    # geth "exceed max topics" (v1.14) / "exceed max addresses or topics per search position"
    # (v1.16.4), Erigon "query exceeds the maximum of 1000 addresses or topics ..."
    ("topics", ("max topics", "addresses or topics", "max addresses", "too many topics")),
    # geth -32600, Erigon, reth (jsonrpsee) "The batch request/response was too large"; public
    # endpoints refusing a whole batch with one answer (id null), 'Too many ["eth_getLogs"]
    # methods in the batch' (ethers-io/ethers.js#4128, AlphaWallet/alpha-wallet-ios#5021); a
    # body past a proxy's limit, OP proxyd HTTP 413 -32021 "request body too large" (proxyd
    # server.go ErrRequestBodyTooLarge, 256 KiB by default): fewer calls make a smaller body
    (
        "batch",
        (
            "batch too large",
            "batch limit",
            "batch size",
            "batch request",
            "methods in the batch",
            "body too large",
        ),
    ),
    # geth -32002: the calls of a batch still unanswered when its HTTP timeout struck
    ("timeout", ("request timed out",)),
    # the calls after a batch answer past the node's cap: geth -32003 (25 MB), Nethermind
    # -32005 "MaxBatchResponseBodySize of 32768KB exceeded" (JsonRpcProcessor)
    ("response", ("response too large", "maxbatchresponsebodysize")),
    # an eth_call too heavy for the node: past its gas cap, geth/Erigon/Nitro -32000 "out of
    # gas", reth "gas required exceeds" (assets/ingest/evm/contracts/BalanceReader reverts
    # "out of gas" first); call data alone costing more, geth "intrinsic gas too low"; or
    # past its eth_call timeout, geth/Erigon "execution aborted (timeout = 5s)"; since Prague
    # (EIP-7623) geth "insufficient gas for floor data gas cost"
    (
        "gas",
        (
            "out of gas",
            "gas required exceeds",
            "intrinsic gas",
            "floor data gas",
            "execution aborted",
        ),
    ),
    # eth_getLogs ranges and result caps: Infura "query returned more than 10000 results",
    # Alchemy "up to a 10 block range" / "Log response size exceeded", QuickNode "limited to
    # a 10,000 range", reth "query exceeds max block range 100000" / "max results 20000",
    # Ankr/BlockPI "block range is too large", query timeouts
    (
        "range",
        (
            "more than",
            "block range",
            "range is too",
            "too many blocks",
            "max block range",
            "max results",
            "log response size",
            "limited to a",
            "too large",
            "too many",
            "limit exceeded",
            "range",
            "timeout",
            "timed out",
        ),
    ),
)
# An Arbitrum Nitro node asked for state before its Nitro genesis with no classic node behind
# it (--execution.rpc.classic-redirect) answers this "missing trie node" of an all-zero root
# (OffchainLabs/go-ethereum core/types/arb_types.go fallbackErrorMsg; nitro#1964, #2156): a
# real missing node names its root. An archive node does not help; the classic chain does.
_NITRO_FLOOR = f"missing trie node {'0' * 64}"
NITRO_GENESIS = 22_207_817  # Arbitrum One's (chains.yaml arbitrum.anchor), the only one > 0
# Statuses some providers send a JSON-RPC refusal with, to be read by kind like a 200 answer:
# QuickNode answers its eth_getLogs range limit with HTTP 413 and error -32614
# (eternalsafe/wallet#57, OffchainLabs/arbitrum-sdk#609).
_REFUSAL_STATUSES = frozenset({400, 413})
# Rate limiting inside a 200 answer: Infura/Alchemy use -32005 and 429 with "rate" in the text.
_RATE_LIMITED_CODES = {-32005, -32029, -32090, 429}
# Where a rate limit says how long to wait: Infura's error.data.backoff_seconds (its docs, "Avoid
# rate limiting": HTTP 429, -32005 "project ID request rate exceeded", data {see, current_rps,
# allowed_rps, backoff_seconds: 30.0}); the live API has sent it as data.rate.backoff_seconds
# too, and 0 (INFURA/infura#201, ethers-rs#1711). Alchemy, QuickNode and Cloudflare send no such
# field: Alchemy and Cloudflare's 1015 say Retry-After, which HttpSource honours.
_HINT = "error.data.backoff_seconds"
# A provider's stated maximum range, when its refusal says it: Alchemy "up to a 10 block
# range" / "up to a 500 block range", reth "max block range 100000", QuickNode "limited to a
# 10,000 range", Infura's live API "range 1000000 exceeds limit of 10000" (INFURA/infura#237),
# java-tron "exceed max block range: 5000" (LogFilterWrapper, node.jsonrpc.maxBlockRange).
_STATED_SPAN = re.compile(
    r"(?:up to an? |max block range(?: = |: | )|max range: |limited to an? "
    r"|range \d+ exceeds limit of )"
    r"([\d,]+)(k?)\b"
)
# A suggested range: Infura "Try with this block range [0x1, 0x2]", Alchemy "this block
# range should work: [0x1, 0x2]", reth "retry with the range 22382105-22382515" (decimal).
_SUGGESTED = re.compile(r"(?:\[|range )(0x[0-9a-f]+|\d+)(?:,\s*|-)(0x[0-9a-f]+|\d+)\b")
# The fields of a log the extractors read. eth_getLogs answers are parsed by polars straight
# into these columns: a Python object per log (json.loads, then a frame built from lists)
# cost more than the node's own work on large scans (bench/extraction.py).
LOG_FIELDS = {
    "address": pl.Utf8,
    "blockNumber": pl.Utf8,
    "transactionHash": pl.Utf8,
    "logIndex": pl.Utf8,
    "topics": pl.List(pl.Utf8),
    "data": pl.Utf8,
}
_LOG_ANSWER = {
    "id": pl.Int64,
    "result": pl.List(pl.Struct(LOG_FIELDS)),
    "error": pl.Struct({"code": pl.Int64, "message": pl.Utf8}),
}


def _decode_log_answers(response: requests.Response) -> pl.DataFrame:
    """A batch of eth_getLogs answers as one row per answer (id, result, error), and
    `backoff` when a refusal asks to wait (_asked_wait)."""
    body = response.content
    if not body.strip():
        raise Undecodable("an empty body")
    if not body.lstrip().startswith(b"["):  # one answer: the whole batch refused
        body = b"[" + body + b"]"
    try:
        answers = pl.read_json(io.BytesIO(body), schema=_LOG_ANSWER)
    except pl.exceptions.PolarsError as exc:
        raise Undecodable(f"invalid JSON ({str(exc)[:80]})") from None
    # error.data has no fixed shape across nodes (a string, an object, ...), which the schema
    # cannot take: the hint is read apart, from the bodies that hold one (only refusals).
    if b"backoff_seconds" in body:
        answers = answers.with_columns(backoff=pl.lit(_asked_wait(json.loads(body)), pl.Float64))
    return answers


def _asked_wait(answer: Any) -> float | None:
    """The longest wait a JSON-RPC answer (or a batch of them) asks for (_HINT); None if none
    does. A hint of 0 asks for nothing: the client's own back-off applies."""
    waits = []
    for item in answer if isinstance(answer, list) else [answer]:
        error = item.get("error") if isinstance(item, dict) else None
        data = error.get("data") if isinstance(error, dict) else None
        if isinstance(data, dict) and isinstance(data.get("rate"), dict):
            data = data["rate"]
        wait = data.get("backoff_seconds") if isinstance(data, dict) else None
        if isinstance(wait, int | float) and not isinstance(wait, bool) and wait > 0:
            waits.append(float(wait))
    return max(waits, default=None)


def _asked_wait_http(response: requests.Response) -> tuple[float, str] | None:
    """What a retryable HTTP answer (Infura: 429) asks to wait in its body, for HttpSource."""
    try:
        wait = _asked_wait(response.json())
    except ValueError:  # not JSON: a gateway's page
        return None
    return (wait, _HINT) if wait else None


class RpcError(RuntimeError):
    def __init__(
        self,
        chain: str,
        method: str,
        params: Any,
        code: int | None,
        message: str,
        backoff: float | None = None,
    ):
        self.code, self.rpc_message = code, message
        self.method, self.params = method, params
        self.backoff = backoff  # seconds the node asks to wait before asking again (_HINT)
        super().__init__(f"rpc {chain}: {method}{_short(params)} failed: error {code}: {message}")

    @property
    def before_nitro(self) -> bool:
        """State asked of an Arbitrum Nitro node below its Nitro genesis (_NITRO_FLOOR)."""
        return _NITRO_FLOOR in self.rpc_message

    @property
    def latest_only(self) -> bool:
        """State asked at a numbered block of a node serving it at "latest" only (java-tron)."""
        return _LATEST_ONLY in self.rpc_message.lower()

    @property
    def kind(self) -> str:
        """rate | pruned | state | topics | batch | timeout | response | gas | range | other."""
        text = self.rpc_message.lower()
        if self.code == 429 or self.code in _RATE_LIMITED_CODES and "rate" in text:
            return "rate"
        if self.code == 4444:
            return "pruned"
        if "canceled due to enabled timeout" in text:
            # Nethermind -32016 "<method> request was canceled due to enabled timeout." for any
            # method (JsonRpcService): an eth_call too heavy, or a log scan too wide
            return "gas" if self.method in ("eth_call", "eth_estimateGas") else "range"
        return next((kind for kind, markers in _KINDS if any(m in text for m in markers)), "other")


class NodeLimitError(SourceError):
    """The node refuses for good (pruned history, missing state, another chain, too many
    topic values, a log range too narrow for the window): asking again cannot help. The
    message names the node's limit and the setting to change."""


# What a call of a batch that found no HTTP answer in time carries (SourceTimeout).
_TIMEOUT_TEXT = "the HTTP request found no answer in time"


def _http_timeout(errors: list) -> bool:
    return bool(errors) and all(_TIMEOUT_TEXT in exc.rpc_message for exc, _ in errors)


def _short(params: Any) -> str:
    text = repr(params)
    return "(" + (text if len(text) < 200 else text[:200] + "...") + ")"


@dataclass(frozen=True)
class Head:
    """What the node says about its chain in one request."""

    latest: int
    finalized: dict | None  # header of the 'finalized' block; None if the tag is unknown
    anchor: dict | None  # header of the anchor block; None if the node has no such block


class EvmRpc(dg.ConfigurableResource):
    """One EVM chain's JSON-RPC endpoint (URL from an environment variable via EnvVar)."""

    chain: str
    url: str
    # Calls per JSON-RPC batch. Nodes cap it (geth 1,000, Erigon 100); a refusal halves it.
    batch_size: int = 100
    # Nodes refuse large bodies (geth: 5 MiB; providers: a few MB): a batch is cut at
    # this many bytes of call parameters as well as at batch_size calls.
    max_request_bytes: int = 1_000_000
    # First eth_getLogs range tried, in blocks; narrowed to what the node accepts.
    max_log_blocks: int = 50_000
    # eth_getLogs calls one read may take once the node's range limit is known: a provider
    # tier allowing 10-block ranges needs ~720 calls per filter per mainnet day, so a long
    # backfill there fails at once instead of running for days.
    max_log_requests: int = 20_000
    # Where balances and supply at old closing blocks come from: "state" (eth_call at the
    # block: needs an archive node) or "logs" (state at a recent block, rewound with logs:
    # works on a full node). Set from STABLEFLOW_<CHAIN>_BALANCES.
    balances: Literal["state", "logs"] = "state"
    max_attempts: int = 5
    backoff_s: float = 1.0
    # The longest one back-off: a provider asking for more fails at once (HttpSource.back_off).
    # Infura asks 30 s per burst; a longer ask is a quota spent for hours, not a burst.
    max_backoff_s: float = 60.0
    timeout_s: float = 60.0

    _http: HttpSource | None = PrivateAttr(default=None)
    _next_id: int = PrivateAttr(default=0)
    _log_splits: int = PrivateAttr(default=0)
    _batch_limit: int | None = PrivateAttr(default=None)
    _span_limit: int | None = PrivateAttr(default=None)
    _pairs_limit: int | None = PrivateAttr(default=None)  # balances per eth_call that fit
    _expected_chain: tuple[int, str] | None = PrivateAttr(default=None)
    _chain_checked: bool = PrivateAttr(default=False)

    @property
    def http(self) -> HttpSource:
        if self._http is None:
            self._http = HttpSource(
                name=f"rpc {self.chain}",
                base_url=self.url,
                hide_path=True,
                max_attempts=self.max_attempts,
                backoff_s=self.backoff_s,
                max_backoff_s=self.max_backoff_s,
                timeout_s=self.timeout_s,
            )
        return self._http

    @property
    def requests_made(self) -> int:
        """HTTP requests sent to the node (a batch of calls is one request)."""
        return self.http.requests_made

    @property
    def log_splits(self) -> int:
        return self._log_splits

    @property
    def balances_setting(self) -> str:
        return f"STABLEFLOW_{self.chain.upper()}_BALANCES"

    def expect_chain(self, chain_id: int, setting: str) -> None:
        """Check, with the next request, that the node serves chain `chain_id`; `setting`
        names where its URL comes from, for the error message."""
        if self._expected_chain != (chain_id, setting):
            self._expected_chain, self._chain_checked = (chain_id, setting), False

    def call(self, method: str, params: Sequence[Any]) -> Any:
        return self.batch([(method, params)])[0]

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]], errors: str = "raise") -> list[Any]:
        """Results of `calls`, in order, in as few HTTP requests as the node's batch and
        body limits allow. With errors="return", a call the node refuses for good yields
        its RpcError in place of a result instead of raising."""
        check = self._expected_chain is not None and not self._chain_checked
        if check:  # rides along with the first request: no extra round trip
            calls = [("eth_chainId", []), *calls]
        results: list[Any] = [None] * len(calls)
        pending, rate_rounds = list(range(len(calls))), 0
        while pending:
            chunk = next(self._chunks(pending, lambda i: calls[i][1]))
            replies = self.send([calls[i] for i in chunk])
            if check and chunk[0] == 0 and not isinstance(replies[0], RpcError):
                self._check_chain(replies[0])  # before any other answer is looked at
            again, limited = [], []
            if any(isinstance(r, RpcError) and r.kind == "batch" for r in replies):
                self._shrink_batch(len(chunk), replies)
                again = chunk
            else:
                for i, reply in zip(chunk, replies):
                    kind = reply.kind if isinstance(reply, RpcError) else None
                    if kind in ("rate", "response", "timeout"):
                        again.append(i)
                        limited += [reply] if kind == "rate" else []
                    elif kind is not None and (errors == "raise" or check and i == 0):
                        raise self._permanent(reply)
                    else:
                        results[i] = reply
                if len(again) == len(chunk) and not limited:  # no answer fitted at all
                    self._shrink_batch(len(chunk), replies)
            pending = again + pending[len(chunk) :]
            rate_rounds = rate_rounds + 1 if limited and len(again) == len(chunk) else 0
            if limited:
                self._rate_back_off(limited, rate_rounds)
        if check:
            results.pop(0)
        return results

    def pairs_per_call(self, most: int) -> int:
        """Balances (token-address pairs) to read in one eth_call: `most`, or fewer once a
        call of more ran out of the gas the node lets an eth_call burn."""
        return min(most, self._pairs_limit or most)

    def out_of_gas(self, error: RpcError, pairs: int, fewest: int) -> None:
        """After a call of `pairs` balances was too heavy for the node (`error`: out of gas,
        or past its eth_call timeout), read half as many per call from now on; at `fewest`
        (one address's) nothing smaller can be asked."""
        if pairs > fewest:
            self._pairs_limit = pairs // 2
            return
        timeout = ("execution aborted", "canceled due to enabled timeout")
        too = (
            "take longer than the node lets an eth_call run: raise its timeout (geth "
            "--rpc.evmtimeout, 5 s by default; Nethermind JsonRpc.Timeout) or use a node that "
            "reads old state faster"
            if any(t in error.rpc_message for t in timeout)
            else "need more gas than the node lets an eth_call burn: raise its cap (geth and "
            "Erigon --rpc.gascap, Arbitrum Nitro --execution.rpc.gas-cap; 50M by default) or "
            "use another node"
        )
        raise NodeLimitError(f"{error}. Even one address's {fewest} balances {too}.")

    def _rate_back_off(self, limited: list[RpcError], rounds: int) -> None:
        """Wait before asking again for calls refused by rate limits, at least as long as the
        provider asks; give up after max_attempts `rounds` in a row of a whole batch refused.
        Only those count: a long read on a metered provider meets many, each cured by its
        back-off."""
        error = max(limited, key=lambda e: e.backoff or 0)  # the one asking the longest wait
        if rounds == self.max_attempts:
            asked = f"; the provider asked to back off {error.backoff:g} s" if error.backoff else ""
            raise SourceError(f"{error} (still rate limited after {rounds} attempts{asked})")
        self.http.back_off(
            max(rounds, 1), error.backoff, f"{_HINT} of error {error.code}: {error.rpc_message}"
        )

    def _shrink_batch(self, sent: int, replies: list) -> None:
        """Halve the batch after the node refused one of `sent` calls as too large."""
        if sent == 1:
            raise self._permanent(next(r for r in replies if isinstance(r, RpcError)))
        self._batch_limit = max(1, min(self._batch_limit or self.batch_size, sent) // 2)

    def _check_chain(self, answer: Any) -> None:
        expected, setting = self._expected_chain
        try:
            actual = int(answer, 16)
        except (TypeError, ValueError):
            raise NodeLimitError(
                f"rpc {self.chain}: eth_chainId answered {answer!r}, not a hex number"
            ) from None
        if actual != expected:
            raise NodeLimitError(
                f"rpc {self.chain}: the node at {setting} serves chain id {actual}, but "
                f"chains.yaml says {self.chain}.chain_id = {expected}: it is a node of another "
                f"network. Point {setting} at a {self.chain} node; nothing was read."
            )
        self._chain_checked = True

    def _permanent(self, error: RpcError) -> Exception:
        """The error to raise for a refusal that asking again cannot cure."""
        kind, chain = error.kind, self.chain
        if kind == "pruned":
            return NodeLimitError(
                f"{error}. The node has pruned this part of the chain's history (EIP-4444 "
                f"history expiry, e.g. geth --history.chain postmerge keeps blocks from the "
                f"Merge on). Use a node that keeps all history (geth --history.chain all, or a "
                f"provider's archive tier), or set STABLEFLOW_START_DATE after the node's "
                f"first block."
            )
        if kind == "state" and error.before_nitro:
            at = error.params[1] if len(error.params) > 1 else None  # eth_call(call, block)
            block = f"block {int(at, 16):,}" if str(at).startswith("0x") else "that block"
            return NodeLimitError(
                f"{error}. That is an Arbitrum Nitro node asked for state before its Nitro "
                f"genesis, below which Nitro executes nothing, archive node or not (Arbitrum "
                f"One's floor: block {NITRO_GENESIS:,}, 2022-08-31 14:32 UTC); it still serves "
                f"the blocks and logs. State at {block} needs a classic (pre-Nitro) Arbitrum "
                f"node: run Nitro with --execution.rpc.classic-redirect=<a classic archive "
                f"node>, or read balances and supply from logs ({self.balances_setting}=logs), "
                f"or set STABLEFLOW_START_DATE to 2022-08-31 or later."
            )
        if kind == "state" and error.latest_only:
            return NodeLimitError(
                f"{error}. The node serves state at its newest block only ('latest'), never at "
                f"a numbered block, archive or not: java-tron's JSON-RPC (TRON). Balances and "
                f"supply are read at closing blocks ({self.balances_setting}=state) or at the "
                f"final block ({self.balances_setting}=logs), both numbered: this node serves "
                f"neither. Its logs still serve flows and issuance."
            )
        if kind == "state" and self.balances == "logs":
            return NodeLimitError(
                f"{error}. Balances are already read from logs, from the state at the final "
                f"block, and the node keeps none there either: finality lags further behind "
                f"the head than the node keeps state (a geth full node: 128 blocks). Retry once "
                f"the chain finalises again, or use an archive node."
            )
        if kind == "state":
            return NodeLimitError(
                f"{error}. The node has no state at that block: it is not an archive node (a "
                f"geth full node keeps the state of the newest 128 blocks only). Use an "
                f"archive node, or read balances and supply from logs instead: "
                f"{self.balances_setting}=logs (README, 'Live mode')."
            )
        if (
            error.method == "eth_call"
            and len(error.params) > 2
            and any(m in error.rpc_message.lower() for m in _NO_OVERRIDE)
        ):
            return NodeLimitError(
                f"{error}. The node takes no third eth_call parameter, the state override "
                f"that places the balance reader (assets/ingest/evm/contracts/BalanceReader.sol) "
                f"for the call (java-tron takes two, as geth did before overrides). Use a node "
                f"that takes state overrides (geth, Erigon, Nethermind, reth, Nitro and the "
                f"providers in front of them)."
            )
        if kind == "topics":
            return NodeLimitError(
                f"{error}. The node takes fewer values in one topic position than were sent "
                f"(geth, Erigon and java-tron take 1,000; providers may take fewer): lower "
                f"chains.yaml {chain}.max_topic_values."
            )
        if kind == "batch":
            return NodeLimitError(f"{error}. The node refuses even a batch of one call.")
        if kind == "timeout" and _TIMEOUT_TEXT in error.rpc_message:
            return NodeLimitError(
                f"{error}. Even one block's logs found no answer in time: raise the client's "
                f"timeout ({self.timeout_s:g} s) or use a node that answers faster."
            )
        return error

    def _chunks(
        self, calls: Sequence[Any], params=lambda call: call[1], limit: int | None = None
    ) -> Iterator[list]:
        """`calls` cut into batches of at most `limit` (default: the batch limit) calls and
        max_request_bytes of parameters."""
        limit = limit or self._batch_limit or self.batch_size
        chunk: list = []
        size = 0
        for call in calls:
            call_size = len(json.dumps(params(call)))
            if chunk and (len(chunk) == limit or size + call_size > self.max_request_bytes):
                yield chunk
                chunk, size = [], 0
            chunk.append(call)
            size += call_size
        if chunk:
            yield chunk

    def send(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """One HTTP request (the transport's retries aside), nothing adapted or retried: each
        call's result, or its RpcError. A malformed reply (not an object, an error that is not
        an object or has no message) is read as that call's answer, never raised."""
        first = self._next_id
        self._next_id += len(calls)
        body = [
            {"jsonrpc": "2.0", "id": first + i, "method": m, "params": list(p)}
            for i, (m, p) in enumerate(calls)
        ]
        answer = self.http.post_json(
            "",
            body if len(body) > 1 else body[0],
            answer_statuses=_REFUSAL_STATUSES,
            wait_hint=_asked_wait_http,
        )
        answers = answer if isinstance(answer, list) else [answer]
        whole = answers[0] if len(answers) == 1 and isinstance(answers[0], dict) else None
        if whole is not None and "error" in whole and whole.get("id") is None:
            answers = [whole] * len(calls)  # the whole batch was refused
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        # By position only when no answer carries an id asked (a server that drops or rewrites
        # them all): where some do, an answer whose id is missing or rewritten (GetBlock's
        # "gbiid:..." ids) may be any call's, and a load balancer orders them as they come.
        ids = set(range(first, first + len(calls)))
        positional = len(answers) == len(calls) and not ids & by_id.keys()
        out = []
        for i, (method, params) in enumerate(calls):
            reply = by_id.get(first + i) or (answers[i] if positional else None)
            if not isinstance(reply, dict):
                out.append(RpcError(self.chain, method, params, None, "no answer in batch"))
            elif reply.get("error") is not None:  # some servers send "error": null on success
                err = reply["error"] if isinstance(reply["error"], dict) else {}
                out.append(
                    RpcError(
                        self.chain,
                        method,
                        params,
                        err.get("code"),
                        str(err.get("message", reply["error"])),
                        backoff=_asked_wait(reply),
                    )
                )
            else:
                out.append(reply.get("result"))
        return out

    # --- helpers built on batch -------------------------------------------------------

    def headers(self, numbers: Iterable[int]) -> dict[int, dict]:
        """Block headers by number: {number: {"number", "timestamp", "hash"}}."""
        wanted = sorted(set(numbers))
        blocks = self.batch([("eth_getBlockByNumber", [hex(n), False]) for n in wanted])
        out = {}
        for number, block in zip(wanted, blocks):
            if block is None:
                raise RpcError(
                    self.chain, "eth_getBlockByNumber", [hex(number)], None, "block not found"
                )
            out[number] = _header(block)
        return out

    def head(self, anchor: int | None = None) -> Head:
        """Newest block, 'finalized' header and the anchor's header, in one request."""
        calls = [("eth_blockNumber", []), ("eth_getBlockByNumber", ["finalized", False])]
        calls += [("eth_getBlockByNumber", [hex(anchor), False])] if anchor is not None else []
        latest, finalized, *rest = self.batch(calls, errors="return")
        if isinstance(latest, RpcError):
            raise self._permanent(latest)
        # A node without the tag refuses it ("unknown block", invalid params) or answers null.
        finalized = None if isinstance(finalized, RpcError) or not finalized else _header(finalized)
        anchor_header = rest[0] if rest else None
        if isinstance(anchor_header, RpcError):
            if anchor_header.kind != "pruned":  # a node without old blocks: search without it
                raise self._permanent(anchor_header)
            anchor_header = None
        return Head(int(latest, 16), finalized, _header(anchor_header) if anchor_header else None)

    def check_logs_held(self, block: int, addresses: Sequence[str]) -> None:
        """After eth_getLogs answered no log of `addresses` in `block`: fail unless the node
        does hold them.

        A node whose receipts are pruned may answer eth_getLogs over the pruned blocks with an
        empty list instead of an error: reth with receipt pruning (paradigmxyz/reth#21122:
        "returns an empty array"; a later release refuses instead, reth#27002) and Erigon
        full nodes asked with an address filter (erigontech/erigon#16042, #23322). Read as "no
        events", that writes zero mints, burns and flows. The block's header tells: a token its
        logsBloom names (a bloom has no false negatives) is a suspect. A bloom also matches by
        chance (false positives grow with a block's logs), so a suspect is confirmed by the
        block's receipts, a second request made only then: the node fails if they are gone or
        hold the token's logs eth_getLogs left out. A header whose bloom tells nothing
        (bloom_blind) makes every token a suspect."""
        (header,) = self.batch([("eth_getBlockByNumber", [hex(block), False])], errors="return")
        if isinstance(header, RpcError):
            raise self._permanent(header)
        suspects = bloom_suspects(header, [], addresses)
        if not suspects:
            return
        missing = receipts_missing(block, suspects, self._receipts(block, header), header)
        if missing:
            raise NodeLimitError(f"rpc {self.chain}: {missing}. {RECEIPTS_ADVICE}")

    def _receipts(self, block: int, header: dict) -> Any:
        """The receipts of `block`: eth_getBlockReceipts, or on a node without it (-32601:
        geth before 1.13, java-tron before 2025, java-tron#5910) eth_getTransactionReceipt of
        each of the header's transactions, batched; None if one is gone (null), else the
        refusal."""
        (receipts,) = self.batch([("eth_getBlockReceipts", [hex(block)])], errors="return")
        hashes = header.get("transactions")
        if not _unsupported(receipts) or not isinstance(hashes, list):
            return receipts
        asked = [("eth_getTransactionReceipt", [h]) for h in hashes if isinstance(h, str)]
        answers = self.batch(asked, errors="return") if asked else []
        refused = next((a for a in answers if isinstance(a, RpcError)), None)
        return refused or (None if None in answers else answers)

    def eth_calls(
        self, calls: Sequence[tuple[str, str, int]], code: dict[str, str] | None = None
    ) -> list[str]:
        """Return data of (to, data, block_number) eth_calls, batched; `code` overrides
        the code at some addresses for these calls only (state override)."""
        override = (
            [{address: {"code": runtime} for address, runtime in code.items()}] if code else []
        )
        return self.batch(
            [
                ("eth_call", [{"to": to, "data": data}, hex(block), *override])
                for to, data, block in calls
            ]
        )

    def get_logs(
        self,
        queries: Sequence[tuple[str | list[str], list[Any]]],
        first: int,
        last: int,
        held: Sequence[str] = (),
    ) -> pl.DataFrame:
        """Every log matching each (address, topics) filter in blocks first..last: one frame
        with LOG_FIELDS and `query` (the filter's index), in filter and block-range order.

        Ranges of every filter go out together in JSON-RPC batches. A range the node refuses
        as too wide or too full is cut where the node says (a stated maximum range applies to
        every range still to read, a suggested range to that one) or else halved, so a strict
        node yields the same rows as a generous one; rate limits are retried after a
        back-off; permanent refusals (pruned history, too many topic values) fail at once.

        With `held` (token addresses), the read makes sure the node holds the logs it scans:
        their every log in block `first` rides along in the first batch, and only when none
        comes back does check_logs_held ask the block's header (and receipts)."""
        if self._expected_chain is not None and not self._chain_checked:
            self.batch([])
        span = min(self.max_log_blocks, self._span_limit or self.max_log_blocks)
        probe = len(queries)  # the index of `held`'s query, if any
        queries = [*queries, (list(held), [])] if held else list(queries)
        pending = [
            (q, lo, min(lo + span - 1, last))
            for q in range(probe)
            for lo in range(first, last + 1, span)
        ] + ([(probe, first, first)] if held else [])
        probed_full = False  # the probe's block held more logs than the node answers at once
        if self._span_limit is not None:  # learnt earlier: a read too long fails before it starts
            self._within_budget(len(pending), first, last)
        found: dict[tuple[int, int], pl.DataFrame] = {}
        limited_rounds, calls = 0, 0
        # Calls per batch for this read: a batch answer too big for the node (geth: 25 MB)
        # lowers it to what fitted, a whole batch answered grows it back.
        limit = self._batch_limit or self.batch_size
        while pending:
            chunk = next(self._chunks(pending, lambda item: queries[item[0]], limit))
            pending = pending[len(chunk) :]
            params = [
                [
                    {
                        "address": queries[q][0],
                        "topics": queries[q][1],
                        "fromBlock": hex(lo),
                        "toBlock": hex(hi),
                    }
                ]
                for q, lo, hi in chunk
            ]
            calls += len(chunk)
            logs, errors = self._send_log_queries(chunk, params)
            found.update(logs)
            again, limited, rate_errors = [], [], []
            if any(exc.kind == "batch" for exc, _ in errors):  # the node's batch limit
                self._shrink_batch(len(chunk), [exc for exc, _ in errors])
                limit = self._batch_limit
                pending = [item for _, item in errors] + pending
                continue
            if len(chunk) > 1 and _http_timeout(errors):
                # One slow scan holds up the whole batch's answer: find it with fewer calls
                # per request first; only a call alone that still finds no answer is narrowed.
                limit = len(chunk) // 2
                pending = [item for _, item in errors] + pending
                continue
            cut = sum(exc.kind == "response" for exc, _ in errors)
            if cut == len(chunk):
                if len(chunk) == 1:
                    raise self._permanent(errors[0][0])
                limit = len(chunk) // 2  # no answer fitted at all
            elif cut:
                limit = len(chunk) - cut
            elif not errors:
                limit = min(2 * limit, self._batch_limit or self.batch_size)
            for exc, (q, lo, hi) in errors:
                if q == probe and exc.kind == "range":
                    probed_full = True  # too many logs to answer: the node holds them
                elif exc.kind == "rate":
                    limited.append((q, lo, hi))
                    rate_errors.append(exc)
                elif exc.kind == "response":
                    again.append((q, lo, hi))
                elif hi > lo and exc.kind in ("range", "timeout"):
                    self._log_splits += 1
                    again += self._narrow(exc, q, lo, hi)
                else:
                    raise self._permanent(exc)
            if self._span_limit is not None:
                again, pending = self._recut(again), self._recut(pending)
                self._within_budget(calls + len(again) + len(pending), first, last)
            pending = again + limited + pending
            limited_rounds = limited_rounds + 1 if len(limited) == len(chunk) else 0
            if limited:
                self._rate_back_off(rate_errors, limited_rounds)
        probed = found.pop((probe, first), None)
        if held and not probed_full and (probed is None or probed.height == 0):
            self.check_logs_held(first, held)
        frames = [found[key].with_columns(query=pl.lit(key[0], pl.Int64)) for key in sorted(found)]
        empty = pl.DataFrame(schema={**LOG_FIELDS, "query": pl.Int64})
        return pl.concat([empty, *frames], how="vertical_relaxed") if frames else empty

    def _send_log_queries(
        self, chunk: list[tuple[int, int, int]], params: list
    ) -> tuple[dict[tuple[int, int], pl.DataFrame], list]:
        """One batch of eth_getLogs calls: the logs of each answered (query, first block), and
        (RpcError, (query, first, last)) for each refused one."""
        first_id = self._next_id
        self._next_id += len(chunk)
        try:
            answers = self.http.post_json(
                "",
                [
                    {"jsonrpc": "2.0", "id": first_id + i, "method": "eth_getLogs", "params": p}
                    for i, p in enumerate(params)
                ],
                decode=_decode_log_answers,
                answer_statuses=_REFUSAL_STATUSES,
                split_on_timeout=True,
                wait_hint=_asked_wait_http,
            )
        except SourceTimeout as exc:
            # A scan too wide for the node's or its gateway's time (geth answers nothing,
            # go-ethereum#20426; circlefin/arc-node#83): every call of the batch is a
            # timeout, and get_logs asks for fewer calls over narrower ranges.
            message = f"request timed out: {_TIMEOUT_TEXT} ({exc})"
            return {}, [
                (RpcError(self.chain, "eth_getLogs", p, None, message), item)
                for item, p in zip(chunk, params)
            ]
        refused_all = answers.height == 1 and answers["id"][0] is None
        backoff = answers["backoff"][0] if "backoff" in answers.columns else None
        by_id = {row[0]: i for i, row in enumerate(answers.select("id").iter_rows())}
        found, errors = {}, []
        for i, ((q, lo, hi), p) in enumerate(zip(chunk, params)):
            row = 0 if refused_all else by_id.get(first_id + i)
            error = (
                answers["error"][row]
                if row is not None
                else {"code": None, "message": "no answer in batch"}
            )
            if error is None and answers["result"][row] is None:
                error = {"code": None, "message": "no result"}
            if error is None:
                # an empty list explodes to one null row
                found[(q, lo)] = (
                    answers[row]
                    .select(pl.col("result").explode())
                    .filter(pl.col("result").is_not_null())
                    .unnest("result")
                )
            else:
                errors.append(
                    (
                        RpcError(
                            self.chain,
                            "eth_getLogs",
                            p,
                            error["code"],
                            str(error["message"]),
                            backoff=backoff,
                        ),
                        (q, lo, hi),
                    )
                )
        return found, errors

    def _within_budget(self, needed: int, first: int, last: int) -> None:
        if needed > self.max_log_requests:
            raise NodeLimitError(
                f"rpc {self.chain}: the node serves eth_getLogs over at most "
                f"{self._span_limit:,} blocks a call, so blocks {first:,}..{last:,} need about "
                f"{needed:,} calls (this resource's max_log_requests is "
                f"{self.max_log_requests:,}). Use a node or provider tier with wider log ranges "
                f"(README, 'Live mode'), ingest fewer days per run, or raise max_log_requests. "
                f"Nothing was written."
            )

    def _narrow(self, error: RpcError, q: int, lo: int, hi: int) -> list[tuple[int, int, int]]:
        """Smaller ranges for a range the node refused, from what its message says."""
        text = error.rpc_message.lower()
        # Alchemy's paid tiers offer a choice ("up to a 2K block range ..., or any block range
        # with a cap of 10K logs"): not a hard range limit, so only the suggested range is used.
        stated = None if "cap of" in text else _STATED_SPAN.search(text)
        if stated:
            limit = int(stated.group(1).replace(",", "")) * (1000 if stated.group(2) else 1)
            if 0 < limit < hi - lo + 1:
                self._span_limit = min(self._span_limit or limit, limit)
                return self._recut([(q, lo, hi)])
        if suggested := _SUGGESTED.search(text):
            start, end = (_block_number(suggested.group(g)) for g in (1, 2))
            if start == lo and lo <= end < hi:
                return [(q, lo, end), (q, end + 1, hi)]
        mid = (lo + hi) // 2
        return [(q, lo, mid), (q, mid + 1, hi)]

    def _recut(self, items: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
        span = self._span_limit
        return [
            (q, start, min(start + span - 1, hi))
            for q, lo, hi in items
            for start in range(lo, hi + 1, span)
        ]


def _block_number(text: str) -> int:
    return int(text, 16) if text.startswith("0x") else int(text)


def _header(block: dict) -> dict:
    return {
        "number": int(block["number"], 16),
        "timestamp": int(block["timestamp"], 16),
        "hash": block["hash"],
    }


RECEIPTS_ADVICE = (
    "Use a node that keeps every receipt and indexes every block's logs (an archive node: "
    "reth without --full, Erigon --prune.mode=archive; java-tron synced with its JSON-RPC on, "
    "java-tron#6384), or start the window later (STABLEFLOW_START_DATE): read as is, its "
    "empty answers would be days without events"
)


def bloom_suspects(header: Any, logs: Any, addresses: Sequence[str]) -> list[str]:
    """The addresses a block's header says may have logged in it (its logsBloom; every one
    when the bloom tells nothing, bloom_blind) of which the node's eth_getLogs answer holds
    none; none when that answer is not a list (a result cap: there are logs) or there is no
    header to tell by."""
    if not isinstance(header, dict) or not isinstance(logs, list):
        return []
    bloom, blind = header.get("logsBloom") or "", bloom_blind(header)
    logged = {str(log.get("address", "")).lower() for log in logs if isinstance(log, dict)}
    return [a for a in addresses if a.lower() not in logged and (blind or bloom_has(bloom, a))]


def bloom_blind(header: Any) -> bool:
    """Whether a block's header cannot tell which addresses logged in it: its logsBloom is
    missing or all zeros while the block holds transactions. java-tron writes 256 zero bytes
    in every header ("no value": BlockResult), and EIP-7668 would have Ethereum do the same.
    On a chain with real blooms only a block whose transactions logged nothing looks so: on
    Ethereum a rare block, asked about once per scan part at most."""
    if not isinstance(header, dict):
        return False
    bloom = str(header.get("logsBloom") or "0x").lower()
    zero = not bloom.removeprefix("0x").strip("0")
    return zero and header.get("transactions") != []


def _unsupported(answer: Any) -> bool:
    """A method the node does not have: -32601, or words saying so."""
    return isinstance(answer, RpcError) and (
        answer.code == -32601 or "method" in answer.rpc_message.lower()
    )


def receipts_missing(block: int, suspects: Sequence[str], receipts: Any, header: Any) -> str | None:
    """What is wrong when eth_getLogs answered no log of `suspects` in `block` and its
    receipts (EvmRpc._receipts) are gone (null, or refused as pruned or missing state) or
    hold logs of them; None when the receipts hold none (the bloom matched by chance) or
    cannot be had (nothing to confirm with). `header`: the block's, whose logsBloom named
    the suspects or told nothing (bloom_blind)."""
    where = (
        f"block {block:,}'s header has an all-zero logsBloom (a block that logged nothing, or "
        f"a node that fills in no blooms, as java-tron), so its receipts were read, and "
        f"eth_getLogs"
        if bloom_blind(header)
        else f"block {block:,}'s header names {suspects[0]} in its logsBloom, and eth_getLogs"
    )
    if isinstance(receipts, RpcError):
        # a refusal of the receipts themselves says they are gone
        gone = receipts.kind in ("pruned", "state") or "receipt" in receipts.rpc_message.lower()
        if _unsupported(receipts) or not gone:
            return None
        return f"{where} answered none: its receipts are pruned ({receipts.rpc_message})"
    if receipts is None:
        return f"{where} answered none: its receipts are pruned (the node answered null)"
    held = {
        str(log.get("address", "")).lower()
        for receipt in receipts
        if isinstance(receipt, dict)
        for log in receipt.get("logs") or []
        if isinstance(log, dict)
    }
    found = [a for a in suspects if a.lower() in held]
    if found:
        return (
            f"{where} answered none of its logs, which the block's receipts hold: the node's "
            f"log index lacks the block (an Erigon full node answers address-filtered queries "
            f"so, and java-tron blocks from before its log index was built: java-tron#6384)"
        )
    return None


def bloom_has(bloom: str, address: str) -> bool:
    """Whether a block's logsBloom (2048 bits, hex) may hold logs of `address`: the three bits
    of keccak(address) (bytes 0-1, 2-3, 4-5, each mod 2048) are set (yellow paper, M3:2048).
    False means it emitted none; True, probably some."""
    if len(bloom) != 2 + 512:
        return False
    bits = int(bloom, 16)
    digest = keccak(bytes.fromhex(address[2:]))
    return all(bits >> (int.from_bytes(digest[i : i + 2], "big") & 2047) & 1 for i in (0, 2, 4))


def midnight(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())
