"""Reference data every run writes whole: the exchange labels and taxonomies (sql/seeds/), the
token contracts read (core/chains.yaml) and which world the run read (live or sandbox).

Owns: raw.exchanges, raw.exchange_labels, raw.evm_tokens, raw.data_world,
raw.known_incomplete_history (sql/seeds/known_incomplete_history.csv, checked by
assets/ingest/defillama.py load_known_incomplete), raw.cctp_minters
(sql/seeds/cctp_minters.csv, checked by assets/ingest/cctp.py).

They are in the warehouse so that an analyst can join and question them like any table
(which wallets make up "Binance", why OKX counts as a derivatives venue, whether the exchange
numbers are simulated), and so the marts can classify exchanges at query time: a reviewed
change of taxonomy re-classifies the whole history without reading a chain again.
"""

import dagster as dg
import polars as pl

from assets.ingest.cctp import load_cctp_minters
from assets.ingest.declare import raw_asset
from assets.ingest.defillama import known_incomplete_frame
from assets.ingest.labels import load_labels
from assets.ingest.parsing import utc_now
from core.chains import CHAINS, CONFIGURED
from core.resources import Rows, Warehouse
from core.settings import Settings

NOTICES = {
    "sandbox": "SIMULATED: every on-chain value (token supply per chain, mints and burns, "
    "exchange reserves and flows, the large-mint event study) comes from local "
    "chains planted by sandbox/chain.py, not from the real chains; DefiLlama, "
    "CoinGecko, alternative.me and FRED values are real recorded responses, "
    "replayed offline, except DefiLlama's per-chain supply where no recording "
    "exists (USDT on Arbitrum), which mirrors the simulated chain.",
    "live": "Live: on-chain values read from the configured JSON-RPC nodes; API values "
    "fetched from DefiLlama, CoinGecko, alternative.me and FRED.",
}


def world_rows(world: str, run_id: str, previous: pl.DataFrame) -> pl.DataFrame:
    """raw.data_world after a run of `world`: one row per world ever read, the first run of
    each kept (so re-running leaves the table unchanged), `latest` on this run's world."""
    chains = ",".join(c.name for c in CHAINS)
    row = pl.DataFrame(
        {
            "world": [world],
            "onchain_simulated": [world == "sandbox"],
            "http_replayed": [world == "sandbox"],
            "chains": [chains],
            "notice": [NOTICES[world]],
            "first_run_id": [run_id],
            "first_recorded_at": [utc_now()],
        }
    )
    if not previous.height:
        return row.with_columns(latest=pl.lit(True))
    kept = previous.filter(pl.col("world") == world)
    if kept.height:
        row = row.with_columns(
            first_run_id=kept["first_run_id"], first_recorded_at=kept["first_recorded_at"]
        )
    others = previous.filter(pl.col("world") != world).select(row.columns)
    return pl.concat([row, others.cast(row.schema)]).with_columns(latest=pl.col("world") == world)


@raw_asset(
    "exchanges",
    "exchange_labels",
    "evm_tokens",
    "data_world",
    "known_incomplete_history",
    "cctp_minters",
    name="reference_data",
    group="reference",
    # Unpartitioned and whole: joins any partition-range run, like the models.
    partitioned=False,
)
def reference_data(context: dg.AssetExecutionContext, warehouse: Warehouse):
    labels = load_labels()
    world = Settings.from_env().world
    tokens = pl.DataFrame(
        [
            (
                c.name,
                c.chain_id,
                t.symbol,
                t.address,
                t.decimals,
                t.standard,
                t.bridged,
                c.defillama_chain,
            )
            # every configured chain, not only those this run reads (STABLEFLOW_CHAINS): the
            # other chains' stored events keep their token's facts (a bridged token's mints
            # would otherwise read as its issuer's)
            for c in CONFIGURED
            for t in c.tokens
        ],
        schema=[
            "chain",
            "chain_id",
            "token",
            "address",
            "decimals",
            "standard",
            "bridged",
            "defillama_chain",
        ],
        orient="row",
    )
    previous = (
        warehouse.read("SELECT * FROM raw.data_world")
        if warehouse.table_exists("raw.data_world")
        else pl.DataFrame()
    )
    version = pl.lit(labels.version)
    written = warehouse.replace_whole(
        Rows("raw.exchanges", labels.exchanges.with_columns(label_version=version), ["exchange"]),
        Rows(
            "raw.exchange_labels",
            labels.frame.with_columns(label_version=version),
            ["chain", "address"],
        ),
        Rows("raw.evm_tokens", tokens, ["chain", "token"]),
        Rows("raw.data_world", world_rows(world, context.run_id, previous), ["world"]),
        Rows(
            "raw.known_incomplete_history",
            known_incomplete_frame(),
            ["source", "series", "incomplete_before"],
        ),
        Rows("raw.cctp_minters", load_cctp_minters(), ["chain", "address"]),
    )
    for table, rows in written.items():
        meta = {"rows": rows, "world": world}
        if table == "raw.data_world":
            meta["notice"] = NOTICES[world]
        elif table not in ("raw.known_incomplete_history", "raw.cctp_minters"):
            meta["label_version"] = labels.version
        yield dg.MaterializeResult(asset_key=table.split("."), metadata=meta)
