"""DefiLlama stablecoins API (https://stablecoins.llama.fi, free, keyless).

Owns: raw.defillama_total_supply, raw.defillama_token_supply, raw.defillama_token_supply_by_chain.

Sampling time: DefiLlama keeps one row per UTC day, stamped 00:00 of that day, and updates
it while the day runs; once the day has ended the row holds the day's last snapshot. So a
row stamped D is end-of-day D, and only days that have ended are ingested (the newest
partition is yesterday). DefiLlama also rewrites recent days after the fact: re-ingesting a
day replaces it. Amounts are peg-native (`peggedUSD`: whole tokens), never USD-converted.
"""


import datetime as dt
from typing import Any

import dagster as dg
import polars as pl

from assets.ingest.parsing import amount, require, require_every_day, stamp, utc_day, utc_now
from pipelines.partitions import DAILY, window_of
from pipelines.resources import HttpSource, Rows, Warehouse

# DefiLlama stablecoin ids of the tokens the pipeline follows.
TOKENS = {"USDT": 1, "USDC": 2}
PEG = "peggedUSD"


def parse_total_supply(payload: Any, start: dt.date, end: dt.date) -> pl.DataFrame:
    """`/stablecoincharts/all` rows dated start..end -> (date, circulating_usd)."""
    source = "defillama /stablecoincharts/all"
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
    return pl.DataFrame(
        {"date": list(values), "circulating_usd": list(values.values())},
        schema={"date": pl.Date, "circulating_usd": pl.Float64},
    ).sort("date")


def _token_series(
    points: Any, source: str, field: str, start: dt.date, end: dt.date, positive: bool
) -> dict[dt.date, float]:
    require(isinstance(points, list), source, field, type(points).__name__, "not a list")
    values: dict[dt.date, float] = {}
    for i, point in enumerate(points):
        require(isinstance(point, dict), source, f"{field}[{i}]", point, "not an object")
        day = utc_day(point.get("date"), source, f"{field}[{i}].date")
        if start <= day <= end:
            if not positive and _zero_balance(point):
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


def _zero_balance(point: dict) -> bool:
    """A per-chain entry for a day the chain held none of the token. DefiLlama leaves zero
    values out, so such an entry has no `circulating`, `circulating: 0` (its open-source
    stablecoin server writes `circulating: item[chain].circulating ?? 0` in
    craftProtocolResponse), or an empty `circulating`. Anything else is read as a balance and
    rejected if it is not one."""
    if "circulating" not in point:
        return True
    circulating = point["circulating"]
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
            "token and UTC day. Source: DefiLlama `/stablecoin/{id}` `tokens[]`.",
        ),
        dg.AssetSpec(
            ["raw", "defillama_token_supply_by_chain"],
            group_name="ingest",
            kinds={"duckdb"},
            description="USDT and USDC circulating supply per chain, one row per token, "
            "chain and UTC day, for the days DefiLlama reports that chain. Source: "
            "DefiLlama `/stablecoin/{id}` `chainBalances`.",
        ),
    ],
    name="defillama_token_supply",
    **_COMMON,
)
def defillama_token_supply(
    context: dg.AssetExecutionContext, defillama: HttpSource, warehouse: Warehouse
):
    """Both tables come from the same response, so they are fetched once and written together."""
    start, end = window_of(context)
    before = defillama.requests_made  # the client may serve several steps of a run
    ingested_at = utc_now()
    totals, by_chain = [], []
    for token, llama_id in TOKENS.items():
        payload = defillama.get_json(f"/stablecoin/{llama_id}")
        total, chains = parse_token(payload, token, start, end)
        source = f"defillama /stablecoin/{llama_id}"
        totals.append(stamp(total, source, ingested_at))
        by_chain.append(stamp(chains, source, ingested_at))
    written = warehouse.replace_window(
        start,
        end,
        Rows("raw.defillama_token_supply", pl.concat(totals), ["date", "token"]),
        Rows("raw.defillama_token_supply_by_chain", pl.concat(by_chain),
             ["date", "token", "chain"]),
    )
    chains_seen = sorted(set(pl.concat(by_chain)["chain"].to_list()))
    for table, rows in written.items():
        yield dg.MaterializeResult(
            asset_key=table.split("."),
            metadata={
                "rows": rows,
                "window": f"{start}..{end}",
                "requests": defillama.requests_made - before,
                **({"chains": ", ".join(chains_seen)} if table.endswith("by_chain") else {}),
            },
        )
