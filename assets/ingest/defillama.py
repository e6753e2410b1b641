"""DefiLlama stablecoins API (https://stablecoins.llama.fi, free, keyless).

Owns: raw.defillama_total_supply, raw.defillama_token_supply, raw.defillama_token_supply_by_chain.

Sampling time: DefiLlama keeps one row per UTC day, stamped 00:00 of that day, and updates
it while the day runs; once the day has ended the row holds the day's last snapshot. So a
row stamped D is end-of-day D, and only days that have ended are ingested (the newest
partition is yesterday). DefiLlama also rewrites recent days after the fact: re-ingesting a
day replaces it. Amounts are peg-native (`peggedUSD`: whole tokens), never USD-converted.

History cut. `/stablecoin/{id}` serves its history (`tokens[]` and every
`chainBalances.<Chain>.tokens[]`) only from unix time 1652241600 (2022-05-11 04:00 UTC):
DefiLlama's stablecoin server filters `balances.filter((item) => item.SK >= 1652241600)` in
getStablecoinData ("currently frontend does not use data before May 11, 2022 for individual
stablecoins"; its older craftProtocolResponse passed the same 1652241600 to
getHistoricalValues). Daily records are stamped 00:00 UTC, so the first day it serves is
2022-05-12 (HISTORY_START). The chart endpoints keep the whole history, so:

- raw.defillama_token_supply (all chains) comes from `/stablecoincharts/all?stablecoin={id}`
  for every day (`totalCirculating.peggedUSD`, rows shaped like `/stablecoincharts/all`).
- raw.defillama_token_supply_by_chain comes from `/stablecoin/{id}` `chainBalances` for days
  from 2022-05-12 on (every chain DefiLlama reports), and for earlier days from
  `/stablecoincharts/{Chain}?stablecoin={id}` for each chain of pipelines/chains.yaml that
  carries the token (`defillama_chain`, default the chain name title-cased). So before
  2022-05-12 only the configured chains have per-chain rows.

A per-chain chart row without a circulating amount (none, 0 or {}) is a zero balance, the
`_zero_balance` rule. Days before a chart's first row get no row: the table holds the days
DefiLlama reports for a chain, as `chainBalances` does. A chart that starts late does not
show whether the token reached the chain later or DefiLlama has no earlier history for it
(its older chart code started chains outside a backfilled list at 1652241600), so writing
zeros there could be wrong. A missing day after the first row, or an empty chart (DefiLlama's
answer when it cannot build one: an unknown chain name, or a token it never saw on that
chain), fails the run, naming the source, field and value.

Requests per run: 1 for raw.defillama_total_supply; for the two token tables, per token, 1
chart, plus 1 `/stablecoin/{id}` if the window reaches 2022-05-12 or later, plus 1 chart for
each configured chain carrying the token if the window starts before 2022-05-12. With
chains.yaml's Ethereum (USDT and USDC): 4 for a window from 2022-05-12 on (every daily run),
6 for a window across 2022-05-12, 4 for a window that ends before it.
"""


import datetime as dt
from typing import Any
from urllib.parse import quote

import dagster as dg
import polars as pl

from assets.ingest.parsing import amount, require, require_every_day, stamp, utc_day, utc_now
from pipelines.chains import CHAINS, Chain
from pipelines.partitions import DAILY, window_of
from pipelines.resources import HttpSource, Rows, Warehouse

# DefiLlama stablecoin ids of the tokens the pipeline follows.
TOKENS = {"USDT": 1, "USDC": 2}
PEG = "peggedUSD"
# `/stablecoin/{id}` keeps the daily records at or after this time (2022-05-11 04:00 UTC; see
# the module docstring), so its first day (records are stamped 00:00 UTC) is the first
# midnight at or after it: 2022-05-12.
HISTORY_CUT = 1652241600
HISTORY_START = dt.datetime.fromtimestamp(-(-HISTORY_CUT // 86_400) * 86_400, dt.UTC).date()


def token_chart_source(token: str) -> str:
    return f"defillama /stablecoincharts/all?stablecoin={TOKENS[token]}"


def chain_chart_path(llama_chain: str) -> str:
    return f"/stablecoincharts/{quote(llama_chain, safe='')}"


def chain_chart_source(token: str, llama_chain: str) -> str:
    return f"defillama {chain_chart_path(llama_chain)}?stablecoin={TOKENS[token]}"


def _chart_totals(payload: Any, source: str, start: dt.date, end: dt.date) -> dict[dt.date, float]:
    """`totalCirculating.peggedUSD` of a chart's rows dated start..end, every day required."""
    require(isinstance(payload, list), source, "(body)", type(payload).__name__, "not a list")
    values: dict[dt.date, float] = {}
    for i, row in enumerate(payload):
        require(isinstance(row, dict), source, f"[{i}]", row, "not an object")
        day = utc_day(row.get("date"), source, f"[{i}].date")
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
    require(isinstance(payload, list), source, "(body)", type(payload).__name__, "not a list")
    require(len(payload) > 0, source, "(body)", payload,
            f"no chart: DefiLlama answers [] when it cannot build one (a chain name it does "
            f"not know, or {token} never seen on it); check defillama_chain in "
            f"pipelines/chains.yaml")
    values: dict[dt.date, float] = {}
    first = None
    for i, row in enumerate(payload):
        require(isinstance(row, dict), source, f"[{i}]", row, "not an object")
        day = utc_day(row.get("date"), source, f"[{i}].date")
        first = day if first is None else min(first, day)
        if start <= day <= end:
            if "totalCirculating" not in row or _zero_balance(row["totalCirculating"]):
                values[day] = 0.0
                continue
            total = row["totalCirculating"]
            require(isinstance(total, dict), source, f"[{i}].totalCirculating", total,
                    "not an object")
            # Later rows for the same day are later snapshots of it.
            values[day] = amount(total.get(PEG), source, f"[{i}].totalCirculating.{PEG}",
                                 positive=False)
    require_every_day(set(values), max(start, first), end, source, "date")
    return pl.DataFrame(
        {"date": list(values), "chain": llama_chain, "circulating_tokens": list(values.values())},
        schema={"date": pl.Date, "chain": pl.Utf8, "circulating_tokens": pl.Float64},
    ).with_columns(token=pl.lit(token)).sort("date")


def _token_series(
    points: Any, source: str, field: str, start: dt.date, end: dt.date, positive: bool
) -> dict[dt.date, float]:
    require(isinstance(points, list), source, field, type(points).__name__, "not a list")
    values: dict[dt.date, float] = {}
    for i, point in enumerate(points):
        require(isinstance(point, dict), source, f"{field}[{i}]", point, "not an object")
        day = utc_day(point.get("date"), source, f"{field}[{i}].date")
        if start <= day <= end:
            if not positive and ("circulating" not in point
                                 or _zero_balance(point["circulating"])):
                values[day] = 0.0
                continue
            circulating = point.get("circulating")
            require(
                isinstance(circulating, dict), source, f"{field}[{i}].circulating",
                circulating, "missing" if "circulating" not in point else "not an object",
            )
            values[day] = amount(
                circulating.get(PEG), source, f"{field}[{i}].circulating.{PEG}",
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
    require(isinstance(payload, dict), source, "(body)", type(payload).__name__, "not an object")
    require(payload.get("pegType") == PEG, source, "pegType", payload.get("pegType"),
            f"expected {PEG}")
    totals = _token_series(payload.get("tokens"), source, "tokens", start, end, positive=True)
    require_every_day(set(totals), start, end, source, "tokens[].date")

    chains = payload.get("chainBalances")
    require(isinstance(chains, dict), source, "chainBalances", type(chains).__name__,
            "not an object")
    rows: list[tuple[dt.date, str, float]] = []
    for chain, balance in sorted(chains.items()):
        field = f"chainBalances.{chain}.tokens"
        require(isinstance(balance, dict), source, f"chainBalances.{chain}", balance,
                "not an object")
        # A chain can hold zero tokens of a coin on some days; it can never hold fewer.
        series = _token_series(balance.get("tokens"), source, field, start, end, positive=False)
        rows.extend((day, chain, value) for day, value in series.items())

    total_frame = pl.DataFrame(
        {"date": list(totals), "token": token, "circulating_tokens": list(totals.values())},
        schema={"date": pl.Date, "token": pl.Utf8, "circulating_tokens": pl.Float64},
    )
    chain_frame = pl.DataFrame(
        rows, schema={"date": pl.Date, "chain": pl.Utf8, "circulating_tokens": pl.Float64},
        orient="row",
    ).with_columns(token=pl.lit(token))
    return total_frame, chain_frame


_COMMON = dict(
    partitions_def=DAILY,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="duckdb",
)


@dg.asset(
    key=["raw", "defillama_total_supply"],
    group_name="ingest",
    kinds={"duckdb"},
    **_COMMON,
)
def defillama_total_supply(
    context: dg.AssetExecutionContext, defillama: HttpSource, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Total supply of all USD-pegged stablecoins, one row per UTC day.

    Source: DefiLlama `/stablecoincharts/all` (`totalCirculating.peggedUSD`, all chains).
    One request serves any window.
    """
    start, end = window_of(context)
    before = defillama.requests_made  # the client may serve several steps of a run
    frame = parse_total_supply(defillama.get_json("/stablecoincharts/all"), start, end)
    frame = stamp(frame, "defillama /stablecoincharts/all", utc_now())
    written = warehouse.replace_window(
        start, end, Rows("raw.defillama_total_supply", frame, ["date"])
    )
    return dg.MaterializeResult(
        metadata={
            "rows": written["raw.defillama_total_supply"],
            "window": f"{start}..{end}",
            "requests": defillama.requests_made - before,
        }
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["raw", "defillama_token_supply"],
            group_name="ingest",
            kinds={"duckdb"},
            description="USDT and USDC circulating supply across all chains, one row per "
            "token and UTC day. Source: DefiLlama `/stablecoincharts/all?stablecoin={id}` "
            "`totalCirculating` (the whole history; `/stablecoin/{id}` keeps only days from "
            "2022-05-12).",
        ),
        dg.AssetSpec(
            ["raw", "defillama_token_supply_by_chain"],
            group_name="ingest",
            kinds={"duckdb"},
            description="USDT and USDC circulating supply per chain, one row per token, "
            "chain and UTC day, for the days DefiLlama reports that chain. Source: "
            "DefiLlama `/stablecoin/{id}` `chainBalances` from 2022-05-12 (every chain); "
            "before that `/stablecoincharts/{Chain}?stablecoin={id}` for the chains of "
            "pipelines/chains.yaml only.",
        ),
    ],
    name="defillama_token_supply",
    **_COMMON,
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
    for token, llama_id in TOKENS.items():
        chart = defillama.get_json("/stablecoincharts/all", params={"stablecoin": llama_id})
        totals.append(stamp(parse_token_chart(chart, token, start, end),
                            token_chart_source(token), ingested_at))
        if end >= HISTORY_START:
            # tokens[] is read too (not stored): every day of the window must be in the answer.
            _, chains = parse_token(defillama.get_json(f"/stablecoin/{llama_id}"), token,
                                    max(start, HISTORY_START), end)
            by_chain.append(stamp(chains, f"defillama /stablecoin/{llama_id}", ingested_at))
        if start < HISTORY_START:
            for chain in _chains_carrying(token):
                name = chain.defillama_chain
                payload = defillama.get_json(chain_chart_path(name),
                                             params={"stablecoin": llama_id})
                rows = parse_chain_chart(payload, token, name, start,
                                         min(end, HISTORY_START - dt.timedelta(days=1)))
                by_chain.append(stamp(rows, chain_chart_source(token, name), ingested_at))
                early_chains.add(name)
    chain_rows = pl.concat(by_chain)
    written = warehouse.replace_window(
        start,
        end,
        Rows("raw.defillama_token_supply", pl.concat(totals), ["date", "token"]),
        Rows("raw.defillama_token_supply_by_chain", chain_rows, ["date", "token", "chain"]),
    )
    chains_seen = sorted(set(chain_rows["chain"].to_list()))
    for table, rows in written.items():
        extra = {}
        if table.endswith("by_chain"):
            extra["chains"] = ", ".join(chains_seen)
            if early_chains:
                extra[f"chains before {HISTORY_START}"] = ", ".join(sorted(early_chains))
        yield dg.MaterializeResult(
            asset_key=table.split("."),
            metadata={
                "rows": rows,
                "window": f"{start}..{end}",
                "requests": defillama.requests_made - before,
                **extra,
            },
        )


def _chains_carrying(token: str) -> list[Chain]:
    """The configured chains the pipeline follows `token` on."""
    return [chain for chain in CHAINS if any(t.symbol == token for t in chain.tokens)]
