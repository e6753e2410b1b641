"""Closing-block resolution: requests per day, against a plain binary search, and the cold
start on a mainnet-shaped chain.

Every on-chain value dated D is read at D's closing block (the last block before the next
midnight), so a backfill first finds one block per day. The plain way is a binary search
per day over the whole chain, one eth_getBlockByNumber per probe: log2(blocks) requests a
day (~16 here, ~25 on mainnet's 23M blocks). assets/ingest/evm/blocks.py resolves all the
days of a window together, interpolating and sharing every header fetched between days.

Two chains, both through a counting proxy:
- bench/densechain.py (a block every 12 s, 1 % of slots missed, anvil): windows of days;
  every answer is checked against the chain's full header scan.
- sandbox/headers.py, a MODEL of mainnet's ~26M headers (genesis at timestamp 0, real anchor
  blocks, 12-second slots with ~1 % missed after the Merge), behind the geth node profile:
  the cold start (nothing stored, the final block looked up first), where starting from
  genesis or from chains.yaml's anchor makes the difference. Every answer is checked against
  the model's own truth (a bisection over its formula).
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from web3 import Web3

from assets.ingest.evm.blocks import ClosingBlock, final_block, resolve_closing_blocks
from bench.densechain import DenseChain, shared
from bench.report import Line, Measured, OtherWork, Section, median_time, table
from core.chains import CHAINS, Anchor
from core.resources.evm import EvmRpc, midnight
from sandbox.headers import HeaderNode, last_block_before
from sandbox.rpc_proxy import RpcProxy

# The daily schedule's tick on the model chain (as tests/ingest/test_closing_blocks.py): a
# fixed date, so every run measures the same blocks.
NOW = dt.datetime(2026, 11, 30, 1, 30, tzinfo=dt.UTC)
BEFORE = "21acc9d"  # the commit whose search `search_before` reproduces


def binary_search_closing(w3: Web3, day: dt.date, latest: int) -> int:
    """The last block before the midnight ending `day`: a textbook binary search over
    0..latest, one eth_getBlockByNumber per probe."""
    end = midnight(day + dt.timedelta(days=1))
    lo, hi = 0, latest  # invariant: block lo is before the midnight, block hi+1 is not
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if w3.eth.get_block(mid)["timestamp"] < end:
            lo = mid
        else:
            hi = mid - 1
    return lo


def naive_web3(url: str) -> Web3:
    """web3 as a script would use it, minus the eth_chainId web3 sends before every call
    (cached: only that one), so the baseline is what it claims: one request per read."""
    return Web3(
        Web3.HTTPProvider(url, cache_allowed_requests=True, cacheable_requests={"eth_chainId"})
    )


# --- the 'before' baseline: the search as it was at 21acc9d --------------------------------
# Vendored from `git show 21acc9d:assets/ingest/evm/blocks.py` (resolve_closing_blocks and
# final_block; EvmRpc.head() of that commit was two requests): its search loop unchanged,
# without the hints and the checks for windows outside the chain, which no case here needs.
# It starts from genesis and the final block and sends only g and g+1 per day and round.


def final_before(rpc: EvmRpc, confirmations: int) -> int:
    latest = int(rpc.call("eth_blockNumber", []), 16)
    finalized = rpc.call("eth_getBlockByNumber", ["finalized", False])
    return int(finalized["number"], 16) if finalized else max(0, latest - confirmations)


def search_before(rpc: EvmRpc, days: list[dt.date], latest: int) -> dict[dt.date, ClosingBlock]:
    known: dict[int, int] = {}
    hashes: dict[int, str] = {}

    def learn(numbers: set[int]) -> None:
        fresh = {n for n in numbers if n not in known or n not in hashes}
        for n, header in rpc.headers(fresh).items():
            known[n], hashes[n] = header["timestamp"], header["hash"]

    learn({0, latest})
    result: dict[dt.date, int] = {}
    while len(result) < len(days):
        numbers = sorted(known)
        stamps = [known[n] for n in numbers]
        guesses: set[int] = set()
        for day in days:
            if day in result:
                continue
            target = midnight(day + dt.timedelta(days=1))
            i = bisect.bisect_left(stamps, target)
            lo, hi = numbers[i - 1], numbers[i]
            if hi == lo + 1:
                result[day] = lo
                continue
            span = known[hi] - known[lo]
            fraction = (target - 1 - known[lo]) / span if span else 0.5
            guess = min(hi - 2, max(lo + 1, lo + int(fraction * (hi - lo))))
            guesses.update((guess, guess + 1))
        if guesses:
            learn(guesses)
    return {day: ClosingBlock(day, n, known[n], hashes[n]) for day, n in result.items()}


# --- end of the 'before' baseline -----------------------------------------------------------


@dataclass(frozen=True)
class DenseCase:
    """A window of days on the dense chain: ours against a binary search per day."""

    name: str
    days: int
    backfill: bool  # consecutive days, nothing stored: the case with a target
    ours: Measured
    binary: Measured


@dataclass(frozen=True)
class DenseResults:
    latest: int  # the chain's last block
    days: int  # the chain's days
    cases: list[DenseCase]


@dataclass(frozen=True)
class ModelCase:
    """One search's cold start for one window on the header model, through geth."""

    window: str
    days: list[dt.date]
    method: str
    requests: int
    headers: int  # eth_getBlockByNumber calls
    refused: str  # geth's refusals by kind, or "none"
    seconds: float


@dataclass(frozen=True)
class ModelResults:
    head: int  # the model's head block
    cases: list[ModelCase]

    def requests(self, window: str, method: str) -> int:
        return next(c.requests for c in self.cases if (c.window, c.method) == (window, method))


FROM_ANCHOR = "ours, from the anchor (chains.yaml)"
SEARCH_BEFORE = f"before ({BEFORE}): from genesis, g and g+1 per day"


def run(runs: int) -> Section:
    with OtherWork() as other:
        dense = measure_dense_chain(runs)
        model = measure_model(runs)
    return report(dense, model, runs, other)


# --- measure: windows of days on the dense chain --------------------------------------------


def measure_dense_chain(runs: int) -> DenseResults:
    """Windows of days on bench/densechain.py, ours against a binary search per day."""
    chain = shared()
    with RpcProxy(chain.url) as proxy:
        cases = [
            _dense_case(chain, proxy, name, days, hints, runs)
            for name, days, hints in dense_chain_windows(chain, proxy.url)
        ]
    return DenseResults(chain.latest, len(chain.days), cases)


def dense_chain_windows(
    chain: DenseChain, url: str
) -> list[tuple[str, list[dt.date], dict[int, int] | None]]:
    """The cases: (name, days, the stored blocks' timestamps that seed the search)."""
    # the daily run: yesterday, with the days before already stored (their blocks and
    # timestamps seed the search, as assets/ingest/evm/assets.py passes them)
    stamps = proxy_stamps(url, [chain.closing[d] for d in chain.days[:-1]])
    return [
        (f"{len(chain.days)} consecutive days (backfill)", chain.days, None),
        ("1 day, nothing stored", [chain.days[len(chain.days) // 2]], None),
        ("1 day, the days before stored (daily run)", [chain.days[-1]], stamps),
    ]


def _dense_case(
    chain: DenseChain,
    proxy: RpcProxy,
    name: str,
    days: list[dt.date],
    hints: dict[int, int] | None,
    runs: int,
) -> DenseCase:
    def ours() -> dict:
        rpc = EvmRpc(chain="ethereum", url=proxy.url)
        found = resolve_closing_blocks(rpc, days, chain.latest, hints)
        return {d: b.number for d, b in found.items()}

    def binary() -> dict:
        w3 = naive_web3(proxy.url)
        return {d: binary_search_closing(w3, d, chain.latest) for d in days}

    measured = {}
    for label, work in (("ours", ours), ("binary search", binary)):
        proxy.reset_counts()
        seconds, _, found = median_time(work, runs)
        measured[label] = Measured(seconds, proxy.http_requests // runs)
        wrong = {d: n for d, n in found.items() if n != chain.closing[d]}
        if wrong:
            truth = {d: chain.closing[d] for d in chain.days}
            raise AssertionError(f"{label} found wrong closing blocks {wrong}, truth {truth}")
    backfill = hints is None and len(days) > 1
    return DenseCase(name, len(days), backfill, measured["ours"], measured["binary search"])


# --- measure: cold starts on the mainnet-shaped model ---------------------------------------


def model_windows() -> dict[str, list[dt.date]]:
    """Two days each: the day before is read too (sums over a day start at its closing
    block)."""
    yesterday = NOW.date() - dt.timedelta(days=1)
    return {
        "yesterday": [yesterday - dt.timedelta(days=1), yesterday],
        "2021-01-01 start": [dt.date(2020, 12, 31), dt.date(2021, 1, 1)],
    }


def model_methods() -> list[tuple[str, Callable[[str, list[dt.date]], dict]]]:
    """The searches compared, each as work(url, days) -> {day: block}: ours from the anchor,
    ours without one, the search before the anchor, a binary search per day."""
    ethereum = CHAINS[0]
    unanchored = dataclasses.replace(ethereum, anchor=Anchor(10**12, 1))

    def ours(chain):
        def work(url: str, days: list[dt.date]) -> dict:
            rpc = EvmRpc(chain=chain.name, url=url)
            found = resolve_closing_blocks(rpc, days, final_block(rpc, chain))
            return {d: b.number for d, b in found.items()}

        return work

    def before(url: str, days: list[dt.date]) -> dict:
        rpc = EvmRpc(chain="ethereum", url=url)
        found = search_before(rpc, days, final_before(rpc, ethereum.confirmations))
        return {d: b.number for d, b in found.items()}

    def binary(url: str, days: list[dt.date]) -> dict:
        w3 = naive_web3(url)
        latest = w3.eth.get_block("finalized")["number"]
        return {d: binary_search_closing(w3, d, latest) for d in days}

    return [
        (FROM_ANCHOR, ours(ethereum)),
        ("ours, no anchor (from genesis)", ours(unanchored)),
        (SEARCH_BEFORE, before),
        ("binary search per day (web3)", binary),
    ]


def measure_model(runs: int) -> ModelResults:
    """Cold starts on the mainnet-shaped header model through the geth profile. Every count
    includes finding the final block, which a cold start pays too."""
    cases, methods = [], model_methods()
    with HeaderNode(int(NOW.timestamp())) as node, RpcProxy(node.url, profile="geth") as proxy:
        for window, days in model_windows().items():
            truth = {
                d: last_block_before(midnight(d + dt.timedelta(days=1)), node.head) for d in days
            }
            for method, work in methods:
                cases.append(_model_case(proxy, window, days, method, work, truth, runs))
        return ModelResults(node.head, cases)


def _model_case(
    proxy: RpcProxy,
    window: str,
    days: list[dt.date],
    method: str,
    work: Callable[[str, list[dt.date]], dict],
    truth: dict[dt.date, int],
    runs: int,
) -> ModelCase:
    proxy.reset_counts()
    seconds, _, found = median_time(lambda: work(proxy.url, days), runs)
    if found != truth:
        raise AssertionError(f"{method}, {window}: found {found}, truth {truth}")
    refused = ", ".join(f"{k} {v // runs}" for k, v in sorted(proxy.refused.items()))
    return ModelCase(
        window,
        days,
        method,
        requests=proxy.http_requests // runs,
        headers=proxy.calls["eth_getBlockByNumber"] // runs,
        refused=refused or "none",
        seconds=seconds,
    )


# --- report ---------------------------------------------------------------------------------


def report(dense: DenseResults, model: ModelResults, runs: int, other: OtherWork) -> Section:
    return Section(
        "Closing-block resolution",
        dense_lines(dense) + model_lines(model),
        body(dense, model, runs, other),
    )


def dense_lines(dense: DenseResults) -> list[Line]:
    return [
        Line(
            "closing blocks",
            f"requests per day, {c.days} consecutive days",
            c.ours.requests / c.days,
            "requests/day",
            "<= 3 per day",
            c.ours.requests / c.days <= 3,
            baseline=c.binary.requests / c.days,
            baseline_name="binary search per day",
            key="closing_blocks.requests_per_day",
        )
        for c in dense.cases
        if c.backfill
    ]


def model_lines(model: ModelResults) -> list[Line]:
    def cold_start(window: str, metric: str, target: str, met: bool | None, key: str) -> Line:
        return Line(
            "closing blocks",
            metric,
            model.requests(window, FROM_ANCHOR),
            "requests",
            target,
            met,
            baseline=model.requests(window, SEARCH_BEFORE),
            baseline_name=f"the search before the anchor, {BEFORE}",
            key=key,
        )

    return [
        cold_start(
            "yesterday",
            "cold start for yesterday (2 days), mainnet-shaped model via geth",
            "<= 3 requests",
            model.requests("yesterday", FROM_ANCHOR) <= 3,
            "closing_blocks.cold_yesterday",
        ),
        cold_start(
            "2021-01-01 start",
            "cold start for 2021-01-01 (2 days), mainnet-shaped model via geth",
            "reported only",
            None,
            "closing_blocks.cold_2021",
        ),
    ]


def dense_table(dense: DenseResults) -> str:
    def row(c: DenseCase) -> list:
        per_day, base_per_day = c.ours.requests / c.days, c.binary.requests / c.days
        return [
            c.name,
            c.ours.requests,
            f"{per_day:.2f}",
            c.binary.requests,
            f"{base_per_day:.1f}",
            f"{base_per_day / per_day:.0f}x",
            f"{c.ours.seconds * 1000:.0f}",
            f"{c.binary.seconds * 1000:.0f}",
        ]

    header = [
        "case",
        "ours: requests",
        "ours: per day",
        "binary search: requests",
        "binary search: per day",
        "fewer requests",
        "ours: ms",
        "binary search: ms",
    ]
    return table(header, [row(c) for c in dense.cases])


def model_table(model: ModelResults) -> str:
    return table(
        ["window", "search", "HTTP requests", "headers fetched", "refused by geth", "ms"],
        [
            [
                f"{c.window}: {c.days[0]} and {c.days[1]}",
                c.method,
                c.requests,
                c.headers,
                c.refused,
                f"{c.seconds * 1000:.0f}",
            ]
            for c in model.cases
        ],
    )


def body(dense: DenseResults, model: ModelResults, runs: int, other: OtherWork) -> str:
    return f"""
### Windows of days on the dense chain

Chain: {dense.latest:,} blocks, one every 12 s with 1 % of slots missed, {dense.days} days
(bench/densechain.py). Requests are HTTP requests counted by a proxy in front of the node
(a JSON-RPC batch is one request); times are medians of {runs} runs. Both methods are given
the final block number; both answers are checked against a scan of every header.

{dense_table(dense)}

Each round of ours sends one batch holding, for every unresolved day, an interpolated guess
and the block after it; every header learnt narrows every day's bracket, so a window of
consecutive days costs a few rounds in total. A plain binary search costs log2(blocks)
sequential requests per day and shares nothing between days.

### Cold start on a mainnet-shaped chain, through the geth profile

**The chain here is a model, not recorded data**: sandbox/headers.py serves only headers,
computed from a formula shaped like Ethereum mainnet: {model.head:,} blocks up to
{NOW:%Y-%m-%d %H:%M} UTC (the daily run's tick, fixed so every run measures the same blocks),
block 0 at timestamp 0 as on mainnet, straight lines between real proof-of-work blocks up to
the Merge, then 12-second slots with about 1 % of them missed at a drifting rate. It sits
behind sandbox/rpc_proxy.py with the `geth` profile (1,000 calls per batch, 25 MB batch
answers, 5 MiB bodies). A cold start has nothing stored: every count below includes finding
the final block (ours: one request holding eth_chainId, eth_blockNumber, the 'finalized'
header and the anchor's header). Both windows are 2 days, as the daily run needs: the day
before bounds the first day's blocks. Every answer is checked against the model's own truth.
Times are medians of {runs} runs (local, so mostly the proxy's and the client's own work).

{model_table(model)}

- **ours, from the anchor**: assets/ingest/evm/blocks.py as it runs: the search starts from
  chains.yaml's anchor (the Merge's first block) and the final block; with a handful of days
  open each guess comes with its 16 neighbours on either side, so yesterday settles in the
  round after the head request.
- **ours, no anchor**: the same code with an anchor beyond the head
  (`dataclasses.replace(CHAINS[0], anchor=Anchor(10**12, 1))`), so it starts from genesis;
  the bisection safeguard bounds the rounds that genesis's timestamp 0 would cost.
- **before ({BEFORE})**: the search as it was before the anchor, vendored in this module
  (`search_before`, `final_before`): from genesis and the final block, only g and g+1 per
  day and round, and the final block found in two requests as EvmRpc.head() did then.
  Interpolating from a genesis at timestamp 0 creeps towards the target.
- **binary search per day**: the plain web3 loop of the first table, after one request for
  the 'finalized' block.

{other.note()}
"""


def proxy_stamps(url: str, numbers: list[int]) -> dict[int, int]:
    """{block: timestamp} of `numbers`, as the warehouse would hold them (not counted)."""
    rpc = EvmRpc(chain="ethereum", url=url)
    return {n: h["timestamp"] for n, h in rpc.headers(numbers).items()}
