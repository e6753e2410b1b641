"""Preflight for the configured endpoints: will each ingest asset run, and if not, why?

`make doctor MODE=live` runs `python -m pipelines.doctor` (sandbox mode: `sandbox/doctor.py`).
It reads the environment exactly as the pipeline does (`Settings.from_env()`, chains.yaml and
each chain's RPC URL variable, `STABLEFLOW_<CHAIN>_BALANCES`, `COINGECKO_API_KEY`), probes
every endpoint with a few small requests (about 20 in all, counted and printed) and prints two
tables: what each probe found (check, result, ok/warn/fail, what to change) and, per ingest
asset, whether it will run over the configured window and, if not, why and what to change.
Exit code 0 when every asset will run, 1 otherwise.

Probes never raise: a dead endpoint, a refusal or an unexpected answer becomes a row. The RPC
and HTTP clients try each request at most twice, so a dead endpoint fails in seconds. URLs
are shown as the clients show them (an RPC URL as scheme and host only), keys never.

Per chain (JSON-RPC), in four to ten requests (six on the sandbox chain, eight for a window
from 2021-01-01 on a mainnet-shaped chain):
1. one batch of `EvmRpc.batch_size` calls: eth_chainId (vs chains.yaml), the `finalized`
   header, eth_blockNumber for the rest (does the node take a batch that size?);
2. the closing blocks of the day before the window and of its first day, as the assets find
   them (`final_block` from the anchor, `resolve_closing_blocks`), which also give blocks per
   day for the cost estimates;
3. one batch: totalSupply() of every token at the window's first closing block (archive
   state); the BalanceReader eth_call with a state override at the final block (as
   `extract.balances` sends it); eth_getLogs with chains.yaml max_topic_values and with 1,000
   values in one topic position over one block; eth_getLogs over up to `max_log_blocks`
   blocks with a topic0 no contract emits, so nothing comes back (log range: a refusal may
   state the node's limit, or its result cap); the header and the logs of the window's first
   block (pruned history, EIP-4444); the final block's header where the `finalized` tag did
   not give it (has the window's last day ended on chain?).
From these and the blocks per day it estimates the eth_getLogs calls each log scan needs
against `max_log_requests` (Alchemy's free tier: 10 blocks a call).
Per HTTP source, one request on the path its asset uses, checked with the asset's own parser.
"""

from __future__ import annotations

import datetime as dt
import importlib
import math
import os
import re
import sys
import textwrap
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import urlsplit

# _STATED_SPAN: the client's own reading of a stated range limit, so the doctor reads a
# refusal exactly as a run would.
from pipelines.resources.evm import _STATED_SPAN, EvmRpc, RpcError, midnight
from pipelines.resources.http import HttpSource, SourceError
from pipelines.settings import Settings

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "-"
ON_CHAIN_ASSETS = ("evm_day_blocks", "evm_token_supply", "evm_issuance",
                   "evm_exchange_reserves", "evm_exchange_flows")
HTTP_ASSETS = ("defillama_total_supply", "defillama_token_supply", "coingecko_market_daily",
               "fear_greed_daily", "fred_series_daily")
ASSETS = ON_CHAIN_ASSETS + HTTP_ASSETS
# Assets that read state at old closing blocks when balances come from state (eth_call), and
# that rewind from a recent block with logs when they come from logs.
STATE_ASSETS = ("evm_token_supply", "evm_exchange_reserves")
LOG_ASSETS = ("evm_issuance", "evm_exchange_flows")
# Fast failure: a dead endpoint costs two attempts per request, not five with back-off.
RPC_OPTIONS = dict(max_attempts=2, backoff_s=0.5, timeout_s=30.0)
HTTP_OPTIONS = dict(max_attempts=2, backoff_s=0.5, timeout_s=30.0)
WIDE_TOPICS = 1000  # what geth, Erigon and java-tron take per topic position
ARCHIVE_ADVICE = ("use an archive node (or a provider's archive tier), or read balances and "
                  "supply from logs: {setting}=logs")
PRUNED_ADVICE = ("use a node that keeps all history (geth --history.chain all, or a provider's "
                 "archive tier), or a later STABLEFLOW_START_DATE (after the node's first "
                 "block; geth --history.chain postmerge keeps blocks from 2022-09-15 on)")
# A stated result cap: Infura "query returned more than 10000 results", reth "max results
# 20000", Alchemy "a cap of 10K logs in the response".
_STATED_CAP = re.compile(r"(?:more than |max results |cap of )([\d,]+)(k?)\b")
_BLOCK_PARAM = re.compile(r"eth_getBlockByNumber\(\['(0x[0-9a-fA-F]+)'")


def _load():
    """The asset-side helpers, imported on first use: a broken chains.yaml or label file is
    then a row of the report, not a traceback. Dagster's beta warnings about the asset
    decorators are not the doctor's business."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        modules = {name: importlib.import_module(f"assets.ingest.{name}") for name in
                   ("alternative_me", "coingecko", "defillama", "fred", "labels")}
        modules |= {name: importlib.import_module(f"assets.ingest.evm.{name}") for name in
                    ("assets", "blocks", "extract")}
        modules["chains"] = importlib.import_module("pipelines.chains")
    modules["evm_assets"] = modules.pop("assets")
    return modules


# --- the report -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One probe: what was checked, what came back, ok/warn/fail (or - when not probed)."""

    check: str
    result: str
    status: str
    change: str = ""


@dataclass(frozen=True)
class Verdict:
    asset: str
    runs: bool
    why: str = ""
    change: str = ""


@dataclass
class Report:
    window: str
    endpoints: list[tuple[str, str]]
    rows: list[Row]
    verdicts: list[Verdict]
    requests: dict[str, int]
    secrets: tuple[str, ...] = ()

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def exit_code(self) -> int:
        return 0 if all(v.runs for v in self.verdicts) else 1

    def row(self, check: str) -> Row:
        return next(r for r in self.rows if r.check == check)

    def verdict(self, asset: str) -> Verdict:
        return next(v for v in self.verdicts if v.asset == asset)


class _Blockers:
    """Why each asset will not run, and what to change: collected as probes find them."""

    def __init__(self) -> None:
        self.found: dict[str, list[tuple[str, str]]] = {a: [] for a in ASSETS}

    def add(self, assets: Sequence[str], why: str, change: str) -> None:
        for asset in assets:
            if (why, change) not in self.found[asset]:
                self.found[asset].append((why, change))

    def verdicts(self) -> list[Verdict]:
        out = []
        for asset, problems in self.found.items():
            changes = list(dict.fromkeys(c for _, c in problems if c))
            out.append(Verdict(asset, not problems, "; ".join(w for w, _ in problems),
                               "; ".join(changes)))
        return out


# --- JSON-RPC probes ------------------------------------------------------------------------


def _one_request(rpc: EvmRpc, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
    """Exactly one HTTP request (the client's transport retries aside): each call's result or
    its RpcError. Unlike EvmRpc.batch, a refused batch is not halved and sent again: the
    refusal is what the probe wants to see."""
    body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)}
            for i, (m, p) in enumerate(calls)]
    answer = rpc.http.post_json("", body if len(body) > 1 else body[0])
    answers = answer if isinstance(answer, list) else [answer]
    if isinstance(answer, dict) and "error" in answer and answer.get("id") is None:
        answers = [answer] * len(calls)  # the whole batch refused
    by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
    out: list[Any] = []
    for i, (method, params) in enumerate(calls):
        reply = by_id.get(i) or (answers[i] if len(answers) == len(calls) else None)
        if not isinstance(reply, dict):
            out.append(RpcError(rpc.chain, method, params, None, "no answer in batch"))
        elif reply.get("error") is not None:
            err = reply["error"] if isinstance(reply["error"], dict) else {}
            out.append(RpcError(rpc.chain, method, params, err.get("code"),
                                str(err.get("message", reply["error"]))))
        else:
            out.append(reply.get("result"))
    return out


def _refusal(error: Any) -> str:
    """A node's refusal in a few words: code and message, no parameters."""
    if isinstance(error, RpcError):
        return _short(f"error {error.code}: {error.rpc_message}")
    return _short(str(error))


def _short(text: str, limit: int = 160) -> str:
    """`text` on one line, long hex runs (trie paths, state roots) abbreviated, cut at
    `limit` characters."""
    text = " ".join(text.split())
    text = re.sub(r"(?:0x)?[0-9a-fA-F]{24,}", lambda m: m.group(0)[:10] + "...", text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _http_error(exc: Exception) -> str:
    """An HTTP client's error without the method and URL (the endpoint lines show the base
    URL), e.g. "gave up after 2 attempts; last problem: ConnectionError"."""
    text = re.sub(r"^[\w. ]+: (?:GET|POST) \S+ ", "", str(exc) or type(exc).__name__)
    return _short(text, 220)


def _stated(pattern: re.Pattern, text: str) -> int | None:
    match = pattern.search(text.lower())
    if not match:
        return None
    return int(match.group(1).replace(",", "")) * (1000 if match.group(2) else 1)


def _calls(filters: int, blocks: int, span: int) -> int:
    return filters * max(1, math.ceil(blocks / span))


def _probe_chain(chain, settings: Settings, start: dt.date, end: dt.date, env: Mapping[str, str],
                 rpc_options: dict, m: dict, block: _Blockers,
                 register: Callable[[str, object], None]) -> list[Row]:
    name, setting = chain.name, chain.rpc_url_env
    rows: list[Row] = []
    everything = ON_CHAIN_ASSETS

    def row(check: str, result: str, status: str, change: str = "") -> None:
        rows.append(Row(f"{name} {check}", result, status, change))

    def skip(checks: Sequence[str], why: str) -> None:
        row("other checks", f"not probed ({why}): {', '.join(checks)}", SKIP)

    later = ["finalized tag", "closing blocks", "archive state", "eth_call state override",
             "values per topic position", "log range", "result cap", "pruned history",
             "eth_getLogs calls"]
    url = env.get(setting, "")
    if not url:
        change = f"set {setting} to the JSON-RPC URL of a node of {name}"
        row("endpoint", f"{setting} is not set", FAIL, change)
        block.add(everything, f"{setting} is not set", change)
        skip(["chain id", "batch size", *later], f"{setting} is not set")
        return rows
    options = {**RPC_OPTIONS, **rpc_options}
    try:
        balances = _balances(chain, m)[1]
    except ValueError as exc:  # ConfigError: neither state nor logs
        balances = "state"
        # pipelines/definitions.py reads it on import: no asset at all can run
        row("balances setting", _short(str(exc), 220), FAIL, "set it to state or logs")
        block.add(ASSETS, f"the code location fails to load: {_short(str(exc), 200)}",
                  "set it to state or logs")
    rpc = EvmRpc(chain=name, url=url, **{"balances": balances, **options})
    register(f"{name} rpc", rpc)
    shown = rpc.http.shown_url(url)
    logs_mode = balances == "logs"

    # 1. chain id, finalized tag and the batch size, in one batch of batch_size calls
    head_calls = [("eth_chainId", []), ("eth_blockNumber", []),
                  ("eth_getBlockByNumber", ["finalized", False])]
    size = max(rpc.batch_size, len(head_calls))
    big = head_calls + [("eth_blockNumber", [])] * (size - len(head_calls))
    batch_problem = None
    try:
        answers = _one_request(rpc, big)
        refused = [a for a in answers if isinstance(a, RpcError) and a.kind == "batch"]
        if refused or all(isinstance(a, RpcError) for a in answers):
            batch_problem = _refusal(refused[0] if refused else answers[0])
    except SourceError as exc:
        batch_problem = _http_error(exc)
    if batch_problem is not None:
        try:
            answers = _one_request(rpc, head_calls)
        except SourceError as exc:
            row("endpoint", f"{shown} did not answer: {_http_error(exc)}", FAIL,
                f"check {setting}: the node must answer JSON-RPC over HTTP")
            block.add(everything, f"the node at {setting} did not answer",
                      f"check {setting}: the JSON-RPC URL of a reachable node of {name}")
            skip(["chain id", "batch size", *later], "the node did not answer")
            return rows
    chain_id, latest, finalized = answers[:3]
    try:
        actual = int(chain_id, 16)
    except (TypeError, ValueError):
        row("chain id", f"eth_chainId answered {_refusal(chain_id)}", FAIL,
            f"point {setting} at a node of {name}")
        block.add(everything, f"eth_chainId at {setting} failed", f"point {setting} at a "
                  f"JSON-RPC node of {name}")
        skip(["batch size", *later], "no chain id")
        return rows
    if actual != chain.chain_id:
        why = (f"the node at {setting} serves chain id {actual}, chains.yaml says "
               f"{name}.chain_id = {chain.chain_id}")
        row("chain id", f"{actual}, but chains.yaml says {chain.chain_id}: another network",
            FAIL, f"point {setting} at a node of {name} (chain id {chain.chain_id})")
        block.add(everything, why, f"point {setting} at a node of {name} (chain id "
                                   f"{chain.chain_id})")
        skip(["batch size", *later], "the node serves another chain")
        return rows
    row("chain id", f"{actual} (chains.yaml {name}.chain_id: {chain.chain_id})", OK)
    if batch_problem is None:
        row("batch size", f"a batch of {size} calls answered in one request", OK)
    else:
        row("batch size", f"a batch of {size} calls refused ({batch_problem}); the client "
            f"halves refused batches, at a few extra requests", WARN,
            "none needed; or run the node with a higher batch limit")
    try:
        head = int(latest, 16)
    except (TypeError, ValueError):
        head = None
    if isinstance(finalized, dict) and "number" in finalized:
        number = int(finalized["number"], 16)
        behind = f", {head - number:,} behind the head {head:,}" if head is not None else ""
        row("finalized tag", f"answered: block {number:,}{behind}", OK)
    else:
        row("finalized tag", f"not answered ({_refusal(finalized) if finalized else 'null'}): "
            f"the final block is the head minus {chain.confirmations} blocks", WARN,
            f"none needed; chains.yaml {name}.confirmations sets the depth")

    # 2. the window's first closing blocks, as the assets resolve them
    blocks = m["blocks"]
    first_day = start - dt.timedelta(days=1)
    final, closing = None, {}
    try:
        final = blocks.final_block(rpc, chain)
        closing = blocks.resolve_closing_blocks(rpc, [first_day, start], final)
    except Exception as exc:  # noqa: BLE001 - every failure is a row
        text = str(exc)
        why, shown_change = _short(text, 220), None
        if "another chain" in text:
            change = f"point {setting} at a node of {name} (or fix chains.yaml {name}.anchor)"
        elif "4444" in text or "pruned history" in text:
            found = _BLOCK_PARAM.search(text)
            at = f" at block {int(found.group(1), 16):,}" if found else ""
            why = f"the search for them reached pruned history{at} (error 4444)"
            change, shown_change = PRUNED_ADVICE, "see pruned history"
            row("pruned history", f"the closing blocks of {first_day} and {start} are in "
                f"pruned history: error 4444 pruned history unavailable{at}", FAIL, change)
        elif isinstance(exc, blocks.NotFinalError):
            change = "wait until the day has ended on chain, or an earlier STABLEFLOW_START_DATE"
        elif isinstance(exc, ValueError):
            change = "set STABLEFLOW_START_DATE after the chain's first block"
        else:
            change = f"check the node at {setting}"
        row("closing blocks", f"could not resolve {first_day} and {start}: {why}", FAIL,
            shown_change or change)
        block.add(everything, f"closing blocks: {why}", change)
    if final is None:
        skip([c for c in later[2:] if not any(r.check == f"{name} {c}" for r in rows)],
             "no final block")
        return rows
    bpd = None
    if closing:
        before, first = closing[first_day], closing[start]
        bpd = max(1, first.number - before.number)
        row("closing blocks", f"{first_day}: block {before.number:,}; {start}: block "
            f"{first.number:,} (~{bpd:,} blocks a day); final block {final.number:,}", OK)
    first_block = closing[first_day].number + 1 if closing else None

    # 3. every other probe in one batch
    extract, chains = m["extract"], m["chains"]
    labels = m["labels"]
    nothing = chains.topic("StableflowDoctorProbe()")  # no contract emits it: empty answers
    tokens = chain.tokens
    token_addresses = [t.address for t in tokens]
    probes: list[tuple[str, str, list]] = []
    if closing:
        at = closing[start].number
        probes += [(f"supply {t.symbol}", "eth_call",
                    [{"to": t.address, "data": "0x18160ddd"}, hex(at)]) for t in tokens]
    sample = labels.addresses()[:1] or ["0x" + "00" * 20]
    reader_data = "0x" + format(len(tokens), "064x") + "".join(
        a.lower().removeprefix("0x") for a in token_addresses + sample)
    probes.append(("override", "eth_call", [
        {"to": extract.READER_ADDRESS, "data": reader_data}, hex(final.number),
        {extract.READER_ADDRESS: {"code": extract.READER_CODE}}]))
    widths = list(dict.fromkeys([chain.max_topic_values, WIDE_TOPICS]))
    for n in widths:
        values = ["0x" + format(i + 1, "064x") for i in range(n)]
        probes.append((f"topics {n}", "eth_getLogs", [{
            "address": tokens[0].address, "topics": [nothing, values],
            "fromBlock": hex(final.number), "toBlock": hex(final.number)}]))
    low = max(first_block if first_block is not None else 0,
              final.number - rpc.max_log_blocks + 1, 0)
    probes.append(("range", "eth_getLogs", [{
        "address": token_addresses, "topics": [nothing],
        "fromBlock": hex(low), "toBlock": hex(final.number)}]))
    if first_block is not None:
        probes += [("first header", "eth_getBlockByNumber", [hex(first_block), False]),
                   ("first logs", "eth_getLogs", [{
                       "address": token_addresses, "topics": [nothing],
                       "fromBlock": hex(first_block), "toBlock": hex(first_block)}])]
    if final.number not in final.known:
        probes.append(("final header", "eth_getBlockByNumber", [hex(final.number), False]))
    try:
        results = dict(zip([k for k, _, _ in probes],
                           rpc.batch([(mth, p) for _, mth, p in probes], errors="return")))
    except Exception as exc:  # noqa: BLE001
        results = {k: exc for k, _, _ in probes}

    # window end: is its last day final?
    final_ts = final.known.get(final.number, (None,))[0]
    header = results.get("final header")
    if final_ts is None and isinstance(header, dict):
        final_ts = int(header["timestamp"], 16)
    if final_ts is not None:
        when = f"{dt.datetime.fromtimestamp(final_ts, dt.UTC):%Y-%m-%d %H:%M}Z"
        if final_ts < midnight(end + dt.timedelta(days=1)):
            why = f"{end} has not ended on chain yet (final block {final.number:,} is at {when})"
            change = "wait until the window's last day is final, or an earlier " \
                     "STABLEFLOW_END_DATE"
            row("window end", why, FAIL, change)
            block.add(everything, why, change)
        else:
            row("window end", f"{end} has ended on chain (final block {final.number:,} is at "
                f"{when})", OK)

    # archive state at the window's first closing block
    setting_b = rpc.balances_setting
    if closing:
        at, day = closing[start].number, start
        answers = [(t, results.get(f"supply {t.symbol}")) for t in tokens]
        errors = [(t, a) for t, a in answers if not isinstance(a, str)]
        empty = [(t, a) for t, a in answers if isinstance(a, str) and a in ("0x", "")]
        if errors:
            t, error = errors[0]
            state = isinstance(error, RpcError) and error.kind == "state"
            reason = f"no state there, not an archive node ({_refusal(error)})" if state \
                else f"refused ({_refusal(error)})"
            result = f"totalSupply() of {t.symbol} at block {at:,} ({day}'s closing block): " \
                     f"{reason}"
            change = ARCHIVE_ADVICE.format(setting=setting_b) if state else \
                f"check that the node at {setting} serves eth_call at old blocks; " + \
                ARCHIVE_ADVICE.format(setting=setting_b)
            if logs_mode:
                row("archive state", result, WARN, f"none needed: {setting_b}=logs reads "
                    "state at a recent block only")
            else:
                row("archive state", result, FAIL, change)
                block.add(STATE_ASSETS, f"eth_call at block {at:,} ({day}'s closing block): "
                          + ("no state there, not an archive node" if state
                             else _refusal(error)), change)
        elif empty:
            t, _ = empty[0]
            why = f"totalSupply() of {t.symbol} at block {at:,} ({day}) returned no data: no " \
                  f"contract there yet"
            row("archive state", why, FAIL, "set STABLEFLOW_START_DATE after the token's "
                                           "deployment")
            block.add(("evm_token_supply",), why, "set STABLEFLOW_START_DATE after the "
                                                  "token's deployment")
        else:
            row("archive state", f"totalSupply() at block {at:,} ({day}'s closing block) "
                f"served", OK)
    elif not any(r.check == f"{name} archive state" for r in rows):
        row("archive state", "not probed: the window's closing blocks are unknown", SKIP)

    # eth_call with a state override (the BalanceReader call of extract.balances)
    answer = results.get("override")
    expected = 64 * len(tokens) * len(sample)
    if isinstance(answer, str) and len(answer.removeprefix("0x")) == expected:
        row("eth_call state override", f"BalanceReader answered at block {final.number:,} "
            f"({len(tokens)} balances)", OK)
    else:
        what = _refusal(answer) if not isinstance(answer, str) else \
            f"answered {len(answer.removeprefix('0x')) // 2} bytes, not {expected // 2}: the " \
            f"override was ignored"
        row("eth_call state override", f"BalanceReader at block {final.number:,}: {what}",
            FAIL, "use a node that takes eth_call state overrides (geth, Erigon, Nethermind, "
                  "most providers)")
        block.add(("evm_exchange_reserves",) + (("evm_token_supply",) if logs_mode else ()),
                  f"eth_call with a state override fails ({what})",
                  "use a node that takes eth_call state overrides")

    # values per topic position
    got = {n: results.get(f"topics {n}") for n in widths}
    configured = chain.max_topic_values
    parts = [f"{n:,}: {'accepted' if isinstance(a, list) else 'refused (' + _refusal(a) + ')'}"
             for n, a in got.items()]
    if isinstance(got[configured], list):
        row("values per topic position", "; ".join(parts) + f" (chains.yaml "
            f"{name}.max_topic_values: {configured:,})", OK)
    else:
        change = f"lower chains.yaml {name}.max_topic_values"
        row("values per topic position", "; ".join(parts) + f" (chains.yaml "
            f"{name}.max_topic_values: {configured:,})", FAIL, change)
        block.add(("evm_exchange_flows",) + (STATE_ASSETS if logs_mode else ()),
                  f"the node refuses {configured:,} values in one topic position", change)

    # log range, and a result cap if a refusal states one
    answer = results.get("range")
    asked = final.number - low + 1
    span, cap = None, None
    if isinstance(answer, list):
        span = rpc.max_log_blocks
        whole = " (all the blocks asked)" if asked < rpc.max_log_blocks else ""
        row("log range", f"eth_getLogs over {asked:,} blocks {low:,}..{final.number:,} "
            f"accepted{whole}", OK)
    elif isinstance(answer, RpcError) and answer.kind == "pruned":
        row("log range", f"not measured: blocks {low:,}..{final.number:,} reach pruned history "
            f"({_refusal(answer)})", WARN, "see pruned history")
    else:
        text = answer.rpc_message if isinstance(answer, RpcError) else str(answer)
        stated = _stated(_STATED_SPAN, text)
        cap = _stated(_STATED_CAP, text)
        if stated:
            span = stated
            row("log range", f"at most {stated:,} blocks a call (the node's refusal of "
                f"{asked:,} blocks says so)", WARN if stated < 1000 else OK,
                "a node or provider tier with wider log ranges" if stated < 1000 else "")
        elif isinstance(answer, RpcError) and answer.kind == "range":
            row("log range", f"{asked:,} blocks refused without a stated limit "
                f"({_refusal(answer)}): the client halves ranges as it goes", WARN,
                "none needed; a node with wider log ranges costs fewer requests")
        else:
            row("log range", f"eth_getLogs over {asked:,} blocks failed: {_refusal(answer)}",
                FAIL, f"check that the node at {setting} serves eth_getLogs")
            block.add(LOG_ASSETS + (STATE_ASSETS if logs_mode else ()),
                      f"eth_getLogs fails ({_refusal(answer)})",
                      f"use a node that serves eth_getLogs at {setting}")
    if cap:
        row("result cap", f"at most {cap:,} logs a call (stated in the refusal)", OK)
    else:
        row("result cap", "learnt while running: a range the node finds too full is split "
            "where it says", OK)

    # pruned history at the window's first block
    if first_block is not None:
        head_ok, logs_ok = results.get("first header"), results.get("first logs")
        pruned_header = isinstance(head_ok, RpcError) and head_ok.kind == "pruned"
        pruned_logs = isinstance(logs_ok, RpcError) and logs_ok.kind == "pruned"
        if pruned_header or pruned_logs:
            what = " and ".join(w for w, p in (("header", pruned_header), ("logs", pruned_logs))
                                if p)
            row("pruned history", f"block {first_block:,} (the window's first): {what} "
                f"pruned (4444)", FAIL, PRUNED_ADVICE)
            assets = everything if pruned_header else LOG_ASSETS + (
                STATE_ASSETS if logs_mode else ())
            block.add(assets, f"the window's first block {first_block:,} is in pruned history "
                              f"(4444)", PRUNED_ADVICE)
        elif isinstance(head_ok, dict) and isinstance(logs_ok, list):
            row("pruned history", f"none at block {first_block:,} (the window's first): "
                f"header and logs served", OK)
        else:
            bad = head_ok if not isinstance(head_ok, dict) else logs_ok
            row("pruned history", f"block {first_block:,}: {_refusal(bad) if bad else 'null'}",
                WARN, f"check that the node at {setting} serves old blocks and logs")
            if not isinstance(logs_ok, list) and not (isinstance(logs_ok, RpcError)
                                                      and logs_ok.kind == "range"):
                block.add(LOG_ASSETS, f"eth_getLogs at block {first_block:,} fails "
                          f"({_refusal(logs_ok)})", f"use a node that serves eth_getLogs "
                                                    f"over the window at {setting}")
    elif not any(r.check == f"{name} pruned history" for r in rows):
        row("pruned history", "not probed: the window's closing blocks are unknown", SKIP)

    # eth_getLogs calls the window needs, from the range limit and blocks per day
    if bpd is None or span is None:
        row("eth_getLogs calls", "not estimated: " + ("blocks per day unknown" if bpd is None
                                                       else "the node's log range is unknown"),
            SKIP)
        return rows
    addresses = labels.addresses()
    per = {"evm_issuance": len(tokens),
           "evm_exchange_flows": len(extract.transfer_filters(chain, addresses))}
    days = (end - start).days + 1
    part_days = min(days, m["evm_assets"].PROGRESS_DAYS)
    limit = rpc.max_log_requests
    estimates, over = [], []
    for asset, filters in per.items():
        total = _calls(filters, bpd * days, span)
        part = _calls(filters, bpd * part_days, span)
        estimates.append(f"{asset.removeprefix('evm_')} ~{total:,}")
        if part > limit:
            over.append((asset, total, part))
    rewind = None
    if logs_mode and first_block is not None:
        filters = sum(per.values())
        rewind = _calls(filters, max(1, final.number - first_block + 1), span)
        estimates.append(f"rewind from the final block ~{rewind:,}")
    result = (f"{', '.join(estimates)} over {days:,} days at {span:,} blocks a call and "
              f"~{bpd:,} blocks a day (max_log_requests: {limit:,} per "
              f"{part_days}-day part)")
    change = (f"a node or provider tier with wider log ranges (this one: {span:,} blocks), or "
              f"fewer days per run")
    if over or (rewind and rewind > limit):
        row("eth_getLogs calls", result, FAIL, change)
        for asset, total, part in over:
            block.add((asset,), f"eth_getLogs over at most {span:,} blocks a call: ~{total:,} "
                      f"calls for the window, ~{part:,} per {part_days}-day part, over "
                      f"max_log_requests {limit:,}", change)
        if rewind and rewind > limit:
            block.add(STATE_ASSETS, f"rewinding from the final block takes ~{rewind:,} "
                      f"eth_getLogs calls, over max_log_requests {limit:,}", change)
    else:
        row("eth_getLogs calls", result, OK)
    return rows


# --- HTTP probes ----------------------------------------------------------------------------


def _probe_http(settings: Settings, start: dt.date, end: dt.date, env: Mapping[str, str],
                m: dict, block: _Blockers, register: Callable[[str, object], None]) -> list[Row]:
    rows: list[Row] = []

    def source(name: str, base_url: str, **extra) -> HttpSource:
        client = HttpSource(name=name, base_url=base_url, **{**HTTP_OPTIONS, **extra})
        register(name, client)
        return client

    def guarded(check: str, assets: Sequence[str], setting: str, probe: Callable[[], None]):
        """Run `probe`; any failure is a fail row for `check` and blocks `assets`."""
        try:
            probe()
        except Exception as exc:  # noqa: BLE001 - every failure is a row
            why = _http_error(exc)
            rows.append(Row(check, why, FAIL, f"check {setting}"))
            block.add(assets, f"{check}: {why}", f"check {setting}")

    def defillama() -> None:
        # the total-supply path; /stablecoin/{1,2} (defillama_token_supply) is the same host
        llama = source("defillama", settings.defillama_url)
        try:
            payload = llama.get_json("/stablecoincharts/all")
        except SourceError as exc:
            why = _http_error(exc)
            rows.append(Row("defillama /stablecoincharts/all", f"unreachable: {why}", FAIL,
                            "check STABLEFLOW_DEFILLAMA_URL and the network"))
            block.add(("defillama_total_supply", "defillama_token_supply"),
                      f"DefiLlama unreachable ({why})", "check STABLEFLOW_DEFILLAMA_URL")
            return
        try:
            frame = m["defillama"].parse_total_supply(payload, start, end)
        except Exception as exc:  # noqa: BLE001
            why = _short(str(exc), 220)
            rows.append(Row("defillama /stablecoincharts/all", why, FAIL,
                            "a window DefiLlama covers (STABLEFLOW_START_DATE, _END_DATE)"))
            block.add(("defillama_total_supply",), why, "a window DefiLlama covers")
            return
        rows.append(Row("defillama /stablecoincharts/all", f"shape as expected; every day of "
                        f"the window present ({frame.height:,} days)", OK))

    def coingecko() -> None:
        # which tier the key gives, how far back it reaches, and whether the window's
        # start is served (the asset's first request, checked with its parser)
        cg = m["coingecko"]
        key = env.get("COINGECKO_API_KEY") or None
        header = env.get("COINGECKO_API_KEY_HEADER", "x-cg-demo-api-key")
        gecko = source("coingecko", settings.coingecko_url, api_key=key, api_key_header=header)
        host = urlsplit(settings.coingecko_url).hostname
        earliest = cg.earliest_day(settings.coingecko_url, dt.datetime.now(dt.UTC).date())
        tier = ("pro key" if header.lower() == "x-cg-pro-api-key" else "demo key") if key \
            else "no key"
        days = getattr(cg, "PUBLIC_HISTORY_DAYS", 365)
        pro = "https://pro-api.coingecko.com/api/v3"
        if earliest is not None and tier == "pro key":
            rows.append(Row("coingecko key tier", f"{tier} sent to the public API ({host}), "
                            f"which serves {days} days of history: closes from {earliest} on",
                            WARN, f"STABLEFLOW_COINGECKO_URL={pro}"))
        elif earliest is not None:
            rows.append(Row("coingecko key tier", f"{tier}: public API ({host}), {days} days "
                            f"of history: closes from {earliest} on", OK))
        elif host == "pro-api.coingecko.com":
            rows.append(Row("coingecko key tier", f"{tier}: paid API ({host}), all history",
                            OK if key else FAIL, "" if key else "set COINGECKO_API_KEY"))
            if not key:
                block.add(("coingecko_market_daily",), f"{host} without a key",
                          "set COINGECKO_API_KEY")
        else:
            rows.append(Row("coingecko key tier", f"{tier}: base URL "
                            f"{gecko.shown_url(settings.coingecko_url)}, not CoinGecko's "
                            f"public host: no known history limit", OK))
        day = start
        if earliest is not None and start < earliest:
            why = (f"the window starts {start}, but the public API serves closes from "
                   f"{earliest} on ({days} days)")
            change = (f"a paid key (COINGECKO_API_KEY, COINGECKO_API_KEY_HEADER=x-cg-pro-api-key,"
                      f" STABLEFLOW_COINGECKO_URL={pro}), or STABLEFLOW_START_DATE={earliest} "
                      f"or later")
            rows.append(Row("coingecko history", why, FAIL, change))
            block.add(("coingecko_market_daily",), why, change)
            day = min(earliest, end)
        lo, hi = cg.request_ranges(day, day, earliest)[0]
        path = "/coins/bitcoin/market_chart/range"
        # the window's start, or (when the tier cannot reach it) the oldest day it serves
        check = "coingecko history" if day == start else "coingecko reach"
        try:
            payload = gecko.get_json(path, {"vs_currency": "usd", "from": lo, "to": hi,
                                            "interval": "daily"})
            served = cg.parse_market_chart(payload, "bitcoin", day, day).height > 0
        except Exception as exc:  # noqa: BLE001
            why = f"{path} for the close of {day}: {_http_error(exc)}"
            change = "check STABLEFLOW_COINGECKO_URL, COINGECKO_API_KEY and its tier"
            rows.append(Row(check, why, FAIL, change))
            block.add(("coingecko_market_daily",), f"CoinGecko {why}", change)
            return
        if served:
            rows.append(Row(check, f"{path} served the close of {day}", OK))
        else:
            why = f"{path} has no close for {day}"
            rows.append(Row(check, why, FAIL, "a window CoinGecko covers"))
            block.add(("coingecko_market_daily",), why, "a window CoinGecko covers")

    def alternative_me() -> None:
        # the asset's path, newest values only, checked with its parser
        payload = source("alternative.me", settings.alternative_me_url).get_json(
            "/fng/", {"limit": 2})
        m["alternative_me"].parse_fear_greed(payload, start, end)
        newest = payload["data"][0]["timestamp"] if payload.get("data") else None
        seen = f" (newest value: {dt.datetime.fromtimestamp(int(newest), dt.UTC):%Y-%m-%d})" \
            if newest else ""
        rows.append(Row("alternative.me /fng/", f"shape as expected{seen}", OK))

    def fred() -> None:
        # one of the asset's series over the window's first week, checked with its parser
        last = min(start + dt.timedelta(days=6), end)
        found = source("fred", settings.fred_url).get_csv(
            "/graph/fredgraph.csv", {"id": "SP500", "cosd": start.isoformat(),
                                     "coed": last.isoformat()})
        frame = m["fred"].parse_fredgraph(found, "SP500", start, last)
        rows.append(Row("fred fredgraph.csv", f"shape as expected; SP500 {start}..{last}: "
                        f"{frame.height} trading days", OK))

    guarded("defillama /stablecoincharts/all", ("defillama_total_supply",
                                                 "defillama_token_supply"),
            "STABLEFLOW_DEFILLAMA_URL", defillama)
    guarded("coingecko history", ("coingecko_market_daily",),
            "STABLEFLOW_COINGECKO_URL, COINGECKO_API_KEY and its tier", coingecko)
    guarded("alternative.me /fng/", ("fear_greed_daily",), "STABLEFLOW_ALTERNATIVE_ME_URL",
            alternative_me)
    guarded("fred fredgraph.csv", ("fred_series_daily",), "STABLEFLOW_FRED_URL", fred)
    return rows


# --- the whole run --------------------------------------------------------------------------


def _balances(chain, m: dict) -> tuple[str, str]:
    """Where the chain's supply and balances come from, as the deployment reads it
    (chains.balances_from): (setting, "state" | "logs"); ConfigError for another value."""
    return EvmRpc(chain=chain.name, url="").balances_setting, m["chains"].balances_from(chain)


def _secrets(env: Mapping[str, str], chains) -> tuple[str, ...]:
    """What the report must never show: what an RPC URL's path, query or user part carries
    (provider keys), and the CoinGecko key. Short path parts ("v3", "rpc") are not secrets."""
    found = [env.get("COINGECKO_API_KEY", "")]
    for chain in chains:
        parts = urlsplit(env.get(chain.rpc_url_env, ""))
        found += [parts.username or "", parts.password or ""]
        found += [s for s in (parts.path.strip("/"), parts.query) if len(s) >= 12]
        found += [p for p in re.split(r"[/&=]", f"{parts.path}/{parts.query}") if len(p) >= 16]
    return tuple(sorted({s for s in found if len(s) >= 4}, key=len, reverse=True))


def diagnose(rpc_options: dict | None = None) -> Report:
    """Probe every endpoint configured in the environment (as Settings.from_env(), chains.yaml
    and the resources read it) and say, per ingest asset, whether it will run. `rpc_options`
    override EvmRpc fields (e.g. max_log_requests) where the resources are configured so.
    Never raises."""
    env = os.environ
    block = _Blockers()
    clients: dict[str, object] = {}
    rows: list[Row] = []
    endpoints: list[tuple[str, str]] = []

    def register(name: str, client) -> None:
        clients[name] = client

    def requests() -> dict[str, int]:
        return {name: c.requests_made for name, c in clients.items()}

    try:
        settings = Settings.from_env()
    except ValueError as exc:
        block.add(ASSETS, str(exc), "fix the setting")
        return Report("unknown", [], [Row("settings", str(exc), FAIL, "fix the setting")],
                      block.verdicts(), {})
    start = settings.start_date
    end = settings.end_date or dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    window = (f"{start}..{end} ({(end - start).days + 1:,} days; STABLEFLOW_START_DATE, "
              f"STABLEFLOW_END_DATE{'' if settings.end_date else ' unset: up to yesterday'})")
    try:
        m = _load()
        m["labels"] = m["labels"].load_labels()
        chains = m["chains"].CHAINS
    except Exception as exc:  # noqa: BLE001 - chains.yaml or the label file is unusable
        why = _short(str(exc), 300)
        block.add(ON_CHAIN_ASSETS, why, "fix pipelines/chains.yaml or the label file")
        return Report(window, [], [Row("configuration", why, FAIL, "fix pipelines/chains.yaml "
                                       "or sql/seeds/exchange_labels.csv")],
                      block.verdicts(), {})
    secrets = _secrets(env, chains)
    for chain in chains:
        url = env.get(chain.rpc_url_env, "")
        shown = EvmRpc(chain=chain.name, url=url).http.shown_url(url) if url else "(not set)"
        try:
            setting, balances = _balances(chain, m)
        except ValueError:
            setting, balances = EvmRpc(chain=chain.name, url="").balances_setting, "(invalid)"
        endpoints.append((f"{chain.name} rpc", f"{chain.rpc_url_env} = {shown}"))
        endpoints.append((f"{chain.name} balances", f"supply and balances from {balances} "
                          f"({setting})"))
        try:
            rows += _probe_chain(chain, settings, start, end, env, rpc_options or {}, m, block,
                                 register)
        except Exception as exc:  # noqa: BLE001 - a probe bug must not hide the others
            why = _short(f"{type(exc).__name__}: {exc}", 220)
            rows.append(Row(f"{chain.name} probes", f"stopped: {why}", FAIL, ""))
            block.add(ON_CHAIN_ASSETS, f"{chain.name}: the probes stopped ({why})", "")
    endpoints += [("defillama", settings.defillama_url), ("coingecko", settings.coingecko_url),
                  ("alternative.me", settings.alternative_me_url), ("fred", settings.fred_url)]
    try:
        rows += _probe_http(settings, start, end, env, m, block, register)
    except Exception as exc:  # noqa: BLE001
        why = _short(f"{type(exc).__name__}: {exc}", 220)
        rows.append(Row("http probes", f"stopped: {why}", FAIL, ""))
        block.add(HTTP_ASSETS, f"the probes stopped ({why})", "")
    shown_endpoints = []
    for name, url in endpoints:
        if name in clients and isinstance(clients[name], HttpSource):
            url = clients[name].shown_url(url)
        shown_endpoints.append((name, url))
    return Report(window, shown_endpoints, rows, block.verdicts(), requests(), secrets)


# --- the table ------------------------------------------------------------------------------


def _table(headers: Sequence[str], widths: Sequence[int], rows: Sequence[Sequence[str]]) -> str:
    """Fixed-width columns; long cells wrap within their column."""
    def lines(cells: Sequence[str]) -> list[str]:
        wrapped = [textwrap.wrap(c, w, break_long_words=True, break_on_hyphens=False) or [""]
                   for c, w in zip(cells, widths)]
        height = max(len(w) for w in wrapped)
        return ["  ".join((w[i] if i < len(w) else "").ljust(width)
                          for w, width in zip(wrapped, widths)).rstrip()
                for i in range(height)]

    out = lines(headers)
    out.append("  ".join("-" * w for w in widths))
    for row in rows:
        out += lines(row)
    return "\n".join(out)


def render(report: Report) -> str:
    """The report as text: endpoints, the probe table, the asset table, requests and the
    verdict. Secrets are masked as a last line of defence."""
    out = ["stableflow doctor: will each ingest asset run against the configured endpoints?",
           "", f"window: {report.window}"]
    out += [f"{name}: {url}" for name, url in report.endpoints]
    out += ["", _table(["check", "result", "status", "what to change"], [24, 50, 6, 38],
                       [(r.check, r.result, r.status, r.change) for r in report.rows])]
    out += ["", _table(["asset", "verdict", "why", "what to change"], [22, 12, 50, 38],
                       [(v.asset, "will run" if v.runs else "will not run", v.why, v.change)
                        for v in report.verdicts])]
    cost = ", ".join(f"{name} {n}" for name, n in report.requests.items())
    out += ["", f"requests: {report.total_requests} HTTP requests in all ({cost})"]
    failing = [v.asset for v in report.verdicts if not v.runs]
    out.append("verdict: every asset will run" if not failing else
               f"verdict: {len(failing)} of {len(report.verdicts)} assets will not run: "
               f"{', '.join(failing)}")
    text = "\n".join(out) + "\n"
    for secret in report.secrets:
        text = text.replace(secret, "***")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    argparse.ArgumentParser(
        prog="python -m pipelines.doctor",
        description="Probe the endpoints configured in the environment (about 20 requests) and "
                    "say which ingest assets will run over the configured window; exit 1 if "
                    "any will not.").parse_args(argv)
    report = diagnose()
    sys.stdout.write(render(report))
    sys.stdout.flush()
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
