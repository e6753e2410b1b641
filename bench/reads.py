"""Supply and exchange reserves for N days: RPC requests and wall time by address count,
against the naive web3 loop (one eth_call per address per token per day).

Ours is what the evm_token_supply and evm_exchange_reserves assets run, minus Dagster and
the warehouse: the window's closing blocks (assets/ingest/evm/blocks.py), totalSupply() of
each token per day in one batch, and every balanceOf through assets/ingest/evm/contracts/
BalanceReader: one eth_call per day for up to 4,000 token-address pairs, days batched.
The naive loop is a web3 script: a binary search per day for the closing block, then
totalSupply().call() and balanceOf(a).call() for every token, address and day. Both run
against the sandbox chain (sandbox/chain.py, the planted scenario) through a counting
proxy, and their answers are compared value by value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from assets.ingest.evm.blocks import final_block, resolve_closing_blocks
from assets.ingest.evm.extract import balances, token_supply
from assets.ingest.labels import load_labels
from bench.closing_blocks import binary_search_closing, naive_web3
from bench.report import Line, Measured, Section, median_time, table
from core.chains import CHAINS
from core.resources.evm import EvmRpc
from sandbox.rpc_proxy import RpcProxy
from sandbox.world import planted_chain

DAYS = 7
SIZES = (10, 100, 1000)
# The naive loop at 1000 addresses sends 14,000 requests a run: it runs once.
NAIVE_RUNS_AT_LARGEST = 1

_ABI = [
    {
        "name": name,
        "type": "function",
        "stateMutability": "view",
        "inputs": inputs,
        "outputs": [{"name": "", "type": "uint256"}],
    }
    for name, inputs in (("totalSupply", []), ("balanceOf", [{"name": "owner", "type": "address"}]))
]


def ours(url: str, days: list[dt.date], addresses: list[str]) -> dict[tuple, int]:
    chain = CHAINS[0]
    rpc = EvmRpc(chain=chain.name, url=url)
    blocks = resolve_closing_blocks(rpc, days, final_block(rpc, chain))
    closing = [blocks[d] for d in days]
    supply = token_supply(rpc, chain, closing)
    held = balances(rpc, chain, addresses, closing)
    values = {
        (d, t, "supply"): int(v)
        for d, t, v in supply.select("date", "token", "supply_raw").iter_rows()
    }
    values |= {
        (d, t, a.lower()): int(v)
        for d, t, a, v in held.select("date", "token", "address", "balance_raw").iter_rows()
    }
    return values


def naive(url: str, days: list[dt.date], addresses: list[str]) -> dict[tuple, int]:
    w3 = naive_web3(url)
    latest = w3.eth.get_block("finalized")["number"]
    values = {}
    for day in days:
        block = binary_search_closing(w3, day, latest)
        for token in CHAINS[0].tokens:
            contract = w3.eth.contract(address=token.address, abi=_ABI)
            values[(day, token.symbol, "supply")] = contract.functions.totalSupply().call(
                block_identifier=block
            )
            for address in addresses:
                values[(day, token.symbol, address.lower())] = contract.functions.balanceOf(
                    address
                ).call(block_identifier=block)
    return values


@dataclass(frozen=True)
class SizeResult:
    """Ours against the naive loop at one address count."""

    addresses: int
    ours: Measured
    naive: Measured
    held: int  # non-zero balances read
    search: float  # the naive loop's requests a day spent finding the closing block


def run(runs: int) -> Section:
    labels = load_labels()
    days = window()
    chain = CHAINS[0]
    with (
        planted_chain(days[0], days[-1], labels, chain=chain) as (node_url, _),
        RpcProxy(node_url) as proxy,
    ):
        addresses = labels.addresses(chain.name)
        results = [measure(proxy, days, addresses[:n], n, runs) for n in SIZES]
    return report(results, runs)


def window() -> list[dt.date]:
    """The DAYS days read, from 2021-01-01."""
    start = dt.date(2021, 1, 1)
    return [start + dt.timedelta(days=i) for i in range(DAYS)]


# --- measure --------------------------------------------------------------------------------


def measure(
    proxy: RpcProxy, days: list[dt.date], addresses: list[str], n: int, runs: int
) -> SizeResult:
    """Ours, then the naive loop (once at the largest size), reading `addresses` (the first
    `n` labelled) through the counting proxy; both must read the same values."""
    naive_runs = NAIVE_RUNS_AT_LARGEST if n == max(SIZES) else runs
    t_ours, v_ours = _timed(proxy, ours, days, addresses, runs)
    t_naive, v_naive = _timed(proxy, naive, days, addresses, naive_runs)
    if v_ours != v_naive:
        diff = sorted(k for k in v_ours.keys() | v_naive.keys() if v_ours.get(k) != v_naive.get(k))
        raise AssertionError(f"ours and the naive loop disagree at {diff[:5]}")
    reads = len(CHAINS[0].tokens) * (n + 1)  # per day: supply + balances
    return SizeResult(
        addresses=n,
        ours=t_ours,
        naive=t_naive,
        held=sum(1 for k, v in v_ours.items() if k[2] != "supply" and v),
        search=t_naive.requests / DAYS - reads,
    )


def _timed(
    proxy: RpcProxy, work: Callable, days: list[dt.date], addresses: list[str], runs: int
) -> tuple[Measured, dict[tuple, int]]:
    proxy.reset_counts()
    seconds, _, values = median_time(lambda: work(proxy.url, days, addresses), runs)
    return Measured(seconds, proxy.http_requests // runs), values


# --- report ---------------------------------------------------------------------------------


def report(results: list[SizeResult], runs: int) -> Section:
    return Section(
        "Supply and exchange reserves: requests and time by address count",
        summary_lines(results),
        body(results, runs),
    )


def summary_lines(results: list[SizeResult]) -> list[Line]:
    """Requests per day from the smallest to the largest address count, then requests and
    time at the largest."""
    smallest, largest = results[0], results[-1]
    # as the table shows them, to two decimals
    per_day = [float(f"{r.ours.requests / DAYS:.2f}") for r in (smallest, largest)]
    scale = f"{DAYS} days x {largest.addresses} addresses"
    ours, naive = largest.ours, largest.naive
    return [
        Line(
            "supply + reserves",
            "requests per day, 10 -> 1000 addresses",
            per_day[-1],
            "requests/day",
            "independent of the address count",
            per_day[-1] == per_day[0],
            baseline=per_day[0],
            baseline_name="at 10 addresses",
        ),
        Line(
            "supply + reserves",
            f"RPC requests, {scale}",
            ours.requests,
            "requests",
            ">= 100x fewer than naive",
            naive.requests >= 100 * ours.requests,
            baseline=naive.requests,
            baseline_name="naive web3 loop",
            key="reads.requests_1000",
        ),
        Line(
            "supply + reserves",
            f"wall time, {scale}",
            ours.seconds,
            "s",
            ">= 10x less than naive",
            naive.seconds >= 10 * ours.seconds,
            baseline=naive.seconds,
            baseline_name="naive web3 loop",
            key="reads.seconds_1000",
        ),
    ]


def size_row(r: SizeResult) -> list[object]:
    ours, naive = r.ours, r.naive
    return [
        r.addresses,
        ours.requests,
        f"{ours.requests / DAYS:.2f}",
        naive.requests,
        f"{naive.requests / DAYS:,.0f}",
        f"{naive.requests / ours.requests:,.0f}x",
        f"{ours.seconds:.3f}",
        f"{naive.seconds:.2f}",
        f"{naive.seconds / ours.seconds:,.0f}x",
        r.held,
    ]


def body(results: list[SizeResult], runs: int) -> str:
    header = [
        "addresses",
        "ours: requests",
        "ours: per day",
        "naive: requests",
        "naive: per day",
        "fewer requests",
        "ours: s",
        "naive: s",
        "faster",
        "non-zero balances",
    ]
    search = min(r.search for r in results)
    return f"""
{DAYS} days of the sandbox scenario (sandbox/chain.py), USDT and USDC, the first N addresses
of the chain's labels. Requests are HTTP requests counted by a proxy in front of anvil (a
JSON-RPC batch is one request). Times are medians of {runs} runs, except the naive loop at
{max(SIZES)} addresses ({NAIVE_RUNS_AT_LARGEST} run). Both sides find the closing blocks
themselves (the naive loop by binary search: {search:.0f} requests a day on this short
chain, about 25 on mainnet's); web3's
eth_chainId before every call is cached so the naive loop sends one request per read. Ours
and the naive loop must return the same supply and balance for every token, address and
day (checked).

{table(header, [size_row(r) for r in results])}
"""
