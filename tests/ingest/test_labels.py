"""The shipped exchange-label seed, and the loader's row-by-row validation."""

import datetime as dt
import hashlib
import re

import polars as pl
import pytest

from assets.ingest.labels import COLUMNS, KINDS, LABELS_PATH, ROLES, LabelError, load_labels

HEADER = ",".join(COLUMNS)
BINANCE = "0x3f5CE5FBFe3E9af3971dD833D26bA9b5C936f0bE"
BITMEX_COLD = "0xEEA81C4416d71CeF071224611359F6F99A4c4294"  # "BitMEX 1", BitMEX's cold multisig
GOOD_ROWS = [
    f"{BINANCE},binance,spot,unknown,etherscan-labels,2023-06-01",  # line 2
    f"{BITMEX_COLD},bitmex,derivatives,reserve,etherscan-labels,2023-06-01",  # line 3
]


@pytest.fixture(scope="module")
def labels():
    return load_labels()


def test_shipped_file_loads_with_the_sha256_prefix_as_version(labels):
    assert labels.version == hashlib.sha256(LABELS_PATH.read_bytes()).hexdigest()[:12]
    assert labels.frame.columns == list(COLUMNS)
    assert labels.frame.schema["date_added"] == pl.Date
    assert labels.frame.height == 1718
    assert set(labels.frame["kind"]) <= set(KINDS)
    assert set(labels.frame["wallet_role"]) <= set(ROLES)
    assert set(labels.frame["source"]) == {"etherscan-labels", "defillama-cex-owners"}


def test_shipped_file_counts_per_kind(labels):
    exchanges = labels.frame.group_by("kind").agg(pl.col("exchange").n_unique())
    assert dict(exchanges.iter_rows()) == {"spot": 71, "derivatives": 13}
    # One kind per exchange, never both.
    assert labels.frame.group_by("exchange").agg(pl.col("kind").n_unique())["kind"].max() == 1


def test_shipped_file_is_sorted_by_exchange_then_address(labels):
    keys = [(e, a.lower()) for e, a in labels.frame.select("exchange", "address").iter_rows()]
    assert keys == sorted(keys)


@pytest.mark.parametrize(
    ("address", "exchange", "kind"),
    [
        (BINANCE, "binance", "spot"),
        ("0x28C6c06298d514Db089934071355E5743bf21d60", "binance", "spot"),  # Binance 14
        (BITMEX_COLD, "bitmex", "derivatives"),
        ("0x6cC5F688a315f3dC28A7781717a9A798a59fDA7b", "okx", "spot"),  # etherscan "OKX", DefiLlama okex
        ("0x77696bb39917C91A0c3908D577d5e322095425cA", "coinbase", "spot"),  # Coinbase 11
    ],
)
def test_known_addresses(labels, address, exchange, kind):
    row = labels.frame.filter(pl.col("address") == address)
    assert row.select("exchange", "kind").rows() == [(exchange, kind)]


@pytest.mark.parametrize(
    "address",
    [
        "0xdAC17F958D2ee523a2206206994597C13D831ec7",  # USDT contract, etherscan files it under bitfinex
        "0x5754284f345afc66a98fbB0a0Afe71e0F007B949",  # Tether Treasury: issuer, not an exchange
    ],
)
def test_tether_is_not_an_exchange(labels, address):
    assert address.lower() not in {a.lower() for a in labels.addresses()}


def test_every_exchange_is_documented_in_the_readme_with_its_kind(labels):
    readme = (LABELS_PATH.parent / "README.md").read_text()
    documented = dict(re.findall(r"^\| `([a-z0-9-]+)` \| (spot|derivatives) \|", readme, re.M))
    shipped = dict(labels.frame.select("exchange", "kind").unique().iter_rows())
    assert documented == shipped


def test_subset_keeps_file_order_and_marks_the_version(labels):
    small = labels.subset(10)
    assert small.addresses() == labels.addresses()[:10]
    assert small.version == f"{labels.version}-n10"
    with pytest.raises(ValueError):
        labels.subset(labels.frame.height + 1)


def write(tmp_path, lines):
    path = tmp_path / "labels.csv"
    path.write_text("".join(line + "\n" for line in lines))
    return path


TOMORROW = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()
OK = "binance,spot,unknown,etherscan-labels,2023-06-01"
ADDR = "0x85b931A32a0725Be14285B66f1a22178c672d69B"  # Binance 10

# (name, lines after the header, expected line number, expected bad value)
BAD_ROWS = [
    ("lowercase address", [f"{ADDR.lower()},{OK}"], 4, ADDR.lower()),
    ("bad checksum", [f"{ADDR.replace('85b', '85B')},{OK}"], 4, ADDR.replace("85b", "85B")),
    ("39 hex digits", [f"{ADDR[:-1]},{OK}"], 4, ADDR[:-1]),
    ("no 0x prefix", [f"{ADDR[2:]}00,{OK}"], 4, f"{ADDR[2:]}00"),
    ("unknown kind", [f"{ADDR},binance,perp,unknown,etherscan-labels,2023-06-01"], 4, "perp"),
    ("unknown role", [f"{ADDR},binance,spot,warm,etherscan-labels,2023-06-01"], 4, "warm"),
    ("empty exchange", [f"{ADDR},,spot,unknown,etherscan-labels,2023-06-01"], 4, ""),
    ("uppercase exchange", [f"{ADDR},Binance,spot,unknown,etherscan-labels,2023-06-01"], 4, "Binance"),
    ("empty source", [f"{ADDR},binance,spot,unknown,,2023-06-01"], 4, ""),
    ("future date", [f"{ADDR},binance,spot,unknown,etherscan-labels,{TOMORROW}"], 4, TOMORROW),
    ("impossible date", [f"{ADDR},binance,spot,unknown,etherscan-labels,2023-13-01"], 4, "2023-13-01"),
    ("non-ISO date", [f"{ADDR},binance,spot,unknown,etherscan-labels,01/06/2023"], 4, "01/06/2023"),
    ("compact date", [f"{ADDR},binance,spot,unknown,etherscan-labels,20230601"], 4, "20230601"),
    ("exact duplicate", [f"{BINANCE},{OK}"], 4, BINANCE),
    ("duplicate differing in case", [f"{BINANCE.lower()},{OK}"], 4, BINANCE.lower()),
    ("missing field", [f"{ADDR},{OK[:-11]}"], 4, f"{ADDR},{OK[:-11]}"),
]


@pytest.mark.parametrize(("rows", "line", "value"), [c[1:] for c in BAD_ROWS], ids=[c[0] for c in BAD_ROWS])
def test_bad_row_is_reported_with_line_and_value(tmp_path, rows, line, value):
    path = write(tmp_path, [HEADER, *GOOD_ROWS, *rows])
    with pytest.raises(LabelError) as err:
        load_labels(path)
    assert f"{path} line {line}: " in str(err.value)
    assert repr(value) in str(err.value)


def test_duplicates_name_both_lines(tmp_path):
    path = write(tmp_path, [HEADER, *GOOD_ROWS, f"{BINANCE.lower()},{OK}"])
    with pytest.raises(LabelError, match=r"line 4: address .* duplicates line 2"):
        load_labels(path)


@pytest.mark.parametrize(
    "header",
    [
        "address,exchange,kind,wallet_role,source",  # missing column
        HEADER + ",note",  # extra column
        "address,exchange,wallet_role,kind,source,date_added",  # reordered
    ],
    ids=["missing column", "extra column", "reordered columns"],
)
def test_bad_header_is_reported_on_line_1(tmp_path, header):
    path = write(tmp_path, [header, *GOOD_ROWS])
    with pytest.raises(LabelError, match=rf"{re.escape(str(path))} line 1: header '{re.escape(header)}'"):
        load_labels(path)


@pytest.mark.parametrize("content", ["", "\n\n"], ids=["empty", "blank lines"])
def test_empty_file_is_rejected(tmp_path, content):
    path = tmp_path / "labels.csv"
    path.write_text(content)
    with pytest.raises(LabelError, match=rf"{re.escape(str(path))} line 1: file is empty"):
        load_labels(path)


def test_header_without_rows_is_rejected(tmp_path):
    path = write(tmp_path, [HEADER])
    with pytest.raises(LabelError, match="header but no rows"):
        load_labels(path)


def test_every_problem_in_a_file_is_reported_at_once(tmp_path):
    path = write(tmp_path, [
        HEADER,
        f"{ADDR.lower()},binance,spot,unknown,etherscan-labels,2023-06-01",  # line 2
        *GOOD_ROWS,  # lines 3, 4
        f"{ADDR[:-2]}Bb,binance,spot,hodl,etherscan-labels,2023-06-01",  # line 5: two problems
    ])
    with pytest.raises(LabelError) as err:
        load_labels(path)
    message = str(err.value)
    assert message.startswith(f"3 problem(s) in {path}:")
    assert f"line 2: address {ADDR.lower()!r}" in message
    assert "line 5: address" in message and "line 5: wallet_role 'hodl'" in message


def test_crlf_line_endings_count_lines_the_same(tmp_path):
    path = tmp_path / "labels.csv"
    lines = [HEADER, *GOOD_ROWS, f"{ADDR},binance,spot,warm,x,2023-06-01"]
    path.write_bytes("".join(line + "\r\n" for line in lines).encode())
    with pytest.raises(LabelError, match=r"line 4: wallet_role 'warm'"):
        load_labels(path)
