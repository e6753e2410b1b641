"""JSON-RPC access to one EVM chain: batches, adaptive log scans, closing blocks of days.

Transport is the project's one HTTP client (`HttpSource`): HTTP-level retries, Retry-After
and the request count come from there, and the URL (which often carries a provider key in
its path) is shown as scheme and host only. This module adds what JSON-RPC needs on top:
many calls per HTTP request (batches), retries of rate-limit errors that arrive inside a
200 answer, and `eth_getLogs` scans that split a block range in half whenever the node
refuses it as too large, so the same logs come back from any node.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any, Iterable, Iterator, Sequence

import dagster as dg
import polars as pl
import requests
from pydantic import PrivateAttr

from pipelines.resources.http import HttpSource, SourceError, Undecodable

# Messages nodes use when an eth_getLogs range or result set is too large (geth, erigon,
# Infura, Alchemy, QuickNode, Ankr, ...): any of them means "ask for a smaller range".
_TOO_LARGE = ("range", "too many", "more than", "limit exceeded", "too large", "10000",
              "exceed", "timeout")
# Rate limiting inside a 200 answer: Infura/Alchemy use -32005 and 429 with "rate" in the text.
_RATE_LIMITED_CODES = {-32005, -32029, -32090, 429}
# The fields of a log the extractors read. eth_getLogs answers are parsed by polars straight
# into these columns: a Python object per log (json.loads, then a frame built from lists)
# cost more than the node's own work on large scans (bench/extraction.py).
LOG_FIELDS = {"blockNumber": pl.Utf8, "transactionHash": pl.Utf8, "logIndex": pl.Utf8,
              "topics": pl.List(pl.Utf8), "data": pl.Utf8}
_LOG_ANSWER = {"id": pl.Int64, "result": pl.List(pl.Struct(LOG_FIELDS)),
               "error": pl.Struct({"code": pl.Int64, "message": pl.Utf8})}


def _decode_log_answers(response: requests.Response) -> pl.DataFrame:
    """A batch of eth_getLogs answers as one row per answer (id, result, error)."""
    body = response.content
    if not body.strip():
        raise Undecodable("an empty body")
    if not body.lstrip().startswith(b"["):  # one answer: the whole batch refused
        body = b"[" + body + b"]"
    try:
        return pl.read_json(io.BytesIO(body), schema=_LOG_ANSWER)
    except pl.exceptions.PolarsError as exc:
        raise Undecodable(f"invalid JSON ({str(exc)[:80]})") from None


class RpcError(RuntimeError):
    def __init__(self, chain: str, method: str, params: Any, code: int | None, message: str):
        self.code, self.rpc_message = code, message
        super().__init__(f"rpc {chain}: {method}{_short(params)} failed: "
                         f"error {code}: {message}")


def _short(params: Any) -> str:
    text = repr(params)
    return "(" + (text if len(text) < 200 else text[:200] + "...") + ")"


def _rate_limited(error: RpcError) -> bool:
    return error.code in _RATE_LIMITED_CODES and "rate" in error.rpc_message.lower() \
        or error.code == 429


def _too_large(error: RpcError) -> bool:
    text = error.rpc_message.lower()
    return any(marker in text for marker in _TOO_LARGE)


class EvmRpc(dg.ConfigurableResource):
    """One EVM chain's JSON-RPC endpoint (URL from an environment variable via EnvVar)."""

    chain: str
    url: str
    batch_size: int = 100
    # Nodes refuse large bodies (anvil: ~2 MB; providers: a few MB): a batch is cut at
    # this many bytes of call parameters as well as at batch_size calls.
    max_request_bytes: int = 1_000_000
    # First eth_getLogs range tried, in blocks; halved on refusal, never below 1.
    max_log_blocks: int = 50_000
    max_attempts: int = 5
    backoff_s: float = 1.0
    timeout_s: float = 60.0

    _http: HttpSource | None = PrivateAttr(default=None)
    _next_id: int = PrivateAttr(default=0)
    _log_splits: int = PrivateAttr(default=0)

    @property
    def http(self) -> HttpSource:
        if self._http is None:
            self._http = HttpSource(
                name=f"rpc {self.chain}", base_url=self.url, hide_path=True,
                max_attempts=self.max_attempts, backoff_s=self.backoff_s,
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

    def call(self, method: str, params: Sequence[Any]) -> Any:
        return self.batch([(method, params)])[0]

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Results of `calls`, in order, sent as few HTTP requests as the batch size and
        request size limits allow."""
        return [result for chunk in self._chunks(calls) for result in self._send(chunk)]

    def _chunks(self, calls: Sequence[Any], params=lambda call: call[1]) -> Iterator[list]:
        """`calls` cut into batches of at most batch_size calls and max_request_bytes of
        parameters."""
        chunk: list = []
        size = 0
        for call in calls:
            call_size = len(json.dumps(params(call)))
            if chunk and (len(chunk) == self.batch_size
                          or size + call_size > self.max_request_bytes):
                yield chunk
                chunk, size = [], 0
            chunk.append(call)
            size += call_size
        if chunk:
            yield chunk

    def _send(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        for attempt in range(1, self.max_attempts + 1):
            first = self._next_id
            self._next_id += len(calls)
            body = [{"jsonrpc": "2.0", "id": first + i, "method": m, "params": list(p)}
                    for i, (m, p) in enumerate(calls)]
            answer = self.http.post_json("", body if len(body) > 1 else body[0])
            answers = answer if isinstance(answer, list) else [answer]
            if isinstance(answer, dict) and "error" in answer and answer.get("id") is None:
                answers = [answer] * len(calls)  # the whole batch was refused
            by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
            errors = []
            results = []
            for i, (method, params) in enumerate(calls):
                reply = by_id.get(first + i) or (answers[i] if len(answers) == len(calls) else None)
                if reply is None:
                    errors.append(RpcError(self.chain, method, params, None, "no answer in batch"))
                elif "error" in reply:
                    err = reply["error"] or {}
                    errors.append(RpcError(self.chain, method, params, err.get("code"),
                                           str(err.get("message"))))
                else:
                    results.append(reply.get("result"))
            if not errors:
                return results
            if not all(_rate_limited(e) for e in errors):
                raise next(e for e in errors if not _rate_limited(e))
            if attempt == self.max_attempts:
                raise SourceError(f"{errors[0]} (still rate limited after {attempt} attempts)")
            self.http.back_off(attempt)
        raise AssertionError("unreachable")

    # --- helpers built on batch -------------------------------------------------------

    def headers(self, numbers: Iterable[int]) -> dict[int, dict]:
        """Block headers by number: {number: {"number", "timestamp", "hash"}}."""
        wanted = sorted(set(numbers))
        blocks = self.batch([("eth_getBlockByNumber", [hex(n), False]) for n in wanted])
        out = {}
        for number, block in zip(wanted, blocks):
            if block is None:
                raise RpcError(self.chain, "eth_getBlockByNumber", [hex(number)], None,
                               "block not found")
            out[number] = {"number": number, "timestamp": int(block["timestamp"], 16),
                           "hash": block["hash"]}
        return out

    def head(self) -> tuple[int, int | None]:
        """(latest block number, finalized block number or None if the node lacks the tag)."""
        latest = int(self.call("eth_blockNumber", []), 16)
        try:
            finalized = self.call("eth_getBlockByNumber", ["finalized", False])
        except RpcError:
            return latest, None
        return latest, int(finalized["number"], 16) if finalized else None

    def eth_calls(self, calls: Sequence[tuple[str, str, int]],
                  code: dict[str, str] | None = None) -> list[str]:
        """Return data of (to, data, block_number) eth_calls, batched; `code` overrides
        the code at some addresses for these calls only (state override)."""
        override = [{address: {"code": runtime} for address, runtime in code.items()}] \
            if code else []
        return self.batch([("eth_call", [{"to": to, "data": data}, hex(block), *override])
                           for to, data, block in calls])

    def get_logs(self, queries: Sequence[tuple[str | list[str], list[Any]]], first: int,
                 last: int) -> pl.DataFrame:
        """Every log matching each (address, topics) filter in blocks first..last: one frame
        with LOG_FIELDS and `query` (the filter's index), in filter and block-range order.

        Ranges of at most max_log_blocks of every filter go out together in JSON-RPC
        batches; a range the node refuses as too large is halved and asked again, so a
        strict node yields the same rows as a generous one, and rate-limit errors are
        retried after a back-off."""
        pending = [(q, lo, min(lo + self.max_log_blocks - 1, last)) for q in range(len(queries))
                   for lo in range(first, last + 1, self.max_log_blocks)]
        found: dict[tuple[int, int], pl.DataFrame] = {}
        limited_rounds = 0
        while pending:
            chunk = next(self._chunks(pending, lambda item: queries[item[0]]))
            pending = pending[len(chunk):]
            params = [[{"address": queries[q][0], "topics": queries[q][1],
                        "fromBlock": hex(lo), "toBlock": hex(hi)}] for q, lo, hi in chunk]
            first_id = self._next_id
            self._next_id += len(chunk)
            answers = self.http.post_json("", [
                {"jsonrpc": "2.0", "id": first_id + i, "method": "eth_getLogs", "params": p}
                for i, p in enumerate(params)], decode=_decode_log_answers)
            refused_all = answers.height == 1 and answers["id"][0] is None
            by_id = {row[0]: i for i, row in enumerate(answers.select("id").iter_rows())}
            again, limited = [], []
            for i, ((q, lo, hi), p) in enumerate(zip(chunk, params)):
                row = 0 if refused_all else by_id.get(first_id + i)
                error = answers["error"][row] if row is not None else \
                    {"code": None, "message": "no answer in batch"}
                if error is None and answers["result"][row] is None:
                    error = {"code": None, "message": "no result"}
                if error is None:
                    # an empty list explodes to one null row
                    found[(q, lo)] = answers[row].select(pl.col("result").explode()) \
                        .filter(pl.col("result").is_not_null()).unnest("result")
                    continue
                exc = RpcError(self.chain, "eth_getLogs", p, error["code"], str(error["message"]))
                if _rate_limited(exc):
                    limited.append((q, lo, hi))
                    last_limit = exc
                elif hi > lo and _too_large(exc):
                    self._log_splits += 1
                    mid = (lo + hi) // 2
                    again += [(q, lo, mid), (q, mid + 1, hi)]
                else:
                    raise exc
            pending = again + limited + pending
            if limited:
                limited_rounds += 1
                if limited_rounds == self.max_attempts:
                    raise SourceError(f"{last_limit} (still rate limited after "
                                      f"{limited_rounds} attempts)")
                self.http.back_off(limited_rounds)
        frames = [found[key].with_columns(query=pl.lit(key[0], pl.Int64))
                  for key in sorted(found)]
        empty = pl.DataFrame(schema={**LOG_FIELDS, "query": pl.Int64})
        return pl.concat([empty, *frames], how="vertical_relaxed") if frames else empty


def midnight(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())
