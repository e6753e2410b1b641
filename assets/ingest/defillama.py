"""DefiLlama stablecoins API (https://stablecoins.llama.fi, free, keyless).

Owns: raw.defillama_total_supply, raw.defillama_token_supply, raw.defillama_token_supply_by_chain.

Sampling time (DESIGN notes with the server code, the numbers and the decision:
assets/ingest/DEFILLAMA_TIMING.md). DefiLlama keeps one row per UTC day, stamped 00:00 of
that day, and writes it ONCE: its store job runs hourly and writes the daily record on its
first write of the day (peggedassets-server storeNewPeggedBalances.ts, "First write of the
day", `SK: getTimestampAtStartOfDay(unixTimestamp)`). So the row stamped S holds the state
just after 00:00 UTC of S, i.e. the close of S-1, and the pipeline dates it S-1 (`llama_day`):
a value dated D is the close of D, as for every other source (CoinGecko's 00:00 sample of D+1
is dated D too). Only the chart's newest row is different: the server answers it with its
latest hourly snapshot (the live state), so the window's last day is the live state when its
row is the newest one; the 01:30 UTC schedule reads it within about an hour and a half of
midnight, and a later re-ingest gets the stored first snapshot. DefiLlama also rewrites
recent days after the fact: re-ingesting a day replaces it. Amounts are peg-native
(`peggedUSD`: whole tokens), never USD-converted.

Known-incomplete history. DefiLlama's series are not always complete: USDT lacks most of its
supply before 2020-01-02 (0.03 bn in 2018-19 against CoinGecko's 2 bn; the chain then holding
nearly all of it, Omni, is read from a current-only API), USDC lacks a chain (2-12 %) from
2021-04-29 to 2021-12-31. sql/seeds/known_incomplete_history.csv lists such stretches with
their evidence; a window that reaches one warns in the run (a log warning and the
`known_incomplete` metadata entry) and the marts flag its days (marts.liquidity_daily
`usdt_supply_incomplete`, `usdc_supply_incomplete`, `total_stablecoin_supply_incomplete`,
marts.stablecoin_supply_daily `supply_incomplete`, each with the reason). The run is not
refused: the window's other series (prices, the other coin) are sound, and what DefiLlama
serves is stored as served.

History cut. `/stablecoin/{id}` serves its history (`tokens[]` and every
`chainBalances.<Chain>.tokens[]`) only from unix time 1652241600 (2022-05-11 04:00 UTC):
DefiLlama's stablecoin server filters `balances.filter((item) => item.SK >= 1652241600)` in
getStablecoinData ("currently frontend does not use data before May 11, 2022 for individual
stablecoins"; its older craftProtocolResponse passed the same 1652241600 to
getHistoricalValues). Daily records are stamped 00:00 UTC, so the first row it serves is
stamped 2022-05-12: the close of 2022-05-11, the first day it serves (HISTORY_START). The
chart endpoints keep the whole history, so:

- raw.defillama_token_supply (all chains) comes from `/stablecoincharts/all?stablecoin={id}`
  for every day (`totalCirculating.peggedUSD`, rows shaped like `/stablecoincharts/all`).
- raw.defillama_token_supply_by_chain comes from `/stablecoin/{id}` `chainBalances` for days
  from 2022-05-11 on (every chain DefiLlama reports), and for earlier days from
  `/stablecoincharts/{Chain}?stablecoin={id}` for each chain of core/chains.yaml that
  carries the token (`defillama_chain`, default the chain name title-cased). So before
  2022-05-11 only the configured chains have per-chain rows.

Plausibility (assets/ingest/plausibility.yaml, assets/ingest/plausibility.py): before the write,
each supply is compared with the day before (for the window's first day, the stored one): a
token's or the total's supply doubling or halving in a day fails the run, a 10 % move warns
(the seeded catch-up steps excepted), a chain holding more than the token's all-chain supply
fails it; the chains of `/stablecoin/{id}` are compared with the chains stored for the days
around and in the window, and one that appears or disappears (a rename upstream) fails the run
naming it unless the configuration allows it.

A per-chain chart row without a circulating amount (none, 0 or {}) is a zero balance, the
`_zero_balance` rule. Days before a chart's first row get no row: the table holds the days
DefiLlama reports for a chain, as `chainBalances` does. A chart that starts late does not
show whether the token reached the chain later or DefiLlama has no earlier history for it
(its older chart code started chains outside a backfilled list at 1652241600), so writing
zeros there could be wrong. A missing day after the first row, or an empty chart (DefiLlama's
answer when it cannot build one: an unknown chain name, or a token it never saw on that
chain), fails the run, naming the source, field and value.

Requests per run: 1 for raw.defillama_total_supply; for the two token tables, per token, 1
chart, plus 1 `/stablecoin/{id}` if the window reaches 2022-05-11 or later, plus 1 chart for
each configured chain carrying the token if the window starts before 2022-05-11. With
chains.yaml's Ethereum (USDT and USDC): 4 for a window from 2022-05-11 on (every daily run),
6 for a window across 2022-05-11, 4 for a window that ends before it.
"""

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import dagster as dg
import polars as pl

from assets.ingest import plausibility
from assets.ingest.declare import raw_asset
from assets.ingest.labels import SeedError, seed_rows
from assets.ingest.parsing import (
    amount,
    require,
    require_every_day,
    require_shape,
    stamp,
    utc_day,
    utc_now,
)
from core.chains import CHAINS, CONFIGURED, Chain
from core.errors import SourceDataError
from core.partitions import window_of
from core.resources import HttpSource, Rows, Warehouse
from core.resources.warehouse import SQL_DIR

# DefiLlama stablecoin ids of the tokens the pipeline follows.
TOKENS = {"USDT": 1, "USDC": 2}
PEG = "peggedUSD"
_DAY = dt.timedelta(days=1)
# `/stablecoin/{id}` keeps the daily records at or after this time (2022-05-11 04:00 UTC; see
# the module docstring). Its first row is stamped at the first midnight at or after it
# (2022-05-12) and holds the close of the day before: HISTORY_START, 2022-05-11.
HISTORY_CUT = 1652241600
HISTORY_START = dt.datetime.fromtimestamp(-(-HISTORY_CUT // 86_400) * 86_400, dt.UTC).date() - _DAY


# The DefiLlama names of the chains stableflow reads on chain (core/chains.yaml).
_READ_CHAINS = frozenset(c.defillama_chain for c in CONFIGURED)


def llama_day(value: Any, source: str, field: str, live: bool = False) -> dt.date:
    """The day whose close a DefiLlama daily row holds: the day before its stamp. The row
    stamped 00:00 UTC of S is DefiLlama's first snapshot of S, taken just after midnight
    (assets/ingest/DEFILLAMA_TIMING.md), so it is the close of S-1. Every stored daily row is
    stamped at a midnight (getTimestampAtStartOfDay); only the newest row of a series, the
    live one (`live`), may carry another time: the charts put it under the daily stamp, but
    /stablecoin/{id} keeps the hourly record's own (craftProtocolResponse's replaceLast). Like
    the day's first snapshot, it is read as the close of the day before."""
    day = utc_day(value, source, field)
    require(
        live or int(value) % 86_400 == 0,
        source,
        field,
        value,
        "not a UTC midnight, and not the series' newest (live) row",
    )
    return day - _DAY


def llama_stamp(day: dt.date) -> int:
    """The unix time DefiLlama stamps the row holding the close of `day` with (its inverse)."""
    following = day + _DAY
    return int(
        dt.datetime(following.year, following.month, following.day, tzinfo=dt.UTC).timestamp()
    )


# --- known-incomplete history (sql/seeds/known_incomplete_history.csv) -------------------

KNOWN_INCOMPLETE_FILE = SQL_DIR / "seeds" / "known_incomplete_history.csv"
KNOWN_INCOMPLETE_COLUMNS = [
    "source",
    "series",
    "incomplete_from",
    "incomplete_before",
    "max_missing_share",
    "reason",
    "evidence",
]
# The series a row can name: a token's all-chain supply (raw.defillama_token_supply) or the
# supply of all USD-pegged stablecoins (raw.defillama_total_supply).
SERIES = {
    "USDT": "raw.defillama_token_supply",
    "USDC": "raw.defillama_token_supply",
    "total": "raw.defillama_total_supply",
}
# The column of marts.liquidity_daily that flags each series' days.
FLAG_COLUMNS = {
    "USDT": "usdt_supply_incomplete",
    "USDC": "usdc_supply_incomplete",
    "total": "total_stablecoin_supply_incomplete",
}


@dataclass(frozen=True)
class IncompleteStretch:
    """Days incomplete_from..incomplete_before-1 (project days: the close of each day) of a
    DefiLlama series that are known to miss part of the supply."""

    source: str
    series: str
    incomplete_from: dt.date | None  # None: from the series' first day
    incomplete_before: dt.date
    max_missing_share: float
    reason: str
    evidence: str

    def overlap(self, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date] | None:
        """The days of start..end in the stretch, or None."""
        first = max(start, self.incomplete_from or start)
        last = min(end, self.incomplete_before - _DAY)
        return (first, last) if first <= last else None


def _seed_date(text: str, where: str, column: str, optional: bool) -> dt.date | None:
    if text == "" and optional:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise SeedError(f"{where}: {column} = {text!r}: not a YYYY-MM-DD date") from None


def load_known_incomplete(path: Path = KNOWN_INCOMPLETE_FILE) -> list[IncompleteStretch]:
    """Every row of the seed, checked: an error names file, line, column and value."""
    stretches = []
    for _, where, row in seed_rows(path, KNOWN_INCOMPLETE_COLUMNS):
        if row["source"] != "defillama":
            raise SeedError(f"{where}: source = {row['source']!r}: only 'defillama' is read")
        if row["series"] not in SERIES:
            raise SeedError(f"{where}: series = {row['series']!r}: not one of {sorted(SERIES)}")
        first = _seed_date(row["incomplete_from"], where, "incomplete_from", True)
        before = _seed_date(row["incomplete_before"], where, "incomplete_before", False)
        if first is not None and first >= before:
            raise SeedError(
                f"{where}: incomplete_from = {first} is not before incomplete_before = {before}"
            )
        try:
            share = float(row["max_missing_share"])
        except ValueError:
            share = float("nan")
        if not 0 < share <= 1:
            raise SeedError(
                f"{where}: max_missing_share = {row['max_missing_share']!r}: not a share in (0, 1]"
            )
        for column in ("reason", "evidence"):
            if not row[column].strip():
                raise SeedError(f"{where}: {column} is empty: say why, and how it is known")
        stretches.append(
            IncompleteStretch(
                row["source"],
                row["series"],
                first,
                before,
                share,
                row["reason"],
                row["evidence"],
            )
        )
    return stretches


def known_incomplete_frame(path: Path = KNOWN_INCOMPLETE_FILE) -> pl.DataFrame:
    """The seed as raw.known_incomplete_history's rows."""
    return pl.DataFrame(
        [
            (
                s.source,
                s.series,
                s.incomplete_from,
                s.incomplete_before,
                s.max_missing_share,
                s.reason,
                s.evidence,
            )
            for s in load_known_incomplete(path)
        ],
        schema={
            "source": pl.Utf8,
            "series": pl.Utf8,
            "incomplete_from": pl.Date,
            "incomplete_before": pl.Date,
            "max_missing_share": pl.Float64,
            "reason": pl.Utf8,
            "evidence": pl.Utf8,
        },
        orient="row",
    )


def incomplete_in_window(
    series: list[str], start: dt.date, end: dt.date
) -> list[tuple[IncompleteStretch, dt.date, dt.date]]:
    """The known-incomplete stretches of `series` that start..end reaches, with the days."""
    return [
        (s, *days)
        for s in load_known_incomplete()
        if s.series in series
        for days in [s.overlap(start, end)]
        if days
    ]


def warn_incomplete(
    context: dg.AssetExecutionContext, series: list[str], start: dt.date, end: dt.date
) -> dict[str, str]:
    """Log a warning for each known-incomplete stretch the window reaches; the metadata entry
    that says so (nothing when the window is clear)."""
    found = incomplete_in_window(series, start, end)
    lines = []
    for stretch, first, last in found:
        lines.append(
            f"{stretch.series}: {(last - first).days + 1} day(s) {first}..{last} are known "
            f"incomplete (up to {stretch.max_missing_share:.0%} of the supply missing): "
            f"{stretch.reason} Flagged in marts.liquidity_daily."
            f"{FLAG_COLUMNS[stretch.series]}; statistics over these days, and over the day "
            f"after the last one (its change compares with an incomplete day), describe a "
            f"partial series."
        )
        context.log.warning(f"KNOWN INCOMPLETE DefiLlama history in {start}..{end}: {lines[-1]}")
    return {"known_incomplete": "\n".join(lines)} if lines else {}


def _newest_is_live(payload: Any, end: dt.date) -> dict[str, str]:
    """Metadata saying the window's last day was read from the chart's newest row, which the
    server fills with its latest hourly snapshot (the live state, not yet the stored one)."""
    if not isinstance(payload, list) or not payload:
        return {}
    try:
        newest = max(int(row["date"]) for row in payload if isinstance(row, dict))
    except (KeyError, TypeError, ValueError):
        return {}
    if newest != llama_stamp(end):
        return {}
    return {
        "live_last_day": f"{end} is the chart's newest row (stamped {end + _DAY}), which "
        "DefiLlama fills with its latest snapshot at fetch time; "
        f"re-ingest after {end + 2 * _DAY} 00:00 UTC for its stored "
        "first snapshot"
    }


def token_chart_source(token: str) -> str:
    return f"defillama /stablecoincharts/all?stablecoin={TOKENS[token]}"


def chain_chart_path(llama_chain: str) -> str:
    return f"/stablecoincharts/{quote(llama_chain, safe='')}"


def chain_chart_source(token: str, llama_chain: str) -> str:
    return f"defillama {chain_chart_path(llama_chain)}?stablecoin={TOKENS[token]}"


def _chart_totals(payload: Any, source: str, start: dt.date, end: dt.date) -> dict[dt.date, float]:
    """`totalCirculating.peggedUSD` of a chart's rows dated start..end, every day required."""
    require_shape(payload, list, source)
    values: dict[dt.date, float] = {}
    for i, row in enumerate(payload):
        require(isinstance(row, dict), source, f"[{i}]", row, "not an object")
        day = llama_day(row.get("date"), source, f"[{i}].date", live=i == len(payload) - 1)
        if start <= day <= end:
            total = row.get("totalCirculating")
            require(isinstance(total, dict), source, f"[{i}].totalCirculating", total, "missing")
            # Later rows for the same day are later snapshots of it.
            values[day] = amount(total.get(PEG), source, f"[{i}].totalCirculating.{PEG}")
    require_every_day(set(values), start, end, source, "date")
    return values


def parse_total_supply(payload: Any, start: dt.date, end: dt.date) -> pl.DataFrame:
    """`/stablecoincharts/all` rows dated start..end -> (date, circulating_usd)."""
    values = _chart_totals(payload, "defillama /stablecoincharts/all", start, end)
    return pl.DataFrame(
        {"date": list(values), "circulating_usd": list(values.values())},
        schema={"date": pl.Date, "circulating_usd": pl.Float64},
    ).sort("date")


def parse_token_chart(payload: Any, token: str, start: dt.date, end: dt.date) -> pl.DataFrame:
    """`/stablecoincharts/all?stablecoin={id}` (the token on all chains, every day since it
    began) rows dated start..end -> (date, token, circulating_tokens)."""
    values = _chart_totals(payload, token_chart_source(token), start, end)
    return pl.DataFrame(
        {"date": list(values), "token": token, "circulating_tokens": list(values.values())},
        schema={"date": pl.Date, "token": pl.Utf8, "circulating_tokens": pl.Float64},
    ).sort("date")


def parse_chain_chart(
    payload: Any, token: str, llama_chain: str, start: dt.date, end: dt.date
) -> pl.DataFrame:
    """`/stablecoincharts/{Chain}?stablecoin={id}` rows dated start..end ->
    (date, chain, circulating_tokens, token): every day from the chart's first row (or
    `start`) to `end`; none before the first row (module docstring). A row without a
    circulating amount is a zero balance."""
    source = chain_chart_source(token, llama_chain)
    require_shape(payload, list, source)
    require(
        len(payload) > 0,
        source,
        "(body)",
        payload,
        f"no chart: DefiLlama answers [] when it cannot build one (a chain name it does "
        f"not know, or {token} never seen on it); check defillama_chain in "
        f"core/chains.yaml",
    )
    values: dict[dt.date, float] = {}
    first = None
    for i, row in enumerate(payload):
        require(isinstance(row, dict), source, f"[{i}]", row, "not an object")
        day = llama_day(row.get("date"), source, f"[{i}].date", live=i == len(payload) - 1)
        first = day if first is None else min(first, day)
        if start <= day <= end:
            if "totalCirculating" not in row or _zero_balance(row["totalCirculating"]):
                values[day] = 0.0
                continue
            total = row["totalCirculating"]
            require(
                isinstance(total, dict), source, f"[{i}].totalCirculating", total, "not an object"
            )
            # Later rows for the same day are later snapshots of it.
            values[day] = amount(
                total.get(PEG), source, f"[{i}].totalCirculating.{PEG}", positive=False
            )
    require_every_day(set(values), max(start, first), end, source, "date")
    return (
        pl.DataFrame(
            {
                "date": list(values),
                "chain": llama_chain,
                "circulating_tokens": list(values.values()),
            },
            schema={"date": pl.Date, "chain": pl.Utf8, "circulating_tokens": pl.Float64},
        )
        .with_columns(token=pl.lit(token))
        .sort("date")
    )


def _token_series(
    points: Any, source: str, field: str, start: dt.date, end: dt.date, positive: bool
) -> dict[dt.date, float]:
    require(isinstance(points, list), source, field, type(points).__name__, "not a list")
    values: dict[dt.date, float] = {}
    for i, point in enumerate(points):
        require(isinstance(point, dict), source, f"{field}[{i}]", point, "not an object")
        day = llama_day(point.get("date"), source, f"{field}[{i}].date", live=i == len(points) - 1)
        if start <= day <= end:
            if not positive and ("circulating" not in point or _zero_balance(point["circulating"])):
                values[day] = 0.0
                continue
            circulating = point.get("circulating")
            require(
                isinstance(circulating, dict),
                source,
                f"{field}[{i}].circulating",
                circulating,
                "missing" if "circulating" not in point else "not an object",
            )
            values[day] = amount(
                circulating.get(PEG),
                source,
                f"{field}[{i}].circulating.{PEG}",
                positive=positive,
            )
    return values


def _zero_balance(circulating: Any) -> bool:
    """The amount of a per-chain entry for a day the chain held none of the token. DefiLlama
    leaves zero values out, so such an entry has no `circulating` (the caller checks that),
    `circulating: 0` (its open-source stablecoin server writes `circulating:
    item[chain].circulating ?? 0` in craftProtocolResponse), or an empty `circulating`; the
    same holds for `totalCirculating` in a per-chain chart row. Anything else is read as a
    balance and rejected if it is not one."""
    return circulating == {} or (type(circulating) in (int, float) and circulating == 0)


def parse_token(
    payload: Any, token: str, start: dt.date, end: dt.date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`/stablecoin/{id}` -> (all-chain supply per day, supply per chain and day)."""
    source = f"defillama /stablecoin/{TOKENS[token]}"
    require_shape(payload, dict, source, ("tokens",))
    require(
        payload.get("pegType") == PEG, source, "pegType", payload.get("pegType"), f"expected {PEG}"
    )
    # The id must still name the coin followed (DefiLlama's answer carries its symbol).
    require(
        payload.get("symbol", token) == token,
        source,
        "symbol",
        payload.get("symbol"),
        f"expected {token}: DefiLlama id {TOKENS[token]} names another coin",
    )
    totals = _token_series(payload.get("tokens"), source, "tokens", start, end, positive=True)
    require_every_day(set(totals), start, end, source, "tokens[].date")

    chains = payload.get("chainBalances")
    require(
        isinstance(chains, dict), source, "chainBalances", type(chains).__name__, "not an object"
    )
    rows: list[tuple[dt.date, str, float]] = []
    for chain, balance in sorted(chains.items()):
        field = f"chainBalances.{chain}.tokens"
        require(
            isinstance(balance, dict), source, f"chainBalances.{chain}", balance, "not an object"
        )
        # A chain can hold zero tokens of a coin on some days; it can never hold fewer.
        series = _token_series(balance.get("tokens"), source, field, start, end, positive=False)
        if series and chain in _READ_CHAINS:  # from its first day in the window to its
            # last, every day (a series may start or stop inside the window). Only the chains
            # read here: DefiLlama drops a day from a chain whose daily record missed it
            # (getPeggedAsset filters undefined circulating), and a hole in a chain nothing
            # compares must not fail the token's window
            require_every_day(set(series), min(series), max(series), source, f"{field}[].date")
        rows.extend((day, chain, value) for day, value in series.items())

    total_frame = pl.DataFrame(
        {"date": list(totals), "token": token, "circulating_tokens": list(totals.values())},
        schema={"date": pl.Date, "token": pl.Utf8, "circulating_tokens": pl.Float64},
    )
    chain_frame = pl.DataFrame(
        rows,
        schema={"date": pl.Date, "chain": pl.Utf8, "circulating_tokens": pl.Float64},
        orient="row",
    ).with_columns(token=pl.lit(token))
    return total_frame, chain_frame


@raw_asset("defillama_total_supply")
def defillama_total_supply(
    context: dg.AssetExecutionContext, defillama: HttpSource, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Total supply of all USD-pegged stablecoins, one row per UTC day (the close of the
    day: DefiLlama's row stamped the next day).

    Source: DefiLlama `/stablecoincharts/all` (`totalCirculating.peggedUSD`, all chains).
    One request serves any window.
    """
    start, end = window_of(context)
    before = defillama.requests_made  # the client may serve several steps of a run
    payload = defillama.get_json("/stablecoincharts/all")
    frame = parse_total_supply(payload, start, end)
    frame = stamp(frame, "defillama /stablecoincharts/all", utc_now())
    plausible = plausibility.check_window(
        context, warehouse, "raw.defillama_total_supply", frame, start, end
    )
    written = warehouse.replace_window(
        start, end, Rows("raw.defillama_total_supply", frame, ["date"])
    )
    return dg.MaterializeResult(
        metadata={
            "rows": written["raw.defillama_total_supply"],
            "window": f"{start}..{end}",
            "requests": defillama.requests_made - before,
            **_newest_is_live(payload, end),
            **warn_incomplete(context, ["total"], start, end),
            **plausible,
        }
    )


@raw_asset(
    "defillama_token_supply",
    "defillama_token_supply_by_chain",
    name="defillama_token_supply",
)
def defillama_token_supply(
    context: dg.AssetExecutionContext, defillama: HttpSource, warehouse: Warehouse
):
    """Both tables are fetched together and written in one transaction. Which requests a
    window needs, and why: the module docstring."""
    start, end = window_of(context)
    before = defillama.requests_made  # the client may serve several steps of a run
    ingested_at = utc_now()
    totals, by_chain = [], []
    early_chains: set[str] = set()
    live: dict[str, str] = {}
    changes: list[str] = []
    for token, llama_id in TOKENS.items():
        chart = defillama.get_json("/stablecoincharts/all", params={"stablecoin": llama_id})
        totals.append(
            stamp(
                parse_token_chart(chart, token, start, end), token_chart_source(token), ingested_at
            )
        )
        live.update(_newest_is_live(chart, end))
        if end >= HISTORY_START:
            # tokens[] is read too (not stored): every day of the window must be in the answer.
            first = max(start, HISTORY_START)
            _, chains = parse_token(
                defillama.get_json(f"/stablecoin/{llama_id}"), token, first, end
            )
            source = f"defillama /stablecoin/{llama_id}"
            changes += check_chain_changes(context, warehouse, token, source, chains, first, end)
            by_chain.append(stamp(chains, source, ingested_at))
        if start < HISTORY_START:
            for chain in _chains_carrying(token):
                name = chain.defillama_chain
                payload = defillama.get_json(
                    chain_chart_path(name), params={"stablecoin": llama_id}
                )
                rows = parse_chain_chart(
                    payload, token, name, start, min(end, HISTORY_START - dt.timedelta(days=1))
                )
                by_chain.append(stamp(rows, chain_chart_source(token, name), ingested_at))
                early_chains.add(name)
    chain_rows, token_rows = pl.concat(by_chain), pl.concat(totals)
    check_chains_within_total(chain_rows, token_rows)
    plausible = {
        table: plausibility.check_window(context, warehouse, table, rows, start, end)
        for table, rows in (
            ("raw.defillama_token_supply", token_rows),
            ("raw.defillama_token_supply_by_chain", chain_rows),
        )
    }
    written = warehouse.replace_window(
        start,
        end,
        Rows("raw.defillama_token_supply", token_rows, ["date", "token"]),
        Rows("raw.defillama_token_supply_by_chain", chain_rows, ["date", "token", "chain"]),
    )
    chains_seen = sorted(set(chain_rows["chain"].to_list()))
    incomplete = warn_incomplete(context, list(TOKENS), start, end)
    for table, rows in written.items():
        extra = dict(plausible[table])
        if table == "raw.defillama_token_supply":
            extra.update(live)
            extra.update(incomplete)
        if table.endswith("by_chain"):
            extra["chains"] = ", ".join(chains_seen)
            if early_chains:
                extra[f"chains before {HISTORY_START}"] = ", ".join(sorted(early_chains))
            if changes:
                extra["chain_changes"] = "\n".join(changes)
        yield dg.MaterializeResult(
            asset_key=table.split("."),
            metadata={
                "rows": rows,
                "window": f"{start}..{end}",
                "requests": defillama.requests_made - before,
                **extra,
            },
        )


def check_chain_changes(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    token: str,
    source: str,
    chains: pl.DataFrame,
    first: dt.date,
    end: dt.date,
) -> list[str]:
    """Compare the chains of a `/stablecoin/{id}` answer (days first..end) with the chains
    stored from that endpoint for the day before, the days of and the day after the window.
    A chain that appears or disappears fails the run naming it (DefiLlama renamed, added or
    dropped it: under a new name its series would silently end and another begin), unless
    assets/ingest/plausibility.yaml allows the change; an allowed one is logged. Returns the
    allowed changes' descriptions."""
    table = "raw.defillama_token_supply_by_chain"
    if not warehouse.table_exists(table):
        return []
    stored = warehouse.read(
        f"SELECT date, chain FROM {table} WHERE token = ? AND source = ? AND date BETWEEN ? AND ?",
        [token, source, first - _DAY, end + _DAY],
    )
    config = plausibility.config()
    failing, allowed = [], []
    for change in plausibility.chain_changes(chains, stored, first, end):
        entry = config.allows(token, change.chain, change.change)
        if entry is not None:
            allowed.append(f"{token} {change.describe()}: allowed ({entry.reason})")
        elif change.change == "appears" and config.new_chains == "warn":
            allowed.append(f"{token} {change.describe()}: new chains only warn (new_chains)")
        else:
            failing.append(change)
    if failing:
        raise SourceDataError(
            source,
            "chainBalances",
            "; ".join(f"{c.chain} {c.change}" for c in failing),
            f"the {token} chains differ from the stored ones: "
            f"{'; '.join(c.describe() for c in failing)}. DefiLlama renamed, added or dropped "
            "a chain; written as served, the old chain's series would end and a new one begin. "
            "Nothing was written. If the change is real, list it under chain_changes.allowed in "
            "assets/ingest/plausibility.yaml (token, chain, change: appears|disappears, reason).",
        )
    for line in allowed:
        context.log.warning(f"CHAIN CHANGE {source}: {line}")
    return allowed


def check_chains_within_total(chain_rows: pl.DataFrame, token_rows: pl.DataFrame) -> None:
    """No chain may hold more of a token than all chains together (the ceiling in
    assets/ingest/plausibility.yaml): a unit error on one chain fails the run before the write."""
    ceiling = plausibility.config().ceiling("chain within all chains")
    frame = chain_rows.select(
        "date",
        "token",
        "chain",
        pl.col("circulating_tokens").alias("value"),
        "source",
    ).join(
        token_rows.select("date", "token", pl.col("circulating_tokens").alias("ceiling")),
        on=["date", "token"],
    )
    excess = plausibility.over_ceiling(frame, ceiling)
    if excess:
        first = excess[0]
        raise SourceDataError(
            first.row["source"],
            first.field,
            first.row["value"],
            f"implausible: {first.describe()}. Nothing was written.",
        )


def _chains_carrying(token: str) -> list[Chain]:
    """The configured chains the pipeline follows `token` on."""
    return [chain for chain in CHAINS if any(t.symbol == token for t in chain.tokens)]
