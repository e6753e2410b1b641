"""The exchange-label seed (sql/seeds/), validated row by row.

Three files, built by sql/seeds/build_exchange_labels.py (how and why: sql/seeds/README.md):

- `exchange_labels.csv`: one row per exchange wallet and chain (`COLUMNS`);
- `exchanges.csv`: one row per labelled exchange with its two spot/derivatives taxonomies,
  `offers_derivatives` and `main_business`, and the reason for each (`EXCHANGE_COLUMNS`);
- `issuer_wallets.csv`: stablecoin issuer wallets (`ISSUER_COLUMNS`), which no label may name.

The files are data that people edit, so a bad edit must fail loudly and say where: every row
is checked, every problem is collected, and one `LabelError` lists them all as
`<file> line <N>: <field> <value!r> <reason>` (line 1 is the header).

Addresses: on `tron` a base58check address; every other chain is an EVM chain, with EIP-55
checksummed hex addresses. A label row is refused when its address is the zero address, a
token contract configured for its chain in core/chains.yaml, or an issuer wallet of its
chain: counting any of them as exchange custody would be wrong by billions.

The label version is the first 12 hex characters of the SHA-256 of the label file's bytes
followed by exchanges.csv's bytes: an edited wallet or a re-classified exchange both change
it, and everything derived from the labels records which labels it used.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from eth_utils import to_checksum_address

from core.chains import CONFIGURED

SEEDS = Path(__file__).resolve().parents[2] / "sql" / "seeds"
LABELS_PATH = SEEDS / "exchange_labels.csv"
EXCHANGES_PATH = SEEDS / "exchanges.csv"
ISSUERS_PATH = SEEDS / "issuer_wallets.csv"
COLUMNS = ("chain", "address", "exchange", "wallet_role", "source", "date_added")
EXCHANGE_COLUMNS = (
    "exchange",
    "name",
    "offers_derivatives",
    "main_business",
    "coingecko_spot_id",
    "coingecko_derivatives_id",
    "offers_derivatives_reason",
    "main_business_reason",
)
ISSUER_COLUMNS = ("chain", "address", "issuer", "name", "source")
ROLES = ("hot", "cold", "deposit", "reserve", "unknown")
MAIN_BUSINESS = ("spot", "derivatives")
TRON = "tron"  # the one non-EVM chain labelled
ZERO_ADDRESS = "0x" + "0" * 40

_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_CHAIN = re.compile(r"[a-z][a-z0-9_]*")  # as DefiLlama's adapters write chains: op_bnb, era
_SLUG = re.compile(r"[a-z0-9-]+")
_COINGECKO_ID = re.compile(r"[a-z0-9_]*")  # empty: no such CoinGecko id
# date.fromisoformat also takes "20230601" and week dates; the file uses one spelling only.
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class SeedError(ValueError):
    """A small seed (sql/seeds/*.csv) is unusable; the message names file, line, column."""


def seed_rows(path: Path, columns: list[str]) -> Iterator[tuple[int, str, dict[str, str]]]:
    """(line, "<path>: line N" for errors, row) of each row of a small seed whose header is
    exactly `columns`; a short row's missing fields are empty."""
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != columns:
            raise SeedError(f"{path}: header {reader.fieldnames} is not {columns}")
        for line, row in enumerate(reader, start=2):
            yield line, f"{path}: line {line}", {c: row.get(c) or "" for c in columns}


def require_cited_row(
    where: str,
    line: int,
    row: dict[str, str],
    key: tuple,
    seen: dict[tuple, int],
    kind: tuple[str, tuple[str, ...]],
    described: tuple[str, ...],
) -> None:
    """What every small cited seed checks of a row (cctp_minters.csv,
    noncirculating_wallets.csv): a well-formed address on its chain, one row per `key` (`seen`:
    key -> line, updated), a known value of the column that classifies it (`kind`: column,
    values), an https source, and the `described` columns (what it is, how known) filled."""
    problem = address_problem(row["chain"], row["address"])
    if problem:
        raise SeedError(f"{where}: address = {row['address']!r} {problem}")
    if key in seen:
        raise SeedError(f"{where}: {key} duplicates line {seen[key]}")
    seen[key] = line
    column, allowed = kind
    if row[column] not in allowed:
        raise SeedError(f"{where}: {column} = {row[column]!r}: not one of {allowed}")
    if not row["source"].startswith("https://"):
        raise SeedError(f"{where}: source = {row['source']!r}: not an https:// URL")
    for column in described:
        if not row[column].strip():
            raise SeedError(f"{where}: {column} is empty: say what it is and how known")


class LabelError(ValueError):
    """The label files are unusable; the message names the file and each bad line."""


@dataclass(frozen=True)
class LabelSet:
    frame: pl.DataFrame  # COLUMNS, in file order; date_added is pl.Date
    exchanges: pl.DataFrame  # EXCHANGE_COLUMNS, in file order; offers_derivatives is pl.Boolean
    version: str

    def addresses(self, chain: str | None = None) -> list[str]:
        """Addresses in file order, of one chain or all (EVM ones checksummed)."""
        return (self.frame if chain is None else self.on_chain(chain).frame)["address"].to_list()

    def on_chain(self, chain: str) -> LabelSet:
        """The rows of one chain (none for a chain without labels), same exchanges, same
        version: the labels used are still the whole files."""
        return LabelSet(self.frame.filter(pl.col("chain") == chain), self.exchanges, self.version)

    def subset(self, n: int) -> LabelSet:
        """The first n rows. The version says it is a subset (`<version>-n<n>`), so a result
        computed on 10 addresses is never mistaken for one computed on the whole file."""
        if not 0 <= n <= self.frame.height:
            raise ValueError(f"subset size must be 0..{self.frame.height}, got {n}")
        return LabelSet(self.frame.head(n), self.exchanges, f"{self.version}-n{n}")


def version_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def tron_address_ok(address: str) -> bool:
    """Base58check of a Tron account: 25 bytes = version byte 0x41, the 20-byte account and
    the first 4 bytes of the double SHA-256 of the 21 before."""
    if not address or any(c not in _BASE58 for c in address):
        return False
    n = 0
    for c in address:
        n = n * 58 + _BASE58.index(c)
    if n >= 256**25:
        return False
    raw = n.to_bytes(25, "big")  # leading zero bytes ("1"s) fail the version check below
    check = hashlib.sha256(hashlib.sha256(raw[:21]).digest()).digest()[:4]
    return raw[0] == 0x41 and raw[21:] == check


def address_problem(chain: str, address: str) -> str | None:
    """Why `address` is not a well-formed address on `chain`, or None."""
    if chain == TRON:
        return (
            None
            if tron_address_ok(address)
            else ("is not a Tron base58check address (25 bytes, version 0x41, checksum)")
        )
    if not _HEX_ADDRESS.fullmatch(address):
        return "is not 0x followed by 40 hex digits"
    checksummed = to_checksum_address(address)
    if address != checksummed:
        # All-lowercase is valid hex but has no checksum: a typo would go unnoticed.
        return f"is not EIP-55 checksummed (expected {checksummed})"
    return None


Bad = Callable[[Path, int, str, object, str], None]


def _records(
    path: Path, data: bytes, columns: tuple[str, ...], bad: Bad
) -> list[tuple[int, dict[str, str]]]:
    """(line, row) of every record with the right number of fields; the header must be
    exactly `columns` (nothing below can be trusted otherwise, so that stops at once)."""
    text = data.decode("utf-8")
    if not text.strip():
        raise LabelError(f"{path} line 1: file is empty (expected header {','.join(columns)})")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    if tuple(header) != columns:
        raise LabelError(
            f"{path} line 1: header {','.join(header)!r} must be exactly {','.join(columns)!r}"
        )
    records, short = [], False
    for fields in reader:
        # line_num is the physical line the record ended on; records here are one line each,
        # and a quoted newline would show up as a wrong field count anyway.
        if len(fields) != len(columns):
            short = True
            bad(
                path,
                reader.line_num,
                "row",
                ",".join(fields),
                f"has {len(fields)} fields, expected {len(columns)}",
            )
            continue
        records.append((reader.line_num, dict(zip(columns, fields, strict=True))))
    if not records and not short:
        bad(path, 1, "file", path.name, "has a header but no rows")
    return records


def _chain_key(path: Path, line: int, row: dict[str, str], bad: Bad) -> tuple[str, str] | None:
    """Check a row's chain and address; its (chain, lowercase address) key when the chain is
    valid (duplicates and refusals compare keys, so a badly written address still counts)."""
    if not _CHAIN.fullmatch(row["chain"]):
        bad(path, line, "chain", row["chain"], "must be a lowercase identifier [a-z][a-z0-9_]*")
        return None
    problem = address_problem(row["chain"], row["address"])
    if problem:
        bad(path, line, "address", row["address"], problem)
    return row["chain"], row["address"].lower()


def _issuers(path: Path, bad: Bad) -> dict[tuple[str, str], str]:
    """(chain, lowercase address) -> 'issuer_wallets.csv line N (name)'."""
    issuers: dict[tuple[str, str], str] = {}
    for line, row in _records(path, path.read_bytes(), ISSUER_COLUMNS, bad):
        key = _chain_key(path, line, row, bad)
        if key in issuers:
            bad(path, line, "address", row["address"], f"duplicates {issuers[key]}")
        elif key:
            issuers[key] = f"{path.name} line {line} ({row['name']})"
        if not _SLUG.fullmatch(row["issuer"]):
            bad(path, line, "issuer", row["issuer"], "must be a non-empty lowercase slug")
        for field in ("name", "source"):
            if not row[field].strip():
                bad(path, line, field, row[field], "must not be empty")
    return issuers


def _exchanges(path: Path, data: bytes, bad: Bad) -> tuple[list[dict[str, object]], dict[str, int]]:
    """exchanges.csv rows (offers_derivatives as bool) and slug -> line."""
    rows, lines = [], {}
    for line, row in _records(path, data, EXCHANGE_COLUMNS, bad):
        slug = row["exchange"]
        if not _SLUG.fullmatch(slug):
            bad(path, line, "exchange", slug, "must be a non-empty lowercase slug [a-z0-9-]+")
        elif slug in lines:
            bad(path, line, "exchange", slug, f"duplicates line {lines[slug]}")
        else:
            lines[slug] = line
        if row["offers_derivatives"] not in ("true", "false"):
            bad(
                path, line, "offers_derivatives", row["offers_derivatives"], "must be true or false"
            )
        if row["main_business"] not in MAIN_BUSINESS:
            bad(
                path,
                line,
                "main_business",
                row["main_business"],
                f"must be one of {', '.join(MAIN_BUSINESS)}",
            )
        for field in ("coingecko_spot_id", "coingecko_derivatives_id"):
            if not _COINGECKO_ID.fullmatch(row[field]):
                bad(path, line, field, row[field], "must be a CoinGecko id [a-z0-9_]* or empty")
        for field in ("name", "offers_derivatives_reason", "main_business_reason"):
            if not row[field].strip():
                bad(path, line, field, row[field], "must not be empty")
        rows.append(row | {"offers_derivatives": row["offers_derivatives"] == "true"})
    return rows, lines


def load_labels(
    path: Path | str = LABELS_PATH,
    exchanges_path: Path | str = EXCHANGES_PATH,
    issuers_path: Path | str = ISSUERS_PATH,
) -> LabelSet:
    path, exchanges_path, issuers_path = Path(path), Path(exchanges_path), Path(issuers_path)
    problems: list[str] = []

    def bad(file: Path, line: int, field: str, value: object, reason: str) -> None:
        problems.append(f"{file} line {line}: {field} {value!r} {reason}")

    # Hash the bytes that are parsed (not the files read again) so the version matches them.
    data, exchange_data = path.read_bytes(), exchanges_path.read_bytes()
    exchange_rows, exchange_lines = _exchanges(exchanges_path, exchange_data, bad)
    issuers = _issuers(issuers_path, bad)
    tokens = {(c.name, t.address.lower()): t.symbol for c in CONFIGURED for t in c.tokens}

    rows: list[dict[str, object]] = []
    first_line: dict[tuple[str, str], int] = {}  # (chain, lowercase address) -> first line
    used: set[str] = set()
    today = dt.datetime.now(dt.UTC).date()
    for line, row in _records(path, data, COLUMNS, bad):
        key = _chain_key(path, line, row, bad)
        if key:
            chain, address = key[0], row["address"]
            if key in first_line:
                bad(
                    path,
                    line,
                    "address",
                    address,
                    f"duplicates line {first_line[key]} on {chain} (case-insensitive)",
                )
            else:
                first_line[key] = line
            if address.lower() == ZERO_ADDRESS:
                bad(path, line, "address", address, "is the zero address, not a wallet")
            if key in tokens:
                bad(
                    path,
                    line,
                    "address",
                    address,
                    f"is the {tokens[key]} token contract on "
                    f"{chain} (core/chains.yaml), not a wallet",
                )
            if key in issuers:
                bad(
                    path,
                    line,
                    "address",
                    address,
                    f"is a stablecoin issuer wallet on {chain} "
                    f"({issuers[key]}), never an exchange's",
                )
        exchange = row["exchange"]
        if not _SLUG.fullmatch(exchange):
            bad(path, line, "exchange", exchange, "must be a non-empty lowercase slug [a-z0-9-]+")
        elif exchange not in exchange_lines:
            bad(path, line, "exchange", exchange, f"is not in {exchanges_path.name}")
        used.add(exchange)
        if row["wallet_role"] not in ROLES:
            bad(path, line, "wallet_role", row["wallet_role"], f"must be one of {', '.join(ROLES)}")
        if not row["source"].strip():
            bad(path, line, "source", row["source"], "must not be empty")
        try:
            if not _ISO_DATE.fullmatch(row["date_added"]):
                raise ValueError
            added = dt.date.fromisoformat(row["date_added"])
        except ValueError:
            bad(path, line, "date_added", row["date_added"], "is not an ISO date (YYYY-MM-DD)")
        else:
            if added > today:
                bad(
                    path,
                    line,
                    "date_added",
                    row["date_added"],
                    f"is in the future (today is {today})",
                )
            row["date_added"] = added
        rows.append(row)
    for slug, line in exchange_lines.items():
        if slug not in used:
            bad(exchanges_path, line, "exchange", slug, f"has no rows in {path.name}")

    if problems:
        raise LabelError(f"{len(problems)} problem(s) in the label files:\n" + "\n".join(problems))
    frame = pl.DataFrame(rows, schema={c: pl.String for c in COLUMNS} | {"date_added": pl.Date})
    exchanges = pl.DataFrame(
        exchange_rows,
        schema={c: pl.String for c in EXCHANGE_COLUMNS} | {"offers_derivatives": pl.Boolean},
    )
    return LabelSet(frame, exchanges, version_of(data + exchange_data))
