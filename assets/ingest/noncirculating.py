"""Wallets whose tokens are not circulating on their chain (sql/seeds/noncirculating_wallets.csv).

A token's totalSupply() on a chain is not what circulates there. Part of it sits in:
- the issuer's treasury, issued but not yet sold (kind `issuer_treasury`: DefiLlama's
  "unreleased");
- a bridge's escrow, locked to back the bridged token minted on another chain (kind
  `bridge_escrow`: USDT0's lockbox on Ethereum).

Counting them as circulating overstates what circulates, and an escrow's count a dollar
twice: here and on the chain it backs. Market reports and DefiLlama's per-chain series leave
both out. `raw.evm_token_supply`
therefore carries each day's balance of the seed's wallets of the token,
`noncirculating_raw`, read at the same closing block as the supply. Staging subtracts it.

Provenance of each row: sql/seeds/README.md.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from assets.ingest.evm.extract import RAW
from assets.ingest.labels import SEEDS, SeedError, require_cited_row, seed_rows, version_of
from core.chains import CONFIGURED

NONCIRCULATING_PATH = SEEDS / "noncirculating_wallets.csv"
COLUMNS = ["chain", "token", "address", "kind", "name", "source", "evidence"]
KINDS = ("issuer_treasury", "bridge_escrow")


def load_noncirculating(path: Path = NONCIRCULATING_PATH) -> pl.DataFrame:
    """Every row of the seed, checked: a bad edit fails naming file, line, column and value.
    An unchecked typo in an address would read as a wallet holding nothing, and the
    circulating supply would silently include what it holds."""
    tokens = {c.name: {t.symbol for t in c.tokens} for c in CONFIGURED}
    rows, seen = [], {}
    for line, where, row in seed_rows(path, COLUMNS):
        chain, token = row["chain"], row["token"]
        if chain not in tokens:
            raise SeedError(f"{where}: chain = {chain!r}: not a chain of core/chains.yaml")
        if token not in tokens[chain]:
            raise SeedError(
                f"{where}: token = {token!r}: not one of {chain}'s tokens {sorted(tokens[chain])}"
            )
        key = (chain, token, row["address"].lower())
        require_cited_row(where, line, row, key, seen, ("kind", KINDS), ("name", "evidence"))
        rows.append(row)
    return pl.DataFrame(rows, schema={c: pl.Utf8 for c in COLUMNS})


def seed_version(path: Path = NONCIRCULATING_PATH) -> str:
    """The seed's version (SHA-256 prefix, as the label files'): stored with every balance, so
    days read under another seed can be found and read again."""
    return version_of(path.read_bytes())


def wallets(seed: pl.DataFrame, chain: str) -> list[str]:
    """The chain's noncirculating wallets, each once, in seed order: whom to read."""
    return seed.filter(pl.col("chain") == chain)["address"].unique(maintain_order=True).to_list()


def noncirculating(
    supply: pl.DataFrame, held: pl.DataFrame | None, seed: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(`supply` with noncirculating_raw and noncirculating_tokens, the per-wallet rows of
    raw.evm_noncirculating_balances) from token_supply's rows and `held`, balances' rows of
    every token at every seed wallet of the chain (None when the seed lists none there).
    noncirculating_raw sums, per day and token, the wallets the seed lists for that token
    (`counted`, with their kind and name); 0 where it lists none. The other tokens at those
    wallets are kept uncounted, kind and name NULL: a rewind from stored rows needs them."""
    listed = seed.select(
        "chain", "token", pl.col("address").str.to_lowercase().alias("key"), "kind", "name"
    )
    if held is None:
        held = pl.DataFrame(
            schema={"date": pl.Date, "chain": pl.Utf8, "token": pl.Utf8, "address": pl.Utf8}
            | {"block_number": pl.Int64, "balance_raw": RAW, "balance_tokens": pl.Float64}
        )
    rows = (
        held.with_columns(key=pl.col("address").str.to_lowercase())
        .join(
            listed.with_columns(counted=pl.lit(True)),
            on=["chain", "token", "key"],
            how="left",
            maintain_order="left",
        )
        .select(
            "date",
            "chain",
            "token",
            pl.col("key").alias("address"),
            "block_number",
            "balance_raw",
            "balance_tokens",
            pl.col("counted").fill_null(False),
            "kind",
            "name",
        )
    )
    sums = (
        rows.filter("counted")
        .group_by("date", "chain", "token")
        .agg(noncirculating_raw=pl.col("balance_raw").sum())
    )
    decimals = pl.DataFrame(
        [(c.name, t.symbol, t.decimals) for c in CONFIGURED for t in c.tokens],
        schema={"chain": pl.Utf8, "token": pl.Utf8, "decimals": pl.Int64},
        orient="row",
    )
    raw = pl.col("noncirculating_raw").fill_null(0).cast(RAW)
    supply = (
        supply.join(sums, on=["date", "chain", "token"], how="left", maintain_order="left")
        .join(decimals, on=["chain", "token"], how="left", maintain_order="left")
        .with_columns(raw.alias("noncirculating_raw"))
        .with_columns(
            noncirculating_tokens=pl.col("noncirculating_raw").cast(pl.Float64)
            / pl.lit(10.0).pow(pl.col("decimals"))
        )
        .drop("decimals")
    )
    return supply, rows
