"""The offline world in one place: what the sandbox serves, and how the pipeline is pointed
at it. Sandbox mode differs from live mode only by environment variables (base URLs, the
RPC URLs, the chains and the window); the asset code is the same.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from core.chains import CHAINS, CONFIGURED, Chain
from sandbox.chain import Anvil, GroundTruth, Rpc, compile_contracts, plant_scenario
from sandbox.replay import ReplayServer
from sandbox.rpc_proxy import CUT_PROFILES, RpcProxy

if TYPE_CHECKING:
    from assets.ingest.labels import LabelSet

ROOT = Path(__file__).resolve().parents[1]
# Every recorded series covers these days (see recordings/SOURCES.md).
WINDOW_START = dt.date(2021, 1, 1)
WINDOW_END = dt.date(2023, 10, 24)
# anvil calls a block final once 64 newer blocks exist (like mainnet's two epochs).
FINALITY_DEPTH = 64


def sandbox_environment(replay_url: str, rpc_urls: dict[str, str]) -> dict[str, str]:
    """The environment pointing the pipeline at the replay server and at one node per chain
    of ``rpc_urls`` ({chain name: URL}): exactly those chains are read."""
    unknown = set(rpc_urls) - {c.name for c in CONFIGURED}
    if unknown:
        raise ValueError(f"no chain {sorted(unknown)} in core/chains.yaml")
    planted = [c for c in CONFIGURED if c.name in rpc_urls]
    return {
        "STABLEFLOW_DEFILLAMA_URL": f"{replay_url}/defillama",
        "STABLEFLOW_COINGECKO_URL": f"{replay_url}/coingecko/api/v3",
        "STABLEFLOW_ALTERNATIVE_ME_URL": f"{replay_url}/alternative_me",
        "STABLEFLOW_FRED_URL": f"{replay_url}/fred",
        **{c.rpc_url_env: rpc_urls[c.name] for c in planted},
        "STABLEFLOW_CHAINS": ",".join(c.name for c in planted),
        # Declared, and recorded by the pipeline with its data: replayed recordings and
        # simulated chains, not the live sources.
        "STABLEFLOW_WORLD": "sandbox",
        "STABLEFLOW_START_DATE": WINDOW_START.isoformat(),
        "STABLEFLOW_END_DATE": WINDOW_END.isoformat(),
        # The replay server has no rate limit to respect.
        "STABLEFLOW_COINGECKO_MIN_INTERVAL_S": "0",
    }


def bury(rpc_url: str, blocks: int = FINALITY_DEPTH + 6) -> None:
    """Mine empty blocks after the scenario so its last day is final."""
    Rpc(rpc_url)("anvil_mine", hex(blocks), hex(12))


def _labels(labels: LabelSet | None) -> LabelSet:
    if labels is None:
        from assets.ingest.labels import load_labels

        labels = load_labels()
    return labels


@contextlib.contextmanager
def planted_chain(
    start: dt.date,
    end: dt.date,
    labels: LabelSet | None = None,
    buried: int = FINALITY_DEPTH + 6,
    chain: Chain = CONFIGURED[0],
) -> Iterator[tuple[str, GroundTruth]]:
    """A fresh local node of ``chain`` with the scenario for start..end planted (labels: a
    LabelSet, default the label files) and ``buried`` empty blocks after it, so its last day
    is final. Yields the node's URL and the scenario's ground truth."""
    with planted_chains(start, end, labels, (chain,), buried) as (urls, truth):
        yield urls[chain.name], truth


@contextlib.contextmanager
def planted_chains(
    start: dt.date,
    end: dt.date,
    labels: LabelSet | None = None,
    chains: tuple[Chain, ...] = CHAINS,
    buried: int = FINALITY_DEPTH + 6,
) -> Iterator[tuple[dict[str, str], GroundTruth]]:
    """One fresh local node per chain, planted and buried as ``planted_chain`` does, all at
    once (each anvil is its own process: planting them side by side keeps the demo's
    start-up short). Yields {chain name: node URL} and the chains' combined ground truth."""
    labels = _labels(labels)
    compile_contracts()  # once, before the threads (functools.cache does not lock)
    with contextlib.ExitStack() as stack:
        nodes = {c.name: stack.enter_context(Anvil(start, chain_id=c.chain_id)) for c in chains}

        def plant(chain: Chain) -> GroundTruth:
            truth = plant_scenario(nodes[chain.name].url, labels, start, end, chain)
            bury(nodes[chain.name].url, buried)
            return truth

        with concurrent.futures.ThreadPoolExecutor(len(chains)) as pool:
            truths = list(pool.map(plant, chains))
        yield {name: node.url for name, node in nodes.items()}, GroundTruth.concat(truths)


@contextlib.contextmanager
def running_sandbox(
    start: dt.date = WINDOW_START,
    end: dt.date = WINDOW_END,
    node_profile: str = "geth",
    latency_s: float = 0.0,
) -> Iterator[tuple[dict[str, str], GroundTruth, ReplayServer]]:
    """Replay server and one local node per chain of CHAINS with the planted scenario for
    start..end, each reached through its own RPC proxy playing `node_profile`
    (sandbox/rpc_proxy.py): by default geth's limits, so the sandbox is no kinder than a real
    node.

    Yields the environment that points the pipeline at them, the scenarios' ground truth,
    and the replay server (for its request counts). `latency_s` delays every node answer, as
    a node across a network would.
    """
    with (
        ReplayServer() as server,
        planted_chains(start, end) as (node_urls, truth),
        contextlib.ExitStack() as stack,
    ):
        proxies = {}
        for name, url in node_urls.items():
            # a pruned node needs a cutoff: half the chain, so the window's first half is gone
            pruning = node_profile in CUT_PROFILES
            cutoff = int(Rpc(url)("eth_blockNumber"), 16) // 2 if pruning else None
            floor = nitro_floor(name, truth) if node_profile == "arbitrum-nitro" else None
            proxy = RpcProxy(
                url,
                profile=node_profile,
                pruned_below=cutoff,
                nitro_genesis=floor,
                latency_s=latency_s,
            )
            proxies[name] = stack.enter_context(proxy).url
        yield sandbox_environment(server.url, proxies), truth, server


# Arbitrum One's Nitro genesis (core/chains.yaml arbitrum.anchor): 2022-08-31 14:32:22 UTC.
NITRO_GENESIS_DAY = dt.date(2022, 8, 31)


def nitro_floor(chain: str, truth: GroundTruth) -> int:
    """Where the arbitrum-nitro profile's floor falls on a planted chain: for Arbitrum, the
    first block after the last closing block before the Nitro genesis day, so, as on the
    real chain, state up to 2022-08-30's close needs a classic node and 2022-08-31's closing
    block (after 14:32 UTC) is Nitro's; no floor on any other chain."""
    if chain != "arbitrum":
        return 0
    blocks = truth.blocks.filter(pl.col("chain") == chain)
    before = blocks.filter(pl.col("date") < NITRO_GENESIS_DAY)["closing_block"]
    if before.is_empty():  # the window starts after the genesis
        return 0
    if blocks["date"].max() < NITRO_GENESIS_DAY:  # the whole window is classic
        return int(blocks["closing_block"].max()) + 1
    return int(before.max()) + 1


def run_environment(
    sandbox_env: dict[str, str],
    folder: Path,
    name: str = "stableflow",
    window: tuple[dt.date, dt.date] | None = None,
) -> dict[str, str]:
    """The environment of runs against the sandbox that keep everything in `folder`: their
    own Dagster instance (`<name>_home`), warehouse (`<name>.duckdb`), analysts' copy and
    reports, and the window first..last when given. The Dagster home is not prepared."""
    return {
        **os.environ,
        **sandbox_env,
        **(
            {"STABLEFLOW_START_DATE": str(window[0]), "STABLEFLOW_END_DATE": str(window[1])}
            if window
            else {}
        ),
        "DAGSTER_HOME": str(folder / f"{name}_home"),
        "STABLEFLOW_WAREHOUSE": str(folder / f"{name}.duckdb"),
        "STABLEFLOW_ANALYST_WAREHOUSE": str(folder / f"{name}_analyst.duckdb"),
        "STABLEFLOW_REPORTS_DIR": str(folder / f"{name}_reports"),
    }


def prepare_dagster_home(env: dict[str, str]) -> None:
    """Point DAGSTER_HOME at the checkout's git-ignored folder and give it dagster.yaml."""
    home = Path(env.setdefault("DAGSTER_HOME", str(ROOT / ".dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    config = (ROOT / "dagster.yaml").read_text()
    target = home / "dagster.yaml"
    if not target.exists() or target.read_text() != config:
        target.write_text(config)
