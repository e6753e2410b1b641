"""Build sql/seeds/exchange_labels.csv from the three label files in ../shared/data/labels.

Maintainer script, run by hand when the label sources are refreshed (CI has no ../shared, so the
CSV it writes is the artifact and this script is the record of how it was made):

    .tools/bin/uv run --frozen python sql/seeds/build_exchange_labels.py [--shared DIR]

Every judgement (slug aliases, dropped rows, derivatives-first venues, wallet roles) is an
explicit table below and is explained in sql/seeds/README.md. Output is deterministic: same
inputs, same bytes.
"""

from __future__ import annotations

import argparse
import collections
import csv
import re
import sys
from pathlib import Path

from web3 import Web3

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "sql" / "seeds" / "exchange_labels.csv"
COLUMNS = ("address", "exchange", "kind", "wallet_role", "source", "date_added")

ETHERSCAN = "etherscan_labels_cex_ethereum.csv"
DEFILLAMA = "defillama_adapters_cex_ethereum_owner_addresses.csv"
CEX_LIST = "defillama_cex_transparency_list_coingecko_ids.csv"
# Snapshot dates of the sources (SOURCES.md): etherscan-labels commit 35bf798c (2023-06),
# DefiLlama-Adapters commit 1eb4e81d (2026-08-22).
DATE_ADDED = {"etherscan-labels": "2023-06-01", "defillama-cex-owners": "2026-08-22"}

# Raw identifier (after slugify) -> one slug per exchange. The canonical slug is the exchange's
# current name as on DefiLlama's CEX transparency list (okex -> okx, huobi -> htx, gate-io -> gate).
ALIASES = {
    "binance-deposit": "binance",  # etherscan label for Binance customer deposit addresses
    "okex": "okx",
    "gate-io": "gate",
    "huobi": "htx",  # Huobi renamed itself HTX in 2023
    "bing": "bingx",  # DefiLlama adapter "bing-cex" is BingX
    "bitmark": "bitmart",  # DefiLlama adapter "bitmark" is BitMart
    "biconomy-com": "biconomy",
    "bake-io": "bake",
    "cake-defi": "bake",  # Cake DeFi renamed itself Bake
    "probit": "probit-global",
    "lbank-exchange": "lbank",
    "woo": "woo-x",
    "osl-hk": "osl",  # two DefiLlama adapters for one exchange, OSL
    "hashkey": "hashkey-global",  # DefiLlama adapter "hashkey" is HashKey Global
    "bytedex": "byte-exchange",
}
# Etherscan name tags that belong to a separately operated exchange than their label says.
# DefiLlama also lists Binance.US as its own CEX (and has this very address as its owner).
NAME_TAG_EXCHANGE = {"Binance US": "binance-us", "FTX US": "ftx-us"}

# Rows that are not exchange custody wallets, by name tag (etherscan) or exchange slug.
# (pattern, reason); the first match wins. Printed as counts when the script runs.
DROP_NAME_TAGS = [
    (r"^(Tether|Tether Gold|Euro Tether)\b", "Tether (stablecoin issuer), filed under bitfinex"),
    (r"EURT:undefined", "Tether (stablecoin issuer), filed under bitfinex"),
    (r"Tokens?$|Stablecoin|Contract|Token Swap|Router|Blacklister|^Binance USD$"
     r"|3X (Long|Short)|3 Month Unlock", "contract (token, router, unlock), not a wallet"),
    (r"Deployer", "contract deployer key, not a custody wallet"),
    (r"Pool\b", "mining pool, not the exchange"),
    (r"Charity|Industry Recovery", "foundation fund, not customer custody"),
    (r"Commerce", "merchant payments (Coinbase Commerce), funds are the merchants'"),
    (r"^Blockfolio$", "portfolio app, not an exchange wallet"),
]
# Brokers, lenders and payment gateways: no market where users trade with each other.
NOT_EXCHANGES = {
    "anycoin-direct": "broker / fiat gateway",
    "bity-com": "broker / fiat gateway",
    "uphold-com": "broker",
    "robinhood": "broker",
    "nexo": "lender",
    "bake": "staking / yield platform",
    "swissborg": "broker app (smart routing to other venues)",
}

# Venues whose main business is derivatives although CoinGecko also lists a spot market for
# them (or does not list them at all). Why for each: sql/seeds/README.md.
DERIVATIVES_FIRST = {
    "bitmex", "bybit", "ftx", "bitget", "phemex", "blofin", "flipster",
    "zoomex", "bitunix", "weex", "bydfi", "toobit", "orangex",
}

NUMBERED = re.compile(r"^(.*?)\s+\d+$")


def slugify(raw: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", raw.strip().lower()).strip("-")
    s = re.sub(r"-cex$", "", s)
    return ALIASES.get(s, s)


def etherscan_role(name_tag: str, label: str) -> str:
    tag = name_tag.lower()
    if label == "binance-deposit" or re.search(r"\bdeposit( \d+)?$", tag):
        return "deposit"
    # Deposit funders send gas to deposit addresses and sweep them: operational hot wallets.
    if "hot wallet" in tag or "deposit funder" in tag or "deposit supplier" in tag:
        return "hot"
    if "cold wallet" in tag:
        return "cold"
    return "unknown"  # numbered tags ("Binance 14") do not say hot or cold


def entity_of(name_tag: str) -> str:
    """'Coinbase 4' -> 'Coinbase', 'Gemini' -> 'Gemini' (for fiat-gateway rows)."""
    m = NUMBERED.match(name_tag)
    return m.group(1) if m else name_tag


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def cex_flags(shared: Path) -> dict[str, tuple[bool, bool]]:
    """slug -> (coingecko_spot_listed, coingecko_derivatives_listed) from the CEX list."""
    flags: dict[str, tuple[bool, bool]] = {}
    for row in read(shared / CEX_LIST):
        slug = slugify(row["slug"] or row["name"])
        pair = (row["coingecko_spot_listed"] == "true", row["coingecko_derivatives_listed"] == "true")
        if flags.setdefault(slug, pair) != pair:  # Gemini is listed twice, identically
            sys.exit(f"{CEX_LIST}: {slug} listed twice with different flags")
    return flags


def build(shared: Path) -> tuple[list[dict[str, str]], collections.Counter]:
    dropped: collections.Counter = collections.Counter()
    rows: dict[str, dict[str, str]] = {}  # lowercase address -> row

    def keep(address: str, exchange: str, role: str, source: str, why: str) -> None:
        key = address.lower()
        if key in rows:
            if rows[key]["exchange"] != exchange:
                sys.exit(f"{address}: {rows[key]['exchange']} vs {exchange} ({why})")
            if rows[key]["source"] != source:
                dropped[f"{source}: already labelled by etherscan"] += 1
            return  # same address twice in one source (etherscan exchange + fiat-gateway)
        rows[key] = {"address": Web3.to_checksum_address(address), "exchange": exchange,
                     "wallet_role": role, "source": source}

    def dropped_because(name_tag: str, exchange: str) -> str | None:
        for pattern, reason in DROP_NAME_TAGS:
            if re.search(pattern, name_tag):
                return reason
        return NOT_EXCHANGES.get(exchange)

    # Etherscan first: it wins when both sources have an address.
    for r in read(shared / ETHERSCAN):
        label, tag = r["etherscan_label"], r["name_tag"]
        exchange = NAME_TAG_EXCHANGE.get(tag) or slugify(
            entity_of(tag) if label == "fiat-gateway" else label)
        reason = dropped_because(tag, exchange)
        if reason:
            dropped[f"etherscan-labels: {reason}"] += 1
            continue
        keep(r["address"], exchange, etherscan_role(tag, label), "etherscan-labels", tag)

    reserve = set()
    for r in read(shared / DEFILLAMA):
        exchange = slugify(r["defillama_cex_slug"])
        if exchange in NOT_EXCHANGES:
            dropped[f"defillama-cex-owners: {NOT_EXCHANGES[exchange]}"] += 1
            continue
        reserve.add(r["address"].lower())
        keep(r["address"], exchange, "reserve", "defillama-cex-owners", r["source_file"])

    # An etherscan wallet with no role in its tag that the exchange itself lists in its
    # proof of reserves is a reserve wallet.
    for key, row in rows.items():
        if row["wallet_role"] == "unknown" and key in reserve:
            row["wallet_role"] = "reserve"

    flags = cex_flags(shared)
    out = []
    for row in rows.values():
        spot, deriv = flags.get(row["exchange"], (False, False))
        derivatives = (deriv and not spot) or row["exchange"] in DERIVATIVES_FIRST
        row["kind"] = "derivatives" if derivatives else "spot"
        row["date_added"] = DATE_ADDED[row["source"]]
        out.append(row)
    out.sort(key=lambda r: (r["exchange"], r["address"].lower()))
    return out, dropped


def summary(rows: list[dict[str, str]], flags: dict[str, tuple[bool, bool]]) -> str:
    """Markdown table of exchanges for sql/seeds/README.md (evidence columns filled by hand)."""
    by_exchange = collections.defaultdict(collections.Counter)
    for r in rows:
        by_exchange[(r["exchange"], r["kind"])][r["source"]] += 1
    lines = ["| exchange | kind | cg spot | cg deriv | etherscan rows | defillama rows |",
             "|---|---|---|---|---|---|"]
    for (exchange, kind), n in sorted(by_exchange.items()):
        spot, deriv = (str(f).lower() for f in flags[exchange]) if exchange in flags else ("-", "-")
        lines.append(f"| {exchange} | {kind} | {spot} | {deriv} | "
                     f"{n['etherscan-labels']} | {n['defillama-cex-owners']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data" / "labels")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    rows, dropped = build(args.shared)
    with args.out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    kinds = collections.Counter(r["kind"] for r in rows)
    print(f"wrote {len(rows)} rows, {len({r['exchange'] for r in rows})} exchanges to {args.out}")
    print("rows by kind:", dict(sorted(kinds.items())))
    print("rows by role:", dict(sorted(collections.Counter(r["wallet_role"] for r in rows).items())))
    for reason, n in sorted(dropped.items()):
        print(f"dropped {n:4d}  {reason}")
    print(summary(rows, cex_flags(args.shared)))


if __name__ == "__main__":
    main()
