"""The shipped exchange-label seed (sql/seeds/), the loader's row-by-row validation, and the
build script's conflict rule. Only the last test reads ../shared (CI has none)."""

import csv
import datetime as dt
import hashlib
import importlib.util
import re
import subprocess
import sys

import polars as pl
import pytest

from assets.ingest.labels import (
    COLUMNS,
    EXCHANGE_COLUMNS,
    EXCHANGES_PATH,
    ISSUER_COLUMNS,
    ISSUERS_PATH,
    LABELS_PATH,
    MAIN_BUSINESS,
    ROLES,
    ZERO_ADDRESS,
    LabelError,
    load_labels,
    tron_address_ok,
)
from core.chains import CHAINS

SEEDS = LABELS_PATH.parent
SHARED = SEEDS.parents[2] / "shared" / "data" / "labels"
BINANCE = "0x3f5CE5FBFe3E9af3971dD833D26bA9b5C936f0bE"
BITMEX_COLD = "0xEEA81C4416d71CeF071224611359F6F99A4c4294"  # "BitMEX 1", BitMEX's cold multisig
BYBIT_TRON = "TAhUwQHXSpNMEuspLzrP8LakwKNQKNYTgh"
BAD_TRON = BYBIT_TRON[:-1] + "j"  # last character changed: the checksum no longer matches
TETHER_TREASURY = "0x5754284f345afc66a98fbB0a0Afe71e0F007B949"
USDT = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
# Okcoin's Ethereum wallets (its own proof-of-reserves list, DefiLlama's okcoin adapter);
# independent label sets call some of them OKX.
OKCOIN = [
    "0x2Ce910fBba65B454bBAf6A18c952A70f3bcd8299",
    "0x4A8F1F5B2A3652131eAc54a6f183A4a2cF44A9A6",
    "0x964B78Ef2925F24C3A8d270c10522638dEE5F17F",
    "0xA28062Bd708Ce49e9311d6293dEf7DF63f2b0816",
    "0xD30b438DF65f4f788563b2b3611Bd6059bFF4ad9",
    "0xD7efCbB86eFdD9E8dE014dafA5944AaE36E817e4",
]
# main_business ("kind") of the file before chains and taxonomies: every exchange not listed
# here was spot, and still is.
OLD_DERIVATIVES = {
    "bitget",
    "bitmex",
    "bitunix",
    "blofin",
    "bydfi",
    "deribit",
    "flipster",
    "ftx",
    "orangex",
    "phemex",
    "toobit",
    "weex",
    "zoomex",
}


@pytest.fixture(scope="module")
def labels():
    return load_labels()


def test_shipped_files_load_with_the_sha256_prefix_of_both_as_version(labels):
    data = LABELS_PATH.read_bytes() + EXCHANGES_PATH.read_bytes()
    assert labels.version == hashlib.sha256(data).hexdigest()[:12]
    assert labels.frame.columns == list(COLUMNS)
    assert labels.frame.schema["date_added"] == pl.Date
    assert labels.exchanges.columns == list(EXCHANGE_COLUMNS)
    assert labels.exchanges.schema["offers_derivatives"] == pl.Boolean
    assert (labels.frame.height, labels.exchanges.height) == (3185, 85)
    assert set(labels.frame["wallet_role"]) <= set(ROLES)
    assert set(labels.exchanges["main_business"]) == set(MAIN_BUSINESS)
    assert set(labels.frame["source"]) == {"etherscan-labels", "defillama-cex-owners"}
    assert set(labels.frame["exchange"]) == set(labels.exchanges["exchange"])


def test_shipped_rows_per_chain(labels):
    per_chain = dict(labels.frame.group_by("chain").len().iter_rows())
    assert len(per_chain) == 42
    assert {
        c: per_chain[c]
        for c in (
            "ethereum",
            "tron",
            "bsc",
            "arbitrum",
            "avax",
            "polygon",
            "optimism",
            "base",
            "era",
        )
    } == {
        "ethereum": 1837,
        "tron": 329,
        "bsc": 264,
        "arbitrum": 134,
        "avax": 121,
        "polygon": 111,
        "optimism": 108,
        "base": 68,
        "era": 32,
    }
    assert not {"bitcoin", "solana", "ripple"} & set(per_chain)  # non-EVM chains are dropped


def test_shipped_file_is_sorted_by_exchange_chain_then_address(labels):
    keys = [
        (e, c, a.lower())
        for e, c, a in labels.frame.select("exchange", "chain", "address").iter_rows()
    ]
    assert keys == sorted(keys)


def test_bybit_is_labelled_on_ethereum_and_tron(labels):
    bybit = labels.frame.filter(pl.col("exchange") == "bybit")
    per_chain = dict(bybit.group_by("chain").len().iter_rows())
    assert (per_chain["ethereum"], per_chain["tron"]) == (119, 33)
    assert BYBIT_TRON in labels.on_chain("tron").addresses()


def taxonomy(labels, exchange):
    return labels.exchanges.filter(pl.col("exchange") == exchange).row(0, named=True)


@pytest.mark.parametrize(
    ("exchange", "offers", "main"),
    [
        ("binance", True, "spot"),  # a derivatives book, but spot-first (the old kind)
        ("okx", True, "spot"),
        ("bybit", True, "derivatives"),
        ("bitmex", True, "derivatives"),
        ("coinbase", False, "spot"),  # derivatives arms are separate entities and custody
        ("kraken", False, "spot"),
        ("okcoin", False, "spot"),
    ],
)
def test_both_taxonomies(labels, exchange, offers, main):
    row = taxonomy(labels, exchange)
    assert (row["offers_derivatives"], row["main_business"]) == (offers, main)
    assert row["offers_derivatives_reason"] and row["main_business_reason"]


def test_offers_derivatives_cites_the_coingecko_derivatives_id(labels):
    for exchange, deriv_id in [
        ("binance", "binance_futures"),
        ("okx", "okex_swap"),
        ("bybit", "bybit"),
    ]:
        row = taxonomy(labels, exchange)
        assert row["coingecko_derivatives_id"] == deriv_id
        assert f"`{deriv_id}`" in row["offers_derivatives_reason"]
    for exchange in ("coinbase", "kraken"):
        assert "separate entit" in taxonomy(labels, exchange)["offers_derivatives_reason"]


def test_main_business_is_the_old_kind(labels):
    derivatives = set(labels.exchanges.filter(pl.col("main_business") == "derivatives")["exchange"])
    assert derivatives == OLD_DERIVATIVES | {"bybit"}  # bybit is new, derivatives-first
    # Every derivatives-first venue also offers derivatives.
    assert labels.exchanges.filter(pl.col("main_business") == "derivatives")[
        "offers_derivatives"
    ].all()


@pytest.mark.parametrize(
    ("chain", "address", "exchange"),
    [
        ("ethereum", BINANCE, "binance"),
        ("ethereum", "0x28C6c06298d514Db089934071355E5743bf21d60", "binance"),  # Binance 14
        ("ethereum", BITMEX_COLD, "bitmex"),
        (
            "ethereum",
            "0x6cC5F688a315f3dC28A7781717a9A798a59fDA7b",
            "okx",
        ),  # etherscan, okex adapter
        ("ethereum", "0x77696bb39917C91A0c3908D577d5e322095425cA", "coinbase"),  # Coinbase 11
        ("tron", BYBIT_TRON, "bybit"),
        # Written all upper-case by DefiLlama's KuCoin adapter (no checksum either way): kept.
        ("ethereum", "0x1B14376ee2d46aE5c27A43D902d96D4F3F264B83", "kucoin"),
    ],
)
def test_known_addresses(labels, chain, address, exchange):
    row = labels.frame.filter((pl.col("chain") == chain) & (pl.col("address") == address))
    assert row["exchange"].to_list() == [exchange]


def test_no_label_is_a_token_contract_the_zero_address_or_an_issuer_wallet(labels):
    keys = {(c, a.lower()) for c, a in labels.frame.select("chain", "address").iter_rows()}
    tokens = {(c.name, t.address.lower()) for c in CHAINS for t in c.tokens}
    issuers = {
        (c, a.lower()) for c, a in pl.read_csv(ISSUERS_PATH).select("chain", "address").iter_rows()
    }
    assert ("ethereum", USDT.lower()) in tokens and ("ethereum", TETHER_TREASURY.lower()) in issuers
    assert not keys & (tokens | issuers)
    assert ZERO_ADDRESS not in {a for _, a in keys}


def test_okcoin_keeps_its_own_wallets(labels):
    ethereum = labels.on_chain("ethereum").frame
    assert ethereum.filter(pl.col("address").is_in(OKCOIN)).select(
        "exchange", "source"
    ).unique().rows() == [("okcoin", "defillama-cex-owners")]


def build_script():
    spec = importlib.util.spec_from_file_location(
        "build_exchange_labels", SEEDS / "build_exchange_labels.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def claim(script, exchange, source, chain="ethereum", address=OKCOIN[0]):
    return script.Claim(chain, address, exchange, "reserve", source, "2026-06-22", "test")


def test_conflict_rule_the_exchanges_own_list_beats_a_third_party_tag():
    script = build_script()
    # Rule 1: a third-party tag says OKX, Okcoin's own proof-of-reserves list says okcoin.
    winner, why = script.resolve(
        [claim(script, "okx", "etherscan-labels"), claim(script, "okcoin", "defillama-cex-owners")]
    )
    assert (winner, why.split(":")[0]) == ("okcoin", "rule 1")
    # Rule 2: two exchanges' own lists (a copy-paste), or two tags: nobody.
    for source in ("defillama-cex-owners", "etherscan-labels"):
        winner, why = script.resolve(
            [claim(script, "coin8", source), claim(script, "coinstore", source)]
        )
        assert (winner, why.split(":")[0]) == (None, "rule 2")
    # An EVM address is one account on every EVM chain; a Tron address its own.
    assert script.account(claim(script, "x", "e", "bsc", BINANCE)) == script.account(
        claim(script, "x", "e", "ethereum", BINANCE.lower())
    )
    assert script.account(claim(script, "x", "e", "tron", BYBIT_TRON)) == ("tron", BYBIT_TRON)


def test_conflicting_addresses_are_left_out(labels):
    coin8_and_coinstore = [
        "0x66AAD5CA93438D565909De0bF444b45e543d98E9",
        "0x9b9B873F2Bf299B0E8C5b2E8Ff220Dc5cb4330E1",
        "TWGV42YRYpK1rfMHZCYYxhK1fZDbTNrqzz",
    ]
    assert labels.frame.filter(pl.col("address").is_in(coin8_and_coinstore)).height == 0


def test_every_exchange_is_documented_in_the_readme_with_both_taxonomies(labels):
    readme = (SEEDS / "README.md").read_text()
    documented = re.findall(
        r"^\| `([a-z0-9-]+)` \| (true|false) \| (spot|derivatives) \|", readme, re.M
    )
    shipped = [
        (e, str(o).lower(), m)
        for e, o, m in labels.exchanges.select(
            "exchange", "offers_derivatives", "main_business"
        ).iter_rows()
    ]
    assert documented == shipped
    assert f"`{labels.version}`" in readme


def test_on_chain_addresses_and_subset(labels):
    tron = labels.on_chain("tron")
    assert tron.version == labels.version and tron.exchanges is labels.exchanges
    assert set(tron.frame["chain"]) == {"tron"}
    assert tron.addresses() == labels.addresses("tron")
    assert labels.on_chain("no_such_chain").frame.height == 0
    assert len(labels.addresses()) == labels.frame.height
    small = labels.subset(10)
    assert small.addresses() == labels.addresses()[:10]
    assert small.version == f"{labels.version}-n10"
    with pytest.raises(ValueError):
        labels.subset(labels.frame.height + 1)


def test_tron_base58check():
    assert tron_address_ok(BYBIT_TRON)
    assert not tron_address_ok(BAD_TRON)
    assert not tron_address_ok(BYBIT_TRON[:-1])  # 24 bytes
    assert not tron_address_ok(BYBIT_TRON.replace("A", "0"))  # 0 is not base58
    assert not tron_address_ok("1" + BYBIT_TRON[1:])  # version byte not 0x41
    assert not tron_address_ok("")


# --- validation, on small files ------------------------------------------------------------

HEADER = ",".join(COLUMNS)
EXCHANGE_HEADER = ",".join(EXCHANGE_COLUMNS)
ISSUER_HEADER = ",".join(ISSUER_COLUMNS)
GOOD_ROWS = [
    f"ethereum,{BINANCE},binance,unknown,etherscan-labels,2023-06-01",  # line 2
    f"ethereum,{BITMEX_COLD},bitmex,reserve,etherscan-labels,2023-06-01",  # line 3
]
EXCHANGE_ROWS = [
    "binance,Binance,true,spot,binance,binance_futures,Futures from the same wallets.,Spot-first.",
    "bitmex,BitMEX,true,derivatives,bitmex_spot,bitmex,Derivatives id.,Derivatives-first.",
    "bybit,Bybit,true,derivatives,bybit_spot,bybit,Derivatives id.,Derivatives-first.",
]
ISSUER_ROWS = [f"ethereum,{TETHER_TREASURY},tether,Tether: Treasury,etherscan-labels"]
TOMORROW = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()
ADDR = "0x85b931A32a0725Be14285B66f1a22178c672d69B"  # Binance 10
OK = "binance,unknown,etherscan-labels,2023-06-01"


def write(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return path


def seed(tmp_path, rows, exchanges=(), issuers=()):
    """Label, exchanges and issuer files: the good rows (bybit's label on tron) plus these."""
    return (
        write(
            tmp_path / "labels.csv",
            [HEADER, *GOOD_ROWS, *rows, f"tron,{BYBIT_TRON},bybit,reserve,x,2026-06-22"],
        ),
        write(tmp_path / "exchanges.csv", [EXCHANGE_HEADER, *EXCHANGE_ROWS, *exchanges]),
        write(tmp_path / "issuers.csv", [ISSUER_HEADER, *ISSUER_ROWS, *issuers]),
    )


def error(paths):
    with pytest.raises(LabelError) as err:
        load_labels(*paths)
    return str(err.value)


def reasons(message, path, line, field, value):
    """What the error says about `field` `value` on `path` line `line` (one entry a problem)."""
    prefix = f"{path} line {line}: {field} {value!r} "
    return [m.removeprefix(prefix) for m in message.splitlines() if m.startswith(prefix)]


def test_small_seed_loads(tmp_path):
    loaded = load_labels(*seed(tmp_path, [f"bsc,{BINANCE},{OK}"]))  # same address, other chain
    assert loaded.addresses("ethereum") == [BINANCE, BITMEX_COLD]
    assert loaded.addresses("bsc") == [BINANCE]
    assert loaded.exchanges["offers_derivatives"].to_list() == [True, True, True]


# (name, label rows after the good ones, line, field, bad value, words of the reason)
BAD_ROWS = [
    (
        "lowercase address",
        [f"ethereum,{ADDR.lower()},{OK}"],
        4,
        "address",
        ADDR.lower(),
        "not EIP-55 checksummed",
    ),
    (
        "bad checksum",
        [f"ethereum,{ADDR.replace('85b', '85B')},{OK}"],
        4,
        "address",
        ADDR.replace("85b", "85B"),
        "not EIP-55 checksummed",
    ),
    ("39 hex digits", [f"ethereum,{ADDR[:-1]},{OK}"], 4, "address", ADDR[:-1], "40 hex digits"),
    (
        "no 0x prefix",
        [f"ethereum,{ADDR[2:]}00,{OK}"],
        4,
        "address",
        f"{ADDR[2:]}00",
        "40 hex digits",
    ),
    (
        "tron address on an EVM chain",
        [f"bsc,{BYBIT_TRON},{OK}"],
        4,
        "address",
        BYBIT_TRON,
        "40 hex digits",
    ),
    ("EVM address on tron", [f"tron,{ADDR},{OK}"], 4, "address", ADDR, "base58check"),
    ("tron checksum", [f"tron,{BAD_TRON},{OK}"], 4, "address", BAD_TRON, "base58check"),
    ("uppercase chain", [f"Ethereum,{ADDR},{OK}"], 4, "chain", "Ethereum", "lowercase"),
    ("empty chain", [f",{ADDR},{OK}"], 4, "chain", "", "lowercase"),
    ("zero address", [f"ethereum,{ZERO_ADDRESS},{OK}"], 4, "address", ZERO_ADDRESS, "zero address"),
    (
        "token contract",
        [f"ethereum,{USDT},{OK}"],
        4,
        "address",
        USDT,
        "USDT token contract on ethereum",
    ),
    (
        "issuer wallet",
        [f"ethereum,{TETHER_TREASURY},{OK}"],
        4,
        "address",
        TETHER_TREASURY,
        "issuer wallet on ethereum",
    ),
    (
        "unknown role",
        [f"ethereum,{ADDR},binance,warm,etherscan-labels,2023-06-01"],
        4,
        "wallet_role",
        "warm",
        "must be one of",
    ),
    (
        "empty exchange",
        [f"ethereum,{ADDR},,unknown,etherscan-labels,2023-06-01"],
        4,
        "exchange",
        "",
        "slug",
    ),
    (
        "uppercase exchange",
        [f"ethereum,{ADDR},Binance,unknown,etherscan-labels,2023-06-01"],
        4,
        "exchange",
        "Binance",
        "slug",
    ),
    (
        "exchange without taxonomy",
        [f"ethereum,{ADDR},okx,unknown,etherscan-labels,2023-06-01"],
        4,
        "exchange",
        "okx",
        "not in exchanges.csv",
    ),
    (
        "empty source",
        [f"ethereum,{ADDR},binance,unknown,,2023-06-01"],
        4,
        "source",
        "",
        "must not be empty",
    ),
    (
        "future date",
        [f"ethereum,{ADDR},binance,unknown,x,{TOMORROW}"],
        4,
        "date_added",
        TOMORROW,
        "in the future",
    ),
    (
        "impossible date",
        [f"ethereum,{ADDR},binance,unknown,x,2023-13-01"],
        4,
        "date_added",
        "2023-13-01",
        "not an ISO date",
    ),
    (
        "non-ISO date",
        [f"ethereum,{ADDR},binance,unknown,x,01/06/2023"],
        4,
        "date_added",
        "01/06/2023",
        "not an ISO date",
    ),
    (
        "compact date",
        [f"ethereum,{ADDR},binance,unknown,x,20230601"],
        4,
        "date_added",
        "20230601",
        "not an ISO date",
    ),
    (
        "exact duplicate",
        [f"ethereum,{BINANCE},{OK}"],
        4,
        "address",
        BINANCE,
        "duplicates line 2 on ethereum",
    ),
    (
        "duplicate differing in case",
        [f"ethereum,{BINANCE.lower()},{OK}"],
        4,
        "address",
        BINANCE.lower(),
        "duplicates line 2",
    ),
    (
        "missing field",
        [f"ethereum,{ADDR},binance,unknown,x"],
        4,
        "row",
        f"ethereum,{ADDR},binance,unknown,x",
        "has 5 fields, expected 6",
    ),
]


@pytest.mark.parametrize(
    ("rows", "line", "field", "value", "reason"),
    [c[1:] for c in BAD_ROWS],
    ids=[c[0] for c in BAD_ROWS],
)
def test_bad_label_row_names_file_line_field_value_and_why(
    tmp_path, rows, line, field, value, reason
):
    paths = seed(tmp_path, rows)
    assert any(reason in why for why in reasons(error(paths), paths[0], line, field, value))


def test_a_token_contract_is_refused_on_its_own_chain_only(tmp_path):
    # USDT's Ethereum address on another chain is not the configured contract there.
    other = next(f"zz{n}" for n in range(9) if f"zz{n}" not in {c.name for c in CHAINS})
    loaded = load_labels(*seed(tmp_path, [f"{other},{USDT},{OK}"]))
    assert loaded.addresses(other) == [USDT]
    for chain in CHAINS:  # and every configured chain's tokens are refused there
        for token in chain.tokens:
            message = error(seed(tmp_path, [f"{chain.name},{token.address},{OK}"]))
            assert f"is the {token.symbol} token contract on {chain.name}" in message


# (name, extra exchanges.csv rows, line, field, bad value, words of the reason)
BAD_EXCHANGES = [
    (
        "offers_derivatives not a boolean",
        ["okx,OKX,yes,spot,okex,okex_swap,r.,r."],
        5,
        "offers_derivatives",
        "yes",
        "true or false",
    ),
    (
        "unknown main_business",
        ["okx,OKX,true,perp,okex,okex_swap,r.,r."],
        5,
        "main_business",
        "perp",
        "must be one of spot, derivatives",
    ),
    (
        "empty reason",
        ["okx,OKX,true,spot,okex,okex_swap,,r."],
        5,
        "offers_derivatives_reason",
        "",
        "must not be empty",
    ),
    (
        "bad CoinGecko id",
        ["okx,OKX,true,spot,OKEx,okex_swap,r.,r."],
        5,
        "coingecko_spot_id",
        "OKEx",
        "CoinGecko id",
    ),
    (
        "duplicate slug",
        ["binance,Binance,true,spot,binance,,r.,r."],
        5,
        "exchange",
        "binance",
        "duplicates line 2",
    ),
    (
        "unused exchange",
        ["okx,OKX,true,spot,okex,okex_swap,r.,r."],
        5,
        "exchange",
        "okx",
        "has no rows in labels.csv",
    ),
]


@pytest.mark.parametrize(
    ("exchanges", "line", "field", "value", "reason"),
    [c[1:] for c in BAD_EXCHANGES],
    ids=[c[0] for c in BAD_EXCHANGES],
)
def test_bad_exchange_row_names_file_line_field_value_and_why(
    tmp_path, exchanges, line, field, value, reason
):
    paths = seed(tmp_path, [], exchanges=exchanges)
    assert any(reason in why for why in reasons(error(paths), paths[1], line, field, value))


def test_bad_issuer_row_is_reported(tmp_path):
    paths = seed(tmp_path, [], issuers=[f"ethereum,{ADDR.lower()},tether,x,y"])
    assert f"{paths[2]} line 3: address {ADDR.lower()!r} is not EIP-55" in error(paths)


@pytest.mark.parametrize("which", [0, 1, 2], ids=["labels", "exchanges", "issuers"])
@pytest.mark.parametrize(
    "edit",
    [
        lambda h: h.rsplit(",", 1)[0],
        lambda h: h + ",note",
        lambda h: ",".join(reversed(h.split(","))),
    ],
    ids=["missing column", "extra column", "reordered columns"],
)
def test_bad_header_is_reported_on_line_1(tmp_path, which, edit):
    paths = seed(tmp_path, [])
    lines = paths[which].read_text().splitlines()
    header = edit(lines[0])
    write(paths[which], [header, *lines[1:]])
    assert error(paths) == (
        f"{paths[which]} line 1: header {header!r} must be exactly {lines[0]!r}"
    )


@pytest.mark.parametrize("content", ["", "\n\n"], ids=["empty", "blank lines"])
def test_empty_file_is_rejected(tmp_path, content):
    paths = seed(tmp_path, [])
    paths[0].write_text(content)
    assert error(paths).startswith(f"{paths[0]} line 1: file is empty")


def test_header_without_rows_is_rejected(tmp_path):
    paths = seed(tmp_path, [], issuers=[])
    write(paths[2], [ISSUER_HEADER])
    assert f"{paths[2]} line 1: file 'issuers.csv' has a header but no rows" in error(paths)


def test_every_problem_in_the_files_is_reported_at_once(tmp_path):
    paths = seed(
        tmp_path,
        [
            f"ethereum,{ADDR.lower()},binance,unknown,etherscan-labels,2023-06-01",  # line 4
            f"ethereum,{ADDR[:-2]}Bb,binance,hodl,etherscan-labels,2023-06-01",  # line 5: two
        ],
        exchanges=["okx,OKX,maybe,spot,,,r.,r."],
    )  # line 5: bad boolean, and unused
    message = error(paths)
    assert message.startswith("5 problem(s) in the label files:")
    assert f"{paths[0]} line 4: address {ADDR.lower()!r}" in message
    assert f"{paths[0]} line 5: address" in message
    assert f"{paths[0]} line 5: wallet_role 'hodl'" in message
    assert f"{paths[1]} line 5: offers_derivatives 'maybe'" in message
    assert f"{paths[1]} line 5: exchange 'okx' has no rows" in message


def test_crlf_line_endings_count_lines_the_same(tmp_path):
    paths = seed(tmp_path, [])
    lines = [HEADER, *GOOD_ROWS, f"ethereum,{ADDR},binance,warm,x,2023-06-01"]
    paths[0].write_bytes("".join(line + "\r\n" for line in lines).encode())
    assert f"{paths[0]} line 4: wallet_role 'warm'" in error(paths)


def test_version_changes_when_an_exchange_is_reclassified(tmp_path):
    paths = seed(tmp_path, [])
    before = load_labels(*paths).version
    write(
        paths[1],
        [EXCHANGE_HEADER, EXCHANGE_ROWS[0].replace(",spot,", ",derivatives,"), *EXCHANGE_ROWS[1:]],
    )
    assert load_labels(*paths).version != before


# --- against the source data (skipped without ../shared, as in CI) --------------------------


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/data/labels")
def test_build_script_reproduces_the_shipped_files_from_the_sources(tmp_path):
    run = subprocess.run(
        [
            sys.executable,
            str(SEEDS / "build_exchange_labels.py"),
            "--shared",
            str(SHARED),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    for name in ("exchange_labels.csv", "exchanges.csv", "issuer_wallets.csv"):
        assert (tmp_path / name).read_bytes() == (SEEDS / name).read_bytes(), name
    assert "9 conflicts" in run.stdout
    labels = load_labels()
    keys = {
        (c, a.lower()): e
        for c, a, e in labels.frame.select("chain", "address", "exchange").iter_rows()
    }

    def rows(name):
        with (SHARED / name).open(newline="") as f:
            return list(csv.DictReader(f))

    adapters = rows("defillama_adapters_cex_owner_addresses_all_chains.csv")
    bybit = [r for r in adapters if r["defillama_slug"] == "bybit"]
    assert ("tron", BYBIT_TRON.lower()) in {(r["chain"], r["address"].lower()) for r in bybit}
    for r in bybit:
        if r["chain"] in ("ethereum", "tron"):
            assert keys[(r["chain"], r["address"].lower())] == "bybit"
    okcoin = {
        r["address"].lower()
        for r in adapters
        if r["defillama_slug"] == "okcoin" and r["chain"] == "ethereum"
    }
    assert okcoin == {a.lower() for a in OKCOIN}
    assert not any(
        r["address"].lower() in okcoin for r in adapters if r["defillama_slug"] == "okex"
    )  # no source says OKX
    treasury = [
        r for r in rows("etherscan_labels_cex_ethereum.csv") if r["name_tag"] == "Tether: Treasury"
    ]
    assert [r["address"] for r in treasury] == [TETHER_TREASURY.lower()]
