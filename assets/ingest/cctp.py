"""The CCTP minter seed (sql/seeds/cctp_minters.csv), validated row by row.

Circle's Cross-Chain Transfer Protocol moves native USDC between chains by burning it on one
and minting it on the other, through its TokenMinter contract, a configured minter of the
FiatToken: its Mint and Burn events look like Circle's own. The seed lists the TokenMinter
addresses per chain, each with where it is documented, so staging can tell a cross-chain move
(channel `cctp`) from issuance (`issuer`) by the event's minter or burner. Provenance of each
row: sql/seeds/README.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from assets.ingest.labels import SEEDS, SeedError, address_problem, seed_rows

CCTP_MINTERS_PATH = SEEDS / "cctp_minters.csv"
CCTP_COLUMNS = ["chain", "address", "contract", "source", "evidence"]
_CHAIN = re.compile(r"[a-z][a-z0-9_]*")  # as core/chains.yaml names chains


def load_cctp_minters(path: Path = CCTP_MINTERS_PATH) -> pl.DataFrame:
    """Every row of the seed, checked: a bad edit fails naming file, line, column and value
    (an unchecked typo in an address would silently count CCTP's mints as issuance)."""
    rows, seen = [], {}
    for line, where, row in seed_rows(path, CCTP_COLUMNS):
        if not _CHAIN.fullmatch(row["chain"]) or row["chain"] == "tron":
            raise SeedError(f"{where}: chain = {row['chain']!r}: not an EVM chain name")
        problem = address_problem(row["chain"], row["address"])
        if problem:
            raise SeedError(f"{where}: address = {row['address']!r} {problem}")
        key = (row["chain"], row["address"].lower())
        if key in seen:
            raise SeedError(f"{where}: {key} duplicates line {seen[key]}")
        seen[key] = line
        if not row["source"].startswith("https://"):
            raise SeedError(f"{where}: source = {row['source']!r}: not an https:// URL")
        for column in ("contract", "evidence"):
            if not row[column].strip():
                raise SeedError(f"{where}: {column} is empty: say what it is and how known")
        rows.append(row)
    return pl.DataFrame(rows, schema={c: pl.Utf8 for c in CCTP_COLUMNS})


def cctp_minters(chain: str) -> list[str]:
    """The seed's CCTP minter addresses on `chain`, in file order."""
    frame = load_cctp_minters()
    return frame.filter(pl.col("chain") == chain)["address"].to_list()
