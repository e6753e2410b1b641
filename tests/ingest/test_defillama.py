"""DefiLlama parsers against the real recordings, revisions, and bad input."""

import copy
import datetime as dt
import json

import polars as pl
import pytest

from assets.ingest.defillama import defillama_token_supply, parse_token, parse_total_supply
from pipelines.resources import Rows, SourceDataError
from sandbox.replay import RECORDINGS, ZERO_ENTRIES, build_stablecoin
from tests.conftest import materialize

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
    # Only a left-out zero reads as 0: anything else in a chain's `circulating` must be a balance.
    "chain balance a string": (lambda p: p["chainBalances"]["Ethereum"]["tokens"][-1]["circulating"].update(peggedUSD="12"), "not a number"),
    "chain circulating a string": (lambda p: p["chainBalances"]["Ethereum"]["tokens"][-1].update(circulating="12"), "not an object"),
    "chain circulating null": (lambda p: p["chainBalances"]["Ethereum"]["tokens"][-1].update(circulating=None), "not an object"),
    "chain circulating a number": (lambda p: p["chainBalances"]["Ethereum"]["tokens"][-1].update(circulating=5), "not an object"),
    "chain circulating another peg": (lambda p: p["chainBalances"]["Ethereum"]["tokens"][-1].update(circulating={"peggedEUR": 1.0}), "not a number"),
    # The all-chain total is never zero, so a left-out one is an error.
    "total without circulating": (lambda p: p["tokens"][-1].pop("circulating"), "missing"),
    "total with empty circulating": (lambda p: p["tokens"][-1].update(circulating={}), "not a number"),
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


def test_a_non_numeric_chain_balance_names_the_entry_and_the_value():
    payload = build_stablecoin(1)
    entries = payload["chainBalances"]["Ethereum"]["tokens"]
    entries[-1]["circulating"] = "12.3M"
    with pytest.raises(SourceDataError) as err:
        parse_token(payload, "USDT", D(2022, 7, 1), D(2022, 7, 31))
    assert str(err.value) == (f"defillama /stablecoin/1: field 'chainBalances.Ethereum.tokens"
                              f"[{len(entries) - 1}].circulating' = '12.3M': not an object")


# From usdc_circulating_by_chain_2022_2023.csv (UTC midnights printed in New York time): Aptos
# holds 0 USDC until the row "2022-10-24 20:00:00" (2022-10-25 UTC), zkSync Era holds 0 all
# through October 2022.
APTOS_FIRST_USDC = (D(2022, 10, 25), 16_566_823.242743)


@pytest.mark.parametrize("shape", sorted(ZERO_ENTRIES))
def test_a_chains_zero_days_are_stored_as_zero_however_defillama_writes_them(
        resources, replay, warehouse, shape):
    replay.configure(llama_zero_entry=shape)
    _, body = replay.answer("/defillama/stablecoin/2", {})
    aptos = json.loads(body)["chainBalances"]["Aptos"]["tokens"]
    oct_20 = int(dt.datetime(2022, 10, 20, tzinfo=dt.UTC).timestamp())
    assert next(e for e in aptos if e["date"] == oct_20) == ZERO_ENTRIES[shape](oct_20)

    assert materialize([defillama_token_supply], resources, D(2022, 10, 20), D(2022, 10, 31)).success
    stored = warehouse.read("SELECT date, chain, circulating_tokens FROM "
                            "raw.defillama_token_supply_by_chain WHERE token = 'USDC'")
    value = {(d, c): v for d, c, v in stored.rows()}
    assert [value[(D(2022, 10, d), "Aptos")] for d in range(20, 25)] == [0.0] * 5
    assert value[(APTOS_FIRST_USDC[0], "Aptos")] == pytest.approx(APTOS_FIRST_USDC[1])
    assert {v for (d, c), v in value.items() if c == "zkSync Era"} == {0.0}
    assert len({d for d, _ in value}) == 12  # every day of the window, for every chain
