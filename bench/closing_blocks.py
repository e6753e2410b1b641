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

from web3 import Web3

from assets.ingest.evm.blocks import ClosingBlock, final_block, resolve_closing_blocks
from bench.densechain import shared
from bench.report import Line, OtherWork, Section, median_time, table
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


def dense_chain_cases(runs: int) -> tuple[list[list], list[Line], dict]:
    """Windows of days on bench/densechain.py, ours against a binary search per day."""
    chain = shared()
    with RpcProxy(chain.url) as proxy:
        truth = {d: chain.closing[d] for d in chain.days}

        def ours(days: list[dt.date], hints: dict[int, int] | None = None) -> dict:
            rpc = EvmRpc(chain="ethereum", url=proxy.url)
            found = resolve_closing_blocks(rpc, days, chain.latest, hints)
            return {d: b.number for d, b in found.items()}

        def baseline(days: list[dt.date]) -> dict:
            w3 = naive_web3(proxy.url)
            return {d: binary_search_closing(w3, d, chain.latest) for d in days}

        def measured(work, *args) -> tuple[float, int, dict]:
            proxy.reset_counts()
            seconds, _, found = median_time(lambda: work(*args), runs)
            return seconds, proxy.http_requests // runs, found

        # the daily run: yesterday, with the days before already stored (their blocks and
        # timestamps seed the search, as assets/ingest/evm/assets.py passes them)
        last = chain.days[-1]
        stamps = proxy_stamps(proxy.url, [chain.closing[d] for d in chain.days[:-1]])
        cases = [
            (f"{len(chain.days)} consecutive days (backfill)", chain.days, None),
            ("1 day, nothing stored", [chain.days[len(chain.days) // 2]], None),
            ("1 day, the days before stored (daily run)", [last], stamps),
        ]
        rows, lines = [], []
        for name, days, hints in cases:
            t_ours, r_ours, found = measured(ours, days, hints)
            t_base, r_base, found_base = measured(baseline, days)
            for label, answer in (("ours", found), ("binary search", found_base)):
                wrong = {d: n for d, n in answer.items() if n != truth[d]}
                if wrong:
                    raise AssertionError(
                        f"{label} found wrong closing blocks {wrong}, truth {truth}"
                    )
            per_day, base_per_day = r_ours / len(days), r_base / len(days)
            rows.append(
                [
                    name,
                    r_ours,
                    f"{per_day:.2f}",
                    r_base,
                    f"{base_per_day:.1f}",
                    f"{base_per_day / per_day:.0f}x",
                    f"{t_ours * 1000:.0f}",
                    f"{t_base * 1000:.0f}",
                ]
            )
            if hints is None and len(days) > 1:
                lines.append(
                    Line(
                        "closing blocks",
                        f"requests per day, {len(days)} consecutive days",
                        per_day,
                        "requests/day",
                        "<= 3 per day",
                        per_day <= 3,
                        baseline=base_per_day,
                        baseline_name="binary search per day",
                        key="closing_blocks.requests_per_day",
                    )
                )
    return rows, lines, {"latest": chain.latest, "days": len(chain.days)}


def model_cases(runs: int) -> tuple[list[list], list[Line], dict]:
    """Cold starts on the mainnet-shaped header model through the geth profile: ours from
    the anchor, ours without one, the search before the anchor, a binary search per day.
    Every count includes finding the final block, which a cold start pays too."""
    ethereum = CHAINS[0]
    unanchored = dataclasses.replace(ethereum, anchor=Anchor(10**12, 1))
    yesterday = NOW.date() - dt.timedelta(days=1)
    windows = {  # the day before is read too: sums over a day start at its closing block
        "yesterday": [yesterday - dt.timedelta(days=1), yesterday],
        "2021-01-01 start": [dt.date(2020, 12, 31), dt.date(2021, 1, 1)],
    }

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

    methods = [
        ("ours, from the anchor (chains.yaml)", ours(ethereum)),
        ("ours, no anchor (from genesis)", ours(unanchored)),
        (f"before ({BEFORE}): from genesis, g and g+1 per day", before),
        ("binary search per day (web3)", binary),
    ]
    rows, counts, lines = [], {}, []
    with HeaderNode(int(NOW.timestamp())) as node, RpcProxy(node.url, profile="geth") as proxy:
        for window, days in windows.items():
            truth = {
                d: last_block_before(midnight(d + dt.timedelta(days=1)), node.head) for d in days
            }
            for label, work in methods:
                proxy.reset_counts()
                seconds, _, found = median_time(
                    lambda work=work, days=days: work(proxy.url, days), runs
                )
                if found != truth:
                    raise AssertionError(f"{label}, {window}: found {found}, truth {truth}")
                requests = proxy.http_requests // runs
                headers = proxy.calls["eth_getBlockByNumber"] // runs
                refused = ", ".join(f"{k} {v // runs}" for k, v in sorted(proxy.refused.items()))
                counts[window, label] = requests
                rows.append(
                    [
                        f"{window}: {days[0]} and {days[1]}",
                        label,
                        requests,
                        headers,
                        refused or "none",
                        f"{seconds * 1000:.0f}",
                    ]
                )
        head = node.head
    names = [label for label, _ in methods]
    lines.append(
        Line(
            "closing blocks",
            "cold start for yesterday (2 days), mainnet-shaped model via geth",
            counts["yesterday", names[0]],
            "requests",
            "<= 3 requests",
            counts["yesterday", names[0]] <= 3,
            baseline=counts["yesterday", names[2]],
            baseline_name=f"the search before the anchor, {BEFORE}",
            key="closing_blocks.cold_yesterday",
        )
    )
    lines.append(
        Line(
            "closing blocks",
            "cold start for 2021-01-01 (2 days), mainnet-shaped model via geth",
            counts["2021-01-01 start", names[0]],
            "requests",
            "reported only",
            None,
            baseline=counts["2021-01-01 start", names[2]],
            baseline_name=f"the search before the anchor, {BEFORE}",
            key="closing_blocks.cold_2021",
        )
    )
    return rows, lines, {"head": head}


def run(runs: int) -> Section:
    with OtherWork() as other:
        dense_rows, dense_lines, dense = dense_chain_cases(runs)
        model_rows, model_lines, model = model_cases(runs)
    body = f"""
### Windows of days on the dense chain

Chain: {dense["latest"]:,} blocks, one every 12 s with 1 % of slots missed, {dense["days"]} days
(bench/densechain.py). Requests are HTTP requests counted by a proxy in front of the node
(a JSON-RPC batch is one request); times are medians of {runs} runs. Both methods are given
the final block number; both answers are checked against a scan of every header.

{
        table(
            [
                "case",
                "ours: requests",
                "ours: per day",
                "binary search: requests",
                "binary search: per day",
                "fewer requests",
                "ours: ms",
                "binary search: ms",
            ],
            dense_rows,
        )
    }

Each round of ours sends one batch holding, for every unresolved day, an interpolated guess
and the block after it; every header learnt narrows every day's bracket, so a window of
consecutive days costs a few rounds in total. A plain binary search costs log2(blocks)
sequential requests per day and shares nothing between days.

### Cold start on a mainnet-shaped chain, through the geth profile

**The chain here is a model, not recorded data**: sandbox/headers.py serves only headers,
computed from a formula shaped like Ethereum mainnet: {model["head"]:,} blocks up to
{NOW:%Y-%m-%d %H:%M} UTC (the daily run's tick, fixed so every run measures the same blocks),
block 0 at timestamp 0 as on mainnet, straight lines between real proof-of-work blocks up to
the Merge, then 12-second slots with about 1 % of them missed at a drifting rate. It sits
behind sandbox/rpc_proxy.py with the `geth` profile (1,000 calls per batch, 25 MB batch
answers, 5 MiB bodies). A cold start has nothing stored: every count below includes finding
the final block (ours: one request holding eth_chainId, eth_blockNumber, the 'finalized'
header and the anchor's header). Both windows are 2 days, as the daily run needs: the day
before bounds the first day's blocks. Every answer is checked against the model's own truth.
Times are medians of {runs} runs (local, so mostly the proxy's and the client's own work).

{
        table(
            ["window", "search", "HTTP requests", "headers fetched", "refused by geth", "ms"],
            model_rows,
        )
    }

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
    return Section("Closing-block resolution", dense_lines + model_lines, body)


def proxy_stamps(url: str, numbers: list[int]) -> dict[int, int]:
    """{block: timestamp} of `numbers`, as the warehouse would hold them (not counted)."""
    rpc = EvmRpc(chain="ethereum", url=url)
    return {n: h["timestamp"] for n, h in rpc.headers(numbers).items()}
