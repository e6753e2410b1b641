"""DefiLlama parsers against the real recordings, revisions, and bad input."""

import copy
import datetime as dt
import json

import polars as pl
import pytest

from assets.ingest.defillama import parse_token, parse_total_supply
from pipelines.resources import Rows, SourceDataError
from sandbox.replay import RECORDINGS, build_stablecoin

D = dt.date
CHARTS = RECORDINGS / "defillama"


def capture(day: str) -> list:
    return json.loads((CHARTS / f"stablecoincharts_all_{day}.json").read_text())


def recorded_total(payload: list, day: dt.date) -> float:
    ts = str(int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()))
    (row,) = [r for r in payload if r["date"] == ts]
    return row["totalCirculating"]["peggedUSD"]


def test_total_supply_matches_the_recorded_peg_native_values():
    payload = capture("2026-08-22")
    frame = parse_total_supply(payload, D(2021, 1, 1), D(2023, 10, 24))
    assert frame.height == 1027 and frame["date"].is_sorted()
    for day in (D(2021, 1, 1), D(2022, 5, 12), D(2023, 10, 24)):
        assert frame.filter(pl.col("date") == day)["circulating_usd"].item() == recorded_total(payload, day)
    # Peg-native, not the USD-converted bucket.
    first = payload[1127]
    assert first["totalCirculating"]["peggedUSD"] != first["totalCirculatingUSD"]["peggedUSD"]


def test_revision_between_captures_replaces_the_revised_days(warehouse):
    """DefiLlama rewrote 20 recent days between the 08-17 and 08-22 captures."""
    older, newer = capture("2026-08-17"), capture("2026-08-22")
    start, end = D(2026, 7, 20), D(2026, 8, 16)
    first = parse_total_supply(older, start, end)
    second = parse_total_supply(newer, start, end)
    changed = first.join(second, on="date").filter(pl.col("circulating_usd") != pl.col("circulating_usd_right"))
    assert changed.height == 19 and changed["date"].min() == D(2026, 7, 29)

    stamp = lambda f, t: f.with_columns(source=pl.lit("defillama /stablecoincharts/all"), ingested_at=pl.lit(t))
    t1, t2 = dt.datetime(2026, 8, 17, 6), dt.datetime(2026, 8, 22, 7)
    warehouse.replace_window(start, end, Rows("raw.defillama_total_supply", stamp(first, t1), ["date"]))
    warehouse.replace_window(start, end, Rows("raw.defillama_total_supply", stamp(second, t2), ["date"]))
    stored = warehouse.read("SELECT * FROM raw.defillama_total_supply ORDER BY date")
    assert stored.height == 28  # one row per day, no duplicates
    assert stored["circulating_usd"].to_list() == [recorded_total(newer, d) for d in stored["date"]]
    revised_at = dict(zip(stored["date"], stored["ingested_at"]))
    assert {revised_at[d] for d in changed["date"]} == {t2}
    assert {t for d, t in revised_at.items() if d not in set(changed["date"])} == {t1}


def test_a_day_the_source_lacks_fails_the_window():
    payload = capture("2026-08-17")  # ends 2026-08-17
    with pytest.raises(SourceDataError, match=r"1 missing day\(s\): 2026-08-18"):
        parse_total_supply(payload, D(2026, 8, 10), D(2026, 8, 18))


def test_token_totals_and_chains_from_the_stablecoin_endpoint():
    payload = build_stablecoin(1)
    totals, chains = parse_token(payload, "USDT", D(2021, 1, 1), D(2023, 10, 24))
    assert totals.height == 1027 and set(totals["token"]) == {"USDT"}
    assert set(chains["chain"]) == {"Ethereum"}  # the only USDT chain the recordings hold
    assert chains["date"].max() == D(2022, 7, 31)
    # Values as recorded (usdt_circulating_daily.csv line 2021-01-01; Ethereum export row 1).
    assert totals.filter(pl.col("date") == D(2021, 1, 1))["circulating_tokens"].item() == 20_037_511_915.0
    assert chains.filter(pl.col("date") == D(2021, 1, 1))["circulating_tokens"].item() == 13_154_092_646


def test_usdc_chains_cover_only_the_recorded_days():
    _, chains = parse_token(build_stablecoin(2), "USDC", D(2021, 1, 1), D(2023, 10, 24))
    tron = chains.filter(pl.col("chain") == "Tron")
    assert (tron["date"].min(), tron["date"].max(), tron.height) == (D(2022, 5, 12), D(2023, 7, 30), 445)
    assert chains.filter(pl.col("chain") == "Ethereum").height == (D(2023, 7, 30) - D(2021, 1, 1)).days + 1


BAD_TOKEN_PAYLOADS = {
    "negative total": (lambda p: p["tokens"][-1]["circulating"].update(peggedUSD=-5.0), "must be positive"),
    "string amount": (lambda p: p["tokens"][-1]["circulating"].update(peggedUSD="12"), "not a number"),
    "missing peg key": (lambda p: p["tokens"][-1].update(circulating={"peggedEUR": 1.0}), "not a number"),
    "absurd amount": (lambda p: p["tokens"][-1]["circulating"].update(peggedUSD=3e15), "implausibly large"),
    "bad date": (lambda p: p["tokens"][-1].update(date="yesterday"), "not a unix timestamp"),
    "wrong peg type": (lambda p: p.update(pegType="peggedEUR"), "expected peggedUSD"),
    "negative chain balance": (lambda p: p["chainBalances"]["Ethereum"]["tokens"][-1]["circulating"].update(peggedUSD=-1), "must not be negative"),
}


@pytest.mark.parametrize("case", sorted(BAD_TOKEN_PAYLOADS))
def test_bad_values_fail_with_source_field_and_value(case):
    payload = build_stablecoin(1)
    payload["tokens"] = [p for p in payload["tokens"] if p["date"] <= 1_659_225_600]  # to 2022-07-31
    mutate, reason = BAD_TOKEN_PAYLOADS[case]
    mutate(payload)
    with pytest.raises(SourceDataError, match=reason) as err:
        parse_token(payload, "USDT", D(2022, 7, 1), D(2022, 7, 31))
    assert str(err.value).startswith("defillama /stablecoin/1: field ")


def test_bad_total_supply_row_names_its_index():
    payload = copy.deepcopy(capture("2026-08-17"))
    payload[-2]["totalCirculating"]["peggedUSD"] = None
    with pytest.raises(SourceDataError, match=r"field '\[3182\]\.totalCirculating\.peggedUSD' = None"):
        parse_total_supply(payload, D(2026, 8, 1), D(2026, 8, 16))
