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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from core.errors import SourceError

# _STATED_SPAN: the client's own reading of a stated range limit, so the doctor reads a
# refusal exactly as a run would.
from core.resources.evm import (
    _STATED_SPAN,
    RECEIPTS_ADVICE,
    EvmRpc,
    RpcError,
    bloom_suspects,
    midnight,
    receipts_missing,
)
from core.resources.http import HttpSource
from core.settings import Settings

if TYPE_CHECKING:  # loaded on first use (_load), so a broken chains.yaml is a row
    from assets.ingest.evm.blocks import ClosingBlock, Final
    from core.chains import Chain

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "-"
ON_CHAIN_ASSETS = (
    "evm_day_blocks",
    "evm_token_supply",
    "evm_issuance",
    "evm_exchange_reserves",
    "evm_exchange_flows",
)
HTTP_ASSETS = (
    "defillama_total_supply",
    "defillama_token_supply",
    "coingecko_market_daily",
    "fear_greed_daily",
    "fred_series_daily",
)
ASSETS = ON_CHAIN_ASSETS + HTTP_ASSETS
# Assets that read state at old closing blocks when balances come from state (eth_call), and
# that rewind from a recent block with logs when they come from logs.
STATE_ASSETS = ("evm_token_supply", "evm_exchange_reserves")
LOG_ASSETS = ("evm_issuance", "evm_exchange_flows")
# Fast failure: a dead endpoint costs two attempts per request, not five with back-off.
CLIENT_OPTIONS = dict(max_attempts=2, backoff_s=0.5, timeout_s=30.0)
WIDE_TOPICS = 1000  # what geth, Erigon and java-tron take per topic position
ARCHIVE_ADVICE = (
    "use an archive node (or a provider's archive tier), or read balances and "
    "supply from logs: {setting}=logs"
)
LATEST_ONLY_ADVICE = (
    "use a node that serves state at past blocks (an archive node of an EVM chain); a TRON "
    "node's supply and reserves are not read (README, java-tron)"
)
NITRO_ADVICE = (
    "run Nitro with --execution.rpc.classic-redirect=<a classic archive node>, or read "
    "balances and supply from logs: {setting}=logs, or a STABLEFLOW_START_DATE of 2022-08-31 "
    "or later (Arbitrum One's Nitro genesis)"
)
PRUNED_ADVICE = (
    "use a node that keeps all history (geth --history.chain all, or a provider's "
    "archive tier), or a later STABLEFLOW_START_DATE (after the node's first "
    "block; geth --history.chain postmerge keeps blocks from 2022-09-15 on)"
)
COINGECKO_PRO_URL = "https://pro-api.coingecko.com/api/v3"
# A stated result cap: Infura "query returned more than 10000 results", reth "max results
# 20000", Alchemy "a cap of 10K logs in the response".
_STATED_CAP = re.compile(r"(?:more than |max results |cap of )([\d,]+)(k?)\b")
_BLOCK_PARAM = re.compile(r"eth_getBlockByNumber\(\['(0x[0-9a-fA-F]+)'")
_DAY = dt.timedelta(days=1)
# A chain's checks in report order: a step that fails names those it leaves unprobed.
_CHAIN_CHECKS = (
    "chain id",
    "batch size",
    "finalized tag",
    "closing blocks",
    "token contracts",
    "archive state",
    "eth_call state override",
    "eth_call size",
    "values per topic position",
    "log range",
    "result cap",
    "pruned history",
    "eth_getLogs calls",
)
_HEAD_CALLS = (
    ("eth_chainId", []),
    ("eth_blockNumber", []),
    ("eth_getBlockByNumber", ["finalized", False]),
)


def _load() -> dict:
    """The asset-side helpers and the label set, loaded on first use: a broken chains.yaml or
    label file is then a row of the report, not a traceback. Dagster's beta warnings about
    the asset decorators are not the doctor's business."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        modules = {
            name: importlib.import_module(f"assets.ingest.{name}")
            for name in (
                "alternative_me",
                "coingecko",
                "defillama",
                "fred",
                "labels",
                "noncirculating",
            )
        }
        modules |= {
            name: importlib.import_module(f"assets.ingest.evm.{name}")
            for name in ("assets", "blocks", "extract")
        }
        modules["chains"] = importlib.import_module("core.chains")
    modules["evm_assets"] = modules.pop("assets")
    modules["labels"] = modules["labels"].load_labels()
    modules["noncirculating_seed"] = modules["noncirculating"].load_noncirculating()
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
            out.append(
                Verdict(asset, not problems, "; ".join(w for w, _ in problems), "; ".join(changes))
            )
        return out


class _Findings:
    """A fail row and the assets it stops, for whatever has `row` and `block`."""

    def row(self, check: str, result: str, status: str, change: str = "") -> None:
        raise NotImplementedError

    def block(self, assets: Sequence[str], why: str, change: str) -> None:
        raise NotImplementedError

    def fail(
        self,
        check: str,
        result: str,
        change: str,
        assets: Sequence[str],
        why: str | None = None,
        fix: str | None = None,
    ) -> None:
        """A fail row, and the assets it stops: why and what to change default to the row's."""
        self.row(check, result, FAIL, change)
        self.block(assets, why or result, fix or change)


@dataclass
class _Run(_Findings):
    """One run of the doctor: what the probes read (settings, window, environment, the
    asset-side helpers) and what they find (rows, blockers, clients whose requests count)."""

    settings: Settings
    start: dt.date
    end: dt.date
    env: Mapping[str, str]
    m: dict
    rpc_options: dict
    blockers: _Blockers
    rows: list[Row] = field(default_factory=list)
    clients: dict[str, Any] = field(default_factory=dict)

    def row(self, check: str, result: str, status: str, change: str = "") -> None:
        self.rows.append(Row(check, result, status, change))

    def block(self, assets: Sequence[str], why: str, change: str) -> None:
        self.blockers.add(assets, why, change)

    def source(self, name: str, base_url: str, **extra) -> HttpSource:
        client = HttpSource(name=name, base_url=base_url, **{**CLIENT_OPTIONS, **extra})
        self.clients[name] = client
        return client


# --- text -----------------------------------------------------------------------------------


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
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _http_error(exc: Exception) -> str:
    """An HTTP client's error without the method and URL (the endpoint lines show the base
    URL), e.g. "gave up after 2 attempts; last problem: ConnectionError"."""
    text = re.sub(r"^[\w. ]+: (?:GET|POST) \S+ ", "", str(exc) or type(exc).__name__)
    return _short(text, 220)


def _stated(pattern: re.Pattern, text: str) -> int | None:
    """The number a refusal states (a range limit, a result cap); "10K" is 10,000."""
    match = pattern.search(text.lower())
    if not match:
        return None
    return int(match.group(1).replace(",", "")) * (1000 if match.group(2) else 1)


# --- JSON-RPC probes ------------------------------------------------------------------------


def _message(answer: Any) -> str:
    return answer.rpc_message if isinstance(answer, RpcError) else str(answer)


def _pruned(answer: Any) -> bool:
    return isinstance(answer, RpcError) and answer.kind == "pruned"


def _calls(filters: int, blocks: int, span: int) -> int:
    return filters * max(1, math.ceil(blocks / span))


@dataclass
class _ChainProbe(_Findings):
    """One chain's probes: its client, and rows named after the chain."""

    run: _Run
    chain: Chain
    rpc: EvmRpc | None = None
    logs_mode: bool = False  # STABLEFLOW_<CHAIN>_BALANCES=logs

    @property
    def setting(self) -> str:
        """The variable holding the node's URL."""
        return self.chain.rpc_url_env

    @property
    def log_assets(self) -> tuple[str, ...]:
        """The assets that scan logs: with balances from logs, the state assets too."""
        return LOG_ASSETS + (STATE_ASSETS if self.logs_mode else ())

    def row(self, check: str, result: str, status: str, change: str = "") -> None:
        self.run.row(f"{self.chain.name} {check}", result, status, change)

    def block(self, assets: Sequence[str], why: str, change: str) -> None:
        self.run.block(assets, why, change)

    def has(self, check: str) -> bool:
        return any(r.check == f"{self.chain.name} {check}" for r in self.run.rows)

    def skip(self, why: str, after: str | None = None) -> None:
        """One row for the checks (after `after`) that have no row of their own."""
        later = _CHAIN_CHECKS[_CHAIN_CHECKS.index(after) + 1 :] if after else _CHAIN_CHECKS
        self.row(
            "other checks",
            f"not probed ({why}): {', '.join(c for c in later if not self.has(c))}",
            SKIP,
        )


@dataclass(frozen=True)
class _Blocks:
    """The final block and, when they resolved, the closing blocks of the day before the
    window and of its first day."""

    final: Final
    before: ClosingBlock | None = None
    start: ClosingBlock | None = None

    @property
    def first(self) -> int | None:
        """The window's first block."""
        return self.before.number + 1 if self.before else None

    @property
    def per_day(self) -> int | None:
        return max(1, self.start.number - self.before.number) if self.before else None


def _probe_chain(run: _Run, chain: Chain) -> None:
    """Every check of one chain, in report order: one batch for the chain id, the batch size
    and the finalized tag; the closing-block search; one batch for all the rest."""
    p = _ChainProbe(run, chain)
    url = run.env.get(chain.rpc_url_env, "")
    if not url:
        change = f"set {p.setting} to the JSON-RPC URL of a node of {chain.name}"
        p.fail("endpoint", f"{p.setting} is not set", change, ON_CHAIN_ASSETS)
        p.skip(f"{p.setting} is not set")
        return
    p.rpc = _client(p, url)
    blocks = _closing_blocks(p) if _chain_head(p) else None
    if blocks is None:  # the step that failed has said what it leaves unprobed
        return
    results = _probe_batch(p, blocks)
    _window_end(p, blocks.final, results.get("final header"))
    _token_contracts(p, results)
    _archive_state(p, blocks, results)
    _state_override(p, blocks.final.number, results.get("override"))
    _call_size(p, blocks.final.number, results.get("override full"))
    _topic_values(p, results)
    span = _log_range(p, blocks, results.get("range"))
    _result_cap(p, results.get("range"))
    _pruned_history(
        p,
        blocks.first,
        results.get("first header"),
        results.get("first logs"),
        results.get("first receipts"),
    )
    _log_calls(p, blocks, span)


def _client(p: _ChainProbe, url: str) -> EvmRpc:
    """The chain's client as the resources configure it, failing fast. A balances setting
    the pipeline rejects is a row; the probes go on as if it said state."""
    try:
        balances = p.run.m["chains"].balances_from(p.chain)
    except ValueError as exc:  # ConfigError: neither state nor logs
        balances = "state"
        # pipelines/definitions.py reads it on import: no asset at all can run
        p.fail(
            "balances setting",
            _short(str(exc), 220),
            "set it to state or logs",
            ASSETS,
            why=f"the code location fails to load: {_short(str(exc), 200)}",
        )
    p.logs_mode = balances == "logs"
    rpc = EvmRpc(
        chain=p.chain.name, url=url, **{"balances": balances, **CLIENT_OPTIONS, **p.run.rpc_options}
    )
    p.run.clients[f"{p.chain.name} rpc"] = rpc
    return rpc


def _chain_head(p: _ChainProbe) -> bool:
    """The first request: eth_chainId, eth_blockNumber and the `finalized` header, padded
    with eth_blockNumber to batch_size calls (does the node take a batch that size? if not,
    the three go alone). Rows for chain id, batch size and finalized tag; False when the
    later checks cannot run."""
    size = max(p.rpc.batch_size, len(_HEAD_CALLS))
    padding = [("eth_blockNumber", [])] * (size - len(_HEAD_CALLS))
    try:
        answers = p.rpc.send([*_HEAD_CALLS, *padding])
        refusal = _batch_refusal(answers)
    except SourceError as exc:
        refusal = _http_error(exc)
    if refusal is not None:
        try:
            answers = p.rpc.send(_HEAD_CALLS)
        except SourceError as exc:
            _no_answer(p, exc)
            return False
    if not _chain_id(p, answers[0]):
        return False
    if refusal is None:
        p.row("batch size", f"a batch of {size} calls answered in one request", OK)
    else:
        p.row(
            "batch size",
            f"a batch of {size} calls refused ({refusal}); the client halves "
            f"refused batches, at a few extra requests",
            WARN,
            "none needed; or run the node with a higher batch limit",
        )
    _finalized_tag(p, answers[1], answers[2])
    return True


def _batch_refusal(answers: list) -> str | None:
    """A call refused as "batch too large", or every call refused: the batch was."""
    refused = [a for a in answers if isinstance(a, RpcError) and a.kind == "batch"]
    if refused or all(isinstance(a, RpcError) for a in answers):
        return _refusal(refused[0] if refused else answers[0])
    return None


def _no_answer(p: _ChainProbe, exc: Exception) -> None:
    p.fail(
        "endpoint",
        f"{p.rpc.http.shown_url(p.rpc.url)} did not answer: {_http_error(exc)}",
        f"check {p.setting}: the node must answer JSON-RPC over HTTP",
        ON_CHAIN_ASSETS,
        why=f"the node at {p.setting} did not answer",
        fix=f"check {p.setting}: the JSON-RPC URL of a reachable node of {p.chain.name}",
    )
    p.skip("the node did not answer")


def _chain_id(p: _ChainProbe, answer: Any) -> bool:
    """Does the node serve the chain chains.yaml names? Nothing more is asked of another."""
    name, expected, setting = p.chain.name, p.chain.chain_id, p.setting
    try:
        actual = int(answer, 16)
    except (TypeError, ValueError):
        p.fail(
            "chain id",
            f"eth_chainId answered {_refusal(answer)}",
            f"point {setting} at a node of {name}",
            ON_CHAIN_ASSETS,
            why=f"eth_chainId at {setting} failed",
            fix=f"point {setting} at a JSON-RPC node of {name}",
        )
        p.skip("no chain id", after="chain id")
        return False
    if actual != expected:
        p.fail(
            "chain id",
            f"{actual}, but chains.yaml says {expected}: another network",
            f"point {setting} at a node of {name} (chain id {expected})",
            ON_CHAIN_ASSETS,
            why=f"the node at {setting} serves chain id {actual}, chains.yaml says "
            f"{name}.chain_id = {expected}",
        )
        p.skip("the node serves another chain", after="chain id")
        return False
    p.row("chain id", f"{actual} (chains.yaml {name}.chain_id: {expected})", OK)
    return True


def _finalized_tag(p: _ChainProbe, latest: Any, finalized: Any) -> None:
    """Without the tag, the final block is the head minus chains.yaml confirmations."""
    try:
        head = int(latest, 16)
    except (TypeError, ValueError):
        head = None
    if isinstance(finalized, dict) and "number" in finalized:
        number = int(finalized["number"], 16)
        behind = f", {head - number:,} behind the head {head:,}" if head is not None else ""
        p.row("finalized tag", f"answered: block {number:,}{behind}", OK)
        return
    p.row(
        "finalized tag",
        f"not answered ({_refusal(finalized) if finalized else 'null'}): "
        f"the final block is the head minus {p.chain.confirmations} blocks",
        WARN,
        f"none needed; chains.yaml {p.chain.name}.confirmations sets the depth",
    )


def _closing_blocks(p: _ChainProbe) -> _Blocks | None:
    """The closing blocks of the day before the window and of its first day, found as the
    assets find them (they also give blocks per day). None without a final block."""
    blocks, before, final = p.run.m["blocks"], p.run.start - _DAY, None
    try:
        final = blocks.final_block(p.rpc, p.chain)
        closing = blocks.resolve_closing_blocks(p.rpc, [before, p.run.start], final)
    except Exception as exc:  # noqa: BLE001 - every failure is a row
        _closing_failed(p, exc)
        if final is None:
            p.skip("no final block", after="closing blocks")
            return None
        return _Blocks(final)
    found = _Blocks(final, closing[before], closing[p.run.start])
    p.row(
        "closing blocks",
        f"{before}: block {found.before.number:,}; {p.run.start}: block "
        f"{found.start.number:,} (~{found.per_day:,} blocks a day); final block "
        f"{final.number:,}",
        OK,
    )
    return found


def _closing_failed(p: _ChainProbe, exc: Exception) -> None:
    """Why the closing blocks are unknown; pruned history on the way gets its own row."""
    text, days = str(exc), f"{p.run.start - _DAY} and {p.run.start}"
    why, change = _short(text, 220), _closing_change(p, exc)
    shown = change
    if change == PRUNED_ADVICE:  # the pruned-history row carries the advice
        found = _BLOCK_PARAM.search(text)
        at = f" at block {int(found.group(1), 16):,}" if found else ""
        why = f"the search for them reached pruned history{at} (error 4444)"
        shown = "see pruned history"
        p.row(
            "pruned history",
            f"the closing blocks of {days} are in pruned history: error "
            f"4444 pruned history unavailable{at}",
            FAIL,
            change,
        )
    p.fail(
        "closing blocks",
        f"could not resolve {days}: {why}",
        shown,
        ON_CHAIN_ASSETS,
        why=f"closing blocks: {why}",
        fix=change,
    )


def _closing_change(p: _ChainProbe, exc: Exception) -> str:
    text, name = str(exc), p.chain.name
    if "another chain" in text:
        return f"point {p.setting} at a node of {name} (or fix chains.yaml {name}.anchor)"
    if "4444" in text or "pruned history" in text:
        return PRUNED_ADVICE
    if isinstance(exc, p.run.m["blocks"].NotFinalError):
        return "wait until the day has ended on chain, or an earlier STABLEFLOW_START_DATE"
    if isinstance(exc, ValueError):
        return "set STABLEFLOW_START_DATE after the chain's first block"
    return f"check the node at {p.setting}"


def _probe_batch(p: _ChainProbe, b: _Blocks) -> dict[str, Any]:
    """The other probes in one batch: each one's result or its RpcError, by name (the
    batch's own failure for each when it fails as a whole)."""
    probes = _probes(p, b)
    try:
        answers = p.rpc.batch([(method, params) for _, method, params in probes], errors="return")
    except Exception as exc:  # noqa: BLE001 - every failure is a row
        answers = [exc] * len(probes)
    return dict(zip([name for name, _, _ in probes], answers))


def _probes(p: _ChainProbe, b: _Blocks) -> list[tuple[str, str, list]]:
    """(name, method, params) of the probes after the closing blocks."""
    final, tokens = b.final.number, p.chain.tokens
    everyone = [t.address for t in tokens]
    nothing = p.run.m["chains"].topic("StableflowDoctorProbe()")  # no contract emits it
    supply = p.run.m["extract"]._TOTAL_SUPPLY  # the call extract.token_supply sends
    probes = [
        (f"supply {t.symbol}", "eth_call", [{"to": t.address, "data": supply}, hex(b.start.number)])
        for t in (tokens if b.start else ())
    ]
    # ... and at the latest block: the same answer at both is state served from the latest
    probes += [
        (f"supply now {t.symbol}", "eth_call", [{"to": t.address, "data": supply}, "latest"])
        for t in (tokens if b.start else ())
    ]
    probes += [(f"code {t.symbol}", "eth_getCode", [t.address, "latest"]) for t in tokens]
    probes.append(("override", "eth_call", _reader_params(p, final)))
    probes.append(("override full", "eth_call", _reader_params(p, final, _per_call(p))))
    for n in _topic_widths(p.chain):
        values = ["0x" + format(i + 1, "064x") for i in range(n)]
        probes.append(
            (
                f"topics {n}",
                "eth_getLogs",
                [_log_filter(tokens[0].address, [nothing, values], final, final)],
            )
        )
    probes.append(
        ("range", "eth_getLogs", [_log_filter(everyone, [nothing], _range_start(p, b), final)])
    )
    if b.first is not None:
        probes += [
            ("first header", "eth_getBlockByNumber", [hex(b.first), False]),
            # every log of the tokens in that block: none where its header says some is a
            # node with pruned receipts (EvmRpc.check_logs_held, as the scans check it)
            ("first logs", "eth_getLogs", [_log_filter(everyone, [], b.first, b.first)]),
            ("first receipts", "eth_getBlockReceipts", [hex(b.first)]),
        ]
    if final not in b.final.known:  # the finalized tag did not give its timestamp
        probes.append(("final header", "eth_getBlockByNumber", [hex(final), False]))
    return probes


def _log_filter(address: str | list[str], topics: list, low: int, high: int) -> dict:
    return {"address": address, "topics": topics, "fromBlock": hex(low), "toBlock": hex(high)}


def _per_call(p: _ChainProbe) -> int:
    """Labelled addresses in the largest BalanceReader call the reads send."""
    most = p.run.m["extract"].addresses_per_call(p.chain)
    return max(1, min(most, len(p.run.m["labels"].addresses(p.chain.name))))


def _call_size(p: _ChainProbe, final: int, answer: Any) -> None:
    """The largest BalanceReader call the reads send, at the final block: within the gas and
    the time the node lets one eth_call take, or the reads ask fewer balances per call."""
    override = f"{p.chain.name} eth_call state override"
    if any(r.check == override and r.status != OK for r in p.run.rows):
        return  # no override, no reader: that row has said it
    tokens = len(p.chain.tokens)
    balances = _per_call(p) * tokens
    expected = p.run.m["extract"].reader_answer_chars(tokens, _per_call(p))
    if isinstance(answer, str) and len(answer.removeprefix("0x")) == expected:
        p.row("eth_call size", f"{balances:,} balances in one call at block {final:,}", OK)
        return
    heavy = isinstance(answer, RpcError) and answer.kind == "gas"
    p.row(
        "eth_call size",
        f"{balances:,} balances in one call at block {final:,}: {_refusal(answer)}"
        + (": the reads will ask fewer per call until they fit, more calls a day" if heavy else ""),
        WARN,
        "raise the node's eth_call gas cap (geth and Erigon --rpc.gascap, Nitro "
        "--execution.rpc.gas-cap) or timeout (geth --rpc.evmtimeout), or accept more calls"
        if heavy
        else "",
    )


def _reader_params(p: _ChainProbe, block: int, addresses: int = 1) -> list:
    """The BalanceReader eth_call as extract.balances sends it, for the first `addresses`
    labelled addresses."""
    extract = p.run.m["extract"]
    sample = p.run.m["labels"].addresses(p.chain.name)[:addresses] or ["0x" + "00" * 20]
    return [
        {"to": extract.READER_ADDRESS, "data": extract.reader_data(p.chain, sample)},
        hex(block),
        {extract.READER_ADDRESS: {"code": extract.READER_CODE}},
    ]


def _topic_widths(chain: Chain) -> list[int]:
    return list(dict.fromkeys([chain.max_topic_values, WIDE_TOPICS]))


def _range_start(p: _ChainProbe, b: _Blocks) -> int:
    """max_log_blocks back from the final block, but not before the window."""
    return max(b.first if b.first is not None else 0, b.final.number - p.rpc.max_log_blocks + 1, 0)


def _final_time(final: Final, header: Any) -> int | None:
    """The final block's unix time: from the finalized tag's answer, else from its header
    (the "final header" probe); None when neither gave it."""
    ts = final.known.get(final.number, (None,))[0]
    if ts is None and isinstance(header, dict):
        ts = int(header["timestamp"], 16)
    return ts


def _window_end(p: _ChainProbe, final: Final, header: Any) -> None:
    """Has the window's last day ended on chain? No row when the final block's time is unknown."""
    ts = _final_time(final, header)
    if ts is None:
        return
    end, when = p.run.end, f"{dt.datetime.fromtimestamp(ts, dt.UTC):%Y-%m-%d %H:%M}Z"
    if ts >= midnight(end + _DAY):
        p.row(
            "window end",
            f"{end} has ended on chain (final block {final.number:,} is at {when})",
            OK,
        )
        return
    p.fail(
        "window end",
        f"{end} has not ended on chain yet (final block {final.number:,} is at {when})",
        "wait until the window's last day is final, or an earlier STABLEFLOW_END_DATE",
        ON_CHAIN_ASSETS,
    )


def _token_contracts(p: _ChainProbe, results: dict[str, Any]) -> None:
    """Code at every configured token address at the latest block (state every node keeps,
    java-tron's only): none is a wrong address, which no read of the token can serve."""
    codes = [(t, results.get(f"code {t.symbol}")) for t in p.chain.tokens]
    refused = [(t, c) for t, c in codes if not isinstance(c, str)]
    if refused:
        token, error = refused[0]
        p.row(
            "token contracts",
            f"eth_getCode of {token.symbol} at the latest block: {_refusal(error)}",
            WARN,
            "the reads do not need it; the address is not checked",
        )
        return
    missing = [t for t, c in codes if c in ("0x", "")]
    if missing:
        token = missing[0]
        p.fail(
            "token contracts",
            f"no contract at {token.symbol}'s address {token.address} at the latest block",
            f"correct {p.chain.name}'s {token.symbol} address in core/chains.yaml",
            ON_CHAIN_ASSETS,
        )
        return
    names = ", ".join(t.symbol for t in p.chain.tokens)
    p.row("token contracts", f"{names}: code at the latest block", OK)


def _archive_state(p: _ChainProbe, b: _Blocks, results: dict[str, Any]) -> None:
    """totalSupply() of every token at the window's first closing block: state that old?
    No data from a token with code now is a token deployed later: it reads as 0 there."""
    if b.start is None:
        p.row("archive state", "not probed: the window's closing blocks are unknown", SKIP)
        return
    at, day = b.start.number, p.run.start
    answers = [(t, results.get(f"supply {t.symbol}")) for t in p.chain.tokens]
    errors = [(t, a) for t, a in answers if not isinstance(a, str)]
    empty = [t for t, a in answers if isinstance(a, str) and a in ("0x", "")]
    later = ", ".join(t.symbol for t in empty)
    if errors:
        _no_archive_state(p, at, *errors[0])
    elif len(empty) == len(answers) or not all(t.deployed_after_anchor for t in empty):
        # never taken for zero: before every token, or a token older than the chain's anchor
        # (core/chains.yaml), is state the node answers as empty (Erigon with pruned history)
        result = (
            f"totalSupply() of {later} at block {at:,} ({day}'s closing block) returned no "
            f"data: the window starts before the chain's tokens, or the node answers state "
            f"it no longer holds as empty (Erigon with pruned history)"
        )
        if p.logs_mode:
            setting = p.rpc.balances_setting
            p.row("archive state", result, WARN, f"none needed: {setting}=logs")
            return
        change = "a later STABLEFLOW_START_DATE, or " + ARCHIVE_ADVICE.format(
            setting=p.rpc.balances_setting
        )
        p.fail("archive state", result, change, STATE_ASSETS, why="no token answered there")
    elif _same_as_now(answers, results) and _days_to_final(b, results, p.run.start) >= 2:
        # Erigon has answered old blocks from its latest state (erigontech/erigon#4149,
        # #12977): every token's supply unchanged across the window says so, or a quiet chain
        p.row(
            "archive state",
            f"totalSupply() of every token at block {at:,} ({day}'s closing block) is what it "
            f"is at the latest block: the node may answer old blocks from its latest state "
            f"(Erigon has)",
            WARN,
            "compare an old day with an archive node or a block explorer; the reconciliation "
            "checks of supply with issuance fail such days",
        )
    else:
        deployed_later = f"; {later} not deployed yet, read as 0 there" if empty else ""
        p.row(
            "archive state",
            f"totalSupply() at block {at:,} ({day}'s closing block) served{deployed_later}",
            OK,
        )


def _days_to_final(b: _Blocks, results: dict[str, Any], start: dt.date) -> int:
    """Days from the window's first day to the final block's (its header's time where the
    finalized tag gave none; 0 when unknown): over two or more, every token's totalSupply()
    unchanged is suspect, as USDT's and USDC's change every day on the chains read."""
    ts = _final_time(b.final, results.get("final header"))
    return 0 if ts is None else (dt.datetime.fromtimestamp(ts, dt.UTC).date() - start).days


def _same_as_now(answers: list[tuple[Any, Any]], results: dict[str, Any]) -> bool:
    """Does every token answer the same totalSupply() at the window's start as now?"""
    now = [results.get(f"supply now {t.symbol}") for t, _ in answers]
    return all(isinstance(a, str) and a == n for (_, a), n in zip(answers, now))


def _no_archive_state(p: _ChainProbe, at: int, token: Any, error: Any) -> None:
    """A refused totalSupply(): with balances from logs, old state is not needed."""
    where, setting = f"block {at:,} ({p.run.start}'s closing block)", p.rpc.balances_setting
    state = isinstance(error, RpcError) and error.kind == "state"
    nitro = state and error.before_nitro
    latest_only = state and error.latest_only
    reason = (
        "before the node's Nitro genesis, where Nitro executes nothing, archive or not"
        if nitro
        else "the node serves state at 'latest' only, at no numbered block (java-tron)"
        if latest_only
        else "no state there, not an archive node"
        if state
        else _refusal(error)
    )
    result = f"totalSupply() of {token.symbol} at {where}: " + (
        f"{reason} ({_refusal(error)})" if state else f"refused ({reason})"
    )
    if latest_only:  # neither balances mode can read such a node's state
        p.fail("archive state", result, LATEST_ONLY_ADVICE, STATE_ASSETS, why=reason)
        return
    if p.logs_mode:
        p.row(
            "archive state",
            result,
            WARN,
            f"none needed: {setting}=logs reads state at a recent block only",
        )
        return
    change = (NITRO_ADVICE if nitro else ARCHIVE_ADVICE).format(setting=setting)
    if not state:
        change = f"check that the node at {p.setting} serves eth_call at old blocks; {change}"
    p.fail("archive state", result, change, STATE_ASSETS, why=f"eth_call at {where}: {reason}")


def _state_override(p: _ChainProbe, final: int, answer: Any) -> None:
    """The BalanceReader call answers its 32-byte words for its one address."""
    tokens = len(p.chain.tokens)
    expected = p.run.m["extract"].reader_answer_chars(tokens, 1)
    if isinstance(answer, str) and len(answer.removeprefix("0x")) == expected:
        p.row(
            "eth_call state override",
            f"BalanceReader answered at block {final:,} ({tokens} balances)",
            OK,
        )
        return
    what = (
        _refusal(answer)
        if not isinstance(answer, str)
        else f"answered {len(answer.removeprefix('0x')) // 2} bytes, not {expected // 2}: the "
        f"override was ignored"
    )
    fix = "use a node that takes eth_call state overrides"
    p.fail(
        "eth_call state override",
        f"BalanceReader at block {final:,}: {what}",
        f"{fix} (geth, Erigon, Nethermind, most providers)",
        ("evm_exchange_reserves",) + (("evm_token_supply",) if _reads_wallets(p) else ()),
        why=f"eth_call with a state override fails ({what})",
        fix=fix,
    )


def _reads_wallets(p: _ChainProbe) -> bool:
    """Does evm_token_supply run the BalanceReader on this chain? In logs mode its snapshot
    does; in state mode, for the chain's noncirculating wallets (sql/seeds), if any."""
    noncirculating = p.run.m["noncirculating"]
    return p.logs_mode or bool(noncirculating.wallets(p.run.m["noncirculating_seed"], p.chain.name))


def _topic_values(p: _ChainProbe, results: dict[str, Any]) -> None:
    """chains.yaml max_topic_values, and 1,000, values in one topic position."""
    name, configured = p.chain.name, p.chain.max_topic_values
    got = {n: results.get(f"topics {n}") for n in _topic_widths(p.chain)}
    parts = [
        f"{n:,}: {'accepted' if isinstance(a, list) else 'refused (' + _refusal(a) + ')'}"
        for n, a in got.items()
    ]
    result = "; ".join(parts) + f" (chains.yaml {name}.max_topic_values: {configured:,})"
    if isinstance(got[configured], list):
        p.row("values per topic position", result, OK)
        return
    p.fail(
        "values per topic position",
        result,
        f"lower chains.yaml {name}.max_topic_values",
        ("evm_exchange_flows",) + (STATE_ASSETS if p.logs_mode else ()),
        why=f"the node refuses {configured:,} values in one topic position",
    )


def _log_range(p: _ChainProbe, b: _Blocks, answer: Any) -> int | None:
    """eth_getLogs over up to max_log_blocks blocks: how many blocks a call may span (None:
    unknown). A refusal may state the node's limit; the client halves ranges otherwise."""
    low, final, widest = _range_start(p, b), b.final.number, p.rpc.max_log_blocks
    asked = final - low + 1
    stated = (
        None
        if isinstance(answer, list) or _pruned(answer)
        else _stated(_STATED_SPAN, _message(answer))
    )
    if isinstance(answer, list):
        whole = " (all the blocks asked)" if asked < widest else ""
        p.row(
            "log range", f"eth_getLogs over {asked:,} blocks {low:,}..{final:,} accepted{whole}", OK
        )
    elif _pruned(answer):
        p.row(
            "log range",
            f"not measured: blocks {low:,}..{final:,} reach pruned history ({_refusal(answer)})",
            WARN,
            "see pruned history",
        )
    elif stated:
        narrow = stated < 1000
        p.row(
            "log range",
            f"at most {stated:,} blocks a call (the node's refusal of {asked:,} blocks says so)",
            WARN if narrow else OK,
            "a node or provider tier with wider log ranges" if narrow else "",
        )
    elif isinstance(answer, RpcError) and answer.kind == "range":
        p.row(
            "log range",
            f"{asked:,} blocks refused without a stated limit "
            f"({_refusal(answer)}): the client halves ranges as it goes",
            WARN,
            "none needed; a node with wider log ranges costs fewer requests",
        )
    else:
        p.fail(
            "log range",
            f"eth_getLogs over {asked:,} blocks failed: {_refusal(answer)}",
            f"check that the node at {p.setting} serves eth_getLogs",
            p.log_assets,
            why=f"eth_getLogs fails ({_refusal(answer)})",
            fix=f"use a node that serves eth_getLogs at {p.setting}",
        )
    return widest if isinstance(answer, list) else stated or None


def _result_cap(p: _ChainProbe, answer: Any) -> None:
    """A cap on logs per call, if the log-range refusal states one."""
    refused = not isinstance(answer, list) and not _pruned(answer)
    cap = _stated(_STATED_CAP, _message(answer)) if refused else None
    if cap:
        p.row("result cap", f"at most {cap:,} logs a call (stated in the refusal)", OK)
    else:
        p.row(
            "result cap",
            "learnt while running: a range the node finds too full is split where it says",
            OK,
        )


def _pruned_history(
    p: _ChainProbe, first: int | None, header: Any, logs: Any, receipts: Any
) -> None:
    """The header, logs and receipts of the window's first block: pruned (EIP-4444), or
    receipts pruned and answered as no logs? Another refusal is a warning, and fails the log
    scans unless it is about the logs' range."""
    if first is None:
        if not p.has("pruned history"):  # the closing-block search may have found it
            p.row("pruned history", "not probed: the window's closing blocks are unknown", SKIP)
    elif _pruned(header) or _pruned(logs):
        what = " and ".join(w for w, a in (("header", header), ("logs", logs)) if _pruned(a))
        p.fail(
            "pruned history",
            f"block {first:,} (the window's first): {what} pruned (4444)",
            PRUNED_ADVICE,
            ON_CHAIN_ASSETS if _pruned(header) else p.log_assets,
            why=f"the window's first block {first:,} is in pruned history (4444)",
        )
    elif (suspects := bloom_suspects(header, logs, [t.address for t in p.chain.tokens])) and (
        missing := receipts_missing(first, suspects, receipts, header)
    ):
        p.fail(
            "pruned history",
            f"{missing} (the window's first block)",
            RECEIPTS_ADVICE,
            p.log_assets,
            why=f"the window's first block {first:,} has no receipts on this node",
        )
    elif isinstance(header, dict) and isinstance(logs, list):
        p.row(
            "pruned history",
            f"none at block {first:,} (the window's first): header and logs served",
            OK,
        )
    else:
        bad = header if not isinstance(header, dict) else logs
        p.row(
            "pruned history",
            f"block {first:,}: {_refusal(bad) if bad else 'null'}",
            WARN,
            f"check that the node at {p.setting} serves old blocks and logs",
        )
        if not isinstance(logs, list) and not (isinstance(logs, RpcError) and logs.kind == "range"):
            p.block(
                LOG_ASSETS,
                f"eth_getLogs at block {first:,} fails ({_refusal(logs)})",
                f"use a node that serves eth_getLogs over the window at {p.setting}",
            )


def _log_calls(p: _ChainProbe, b: _Blocks, span: int | None) -> None:
    """The eth_getLogs calls each log scan needs, from the node's log range and blocks per
    day, against max_log_requests per part of PROGRESS_DAYS days (as the assets run)."""
    if b.per_day is None or span is None:
        p.row(
            "eth_getLogs calls",
            "not estimated: "
            + (
                "blocks per day unknown" if b.per_day is None else "the node's log range is unknown"
            ),
            SKIP,
        )
        return
    days = (p.run.end - p.run.start).days + 1
    part_days, limit = min(days, p.run.m["evm_assets"].PROGRESS_DAYS), p.rpc.max_log_requests
    addresses = p.run.m["labels"].addresses(p.chain.name)
    filters = {
        "evm_issuance": len(p.run.m["extract"].issuance_filters(p.chain)),
        "evm_exchange_flows": len(p.run.m["extract"].transfer_filters(p.chain, addresses)),
    }
    calls = {
        asset: (_calls(n, b.per_day * days, span), _calls(n, b.per_day * part_days, span))
        for asset, n in filters.items()
    }
    estimates = [f"{asset.removeprefix('evm_')} ~{total:,}" for asset, (total, _) in calls.items()]
    rewind = None
    if p.logs_mode and b.first is not None:  # state at the final block, rewound to the window
        rewind = _calls(sum(filters.values()), max(1, b.final.number - b.first + 1), span)
        estimates.append(f"rewind from the final block ~{rewind:,}")
    result = (
        f"{', '.join(estimates)} over {days:,} days at {span:,} blocks a call and "
        f"~{b.per_day:,} blocks a day (max_log_requests: {limit:,} per "
        f"{part_days}-day part)"
    )
    over = {asset: n for asset, n in calls.items() if n[1] > limit}
    if over or rewind is not None and rewind > limit:
        _too_many_calls(p, result, span, part_days, over, rewind)
    else:
        p.row("eth_getLogs calls", result, OK)


def _too_many_calls(
    p: _ChainProbe,
    result: str,
    span: int,
    part_days: int,
    over: dict[str, tuple[int, int]],
    rewind: int | None,
) -> None:
    limit = p.rpc.max_log_requests
    change = (
        f"a node or provider tier with wider log ranges (this one: {span:,} blocks), or "
        f"fewer days per run"
    )
    p.row("eth_getLogs calls", result, FAIL, change)
    for asset, (total, part) in over.items():
        p.block(
            (asset,),
            f"eth_getLogs over at most {span:,} blocks a call: ~{total:,} calls "
            f"for the window, ~{part:,} per {part_days}-day part, over max_log_requests "
            f"{limit:,}",
            change,
        )
    if rewind is not None and rewind > limit:
        p.block(
            STATE_ASSETS,
            f"rewinding from the final block takes ~{rewind:,} eth_getLogs "
            f"calls, over max_log_requests {limit:,}",
            change,
        )


# --- HTTP probes: one request per source, on the path its asset uses, read by its parser ----


def _defillama(run: _Run) -> None:
    """The total-supply path. defillama_token_supply's paths are on the same host:
    /stablecoincharts/all?stablecoin={1,2}, /stablecoin/{1,2} (from 2022-05-12) and, for a
    window before that, /stablecoincharts/{Chain}?stablecoin={1,2} per configured chain."""
    check = "defillama /stablecoincharts/all"
    llama = run.source("defillama", run.settings.defillama_url)
    try:
        payload = llama.get_json("/stablecoincharts/all")
    except SourceError as exc:
        why = _http_error(exc)
        run.fail(
            check,
            f"unreachable: {why}",
            "check STABLEFLOW_DEFILLAMA_URL and the network",
            ("defillama_total_supply", "defillama_token_supply"),
            why=f"DefiLlama unreachable ({why})",
            fix="check STABLEFLOW_DEFILLAMA_URL",
        )
        return
    try:
        frame = run.m["defillama"].parse_total_supply(payload, run.start, run.end)
    except Exception as exc:  # noqa: BLE001 - the parser's complaint is the finding
        fix = "a window DefiLlama covers"
        run.fail(
            check,
            _short(str(exc), 220),
            f"{fix} (STABLEFLOW_START_DATE, _END_DATE)",
            ("defillama_total_supply",),
            fix=fix,
        )
        return
    run.row(
        check, f"shape as expected; every day of the window present ({frame.height:,} days)", OK
    )


def _coingecko(run: _Run) -> None:
    """Which tier the key gives, how far back it reaches, and whether the window's start
    (or, when the tier cannot reach it, the oldest day it serves) is served."""
    url = run.settings.coingecko_url
    key = run.env.get("COINGECKO_API_KEY") or None
    header = run.env.get("COINGECKO_API_KEY_HEADER", "x-cg-demo-api-key")
    gecko = run.source("coingecko", url, api_key=key, api_key_header=header)
    earliest = run.m["coingecko"].earliest_day(url, dt.datetime.now(dt.UTC).date())
    tier = ("pro key" if header.lower() == "x-cg-pro-api-key" else "demo key") if key else "no key"
    _coingecko_tier(run, gecko, tier, earliest)
    _coingecko_close(run, gecko, _coingecko_first_day(run, earliest), earliest)


def _coingecko_tier(run: _Run, gecko: HttpSource, tier: str, earliest: dt.date | None) -> None:
    check, url = "coingecko key tier", run.settings.coingecko_url
    host, days = urlsplit(url).hostname, run.m["coingecko"].PUBLIC_HISTORY_DAYS
    if earliest is not None and tier == "pro key":
        run.row(
            check,
            f"{tier} sent to the public API ({host}), which serves {days} days of "
            f"history: closes from {earliest} on",
            WARN,
            f"STABLEFLOW_COINGECKO_URL={COINGECKO_PRO_URL}",
        )
    elif earliest is not None:
        run.row(
            check,
            f"{tier}: public API ({host}), {days} days of history: closes from {earliest} on",
            OK,
        )
    elif host == urlsplit(COINGECKO_PRO_URL).hostname and tier == "no key":
        run.fail(
            check,
            f"{tier}: paid API ({host}), all history",
            "set COINGECKO_API_KEY",
            ("coingecko_market_daily",),
            why=f"{host} without a key",
        )
    elif host == urlsplit(COINGECKO_PRO_URL).hostname:
        run.row(check, f"{tier}: paid API ({host}), all history", OK)
    else:
        run.row(
            check,
            f"{tier}: base URL {gecko.shown_url(url)}, not CoinGecko's public "
            f"host: no known history limit",
            OK,
        )


def _coingecko_first_day(run: _Run, earliest: dt.date | None) -> dt.date:
    """The window's first day, or the oldest the tier serves when that is later (a fail)."""
    if earliest is None or run.start >= earliest:
        return run.start
    run.fail(
        "coingecko history",
        f"the window starts {run.start}, but the public API serves "
        f"closes from {earliest} on ({run.m['coingecko'].PUBLIC_HISTORY_DAYS} days)",
        f"a paid key (COINGECKO_API_KEY, COINGECKO_API_KEY_HEADER=x-cg-pro-api-key, "
        f"STABLEFLOW_COINGECKO_URL={COINGECKO_PRO_URL}), or STABLEFLOW_START_DATE="
        f"{earliest} or later",
        ("coingecko_market_daily",),
    )
    return min(earliest, run.end)


def _coingecko_close(run: _Run, gecko: HttpSource, day: dt.date, earliest: dt.date | None) -> None:
    """The asset's first request, for the close of `day`."""
    cg, path = run.m["coingecko"], "/coins/bitcoin/market_chart/range"
    lo, hi = cg.request_ranges(day, day, earliest)[0]
    check = "coingecko history" if day == run.start else "coingecko reach"
    try:
        payload = gecko.get_json(
            path, {"vs_currency": "usd", "from": lo, "to": hi, "interval": "daily"}
        )
        served = cg.parse_market_chart(payload, "bitcoin", day, day).height > 0
    except Exception as exc:  # noqa: BLE001 - every failure is a row
        why = f"{path} for the close of {day}: {_http_error(exc)}"
        run.fail(
            check,
            why,
            "check STABLEFLOW_COINGECKO_URL, COINGECKO_API_KEY and its tier",
            ("coingecko_market_daily",),
            why=f"CoinGecko {why}",
        )
        return
    if served:
        run.row(check, f"{path} served the close of {day}", OK)
    else:
        run.fail(
            check,
            f"{path} has no close for {day}",
            "a window CoinGecko covers",
            ("coingecko_market_daily",),
        )


def _fear_greed(run: _Run) -> None:
    """The asset's path, newest values only."""
    payload = run.source("alternative.me", run.settings.alternative_me_url).get_json(
        "/fng/", {"limit": 2}
    )
    run.m["alternative_me"].parse_fear_greed(payload, run.start, run.end)
    newest = payload["data"][0]["timestamp"] if payload.get("data") else None
    seen = (
        f" (newest value: {dt.datetime.fromtimestamp(int(newest), dt.UTC):%Y-%m-%d})"
        if newest
        else ""
    )
    run.row("alternative.me /fng/", f"shape as expected{seen}", OK)


def _fred(run: _Run) -> None:
    """One of the asset's series over the window's first week."""
    last = min(run.start + dt.timedelta(days=6), run.end)
    found = run.source("fred", run.settings.fred_url).get_csv(
        "/graph/fredgraph.csv",
        {"id": "SP500", "cosd": run.start.isoformat(), "coed": last.isoformat()},
    )
    frame = run.m["fred"].parse_fredgraph(found, "SP500", run.start, last, found.header)
    run.row(
        "fred fredgraph.csv",
        f"shape as expected; SP500 {run.start}..{last}: {frame.height} weekdays",
        OK,
    )


# Per source: the probe, and if it raises, the row that becomes, the assets it stops and the
# settings to check.
_HTTP_PROBES = (
    (
        _defillama,
        "defillama /stablecoincharts/all",
        ("defillama_total_supply", "defillama_token_supply"),
        "STABLEFLOW_DEFILLAMA_URL",
    ),
    (
        _coingecko,
        "coingecko history",
        ("coingecko_market_daily",),
        "STABLEFLOW_COINGECKO_URL, COINGECKO_API_KEY and its tier",
    ),
    (_fear_greed, "alternative.me /fng/", ("fear_greed_daily",), "STABLEFLOW_ALTERNATIVE_ME_URL"),
    (_fred, "fred fredgraph.csv", ("fred_series_daily",), "STABLEFLOW_FRED_URL"),
)


def _probe_http(run: _Run) -> None:
    for probe, check, assets, setting in _HTTP_PROBES:
        try:
            probe(run)
        except Exception as exc:  # noqa: BLE001 - every failure is a row
            why = _http_error(exc)
            run.fail(check, why, f"check {setting}", assets, why=f"{check}: {why}")


# --- the whole run --------------------------------------------------------------------------


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


def _chain_endpoints(chain: Chain, env: Mapping[str, str], m: dict) -> list[tuple[str, str]]:
    """The node's URL as its client shows it, and where supply and balances come from."""
    url = env.get(chain.rpc_url_env, "")
    unkeyed = EvmRpc(chain=chain.name, url=url)
    shown = unkeyed.http.shown_url(url) if url else "(not set)"
    try:
        balances = m["chains"].balances_from(chain)
    except ValueError:
        balances = "(invalid)"
    return [
        (f"{chain.name} rpc", f"{chain.rpc_url_env} = {shown}"),
        (
            f"{chain.name} balances",
            f"supply and balances from {balances} ({unkeyed.balances_setting})",
        ),
    ]


def _guarded(
    run: _Run, probe: Callable[[], None], name: str, assets: Sequence[str], subject: str = ""
) -> None:
    """Run `probe`. A bug in it must not hide the other probes: its rows give way to one
    "stopped" row, and it stops `assets`."""
    kept = len(run.rows)
    try:
        probe()
    except Exception as exc:  # noqa: BLE001
        del run.rows[kept:]
        why = _short(f"{type(exc).__name__}: {exc}", 220)
        run.row(f"{name} probes", f"stopped: {why}", FAIL)
        run.blockers.add(assets, f"{subject}the probes stopped ({why})", "")


def _report(run: _Run, window: str) -> Report:
    settings, chains = run.settings, run.m["chains"].CHAINS
    for chain in chains:
        _guarded(
            run, partial(_probe_chain, run, chain), chain.name, ON_CHAIN_ASSETS, f"{chain.name}: "
        )
    _guarded(run, partial(_probe_http, run), "http", HTTP_ASSETS)
    endpoints = [e for chain in chains for e in _chain_endpoints(chain, run.env, run.m)]
    endpoints += [
        ("defillama", settings.defillama_url),
        ("coingecko", settings.coingecko_url),
        ("alternative.me", settings.alternative_me_url),
        ("fred", settings.fred_url),
    ]
    # an HTTP source shows its URL as its client does: without its key
    shown = [
        (
            name,
            run.clients[name].shown_url(url)
            if isinstance(run.clients.get(name), HttpSource)
            else url,
        )
        for name, url in endpoints
    ]
    requests = {name: client.requests_made for name, client in run.clients.items()}
    return Report(
        window, shown, run.rows, run.blockers.verdicts(), requests, _secrets(run.env, chains)
    )


def diagnose(rpc_options: dict | None = None) -> Report:
    """Probe every endpoint configured in the environment (as Settings.from_env(), chains.yaml
    and the resources read it) and say, per ingest asset, whether it will run. `rpc_options`
    override EvmRpc fields (e.g. max_log_requests) where the resources are configured so.
    Never raises."""
    blockers = _Blockers()
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        blockers.add(ASSETS, str(exc), "fix the setting")
        return Report(
            "unknown",
            [],
            [Row("settings", str(exc), FAIL, "fix the setting")],
            blockers.verdicts(),
            {},
        )
    start = settings.start_date
    end = settings.end_date or dt.datetime.now(dt.UTC).date() - _DAY
    window = (
        f"{start}..{end} ({(end - start).days + 1:,} days; STABLEFLOW_START_DATE, "
        f"STABLEFLOW_END_DATE{'' if settings.end_date else ' unset: up to yesterday'})"
    )
    try:
        m = _load()
    except Exception as exc:  # noqa: BLE001 - chains.yaml or the label file is unusable
        why = _short(str(exc), 300)
        blockers.add(ON_CHAIN_ASSETS, why, "fix core/chains.yaml or the label file")
        return Report(
            window,
            [],
            [
                Row(
                    "configuration",
                    why,
                    FAIL,
                    "fix core/chains.yaml or sql/seeds/exchange_labels.csv",
                )
            ],
            blockers.verdicts(),
            {},
        )
    return _report(_Run(settings, start, end, os.environ, m, rpc_options or {}, blockers), window)


# --- the table ------------------------------------------------------------------------------


def _table(headers: Sequence[str], widths: Sequence[int], rows: Sequence[Sequence[str]]) -> str:
    """Fixed-width columns; long cells wrap within their column."""

    def lines(cells: Sequence[str]) -> list[str]:
        wrapped = [
            textwrap.wrap(c, w, break_long_words=True, break_on_hyphens=False) or [""]
            for c, w in zip(cells, widths)
        ]
        height = max(len(w) for w in wrapped)
        return [
            "  ".join(
                (w[i] if i < len(w) else "").ljust(width) for w, width in zip(wrapped, widths)
            ).rstrip()
            for i in range(height)
        ]

    out = lines(headers)
    out.append("  ".join("-" * w for w in widths))
    for row in rows:
        out += lines(row)
    return "\n".join(out)


def render(report: Report) -> str:
    """The report as text: endpoints, the probe table, the asset table, requests and the
    verdict. Secrets are masked as a last line of defence."""
    out = [
        "stableflow doctor: will each ingest asset run against the configured endpoints?",
        "",
        f"window: {report.window}",
    ]
    out += [f"{name}: {url}" for name, url in report.endpoints]
    out += [
        "",
        _table(
            ["check", "result", "status", "what to change"],
            [24, 50, 6, 38],
            [(r.check, r.result, r.status, r.change) for r in report.rows],
        ),
    ]
    out += [
        "",
        _table(
            ["asset", "verdict", "why", "what to change"],
            [22, 12, 50, 38],
            [
                (v.asset, "will run" if v.runs else "will not run", v.why, v.change)
                for v in report.verdicts
            ],
        ),
    ]
    cost = ", ".join(f"{name} {n}" for name, n in report.requests.items())
    out += ["", f"requests: {report.total_requests} HTTP requests in all ({cost})"]
    failing = [v.asset for v in report.verdicts if not v.runs]
    out.append(
        "verdict: every asset will run"
        if not failing
        else f"verdict: {len(failing)} of {len(report.verdicts)} assets will not run: "
        f"{', '.join(failing)}"
    )
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
        "any will not.",
    ).parse_args(argv)
    report = diagnose()
    sys.stdout.write(render(report))
    sys.stdout.flush()
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
