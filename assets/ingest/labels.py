"""The exchange-label seed (sql/seeds/exchange_labels.csv), validated row by row.

The file is hand-maintained data, so a bad edit must fail loudly and say where: every row is
checked, every problem is collected, and one `LabelError` lists them all as
`<file> line <N>: <field> <value!r> <reason>` (line 1 is the header).

The label version is the first 12 hex characters of the SHA-256 of the file's bytes: any edit
changes it, and everything derived from the labels records which labels it used.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from web3 import Web3

LABELS_PATH = Path(__file__).resolve().parents[2] / "sql" / "seeds" / "exchange_labels.csv"
COLUMNS = ("address", "exchange", "kind", "wallet_role", "source", "date_added")
KINDS = ("spot", "derivatives")
ROLES = ("hot", "cold", "deposit", "reserve", "unknown")

_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_SLUG = re.compile(r"[a-z0-9-]+")
# date.fromisoformat also takes "20230601" and week dates; the file uses one spelling only.
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class LabelError(ValueError):
    """The label file is unusable; the message names the file and each bad line."""


@dataclass(frozen=True)
class LabelSet:
    frame: pl.DataFrame  # COLUMNS, in file order; date_added is pl.Date
    version: str

    def addresses(self) -> list[str]:
        """Checksummed addresses in file order."""
        return self.frame["address"].to_list()

    def subset(self, n: int) -> LabelSet:
        """The first n rows. The version says it is a subset (`<version>-n<n>`), so a result
        computed on 10 addresses is never mistaken for one computed on the whole file."""
        if not 0 <= n <= self.frame.height:
            raise ValueError(f"subset size must be 0..{self.frame.height}, got {n}")
        return LabelSet(self.frame.head(n), f"{self.version}-n{n}")


def version_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def load_labels(path: Path | str = LABELS_PATH) -> LabelSet:
    path = Path(path)
    data = path.read_bytes()
    # Read the bytes we hashed (not the file again) so the version matches what was parsed.
    text = data.decode("utf-8")
    if not text.strip():
        raise LabelError(f"{path} line 1: file is empty (expected header {','.join(COLUMNS)})")

    problems: list[str] = []

    def bad(line: int, field: str, value: object, reason: str) -> None:
        problems.append(f"{path} line {line}: {field} {value!r} {reason}")

    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    if tuple(header) != COLUMNS:
        # Nothing below can be trusted to mean what it says: stop at the header.
        raise LabelError(
            f"{path} line 1: header {','.join(header)!r} must be exactly {','.join(COLUMNS)!r}"
        )

    rows: list[dict[str, object]] = []
    first_line: dict[str, int] = {}  # lowercase address -> line it first appeared on
    today = dt.datetime.now(dt.UTC).date()
    for fields in reader:
        # line_num is the physical line the record ended on; records here are one line each,
        # and a quoted newline would show up as a wrong field count anyway.
        line = reader.line_num
        if len(fields) != len(COLUMNS):
            bad(line, "row", ",".join(fields), f"has {len(fields)} fields, expected {len(COLUMNS)}")
            continue
        row = dict(zip(COLUMNS, fields, strict=True))
        address = row["address"]
        if not _HEX_ADDRESS.fullmatch(address):
            bad(line, "address", address, "is not 0x followed by 40 hex digits")
        else:
            if address != Web3.to_checksum_address(address):
                # All-lowercase is valid hex but has no checksum: a typo would go unnoticed.
                bad(line, "address", address, "is not EIP-55 checksummed "
                    f"(expected {Web3.to_checksum_address(address)})")
            key = address.lower()
            if key in first_line:
                bad(line, "address", address, f"duplicates line {first_line[key]} (case-insensitive)")
            else:
                first_line[key] = line
        if not _SLUG.fullmatch(row["exchange"]):
            bad(line, "exchange", row["exchange"], "must be a non-empty lowercase slug [a-z0-9-]+")
        if row["kind"] not in KINDS:
            bad(line, "kind", row["kind"], f"must be one of {', '.join(KINDS)}")
        if row["wallet_role"] not in ROLES:
            bad(line, "wallet_role", row["wallet_role"], f"must be one of {', '.join(ROLES)}")
        if not row["source"].strip():
            bad(line, "source", row["source"], "must not be empty")
        try:
            if not _ISO_DATE.fullmatch(row["date_added"]):
                raise ValueError
            added = dt.date.fromisoformat(row["date_added"])
        except ValueError:
            bad(line, "date_added", row["date_added"], "is not an ISO date (YYYY-MM-DD)")
        else:
            if added > today:
                bad(line, "date_added", row["date_added"], f"is in the future (today is {today})")
            row["date_added"] = added
        rows.append(row)

    if not rows and not problems:
        problems.append(f"{path} line 1: file has a header but no rows")
    if problems:
        raise LabelError(f"{len(problems)} problem(s) in {path}:\n" + "\n".join(problems))

    schema = {c: pl.String for c in COLUMNS} | {"date_added": pl.Date}
    return LabelSet(pl.DataFrame(rows, schema=schema), version_of(data))
