"""Circle's cross-chain minters seed (sql/seeds/cctp_minters.csv), validated row by row.

Circle moves native USDC between chains in two ways, both by burning it on one chain and
minting it on the other through contracts that are configured minters of the FiatToken, so
their Mint and Burn events look like Circle's own issuance:
- CCTP (Cross-Chain Transfer Protocol): its TokenMinter mints on arrival and burns on
  departure (protocol `cctp`);
- Gateway (since July 2025): the GatewayMinter mints on arrival, the GatewayWallet of the
  chain the USDC left burns it there (protocol `gateway`).
The seed lists those contracts per chain with their protocol and where each is documented, so
staging can tell a cross-chain move (channel `cctp` or `gateway`) from issuance (`issuer`) by
the event's minter or burner. Provenance of each row: sql/seeds/README.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from assets.ingest.labels import SEEDS, SeedError, require_cited_row, seed_rows

CCTP_MINTERS_PATH = SEEDS / "cctp_minters.csv"
# protocol last, as in its table (sql/raw/cctp_minters.yaml: added in place to older ones)
CCTP_COLUMNS = ["chain", "address", "contract", "source", "evidence", "protocol"]
PROTOCOLS = ("cctp", "gateway")  # each its own channel in staging
_CHAIN = re.compile(r"[a-z][a-z0-9_]*")  # as core/chains.yaml names chains


def load_cctp_minters(path: Path = CCTP_MINTERS_PATH) -> pl.DataFrame:
    """Every row of the seed, checked: a bad edit fails naming file, line, column and value
    (an unchecked typo in an address would silently count cross-chain mints as issuance)."""
    rows, seen = [], {}
    for line, where, row in seed_rows(path, CCTP_COLUMNS):
        if not _CHAIN.fullmatch(row["chain"]) or row["chain"] == "tron":
            raise SeedError(f"{where}: chain = {row['chain']!r}: not an EVM chain name")
        key = (row["chain"], row["address"].lower())
        described = ("contract", "evidence")
        require_cited_row(where, line, row, key, seen, ("protocol", PROTOCOLS), described)
        rows.append(row)
    return pl.DataFrame(rows, schema={c: pl.Utf8 for c in CCTP_COLUMNS})
