"""Build the exchange-label seed in sql/seeds from the four label files in ../shared/data/labels.

Writes `exchange_labels.csv` (exchange wallets per chain), `exchanges.csv` (one row per
exchange with both spot/derivatives taxonomies) and `issuer_wallets.csv` (stablecoin issuer
wallets no label may name). Maintainer script, run by hand when the sources are refreshed (CI
has no ../shared, so the CSVs are the artifacts and this script is the record of how they were
made):

    .venv/bin/python sql/seeds/build_exchange_labels.py [--shared DIR] [--out DIR]

Every judgement (slug aliases, which adapters are exchanges, dropped rows, the conflict rule,
both taxonomies, wallet roles) is an explicit table or function below and is explained in
sql/seeds/README.md. Output is deterministic: same inputs, same bytes. The files written are
loaded with the pipeline's own loader before the script reports success.
"""

from __future__ import annotations

import argparse
import collections
import csv
import re
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from web3 import Web3

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # the pipeline's loader checks what is written
with warnings.catch_warnings():  # the assets package's Dagster beta notices are not ours
    warnings.simplefilter("ignore")
    from assets.ingest.labels import (
        COLUMNS,
        EXCHANGE_COLUMNS,
        ISSUER_COLUMNS,
        TRON,
        LabelError,
        load_labels,
        tron_address_ok,
    )

SEEDS = REPO / "sql" / "seeds"
ETHERSCAN = "etherscan_labels_cex_ethereum.csv"
DEFILLAMA_ETHEREUM = "defillama_adapters_cex_ethereum_owner_addresses.csv"
DEFILLAMA_ALL_CHAINS = "defillama_adapters_cex_owner_addresses_all_chains.csv"
CEX_LIST = "defillama_cex_transparency_list_coingecko_ids.csv"

ETHERSCAN_SOURCE, DEFILLAMA_SOURCE = "etherscan-labels", "defillama-cex-owners"
# Snapshot dates (../shared/data/SOURCES.md): etherscan-labels commit 35bf798c (2023-06);
# DefiLlama-Adapters by commit. The Ethereum-only DefiLlama file is of the later commit.
ETHERSCAN_DATE = "2023-06-01"
COMMIT_DATES = {
    "cf9693cdabf9b816e85e6c8ad19cd4c29190d395": "2026-06-22",
    "1eb4e81d4dd0fa8e2c27a428fe8120b37c985689": "2026-08-22",
}
ETHEREUM_FILE_COMMIT = "1eb4e81d4dd0fa8e2c27a428fe8120b37c985689"

# DefiLlama's names of the EVM chains in the sources: 20-byte accounts, so one key is the same
# address on each. Every other chain but tron (bitcoin, solana, ripple, ...) is dropped.
EVM_CHAINS = frozenset(
    {
        "ailayer",
        "apechain",
        "arbitrum",
        "arbitrum_nova",
        "avax",
        "base",
        "bcypher",
        "berachain",
        "blast",
        "bob",
        "bsc",
        "bsquared",
        "btr",
        "celo",
        "chz",
        "core",
        "cronos",
        "energi",
        "era",
        "ethereum",
        "ethereumclassic",
        "ethpow",
        "evmos",
        "fantom",
        "flare",
        "ftn",
        "fusion",
        "hyperliquid",
        "kava",
        "kcc",
        "klaytn",
        "linea",
        "manta",
        "mantle",
        "merlin",
        "metis",
        "mode",
        "moonbeam",
        "okexchain",
        "op_bnb",
        "optimism",
        "plasma",
        "plume",
        "plume_mainnet",
        "polygon",
        "polygon_zkevm",
        "scroll",
        "sei",
        "sonic",
        "taiko",
        "vechain",
        "xdai",
        "xdc",
        "xlayer",
        "zeta",
        "zircuit",
    }
)
_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")

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
# Display names of exchanges that are not on DefiLlama's CEX transparency list.
NAMES = {
    "binance-us": "Binance.US",
    "bitkan": "BitKan",
    "bitlo": "Bitlo",
    "bitvavo": "Bitvavo",
    "bydfi": "BYDFi",
    "byte-exchange": "Byte Exchange",
    "cex-io": "CEX.IO",
    "coinstore": "Coinstore",
    "fire": "Fire",
    "ftx": "FTX",
    "ftx-us": "FTX US",
    "gate-us": "Gate.US",
    "grovex": "GroveX",
    "kraken": "Kraken",
    "levex": "Levex",
    "liquid": "Liquid",
    "luno": "Luno",
    "niza": "Niza",
    "osl": "OSL",
    "remitano": "Remitano",
    "sclite": "SCLite",
    "valr": "VALR",
    "webot": "WEBOT",
    "weex": "WEEX",
}

# Stablecoin issuer wallets among the sources: to issuer_wallets.csv, never labelled.
# Etherscan files Tether under bitfinex (common ownership); only its Treasury is a wallet, the
# other Tether rows are token contracts (dropped below).
ISSUER_TAGS = {"Tether: Treasury": "tether"}
ISSUER_SLUGS = {"openeden-usdo": ("openeden", "OpenEden: USDO reserves")}

# Etherscan rows that are not exchange custody wallets, by name tag: (pattern, reason); the
# first match wins.
DROP_NAME_TAGS = [
    (r"^(Tether|Tether Gold|Euro Tether)\b|^EURT:", "Tether token contract, filed under bitfinex"),
    (
        r"Tokens?$|Stablecoin|Contract|Token Swap|Router|Blacklister|^Binance USD$"
        r"|3X (Long|Short)|3 Month Unlock",
        "contract (token, router, unlock), not a wallet",
    ),
    (r"Deployer", "contract deployer key, not a custody wallet"),
    (r"Pool\b", "mining pool, not the exchange"),
    (r"Charity|Industry Recovery", "foundation fund, not customer custody"),
    (r"Commerce", "merchant payments (Coinbase Commerce), funds are the merchants'"),
    (r"^Blockfolio$", "portfolio app, not an exchange wallet"),
]
# Slugs (after slugify) that are not exchanges: no market where users trade with each other
# in the operator's custody. DefiLlama's cexExports helper (sum the balances of "owner"
# wallets) is also used by DeFi protocols, bridges and issuers. Every DefiLlama slug is here
# or an exchange (CEX list or NAMES): an unknown one stops the script until someone decides.
NOT_EXCHANGES = {
    "anycoin-direct": "broker / fiat gateway",
    "bity-com": "broker / fiat gateway",
    "uphold-com": "broker",
    "robinhood": "broker",
    "swissborg": "broker app (smart routing to other venues)",
    "nexo": "lender",
    "cake-defi": "staking / yield platform (Bake)",
    "21-co": "ETP issuer (21Shares)",
    "openeden-usdo": "stablecoin issuer (USDO reserves, see issuer_wallets.csv)",
    "olympus": "DAO treasury (OlympusDAO)",
    "re-protocol": "on-chain reinsurance protocol",
    "tangible": "real-world-asset protocol",
    **dict.fromkeys(
        ["dexodus", "edgex", "lighter-v2", "satori", "velar-perps"],
        "DeFi perpetuals exchange (users' funds in its contracts)",
    ),
    **dict.fromkeys(["ekubo", "ekubo-evm", "raindex", "renegade-fi", "zkex"], "DeFi exchange"),
    **dict.fromkeys(
        [
            "ajira-pay-finance-v2",
            "anvil",
            "aof-stake-mining",
            "astaria-v2",
            "cables",
            "domfi",
            "nodo",
            "oneguyfinance",
            "revert-compoundor",
            "revert-lend",
            "revert-v3-staker",
            "sablier-legacy",
            "tea-fi",
            "univoucher",
        ],
        "DeFi protocol",
    ),
    **dict.fromkeys(
        ["chainport", "glitter-finance", "lisk-l2", "near-intents", "teleswap", "xlink", "zklink"],
        "bridge or cross-chain protocol",
    ),
}

# main_business (today's rule, README): venues whose main business is derivatives although
# CoinGecko also lists a spot market for them, or the CEX list gives no ids. slug -> why.
_PERP_VENUE = (
    "Presents itself as a perpetual-futures exchange; no CoinGecko ids on the CEX "
    "list (judgement, check on refresh)."
)
DERIVATIVES_FIRST = {
    "bitmex": "Launched 2014 as a derivatives exchange; CoinGecko's ids say so too: "
    "derivatives `bitmex`, spot `bitmex_spot` (added 2022).",
    "bybit": "Launched 2018 as a derivatives exchange; CoinGecko's ids say so too: "
    "derivatives `bybit`, spot `bybit_spot`.",
    "ftx": "Launched 2019 as a derivatives exchange (futures, leveraged tokens, options); "
    "collapsed in November 2022.",
    "bitget": "Launched 2018 as a perpetual-futures and copy-trading venue; futures volume is "
    "a multiple of spot.",
    "phemex": "Launched 2019 as a contracts exchange; spot was added in 2020.",
    **dict.fromkeys(
        ["blofin", "bitunix", "bydfi", "flipster", "orangex", "toobit", "weex", "zoomex"],
        _PERP_VENUE,
    ),
}
# Why a venue CoinGecko lists with both markets, or without any, is spot-first.
SPOT_FIRST = {
    "binance": "Both CoinGecko ids; spot-first: launched 2017 as a spot exchange, futures from "
    "2019, the reference spot venue of the reports.",
    "okx": "Both CoinGecko ids; spot-first: grew out of OKCoin's spot book (same rule as Binance).",
    "bitfinex": "Both CoinGecko ids; a spot and margin exchange since 2012, derivatives added "
    "in 2019.",
    "htx": "Both CoinGecko ids (Huobi); spot-first, its futures arm `huobi_dm` added in 2018.",
    "kucoin": "Both CoinGecko ids (futures `kumex`, added 2019); spot-first.",
    "gate": "Both CoinGecko ids; a spot exchange since 2013.",
    "mexc": "Both CoinGecko ids; launched 2018 as the spot exchange MXC.",
    "crypto-com": "Both CoinGecko ids; the spot app and exchange came first.",
    "kraken": "Not on the CEX list; a spot exchange since 2013 (futures in a separate entity).",
    "binance-us": "Not on the CEX list; Binance's separately operated US spot exchange.",
    "ftx-us": "Not on the CEX list; FTX's separately operated US spot exchange.",
}
# offers_derivatives where the CEX list's CoinGecko derivatives id is not the whole story:
# slug -> (offers, why).
OFFERS_DERIVATIVES = {
    "binance": (
        True,
        "CoinGecko derivatives id `binance_futures`; futures accounts are funded "
        "by transfer inside the same exchange wallets.",
    ),
    "okx": (
        True,
        "CoinGecko derivatives id `okex_swap`; swaps and futures trade from the same "
        "unified account and wallets.",
    ),
    "bybit": (
        True,
        "CoinGecko derivatives id `bybit` (its spot id is `bybit_spot`): the "
        "derivatives book is its core.",
    ),
    "coinbase": (
        False,
        "Spot-only venue as the reports treat it: Coinbase International "
        "Exchange (Bermuda) and Coinbase Derivatives (US) are separate entities "
        "with separate custody, not these wallets.",
    ),
    "kraken": (
        False,
        "Spot venue as the reports treat it: Kraken Futures is Crypto Facilities "
        "Ltd (UK), a separate entity with separate custody, not these wallets.",
    ),
    "binance-us": (False, "US spot exchange; Binance's futures are not offered there."),
    "ftx-us": (False, "US spot exchange; FTX US Derivatives (ex LedgerX) was a separate entity."),
    "ftx": (True, "Futures, options and leveraged tokens were its main products."),
    "bingx": (
        True,
        "No derivatives id on the CEX list, but BingX documents USDT-margined "
        "perpetual futures (support.bingx.com).",
    ),
    "woo-x": (
        True,
        "No derivatives id on the CEX list, but WOO X documents perpetual futures "
        "with funding payments (support.woo.org).",
    ),
    "poloniex": (
        True,
        "No derivatives id on the CEX list, but Poloniex Futures (perpetuals) "
        "launched in July 2020 (support.poloniex.com).",
    ),
    "coinw": (
        True,
        "No derivatives id on the CEX list, but CoinW documents USDT-margined "
        "perpetual futures (coinw.zendesk.com).",
    ),
    "lbank": (
        True,
        "No derivatives id on the CEX list, but LBank documents perpetual futures "
        "up to 125x (lbank.com support).",
    ),
}

NUMBERED = re.compile(r"^(.*?)\s+\d+$")


@dataclass(frozen=True)
class Claim:
    """One source row: this address on this chain is a wallet of this exchange."""

    chain: str
    address: str  # EIP-55 checksummed, or Tron base58 as written
    exchange: str
    role: str
    source: str
    date: str
    origin: str  # where the claim comes from, for the conflict report


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


def seed_address(chain: str, address: str) -> tuple[str, str]:
    """(the address as the seed writes it, "") or ("", why the row is dropped), on tron or
    an EVM chain."""
    if chain == TRON:
        return (address, "") if tron_address_ok(address) else ("", "Tron address fails base58check")
    if not _HEX_ADDRESS.fullmatch(address):
        return "", f"not a 0x 20-byte address on EVM chain {chain}"
    # All-lowercase or all-uppercase hex carries no checksum; mixed case must be EIP-55.
    hex_ = address[2:]
    checksummed = Web3.to_checksum_address(address)
    if hex_ not in (hex_.lower(), hex_.upper()) and address != checksummed:
        return "", "mixed-case address with a wrong EIP-55 checksum (mistyped?)"
    return checksummed, ""


def cex_list(shared: Path) -> dict[str, dict[str, str]]:
    """slug -> its row of DefiLlama's CEX transparency list (name, cgId, cgDeriv)."""
    listed: dict[str, dict[str, str]] = {}
    for row in read(shared / CEX_LIST):
        slug = slugify(row["slug"] or row["name"])
        ids = (row["cgId"], row["cgDeriv"])
        # Gemini is listed twice, with the same ids; the first row has the fuller entry.
        if slug in listed and (listed[slug]["cgId"], listed[slug]["cgDeriv"]) != ids:
            sys.exit(f"{CEX_LIST}: {slug} listed twice with different CoinGecko ids")
        listed.setdefault(slug, row)
    return listed


def etherscan_claims(
    shared: Path, dropped: collections.Counter, issuers: dict[tuple[str, str], dict[str, str]]
) -> list[Claim]:
    claims = []
    for r in read(shared / ETHERSCAN):
        label, tag = r["etherscan_label"], r["name_tag"]
        address = Web3.to_checksum_address(r["address"])
        if tag in ISSUER_TAGS:
            issuers[("ethereum", address.lower())] = {
                "chain": "ethereum",
                "address": address,
                "issuer": ISSUER_TAGS[tag],
                "name": tag,
                "source": ETHERSCAN_SOURCE,
            }
            dropped[f"{ETHERSCAN_SOURCE}: stablecoin issuer wallet (issuer_wallets.csv)"] += 1
            continue
        exchange = NAME_TAG_EXCHANGE.get(tag) or slugify(
            entity_of(tag) if label == "fiat-gateway" else label
        )
        reason = next(
            (why for pattern, why in DROP_NAME_TAGS if re.search(pattern, tag)),
            NOT_EXCHANGES.get(exchange),
        )
        if reason:
            dropped[f"{ETHERSCAN_SOURCE}: {reason}"] += 1
            continue
        claims.append(
            Claim(
                "ethereum",
                address,
                exchange,
                etherscan_role(tag, label),
                ETHERSCAN_SOURCE,
                ETHERSCAN_DATE,
                f"etherscan {label} {tag!r}",
            )
        )
    return claims


def defillama_rows(shared: Path) -> Iterator[tuple[str, str, str, str, str]]:
    """(adapter slug, chain, address, source file, commit) of both DefiLlama owner files."""
    for r in read(shared / DEFILLAMA_ETHEREUM):
        yield (
            r["defillama_cex_slug"],
            "ethereum",
            r["address"],
            r["source_file"],
            ETHEREUM_FILE_COMMIT,
        )
    for r in read(shared / DEFILLAMA_ALL_CHAINS):
        yield r["defillama_slug"], r["chain"], r["address"], r["source_file"], r["commit"]


def defillama_claims(
    shared: Path,
    known: set[str],
    dropped: collections.Counter,
    non_evm: collections.Counter,
    issuers: dict[tuple[str, str], dict[str, str]],
) -> list[Claim]:
    claims = []
    for slug, chain, raw, source_file, commit in defillama_rows(shared):
        exchange = slugify(slug)
        if exchange not in NOT_EXCHANGES and exchange not in known:
            sys.exit(
                f"DefiLlama adapter {slug!r} ({exchange}): decide whether it is an "
                "exchange (NAMES) or not (NOT_EXCHANGES)"
            )
        if exchange in NOT_EXCHANGES and exchange not in ISSUER_SLUGS:
            dropped[f"{DEFILLAMA_SOURCE}: not an exchange: {NOT_EXCHANGES[exchange]}"] += 1
            continue
        if chain != TRON and chain not in EVM_CHAINS:
            non_evm[chain] += 1
            continue
        address, problem = seed_address(chain, raw)
        if problem:
            dropped[f"{DEFILLAMA_SOURCE}: {problem}"] += 1
        elif exchange in ISSUER_SLUGS:
            issuer, name = ISSUER_SLUGS[exchange]
            issuers[(chain, address.lower())] = {
                "chain": chain,
                "address": address,
                "issuer": issuer,
                "name": name,
                "source": DEFILLAMA_SOURCE,
            }
            dropped[f"{DEFILLAMA_SOURCE}: not an exchange: {NOT_EXCHANGES[exchange]}"] += 1
        else:
            claims.append(
                Claim(
                    chain,
                    address,
                    exchange,
                    "reserve",
                    DEFILLAMA_SOURCE,
                    COMMIT_DATES[commit],
                    f"{source_file}@{commit[:8]}",
                )
            )
    return claims


def account(claim: Claim) -> tuple[str, str]:
    """One key per private key: an EVM address is the same account on every EVM chain."""
    return (TRON, claim.address) if claim.chain == TRON else ("evm", claim.address.lower())


def resolve(claims: list[Claim]) -> tuple[str | None, str]:
    """The conflict rule (README): which exchange an account attributed to several keeps.

    1. An exchange's own proof-of-reserves list (DefiLlama owner list) beats a third party's
       tag (etherscan): the exchange vouches for the wallet, the tag is someone's guess.
    2. Otherwise nobody: two exchanges' own lists (a copy-paste in hand-written lists) or two
       third-party tags cannot both be right, and a wrong label moves flows and reserves
       between exchanges and taxonomies. The account is left out on every chain.
    """
    owners = sorted({c.exchange for c in claims if c.source == DEFILLAMA_SOURCE})
    if len(owners) == 1:
        others = sorted({c.exchange for c in claims} - set(owners))
        return owners[0], (
            f"rule 1: only {owners[0]}'s own proof-of-reserves list has it, "
            f"{', '.join(others)} only a third-party tag"
        )
    if owners:
        return None, f"rule 2: on the proof-of-reserves lists of {', '.join(owners)}"
    return None, "rule 2: third-party tags name different exchanges"


def merge(claims: list[Claim], dropped: collections.Counter) -> list[dict[str, str]]:
    """One row per (chain, address): the etherscan claim if any (its tag says the role), else
    the earliest DefiLlama snapshot; a wallet the exchange also lists for proof of reserves is
    a reserve wallet when its tag gives no role."""
    by_key: dict[tuple[str, str], list[Claim]] = collections.defaultdict(list)
    for c in claims:
        by_key[(c.chain, c.address.lower())].append(c)
    rows = []
    for group in by_key.values():
        first = min(group, key=lambda c: (c.source != ETHERSCAN_SOURCE, c.date))
        for c in group:
            if c is not first:
                again = (
                    "listed again (other label, adapter or snapshot)"
                    if c.source == first.source
                    else f"already in {first.source}"
                )
                dropped[f"{c.source}: merged, {again}"] += 1
        role = first.role
        if role == "unknown" and any(c.source == DEFILLAMA_SOURCE for c in group):
            role = "reserve"
        rows.append(
            {
                "chain": first.chain,
                "address": first.address,
                "exchange": first.exchange,
                "wallet_role": role,
                "source": first.source,
                "date_added": first.date,
            }
        )
    return sorted(rows, key=lambda r: (r["exchange"], r["chain"], r["address"].lower()))


def build_labels(shared: Path, known: set[str]):
    """Label rows, issuer rows, drop counts, non-EVM drops per chain, conflicts."""
    dropped: collections.Counter = collections.Counter()
    non_evm: collections.Counter = collections.Counter()
    issuers: dict[tuple[str, str], dict[str, str]] = {}
    claims = etherscan_claims(shared, dropped, issuers) + defillama_claims(
        shared, known, dropped, non_evm, issuers
    )
    by_account: dict[tuple[str, str], list[Claim]] = collections.defaultdict(list)
    for c in claims:
        by_account[account(c)].append(c)
    kept, conflicts = [], []
    for group in by_account.values():
        if len({c.exchange for c in group}) > 1:
            winner, why = resolve(group)
            conflicts.append((group, winner, why))
            lost = [c for c in group if c.exchange != winner]
            dropped[f"conflict, {why.split(':')[0]}: claims left out"] += len(lost)
            group = [c for c in group if c.exchange == winner]
        kept.extend(group)
    issuer_rows = sorted(
        issuers.values(), key=lambda r: (r["issuer"], r["chain"], r["address"].lower())
    )
    return merge(kept, dropped), issuer_rows, dropped, non_evm, conflicts


def main_business(slug: str, spot_id: str, deriv_id: str, listed: bool) -> tuple[str, str]:
    """Today's rule (README): CoinGecko ids, then the derivatives-first judgement."""
    if (deriv_id and not spot_id) or slug in DERIVATIVES_FIRST:
        return "derivatives", DERIVATIVES_FIRST.get(slug) or (
            f"CoinGecko lists only a derivatives market (`{deriv_id}`)."
        )
    if slug in SPOT_FIRST:
        return "spot", SPOT_FIRST[slug]
    if deriv_id:
        return "spot", f"CoinGecko lists both markets (`{spot_id}`, `{deriv_id}`); spot-first."
    if spot_id:
        return "spot", f"CoinGecko lists only a spot market (`{spot_id}`)."
    where = "On the CEX list without CoinGecko ids" if listed else "Not on the CEX list"
    return "spot", f"{where}; no sign of a derivatives-first business."


def offers_derivatives(slug: str, deriv_id: str, main: str, listed: bool) -> tuple[bool, str]:
    """Whether the venue runs a derivatives book from these wallets (README)."""
    if slug in OFFERS_DERIVATIVES:
        return OFFERS_DERIVATIVES[slug]
    if deriv_id:
        return True, f"CoinGecko derivatives id `{deriv_id}` on the CEX list."
    if main == "derivatives":
        return True, "Its main business is perpetual futures (see main_business)."
    if listed:
        return False, "No CoinGecko derivatives id on the CEX list; no other evidence recorded."
    return False, "Not on the CEX list; no derivatives evidence recorded."


def exchange_rows(exchanges: set[str], listed: dict[str, dict[str, str]]) -> list[dict]:
    """exchanges.csv: both taxonomies for every labelled exchange."""
    rows = []
    for slug in sorted(exchanges):
        entry = listed.get(slug)
        spot_id, deriv_id = (entry["cgId"], entry["cgDeriv"]) if entry else ("", "")
        main, main_why = main_business(slug, spot_id, deriv_id, entry is not None)
        offers, offers_why = offers_derivatives(slug, deriv_id, main, entry is not None)
        rows.append(
            {
                "exchange": slug,
                "name": entry["name"] if entry else NAMES[slug],
                "offers_derivatives": str(offers).lower(),
                "main_business": main,
                "coingecko_spot_id": spot_id,
                "coingecko_derivatives_id": deriv_id,
                "offers_derivatives_reason": offers_why,
                "main_business_reason": main_why,
            }
        )
    return rows


def write(path: Path, columns: tuple[str, ...], rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def counts(items) -> str:
    return ", ".join(
        f"{k} {n}"
        for k, n in sorted(collections.Counter(items).items(), key=lambda kv: (-kv[1], kv[0]))
    )


def report_table(labels: list[dict], exchanges: list[dict]) -> str:
    """The per-exchange table of sql/seeds/README.md."""
    chains = collections.defaultdict(collections.Counter)
    for r in labels:
        chains[r["exchange"]][r["chain"] if r["chain"] in ("ethereum", TRON) else "other"] += 1
    lines = [
        "| exchange | offers_derivatives | main_business | ethereum / tron / other EVM "
        "| offers_derivatives_reason | main_business_reason |",
        "|---|---|---|---|---|---|",
    ]
    for e in exchanges:
        n = chains[e["exchange"]]
        lines.append(
            f"| `{e['exchange']}` | {e['offers_derivatives']} | {e['main_business']} "
            f"| {n['ethereum']} / {n[TRON]} / {n['other']} "
            f"| {e['offers_derivatives_reason']} | {e['main_business_reason']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data" / "labels")
    parser.add_argument("--out", type=Path, default=SEEDS, help="directory of the three CSVs")
    args = parser.parse_args()
    listed = cex_list(args.shared)
    known = set(listed) | set(NAMES)
    labels, issuers, dropped, non_evm, conflicts = build_labels(args.shared, known)
    exchanges = exchange_rows({r["exchange"] for r in labels}, listed)
    paths = [
        args.out / name for name in ("exchange_labels.csv", "exchanges.csv", "issuer_wallets.csv")
    ]
    for path, columns, rows in zip(
        paths,
        (COLUMNS, EXCHANGE_COLUMNS, ISSUER_COLUMNS),
        (labels, exchanges, issuers),
        strict=True,
    ):
        write(path, columns, rows)
    try:
        version = load_labels(*paths).version
    except LabelError as err:
        sys.exit(f"the files written do not load:\n{err}")

    inputs = {
        name: len(read(args.shared / name))
        for name in (ETHERSCAN, DEFILLAMA_ETHEREUM, DEFILLAMA_ALL_CHAINS)
    }
    print("read:", ", ".join(f"{name} {n}" for name, n in inputs.items()))
    print(
        f"wrote {len(labels)} label rows, {len(exchanges)} exchanges, {len(issuers)} issuer "
        f"wallets to {args.out}; label version {version}"
    )
    print("rows per chain:", counts(r["chain"] for r in labels))
    print("rows per source:", counts(r["source"] for r in labels))
    print("rows per role:", counts(r["wallet_role"] for r in labels))
    for taxonomy in ("offers_derivatives", "main_business"):
        by_kind = {e["exchange"]: e[taxonomy] for e in exchanges}
        print(
            f"{taxonomy}: exchanges {counts(by_kind.values())}; "
            f"rows {counts(by_kind[r['exchange']] for r in labels)}"
        )
    for reason, n in sorted(dropped.items()):
        print(f"dropped {n:5d}  {reason}")
    print(
        f"dropped {sum(non_evm.values()):5d}  {DEFILLAMA_SOURCE}: non-EVM chain:",
        counts(non_evm.elements()),
    )
    print(f"{len(conflicts)} conflicts (address attributed to different exchanges):")
    for group, winner, why in conflicts:
        claimed = collections.defaultdict(lambda: (set(), set()))  # exchange -> chains, origins
        for c in group:
            claimed[c.exchange][0].add(c.chain)
            claimed[c.exchange][1].add(c.origin)
        candidates = "; ".join(
            f"{e} on {', '.join(sorted(chains))} ({', '.join(sorted(o))})"
            for e, (chains, o) in sorted(claimed.items())
        )
        print(f"  {group[0].address}: {candidates} -> {winner or 'nobody (left out)'}: {why}")
    print(report_table(labels, exchanges))


if __name__ == "__main__":
    main()
