"""`make doctor` in sandbox mode: the preflight (pipelines/doctor.py) against the offline world.

Plants a short window (3 days by default) on one local chain per chain of STABLEFLOW_CHAINS
(default every configured chain), mines 200 empty blocks after it (so its closing blocks are
older than the 128 blocks of state a full node keeps, as yesterday's are at the daily run),
starts the replay server, and reaches each chain through its own RPC proxy playing a node
profile (sandbox/rpc_proxy.py: geth by default; NODE=full-node, pruned, alchemy-free,
wrong-chain, ... show what the doctor says about such a node). The `pruned` profile drops
the blocks below the window's second closing block of each chain: a cutoff inside the
window. Then it runs the doctor against that environment, exactly as `make doctor MODE=live`
runs it against the environment's endpoints, and exits with its code.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sys
import warnings
from collections.abc import Iterator

import polars as pl

from sandbox.chain import GroundTruth
from sandbox.replay import ReplayServer
from sandbox.rpc_proxy import CUT_PROFILES, PROFILES, RpcProxy
from sandbox.world import planted_chains, sandbox_environment

START, END = dt.date(2023, 10, 18), dt.date(2023, 10, 20)
# Blocks mined after the window: more than a full node's 128 blocks of state.
BURIED = 200


@contextlib.contextmanager
def doctor_sandbox(
    start: dt.date = START, end: dt.date = END, node_profile: str = "geth"
) -> Iterator[tuple[dict[str, str], GroundTruth, dict[str, RpcProxy]]]:
    """The replay server and one node per chain of STABLEFLOW_CHAINS with start..end planted
    and BURIED blocks after it, each behind an RPC proxy playing `node_profile`. Yields the
    environment pointing the pipeline (and the doctor) at them, the scenarios' ground truth
    and the proxies by chain name (proxy.use switches profiles)."""
    with warnings.catch_warnings():  # dagster's beta warnings, from importing the assets
        warnings.simplefilter("ignore")
        from assets.ingest.labels import load_labels

    with (
        ReplayServer() as server,
        planted_chains(start, end, load_labels(), buried=BURIED) as (node_urls, truth),
        contextlib.ExitStack() as stack,
    ):
        proxies = {
            name: stack.enter_context(RpcProxy(url, profile=node_profile))
            for name, url in node_urls.items()
        }
        env = sandbox_environment(server.url, {name: p.url for name, p in proxies.items()})
        env |= {"STABLEFLOW_START_DATE": start.isoformat(), "STABLEFLOW_END_DATE": end.isoformat()}
        yield env, truth, proxies


def pruned_cutoff(truth: GroundTruth, chain: str) -> int:
    """A history cutoff inside the window on `chain`: blocks below its second day's closing
    block."""
    blocks = truth.blocks.filter(pl.col("chain") == chain).sort("date")["closing_block"]
    return int(blocks[min(1, blocks.len() - 1)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--node",
        default="geth",
        choices=sorted(PROFILES),
        help="the node profile the sandbox chains are reached through",
    )
    parser.add_argument("--start", default=START.isoformat())
    parser.add_argument("--end", default=END.isoformat())
    args = parser.parse_args(argv)
    start, end = dt.date.fromisoformat(args.start), dt.date.fromisoformat(args.end)
    print(
        f"sandbox: planting {start}..{end} on local chains (anvil), {BURIED} blocks after "
        f"it, and starting the replay server",
        flush=True,
    )
    with doctor_sandbox(start, end, args.node) as (env, truth, proxies):
        notes = []
        for name, proxy in proxies.items():
            if args.node in CUT_PROFILES:
                cutoff = pruned_cutoff(truth, name)
                proxy.use(args.node, pruned_below=cutoff)
                notes.append(f"{name}: {args.node}'s cutoff at block {cutoff} (inside the window)")
        print(
            f"sandbox: {', '.join(proxies)} reached through the '{args.node}' node profile "
            f"(sandbox/rpc_proxy.py){''.join(f'; {n}' for n in notes)}\n",
            flush=True,
        )
        os.environ.update(env)
        from pipelines import doctor

        return doctor.main([])


if __name__ == "__main__":
    sys.exit(main())
