"""The noncirculating wallets seed (sql/seeds/noncirculating_wallets.csv) and the sums built
from it. The end-to-end reads of their balances are in tests/ingest/test_evm.py (planted
truth) and tests/ingest/test_node_profiles.py (state and logs modes alike)."""

import datetime as dt
import shutil
from decimal import Decimal

import polars as pl
import pytest

from assets.ingest.evm.extract import RAW
from assets.ingest.labels import SeedError, load_labels
from assets.ingest.noncirculating import (
    NONCIRCULATING_PATH,
    load_noncirculating,
    noncirculating,
    wallets,
)

USDT0_LOCKBOX = "0x6C96dE32CEa08842dcc4058c14d3aaAD7Fa41dee"
TETHER_TREASURY = "0x5754284f345afc66a98fbB0a0Afe71e0F007B949"


def test_the_shipped_seed_lists_the_treasuries_and_the_usdt0_lockbox():
    seed = load_noncirculating()
    rows = {(r["token"], r["address"]): r["kind"] for r in seed.iter_rows(named=True)}
    assert rows[("USDT", TETHER_TREASURY)] == "issuer_treasury"
    assert rows[("USDT", USDT0_LOCKBOX)] == "bridge_escrow"
    assert ("USDC", USDT0_LOCKBOX) not in rows  # the lockbox backs USDT0 only
    # each wallet read once, whatever tokens the seed lists it for
    assert len(wallets(seed, "ethereum")) == seed["address"].n_unique()
    assert wallets(seed, "arbitrum") == []


def test_no_noncirculating_wallet_is_an_exchange_wallet():
    """A wallet both labelled and noncirculating would count twice: in an exchange's reserve
    and out of the circulating supply."""
    labelled = set(load_labels().frame["address"].str.to_lowercase())
    assert not labelled & set(load_noncirculating()["address"].str.to_lowercase())


@pytest.mark.parametrize(
    "edit, message",
    [
        (("USDT", "USDX"), "token = 'USDX': not one of ethereum's tokens"),
        (("ethereum,", "base,"), "chain = 'base': not a chain of core/chains.yaml"),
        (("bridge_escrow", "bridge"), "kind = 'bridge': not one of"),
        (("0x6C96dE32CEa08842dcc4058c14d3aaAD7Fa41dee", USDT0_LOCKBOX.lower()), "EIP-55"),
        (("https://github.com/Everdawn", "http://github.com/Everdawn"), "not an https:// URL"),
    ],
)
def test_a_bad_edit_fails_naming_file_line_column_and_value(tmp_path, edit, message):
    path = tmp_path / "noncirculating_wallets.csv"
    lines = NONCIRCULATING_PATH.read_text().splitlines(keepends=True)
    line = next(i for i, text in enumerate(lines) if USDT0_LOCKBOX in text)
    lines[line] = lines[line].replace(*edit, 1)
    path.write_text("".join(lines))
    with pytest.raises(SeedError, match=message) as err:
        load_noncirculating(path)
    assert f"{path}: line {line + 1}" in str(err.value)


def test_a_wallet_listed_twice_for_a_token_fails(tmp_path):
    path = tmp_path / "noncirculating_wallets.csv"
    shutil.copy(NONCIRCULATING_PATH, path)
    lockbox = next(t for t in path.read_text().splitlines() if USDT0_LOCKBOX in t)
    path.write_text(path.read_text() + lockbox + "\n")
    with pytest.raises(SeedError, match="duplicates line"):
        load_noncirculating(path)


def _supply(rows):
    return pl.DataFrame(
        rows,
        schema={"date": pl.Date, "chain": pl.Utf8, "token": pl.Utf8, "supply_raw": RAW},
        orient="row",
    )


def test_only_the_tokens_the_seed_lists_at_a_wallet_are_held_back():
    """The Tether treasury's USDT is held back; USDC sent to it circulates, and is kept as an
    uncounted row (a rewind from stored rows needs every token of every wallet)."""
    day = dt.date(2024, 1, 2)
    seed = pl.DataFrame(
        [("ethereum", "USDT", TETHER_TREASURY, "issuer_treasury", "Tether: Treasury")],
        schema=["chain", "token", "address", "kind", "name"],
        orient="row",
    )
    held = pl.DataFrame(
        [
            (day, "ethereum", "USDT", TETHER_TREASURY, 7, Decimal(1_500_000), 1.5),
            (day, "ethereum", "USDC", TETHER_TREASURY, 7, Decimal(2_000_000), 2.0),
        ],
        schema={
            "date": pl.Date,
            "chain": pl.Utf8,
            "token": pl.Utf8,
            "address": pl.Utf8,
            "block_number": pl.Int64,
            "balance_raw": RAW,
            "balance_tokens": pl.Float64,
        },
        orient="row",
    )
    supply = _supply([(day, "ethereum", "USDT", 10**9), (day, "ethereum", "USDC", 10**9)])
    summed, rows = noncirculating(supply, held, seed)
    assert summed.select("token", "noncirculating_raw", "noncirculating_tokens").rows() == [
        ("USDT", Decimal(1_500_000), 1.5),
        ("USDC", Decimal(0), 0.0),
    ]
    assert rows.select("token", "address", "counted", "kind").rows() == [
        ("USDT", TETHER_TREASURY.lower(), True, "issuer_treasury"),
        ("USDC", TETHER_TREASURY.lower(), False, None),
    ]
    # a chain the seed lists no wallet on reads none: all its supply circulates
    summed, rows = noncirculating(supply.with_columns(chain=pl.lit("arbitrum")), None, seed)
    assert summed["noncirculating_raw"].to_list() == [0, 0] and rows.is_empty()
