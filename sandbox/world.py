"""The offline world in one place: what the sandbox serves, and how the pipeline is pointed
at it. Sandbox mode differs from live mode only by environment variables (base URLs, the
RPC URL and the window); the asset code is the same.
"""

import contextlib
import datetime as dt
from pathlib import Path
from typing import Iterator

from sandbox.chain import Anvil, GroundTruth, Rpc, plant_scenario
from sandbox.replay import ReplayServer
from sandbox.rpc_proxy import RpcProxy

ROOT = Path(__file__).resolve().parents[1]
# Every recorded series covers these days (see recordings/SOURCES.md).
WINDOW_START = dt.date(2021, 1, 1)
WINDOW_END = dt.date(2023, 10, 24)
# anvil calls a block final once 64 newer blocks exist (like mainnet's two epochs).
FINALITY_DEPTH = 64


def sandbox_environment(replay_url: str, rpc_url: str) -> dict[str, str]:
    return {
        "STABLEFLOW_DEFILLAMA_URL": f"{replay_url}/defillama",
        "STABLEFLOW_COINGECKO_URL": f"{replay_url}/coingecko/api/v3",
        "STABLEFLOW_ALTERNATIVE_ME_URL": f"{replay_url}/alternative_me",
        "STABLEFLOW_FRED_URL": f"{replay_url}/fred",
        "STABLEFLOW_ETHEREUM_RPC_URL": rpc_url,
        "STABLEFLOW_START_DATE": WINDOW_START.isoformat(),
        "STABLEFLOW_END_DATE": WINDOW_END.isoformat(),
        # The replay server has no rate limit to respect.
        "STABLEFLOW_COINGECKO_MIN_INTERVAL_S": "0",
    }


def bury(rpc_url: str, blocks: int = FINALITY_DEPTH + 6) -> None:
    """Mine empty blocks after the scenario so its last day is final."""
    Rpc(rpc_url)("anvil_mine", hex(blocks), hex(12))


@contextlib.contextmanager
def planted_chain(start: dt.date, end: dt.date, labels=None,
                  buried: int = FINALITY_DEPTH + 6) -> Iterator[tuple[str, GroundTruth]]:
    """A fresh local chain with the scenario for start..end planted (labels: the exchange
    label frame, default the label file) and `buried` empty blocks after it, so its last day
    is final. Yields the node's URL and the scenario's ground truth."""
    if labels is None:
        from assets.ingest.labels import load_labels
        labels = load_labels().frame
    with Anvil(start) as node:
        truth = plant_scenario(node.url, labels, start, end)
        bury(node.url, buried)
        yield node.url, truth


@contextlib.contextmanager
def running_sandbox(
    start: dt.date = WINDOW_START, end: dt.date = WINDOW_END, node_profile: str = "geth"
) -> Iterator[tuple[dict[str, str], GroundTruth, ReplayServer]]:
    """Replay server and a local chain with the planted scenario for start..end, reached
    through the RPC proxy playing `node_profile` (sandbox/rpc_proxy.py): by default geth's
    limits, so the sandbox is no kinder than a real node.

    Yields the environment that points the pipeline at them, the scenario's ground truth,
    and the replay server (for its request counts).
    """
    with ReplayServer() as server, planted_chain(start, end) as (node_url, truth):
        # a pruned node needs a cutoff: half the chain, so the window's first half is gone
        cutoff = int(Rpc(node_url)("eth_blockNumber"), 16) // 2 if node_profile == "pruned" \
            else None
        with RpcProxy(node_url, profile=node_profile, pruned_below=cutoff) as proxy:
            yield sandbox_environment(server.url, proxy.url), truth, server


def prepare_dagster_home(env: dict[str, str]) -> None:
    """Point DAGSTER_HOME at the checkout's git-ignored folder and give it dagster.yaml."""
    home = Path(env.setdefault("DAGSTER_HOME", str(ROOT / ".dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    config = (ROOT / "dagster.yaml").read_text()
    target = home / "dagster.yaml"
    if not target.exists() or target.read_text() != config:
        target.write_text(config)
