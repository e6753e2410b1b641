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

from assets.ingest.evm.blocks import final_block, resolve_closing_blocks
from assets.ingest.evm.extract import balances, token_supply
from assets.ingest.labels import load_labels
from bench.closing_blocks import binary_search_closing, naive_web3
from bench.report import Line, Section, median_time, table
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


def run(runs: int) -> Section:
    labels = load_labels()
    start = dt.date(2021, 1, 1)
    days = [start + dt.timedelta(days=i) for i in range(DAYS)]
    rows, lines, search = [], [], []
    chain = CHAINS[0]
    with (
        planted_chain(start, days[-1], labels, chain=chain) as (node_url, _),
        RpcProxy(node_url) as proxy,
    ):
        for n in SIZES:
            addresses = labels.addresses(chain.name)[:n]
            results = {}
            for name, work, k in (
                ("ours", ours, runs),
                ("naive", naive, NAIVE_RUNS_AT_LARGEST if n == max(SIZES) else runs),
            ):
                proxy.reset_counts()
                seconds, _, values = median_time(
                    lambda work=work, addresses=addresses: work(proxy.url, days, addresses), k
                )
                results[name] = (seconds, proxy.http_requests // k, values)
            (t_ours, r_ours, v_ours), (t_naive, r_naive, v_naive) = (
                results["ours"],
                results["naive"],
            )
            if v_ours != v_naive:
                diff = sorted(
                    k for k in v_ours.keys() | v_naive.keys() if v_ours.get(k) != v_naive.get(k)
                )
                raise AssertionError(f"ours and the naive loop disagree at {diff[:5]}")
            held = sum(1 for k, v in v_ours.items() if k[2] != "supply" and v)
            reads = len(chain.tokens) * (n + 1)  # per day: supply + balances
            search.append(r_naive / DAYS - reads)
            rows.append(
                [
                    n,
                    r_ours,
                    f"{r_ours / DAYS:.2f}",
                    r_naive,
                    f"{r_naive / DAYS:,.0f}",
                    f"{r_naive / r_ours:,.0f}x",
                    f"{t_ours:.3f}",
                    f"{t_naive:.2f}",
                    f"{t_naive / t_ours:,.0f}x",
                    held,
                ]
            )
            if n == max(SIZES):
                lines += [
                    Line(
                        "supply + reserves",
                        f"RPC requests, {DAYS} days x {n} addresses",
                        r_ours,
                        "requests",
                        ">= 100x fewer than naive",
                        r_naive >= 100 * r_ours,
                        baseline=r_naive,
                        baseline_name="naive web3 loop",
                        key="reads.requests_1000",
                    ),
                    Line(
                        "supply + reserves",
                        f"wall time, {DAYS} days x {n} addresses",
                        t_ours,
                        "s",
                        ">= 10x less than naive",
                        t_naive >= 10 * t_ours,
                        baseline=t_naive,
                        baseline_name="naive web3 loop",
                        key="reads.seconds_1000",
                    ),
                ]
    per_day = [float(r[2]) for r in rows]
    lines.insert(
        0,
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
    )
    body = f"""
{DAYS} days of the sandbox scenario (sandbox/chain.py), USDT and USDC, the first N addresses
of the chain's labels. Requests are HTTP requests counted by a proxy in front of anvil (a
JSON-RPC batch is one request). Times are medians of {runs} runs, except the naive loop at
{max(SIZES)} addresses ({NAIVE_RUNS_AT_LARGEST} run). Both sides find the closing blocks
themselves (the naive loop by binary search: {min(search):.0f} requests a day on this short
chain, about 25 on mainnet's); web3's
eth_chainId before every call is cached so the naive loop sends one request per read. Ours
and the naive loop must return the same supply and balance for every token, address and
day (checked).

{
        table(
            [
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
            ],
            rows,
        )
    }
"""
    return Section("Supply and exchange reserves: requests and time by address count", lines, body)
