"""Closing-block resolution: requests per day, against a plain binary search.

Every on-chain value dated D is read at D's closing block (the last block before the next
midnight), so a backfill first finds one block per day. The plain way is a binary search
per day over the whole chain, one eth_getBlockByNumber per probe: log2(blocks) requests a
day (~16 here, ~25 on mainnet's 23M blocks). assets/ingest/evm/blocks.py resolves all the
days of a window together, interpolating and sharing every header fetched between days.
Measured on bench/densechain.py (a block every 12 s, 1 % of slots missed), through a
counting proxy; every answer is checked against the chain's full header scan.
"""

from __future__ import annotations

import datetime as dt

from web3 import Web3

from assets.ingest.evm.blocks import resolve_closing_blocks
from bench.densechain import shared
from bench.report import Line, Section, median_time, table
from pipelines.resources.evm import EvmRpc, midnight
from sandbox.rpc_proxy import RpcProxy


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
    return Web3(Web3.HTTPProvider(url, cache_allowed_requests=True,
                                  cacheable_requests={"eth_chainId"}))


def run(runs: int) -> Section:
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
                    raise AssertionError(f"{label} found wrong closing blocks {wrong}, "
                                         f"truth {truth}")
            per_day, base_per_day = r_ours / len(days), r_base / len(days)
            rows.append([name, r_ours, f"{per_day:.2f}", r_base, f"{base_per_day:.1f}",
                         f"{base_per_day / per_day:.0f}x", f"{t_ours * 1000:.0f}",
                         f"{t_base * 1000:.0f}"])
            if hints is None and len(days) > 1:
                lines.append(Line(
                    "closing blocks", f"requests per day, {len(days)} consecutive days",
                    per_day, "requests/day", "<= 3 per day", per_day <= 3,
                    baseline=base_per_day, baseline_name="binary search per day",
                    key="closing_blocks.requests_per_day"))
    body = f"""
Chain: {chain.latest:,} blocks, one every 12 s with 1 % of slots missed, {len(chain.days)} days
(bench/densechain.py). Requests are HTTP requests counted by a proxy in front of the node
(a JSON-RPC batch is one request); times are medians of {runs} runs. Both methods are given
the final block number; both answers are checked against a scan of every header.

{table(["case", "ours: requests", "ours: per day", "binary search: requests",
        "binary search: per day", "fewer requests", "ours: ms", "binary search: ms"], rows)}

Each round of ours sends one batch holding, for every unresolved day, an interpolated guess
and the block after it; every header learnt narrows every day's bracket, so a window of
consecutive days costs a few rounds in total. A plain binary search costs log2(blocks)
sequential requests per day and shares nothing between days.
"""
    return Section("Closing-block resolution", lines, body)


def proxy_stamps(url: str, numbers: list[int]) -> dict[int, int]:
    """{block: timestamp} of `numbers`, as the warehouse would hold them (not counted)."""
    rpc = EvmRpc(chain="ethereum", url=url)
    return {n: h["timestamp"] for n, h in rpc.headers(numbers).items()}
