"""Plausibility: values that keep the schema but not the sense.

The limits, each with its reason and source, are data: assets/ingest/plausibility.yaml (its
header says how each is measured). This module loads them and applies them, as pure
functions over polars frames, in two places:

- before a window is written (`check_window`, called by the ingest assets): the window's rows
  are compared with each other and with the stored days around the window (yesterday from the
  warehouse for the window's first day). A move beyond a blocking limit raises
  SourceDataError naming the source, the field, the day and the value, so nothing is written;
  a move beyond a warning limit is logged and put in the metadata, and the window is written.
- over every stored row (assets/quality.py, the `DayOverDay` and `WithinCeiling`
  expectations): the blocking limits only, so a value stored before a limit existed, or
  written another way, fails the table's checks.

It also compares the chains of an upstream answer with the chains already stored
(`chain_changes`): a chain that appears or disappears fails the run unless configured.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from core.errors import SourceDataError

CONFIG_FILE = Path(__file__).with_name("plausibility.yaml")
# The columns that name one series of each table (besides date). Reserves of different label
# versions are different sets of wallets, so they are not compared with each other.
SERIES_KEYS: dict[str, tuple[str, ...]] = {
    "raw.coingecko_market_daily": ("coin_id",),
    "raw.defillama_total_supply": (),
    "raw.defillama_token_supply": ("token",),
    "raw.defillama_token_supply_by_chain": ("token", "chain"),
    "raw.fred_series_daily": ("series_id",),
    "raw.evm_exchange_reserves": ("chain", "token", "exchange", "label_version"),
}
MEASURES = ("ratio", "difference")
CHANGES = ("appears", "disappears")
_LIMIT_KEYS = {
    "name",
    "table",
    "where",
    "column",
    "measure",
    "warn",
    "block",
    "floor",
    "max_gap_days",
    "known_incomplete",
    "reason",
    "source",
}
_CEILING_KEYS = {"name", "table", "column", "of", "block", "reason", "source"}
# How many rare moves a run logs one by one; the rest are counted.
MAX_LOGGED = 20


class PlausibilityConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Limit:
    """How far one series may move from one day to the next (assets/ingest/plausibility.yaml)."""

    name: str
    table: str
    column: str
    measure: str
    warn: float | None
    block: float | None
    reason: str
    source: str
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()
    floor: float = 0.0
    max_gap_days: int = 1
    known_incomplete: str | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        return SERIES_KEYS[self.table]

    def rows(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The rows of `frame` this limit applies to."""
        for column, values in self.where:
            frame = frame.filter(pl.col(column).is_in(list(values)))
        return frame

    def allowed(self, level: str) -> str:
        value = self.block if level == "block" or self.warn is None else self.warn
        if self.measure == "ratio":
            return f"a factor of {value:g} either way"
        return f"{value:g} either way"


@dataclass(frozen=True)
class Ceiling:
    """A value that may never exceed `block` times another (assets/ingest/plausibility.yaml)."""

    name: str
    table: str
    column: str
    of: str
    block: float
    reason: str
    source: str


@dataclass(frozen=True)
class AllowedChange:
    token: str
    chain: str
    change: str
    reason: str


@dataclass(frozen=True)
class Config:
    limits: tuple[Limit, ...]
    ceilings: tuple[Ceiling, ...]
    new_chains: str
    allowed_changes: tuple[AllowedChange, ...]

    def for_table(self, table: str) -> list[Limit]:
        return [limit for limit in self.limits if limit.table == table]

    def ceiling(self, name: str) -> Ceiling:
        for ceiling in self.ceilings:
            if ceiling.name == name:
                return ceiling
        raise PlausibilityConfigError(
            f"{CONFIG_FILE}: no ceiling named {name!r} "
            f"(configured: {[c.name for c in self.ceilings]})"
        )

    def allows(self, token: str, chain: str, change: str) -> AllowedChange | None:
        return next(
            (
                a
                for a in self.allowed_changes
                if (a.token, a.chain, a.change) == (token, chain, change)
            ),
            None,
        )


# --- loading -------------------------------------------------------------------------------


def _fail(path: Path, where: str, value: Any, reason: str) -> PlausibilityConfigError:
    return PlausibilityConfigError(f"{path}: {where} = {value!r}: {reason}")


def _number(path: Path, where: str, value: Any, *, optional: bool, minimum: float) -> float | None:
    if value is None and optional:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < minimum
    ):
        raise _fail(path, where, value, f"not a number of at least {minimum:g}")
    return float(value)


def _text(path: Path, where: str, entry: dict, key: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _fail(
            path,
            f"{where}.{key}",
            value,
            "say it in words: every limit states its reason and its source",
        )
    return " ".join(value.split())


def _limit(path: Path, i: int, entry: Any) -> Limit:
    where = f"day_over_day[{i}]"
    if not isinstance(entry, dict):
        raise _fail(path, where, entry, "not a mapping")
    where = f"day_over_day[{i}] ({entry.get('name')})"
    unknown = set(entry) - _LIMIT_KEYS
    if unknown:
        raise _fail(path, where, sorted(unknown), f"unknown keys; expected {sorted(_LIMIT_KEYS)}")
    table = entry.get("table")
    if table not in SERIES_KEYS:
        raise _fail(path, f"{where}.table", table, f"not one of {sorted(SERIES_KEYS)}")
    if entry.get("measure") not in MEASURES:
        raise _fail(path, f"{where}.measure", entry.get("measure"), f"not one of {list(MEASURES)}")
    selection = entry.get("where") or {}
    if not isinstance(selection, dict) or any(
        column not in SERIES_KEYS[table] or not isinstance(values, list) or not values
        for column, values in selection.items()
    ):
        raise _fail(
            path,
            f"{where}.where",
            selection,
            f"expected {{column: [values]}} with columns among {list(SERIES_KEYS[table])}",
        )
    ratio = entry["measure"] == "ratio"
    minimum = 1.0 if ratio else 0.0
    warn = _number(path, f"{where}.warn", entry.get("warn"), optional=True, minimum=minimum)
    block = _number(path, f"{where}.block", entry.get("block"), optional=True, minimum=minimum)
    if warn is None and block is None:
        raise _fail(path, where, None, "neither warn nor block: a limit must do something")
    if warn is not None and block is not None and block <= warn:
        raise _fail(
            path,
            f"{where}.block",
            block,
            f"not above warn = {warn:g}: a move must be rare before it is impossible",
        )
    gap = entry.get("max_gap_days", 1)
    if isinstance(gap, bool) or not isinstance(gap, int) or not 1 <= gap <= 7:
        raise _fail(path, f"{where}.max_gap_days", gap, "not a whole number of days in 1..7")
    known = entry.get("known_incomplete")
    if known is not None:
        from assets.ingest.defillama import SERIES  # the seed's series

        if known not in SERIES:
            raise _fail(path, f"{where}.known_incomplete", known, f"not one of {sorted(SERIES)}")
    return Limit(
        name=_text(path, where, entry, "name"),
        table=table,
        column=_text(path, where, entry, "column"),
        measure=entry["measure"],
        warn=warn,
        block=block,
        reason=_text(path, where, entry, "reason"),
        source=_text(path, where, entry, "source"),
        where=tuple((c, tuple(str(v) for v in vs)) for c, vs in selection.items()),
        floor=_number(path, f"{where}.floor", entry.get("floor", 0.0), optional=False, minimum=0.0),
        max_gap_days=gap,
        known_incomplete=known,
    )


def _ceiling(path: Path, i: int, entry: Any) -> Ceiling:
    where = f"ceilings[{i}]"
    if not isinstance(entry, dict):
        raise _fail(path, where, entry, "not a mapping")
    unknown = set(entry) - _CEILING_KEYS
    if unknown:
        raise _fail(path, where, sorted(unknown), f"unknown keys; expected {sorted(_CEILING_KEYS)}")
    if entry.get("table") not in SERIES_KEYS:
        raise _fail(path, f"{where}.table", entry.get("table"), f"not one of {sorted(SERIES_KEYS)}")
    return Ceiling(
        name=_text(path, where, entry, "name"),
        table=entry["table"],
        column=_text(path, where, entry, "column"),
        of=_text(path, where, entry, "of"),
        block=_number(path, f"{where}.block", entry.get("block"), optional=False, minimum=0.0),
        reason=_text(path, where, entry, "reason"),
        source=_text(path, where, entry, "source"),
    )


def _chain_changes(path: Path, section: Any) -> tuple[str, tuple[AllowedChange, ...]]:
    section = section or {}
    if not isinstance(section, dict) or set(section) - {"new_chains", "allowed"}:
        raise _fail(path, "chain_changes", section, "expected the keys new_chains, allowed")
    new_chains = section.get("new_chains", "fail")
    if new_chains not in ("fail", "warn"):
        raise _fail(path, "chain_changes.new_chains", new_chains, "not 'fail' or 'warn'")
    allowed = []
    for i, entry in enumerate(section.get("allowed") or []):
        where = f"chain_changes.allowed[{i}]"
        if not isinstance(entry, dict) or set(entry) != {"token", "chain", "change", "reason"}:
            raise _fail(path, where, entry, "expected the keys token, chain, change, reason")
        if entry["change"] not in CHANGES:
            raise _fail(path, f"{where}.change", entry["change"], f"not one of {list(CHANGES)}")
        allowed.append(
            AllowedChange(
                str(entry["token"]),
                str(entry["chain"]),
                entry["change"],
                _text(path, where, entry, "reason"),
            )
        )
    return new_chains, tuple(allowed)


def load(path: Path = CONFIG_FILE) -> Config:
    """The configuration, checked: an error names the file, the entry, the key and the value."""
    raw = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(raw, dict) or set(raw) - {"day_over_day", "ceilings", "chain_changes"}:
        raise _fail(
            path,
            "(file)",
            sorted(raw) if isinstance(raw, dict) else raw,
            "expected the sections day_over_day, ceilings, chain_changes",
        )
    limits = tuple(_limit(path, i, e) for i, e in enumerate(raw.get("day_over_day") or []))
    names = [limit.name for limit in limits]
    if len(set(names)) != len(names):
        raise _fail(path, "day_over_day", names, "names must be unique")
    ceilings = tuple(_ceiling(path, i, e) for i, e in enumerate(raw.get("ceilings") or []))
    new_chains, allowed = _chain_changes(path, raw.get("chain_changes"))
    return Config(limits, ceilings, new_chains, allowed)


@functools.cache
def config() -> Config:
    """assets/ingest/plausibility.yaml, loaded once per process."""
    return load(CONFIG_FILE)


# --- day over day --------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """Two consecutive values of one series that moved beyond a limit."""

    limit: Limit
    level: str  # "block", "warn", or "known_incomplete" (a seeded stretch: neither)
    series: str  # the key values, e.g. "bitcoin", "USDT/Ethereum"; "" for a single series
    date: dt.date
    value: float
    previous_date: dt.date
    previous_value: float
    size: float  # the factor (ratio) or the absolute difference
    source: str
    # Which side is new (in the window being written); False: read from the warehouse.
    new: bool = True
    previous_new: bool = True
    note: str = ""

    @property
    def field(self) -> str:
        """The suspect value: the new one (the later one when both are new)."""
        day = self.date if self.new else self.previous_date
        of = f" of {self.series}" if self.series else ""
        return f"{self.limit.column}{of} on {day}"

    @property
    def suspect(self) -> float:
        return self.value if self.new else self.previous_value

    def line(self) -> str:
        """Source, field, value and why, as a SourceDataError says them."""
        return f"{self.source}: field {self.field!r} = {self.suspect!r}: {self.describe()}"

    def describe(self) -> str:
        """What moved, how far, and what the limit allows and why."""
        if self.limit.measure == "ratio":
            how = f"{self.value / self.previous_value:.4g} times"
        else:
            how = f"{self.value - self.previous_value:+.4g} from"
        stored = lambda new: "" if new else " (stored)"  # noqa: E731
        days = (self.date - self.previous_date).days
        gap = f", {days} days earlier" if days > 1 else ""
        level = "blocking" if self.level == "block" else "warning"
        text = (
            f"{self.value:.6g} on {self.date}{stored(self.new)} is {how} "
            f"{self.previous_value:.6g} on {self.previous_date}{stored(self.previous_new)}"
            f"{gap}; the {level} limit {self.limit.name!r} allows "
            f"{self.limit.allowed('block' if self.level == 'block' else 'warn')} "
            f"(assets/ingest/plausibility.yaml: {self.limit.reason})"
        )
        return text + (f" {self.note}" if self.note else "")


def _series_label(row: dict, keys: tuple[str, ...]) -> str:
    return "/".join(str(row[k]) for k in keys)


def day_over_day(
    rows: pl.DataFrame,
    table: str,
    stored: pl.DataFrame | None = None,
    limits: list[Limit] | None = None,
    stretches: list | None = None,
) -> list[Move]:
    """Every move beyond a limit of `table` between consecutive values of a series in `rows`,
    and between a row and a `stored` one next to it (moves between two stored rows are not
    judged again). Sorted by day and series."""
    limits = config().for_table(table) if limits is None else limits
    if not limits or rows.is_empty():
        return []
    if stretches is None and any(limit.known_incomplete for limit in limits):
        from assets.ingest.defillama import load_known_incomplete

        stretches = load_known_incomplete()
    keys = list(SERIES_KEYS[table])
    frames = [rows.with_columns(_new=pl.lit(True))]
    if stored is not None and not stored.is_empty():
        frames.append(stored.with_columns(_new=pl.lit(False)))
    moves: list[Move] = []
    for limit in limits:
        if limit.column not in rows.columns:
            continue
        wanted = ["date", *keys, limit.column, "source", "_new"]
        values = pl.concat(
            [
                limit.rows(f.select([c for c in wanted if c in f.columns])).with_columns(
                    pl.col(limit.column).cast(pl.Float64)
                )
                for f in frames
            ],
            how="diagonal_relaxed",
        )
        if "source" not in values.columns:
            values = values.with_columns(source=pl.lit(table))
        values = values.filter(pl.col(limit.column).is_not_null()).sort([*keys, "date"])
        shifted = [pl.col(c).shift(1) for c in ("date", limit.column, "_new")]
        if keys:
            shifted = [s.over(keys) for s in shifted]
        pairs = values.with_columns(
            shifted[0].alias("_prev_date"),
            shifted[1].alias("_prev_value"),
            shifted[2].alias("_prev_new"),
        ).filter(
            pl.col("_prev_date").is_not_null()
            & (pl.col("_new") | pl.col("_prev_new"))
            & ((pl.col("date") - pl.col("_prev_date")).dt.total_days() <= limit.max_gap_days)
        )
        moves.extend(_judge(limit, pairs, keys, stretches or []))
    return sorted(moves, key=lambda m: (m.date, m.series, m.limit.name))


def _judge(limit: Limit, pairs: pl.DataFrame, keys: list[str], stretches: list) -> list[Move]:
    value, prev = pl.col(limit.column), pl.col("_prev_value")
    if limit.measure == "ratio":
        pairs = pairs.filter(
            (value > 0) & (prev > 0) & (pl.max_horizontal(value, prev) >= limit.floor)
        )
        size = pl.max_horizontal(value / prev, prev / value)
    else:
        size = (value - prev).abs()
    threshold = min(x for x in (limit.warn, limit.block) if x is not None)
    found = pairs.with_columns(_size=size).filter(pl.col("_size") > threshold)
    moves = []
    for row in found.iter_rows(named=True):
        level = "block" if limit.block is not None and row["_size"] > limit.block else "warn"
        if level == "warn" and (limit.warn is None or row["_size"] <= limit.warn):
            continue
        note = ""
        seeded = [
            s
            for s in stretches
            if s.series == limit.known_incomplete and s.overlap(row["_prev_date"], row["date"])
        ]
        if seeded:
            # A catch-up step of a seeded stretch is expected, so it is not a rare move; it is
            # never an impossible one either: beyond the blocking limit it still blocks.
            level = "known_incomplete" if level == "warn" else level
            note = (
                f"{seeded[0].series} is known incomplete before "
                f"{seeded[0].incomplete_before} (sql/seeds/known_incomplete_history.csv)"
                + (
                    ": a catch-up step, not counted as a rare move."
                    if level != "block"
                    else ", but no catch-up step is this large."
                )
            )
        moves.append(
            Move(
                limit=limit,
                level=level,
                series=_series_label(row, tuple(keys)),
                date=row["date"],
                value=row[limit.column],
                previous_date=row["_prev_date"],
                previous_value=row["_prev_value"],
                size=row["_size"],
                source=row["source"],
                new=row["_new"],
                previous_new=row["_prev_new"],
                note=note,
            )
        )
    return moves


def stored_neighbours(
    warehouse, table: str, start: dt.date, end: dt.date, limits: list[Limit]
) -> pl.DataFrame | None:
    """The stored rows of `table` a window start..end is compared with: the days before it
    (yesterday, or up to max_gap_days back) and after it."""
    if not limits or not warehouse.table_exists(table):
        return None
    gap = dt.timedelta(days=max(limit.max_gap_days for limit in limits))
    one = dt.timedelta(days=1)
    columns = ["date", *SERIES_KEYS[table], *sorted({limit.column for limit in limits}), "source"]
    # Table and column names come from this module and the checked configuration.
    return warehouse.read(
        f"SELECT {', '.join(dict.fromkeys(columns))} FROM {table} "
        "WHERE date BETWEEN ? AND ? OR date BETWEEN ? AND ?",
        [start - gap, start - one, end + one, end + gap],
    )


def check_window(
    context, warehouse, table: str, rows: pl.DataFrame, start: dt.date, end: dt.date
) -> dict[str, str]:
    """Judge a window's rows before they are written: raise on the first move beyond a
    blocking limit (nothing is written), log each move beyond a warning limit; the metadata
    entries that list them."""
    limits = config().for_table(table)
    if not limits or rows.is_empty():
        return {}
    moves = day_over_day(
        rows, table, stored_neighbours(warehouse, table, start, end, limits), limits
    )
    return report(context, moves)


def report(context, moves: list[Move]) -> dict[str, str]:
    blocking = [m for m in moves if m.level == "block"]
    if blocking:
        first = blocking[0]
        more = (
            f" ({len(blocking) - 1} more in this window, e.g. {blocking[1].source}: "
            f"{blocking[1].field} = {blocking[1].suspect!r})"
            if len(blocking) > 1
            else ""
        )
        raise SourceDataError(
            first.source,
            first.field,
            first.suspect,
            f"implausible move: {first.describe()}{more}. Nothing was written; if the value "
            "is real, raise the limit in assets/ingest/plausibility.yaml.",
        )
    meta = {}
    rare = [m for m in moves if m.level == "warn"]
    for move in rare[:MAX_LOGGED]:
        context.log.warning(f"RARE MOVE {move.line()}")
    if len(rare) > MAX_LOGGED:
        context.log.warning(
            f"RARE MOVE: {len(rare) - MAX_LOGGED} more in this window; all of "
            "them are in the materialisation's metadata (rare_moves)"
        )
    if rare:
        meta["rare_moves"] = "\n".join(m.line() for m in rare)
    seeded = [m for m in moves if m.level == "known_incomplete"]
    if seeded:
        meta["moves_in_known_incomplete_history"] = "\n".join(m.line() for m in seeded)
    return meta


# --- ceilings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Excess:
    """A value above its ceiling."""

    ceiling: Ceiling
    row: dict[str, Any]  # date, the names, value, ceiling (and source, when the frame has it)
    series: str
    share: float

    @property
    def field(self) -> str:
        return f"{self.ceiling.column} of {self.series} on {self.row['date']}"

    def describe(self) -> str:
        return (
            f"{float(self.row['value']):.6g} is {self.share:.4g} times {self.ceiling.of} "
            f"({float(self.row['ceiling']):.6g}); the limit {self.ceiling.name!r} is "
            f"{self.ceiling.block:g} (assets/ingest/plausibility.yaml: {self.ceiling.reason})"
        )


def over_ceiling(frame: pl.DataFrame, ceiling: Ceiling) -> list[Excess]:
    """Rows of (date, <names>..., value, ceiling[, source]) whose value exceeds
    `ceiling.block` times their ceiling."""
    names = [c for c in frame.columns if c not in ("date", "value", "ceiling", "source")]
    found = (
        frame.with_columns(
            _share=pl.col("value").cast(pl.Float64) / pl.col("ceiling").cast(pl.Float64)
        )
        .filter(pl.col("_share") > ceiling.block)
        .sort(["date", *names])
    )
    return [
        Excess(ceiling, row, "/".join(str(row[n]) for n in names), row["_share"])
        for row in found.iter_rows(named=True)
    ]


# --- chains appearing and disappearing -----------------------------------------------------


@dataclass(frozen=True)
class ChainChange:
    chain: str
    change: str  # "appears" or "disappears"
    answer_day: dt.date  # the day of the answer compared
    stored_day: dt.date  # the stored day it was compared with

    def describe(self) -> str:
        if self.change == "appears":
            return (
                f"{self.chain!r} appears (in the answer for {self.answer_day}, not stored "
                f"for {self.stored_day})"
            )
        return (
            f"{self.chain!r} disappears (stored for {self.stored_day}, not in the answer "
            f"for {self.answer_day})"
        )


def chain_changes(
    answer: pl.DataFrame, stored: pl.DataFrame, first: dt.date, end: dt.date
) -> list[ChainChange]:
    """Chains of an answer's days first..end (rows of date, chain) that differ from the chains
    stored (rows of date, chain) for the day before `first`, any day of the window, and the
    day after `end`: each chain once, at its first difference."""

    def by_day(frame: pl.DataFrame) -> dict[dt.date, set[str]]:
        out: dict[dt.date, set[str]] = {}
        for day, chain in frame.select("date", "chain").iter_rows():
            out.setdefault(day, set()).add(chain)
        return out

    answered, kept = by_day(answer), by_day(stored)
    changes: dict[tuple[str, str], ChainChange] = {}
    for stored_day in sorted(kept):
        answer_day = min(max(stored_day, first), end)
        if abs((answer_day - stored_day).days) > 1:
            continue
        now, before = answered.get(answer_day, set()), kept[stored_day]
        for chain in sorted(now - before):
            changes.setdefault(
                (chain, "appears"), ChainChange(chain, "appears", answer_day, stored_day)
            )
        for chain in sorted(before - now):
            changes.setdefault(
                (chain, "disappears"), ChainChange(chain, "disappears", answer_day, stored_day)
            )
    return sorted(changes.values(), key=lambda c: (c.change, c.chain))
