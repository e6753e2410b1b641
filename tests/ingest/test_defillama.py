"""DefiLlama parsers against the real recordings, revisions, and bad input; the history cut
of /stablecoin/{id} and the chart endpoints that cover the days before it; the dating of its
rows (a row stamped D+1 00:00 UTC is the close of D) and the known-incomplete history, pinned
against the recordings (assets/ingest/DEFILLAMA_TIMING.md)."""

import copy
import csv
import dataclasses
import datetime as dt
import json
import logging

import polars as pl
import pytest

import assets.ingest.defillama as defillama_module
from assets.ingest.defillama import (
    HISTORY_START,
    defillama_token_supply,
    llama_stamp,
    parse_chain_chart,
    parse_token,
    parse_token_chart,
    parse_total_supply,
)
from core.chains import CHAINS
from core.errors import SourceDataError
from core.resources import Rows
from sandbox.replay import (
    LLAMA_HISTORY_CUT,
    RECORDINGS,
    ZERO_ENTRIES,
    build_stablecoin,
    build_stablecoin_chart,
)
from tests.conftest import failure_messages, materialize

D = dt.date
CHARTS = RECORDINGS / "defillama"


def capture(day: str) -> list:
    return json.loads((CHARTS / f"stablecoincharts_all_{day}.json").read_text())


def recorded_total(payload: list, day: dt.date) -> float:
    """The recorded value of `day`'s close: the row stamped 00:00 of the next day."""
    ts = str(llama_stamp(day))
    (row,) = [r for r in payload if r["date"] == ts]
    return row["totalCirculating"]["peggedUSD"]


def test_total_supply_matches_the_recorded_peg_native_values():
    payload = capture("2026-08-22")
    frame = parse_total_supply(payload, D(2021, 1, 1), D(2023, 10, 24))
    assert frame.height == 1027 and frame["date"].is_sorted()
    for day in (D(2021, 1, 1), D(2022, 5, 12), D(2023, 10, 24)):
        assert frame.filter(pl.col("date") == day)["circulating_usd"].item() == recorded_total(
            payload, day
        )
    # Peg-native, not the USD-converted bucket.
    first = payload[1127]
    assert first["totalCirculating"]["peggedUSD"] != first["totalCirculatingUSD"]["peggedUSD"]


def test_revision_between_captures_replaces_the_revised_days(warehouse):
    """DefiLlama rewrote 20 recent days between the 08-17 and 08-22 captures (the last, the
    close of 08-16, was the 08-17 capture's live newest row)."""
    older, newer = capture("2026-08-17"), capture("2026-08-22")
    start, end = D(2026, 7, 20), D(2026, 8, 16)
    first = parse_total_supply(older, start, end)
    second = parse_total_supply(newer, start, end)
    changed = first.join(second, on="date").filter(
        pl.col("circulating_usd") != pl.col("circulating_usd_right")
    )
    assert changed.height == 20 and changed["date"].min() == D(2026, 7, 28)

    def stamp(f, t):
        return f.with_columns(
            source=pl.lit("defillama /stablecoincharts/all"), ingested_at=pl.lit(t)
        )

    t1, t2 = dt.datetime(2026, 8, 17, 6), dt.datetime(2026, 8, 22, 7)
    warehouse.replace_window(
        start, end, Rows("raw.defillama_total_supply", stamp(first, t1), ["date"])
    )
    warehouse.replace_window(
        start, end, Rows("raw.defillama_total_supply", stamp(second, t2), ["date"])
    )
    stored = warehouse.read("SELECT * FROM raw.defillama_total_supply ORDER BY date")
    assert stored.height == 28  # one row per day, no duplicates
    assert stored["circulating_usd"].to_list() == [recorded_total(newer, d) for d in stored["date"]]
    revised_at = dict(zip(stored["date"], stored["ingested_at"]))
    assert {revised_at[d] for d in changed["date"]} == {t2}
    assert {t for d, t in revised_at.items() if d not in set(changed["date"])} == {t1}


def test_a_day_the_source_lacks_fails_the_window():
    payload = capture("2026-08-17")  # its newest row, stamped 2026-08-17, is the close of 08-16
    with pytest.raises(SourceDataError, match=r"1 missing day\(s\): 2026-08-17"):
        parse_total_supply(payload, D(2026, 8, 10), D(2026, 8, 17))


def test_token_totals_and_chains_from_the_stablecoin_endpoint():
    payload = build_stablecoin(1)
    totals, chains = parse_token(payload, "USDT", D(2021, 1, 1), D(2023, 10, 24))
    assert totals.height == 1027 and set(totals["token"]) == {"USDT"}
    # the only USDT chain the recordings hold, and the simulated Arbitrum the sandbox plants
    assert set(chains["chain"]) == {"Ethereum", "Arbitrum"}
    assert set(
        parse_token(build_stablecoin(1, simulated=False), "USDT", D(2021, 1, 1), D(2023, 10, 24))[
            1
        ]["chain"]
    ) == {"Ethereum"}
    assert chains.filter(pl.col("chain") == "Ethereum")["date"].max() == D(2022, 7, 30)
    # The close of 2021-01-01 is the row stamped 2021-01-02: usdt_circulating_daily.csv line
    # 2021-01-02, Ethereum export row 2 (Timestamp 1609545600).
    assert (
        totals.filter(pl.col("date") == D(2021, 1, 1))["circulating_tokens"].item()
        == 20_537_511_915.0
    )
    assert (
        chains.filter((pl.col("date") == D(2021, 1, 1)) & (pl.col("chain") == "Ethereum"))[
            "circulating_tokens"
        ].item()
        == 13_144_511_896
    )


def test_a_chain_missing_a_day_inside_its_series_fails_the_window():
    """A chain's series may start or stop inside the window (USDC on Tron stops), but a day
    missing between two of its rows is a gap in the answer, not a zero."""
    payload = build_stablecoin(1)
    rows = payload["chainBalances"]["Ethereum"]["tokens"]
    gone = str(llama_stamp(D(2021, 3, 2)))
    payload["chainBalances"]["Ethereum"]["tokens"] = [r for r in rows if str(r["date"]) != gone]
    with pytest.raises(SourceDataError, match=r"chainBalances.Ethereum.tokens\[\].date' = '1 "):
        parse_token(payload, "USDT", D(2021, 3, 1), D(2021, 3, 3))
    parse_token(payload, "USDT", D(2021, 3, 3), D(2021, 3, 5))  # the days after it: whole


def test_the_live_row_of_a_series_keeps_its_hourly_time_and_other_chains_may_have_holes():
    """/stablecoin/{id} ends each series with the live hourly record under its own time
    (craftProtocolResponse's replaceLast; the by-chain export's 2023-07-31 10:39 row): read
    as the close of the day before, as the day's first snapshot is. Any other row off midnight
    fails. A hole in a chain stableflow does not read (DefiLlama drops a day a daily record
    missed) does not fail the window."""
    payload = build_stablecoin(1)
    last = payload["tokens"][-1]
    live = int(last["date"]) + 14 * 3600 + 39 * 60  # 14:39 UTC the same day
    payload["tokens"][-1] = {**last, "date": live}
    totals, _ = parse_token(payload, "USDT", D(2021, 3, 1), D(2021, 3, 3))
    assert totals.height == 3
    payload["tokens"][-2] = {
        **payload["tokens"][-2],
        "date": int(payload["tokens"][-2]["date"]) + 60,
    }
    with pytest.raises(SourceDataError, match="not the series' newest"):
        parse_token(payload, "USDT", D(2021, 3, 1), D(2021, 3, 3))

    payload = build_stablecoin(1)
    rows = payload["chainBalances"]["Ethereum"]["tokens"]
    payload["chainBalances"]["Terra"] = {
        "tokens": [r for r in rows if str(r["date"]) != str(llama_stamp(D(2021, 3, 2)))]
    }
    _, chains = parse_token(payload, "USDT", D(2021, 3, 1), D(2021, 3, 3))
    assert chains.filter(pl.col("chain") == "Terra").height == 2


def test_usdc_chains_cover_only_the_recorded_days():
    _, chains = parse_token(build_stablecoin(2), "USDC", D(2021, 1, 1), D(2023, 10, 24))
    tron = chains.filter(pl.col("chain") == "Tron")
    assert (tron["date"].min(), tron["date"].max(), tron.height) == (
        D(2022, 5, 11),
        D(2023, 7, 29),
        445,
    )
    assert (
        chains.filter(pl.col("chain") == "Ethereum").height
        == (D(2023, 7, 29) - D(2021, 1, 1)).days + 1
    )


BAD_TOKEN_PAYLOADS = {
    "negative total": (
        lambda p: p["tokens"][-1]["circulating"].update(peggedUSD=-5.0),
        "must be positive",
    ),
    "string amount": (
        lambda p: p["tokens"][-1]["circulating"].update(peggedUSD="12"),
        "not a number",
    ),
    "missing peg key": (
        lambda p: p["tokens"][-1].update(circulating={"peggedEUR": 1.0}),
        "not a number",
    ),
    "absurd amount": (
        lambda p: p["tokens"][-1]["circulating"].update(peggedUSD=3e15),
        "implausibly large",
    ),
    "bad date": (lambda p: p["tokens"][-1].update(date="yesterday"), "not a unix timestamp"),
    "wrong peg type": (lambda p: p.update(pegType="peggedEUR"), "expected peggedUSD"),
    "negative chain balance": (
        lambda p: p["chainBalances"]["Ethereum"]["tokens"][-1]["circulating"].update(peggedUSD=-1),
        "must not be negative",
    ),
    # Only a left-out zero reads as 0: anything else in a chain's `circulating` must be a balance.
    "chain balance a string": (
        lambda p: p["chainBalances"]["Ethereum"]["tokens"][-1]["circulating"].update(
            peggedUSD="12"
        ),
        "not a number",
    ),
    "chain circulating a string": (
        lambda p: p["chainBalances"]["Ethereum"]["tokens"][-1].update(circulating="12"),
        "not an object",
    ),
    "chain circulating null": (
        lambda p: p["chainBalances"]["Ethereum"]["tokens"][-1].update(circulating=None),
        "not an object",
    ),
    "chain circulating a number": (
        lambda p: p["chainBalances"]["Ethereum"]["tokens"][-1].update(circulating=5),
        "not an object",
    ),
    "chain circulating another peg": (
        lambda p: p["chainBalances"]["Ethereum"]["tokens"][-1].update(
            circulating={"peggedEUR": 1.0}
        ),
        "not a number",
    ),
    # The all-chain total is never zero, so a left-out one is an error.
    "total without circulating": (lambda p: p["tokens"][-1].pop("circulating"), "missing"),
    "total with empty circulating": (
        lambda p: p["tokens"][-1].update(circulating={}),
        "not a number",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_TOKEN_PAYLOADS))
def test_bad_values_fail_with_source_field_and_value(case):
    payload = build_stablecoin(1)
    payload["tokens"] = [
        p for p in payload["tokens"] if p["date"] <= 1_659_225_600
    ]  # to 2022-07-30
    mutate, reason = BAD_TOKEN_PAYLOADS[case]
    mutate(payload)
    with pytest.raises(SourceDataError, match=reason) as err:
        parse_token(payload, "USDT", D(2022, 7, 1), D(2022, 7, 30))
    assert str(err.value).startswith("defillama /stablecoin/1: field ")


def test_bad_total_supply_row_names_its_index():
    payload = copy.deepcopy(capture("2026-08-17"))
    payload[-2]["totalCirculating"]["peggedUSD"] = None
    with pytest.raises(
        SourceDataError, match=r"field '\[3182\]\.totalCirculating\.peggedUSD' = None"
    ):
        parse_total_supply(payload, D(2026, 8, 1), D(2026, 8, 16))


def test_a_non_numeric_chain_balance_names_the_entry_and_the_value():
    payload = build_stablecoin(1)
    entries = payload["chainBalances"]["Ethereum"]["tokens"]
    entries[-1]["circulating"] = "12.3M"
    with pytest.raises(SourceDataError) as err:
        parse_token(payload, "USDT", D(2022, 7, 1), D(2022, 7, 31))
    assert str(err.value) == (
        f"defillama /stablecoin/1: field 'chainBalances.Ethereum.tokens"
        f"[{len(entries) - 1}].circulating' = '12.3M': not an object"
    )


# From usdc_circulating_by_chain_2022_2023.csv (UTC midnights printed in New York time): Aptos
# holds 0 USDC until the row "2022-10-24 20:00:00" (stamped 2022-10-25 UTC: the close of
# 2022-10-24), zkSync Era holds 0 all through October 2022.
APTOS_FIRST_USDC = (D(2022, 10, 24), 16_566_823.242743)


@pytest.mark.parametrize("shape", sorted(ZERO_ENTRIES))
def test_a_chains_zero_days_are_stored_as_zero_however_defillama_writes_them(
    resources, replay, warehouse, shape
):
    replay.configure(llama_zero_entry=shape)
    _, body = replay.answer("/defillama/stablecoin/2", {})
    aptos = json.loads(body)["chainBalances"]["Aptos"]["tokens"]
    oct_20 = int(dt.datetime(2022, 10, 20, tzinfo=dt.UTC).timestamp())
    assert next(e for e in aptos if e["date"] == oct_20) == ZERO_ENTRIES[shape](oct_20)

    assert materialize(
        [defillama_token_supply], resources, D(2022, 10, 20), D(2022, 10, 31)
    ).success
    stored = warehouse.read(
        "SELECT date, chain, circulating_tokens FROM "
        "raw.defillama_token_supply_by_chain WHERE token = 'USDC'"
    )
    value = {(d, c): v for d, c, v in stored.rows()}
    assert [value[(D(2022, 10, d), "Aptos")] for d in range(20, 24)] == [0.0] * 4
    assert value[(APTOS_FIRST_USDC[0], "Aptos")] == pytest.approx(APTOS_FIRST_USDC[1])
    assert {v for (d, c), v in value.items() if c == "zkSync Era"} == {0.0}
    assert len({d for d, _ in value}) == 12  # every day of the window, for every chain


# --- the history cut of /stablecoin/{id}, and the charts that cover the days before it ------

IDS = {"USDT": 1, "USDC": 2}
TOKEN_FILES = {
    "USDT": "stablecoin1_usdt_circulating_daily.csv",
    "USDC": "stablecoin2_usdc_circulating_daily.csv",
}


def midnight(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def recorded_token_supply(start: dt.date, end: dt.date) -> dict[tuple[dt.date, str], float]:
    """(day, token) -> all-chain supply at the day's close, read straight from the token
    recordings: the row stamped the next day."""
    out = {}
    for token, name in TOKEN_FILES.items():
        with open(CHARTS / name) as f:
            for r in csv.DictReader(f):
                day = D.fromisoformat(r["date"]) - dt.timedelta(days=1)
                if start <= day <= end:
                    out[(day, token)] = float(r["supply"])
    return out


def recorded_ethereum(start: dt.date, end: dt.date) -> dict[tuple[dt.date, str], float]:
    """(day, token) -> supply on Ethereum at the day's close, read straight from the Ethereum
    export: the row stamped the next day."""
    out = {}
    with open(CHARTS / "ethereum_supply_by_coin_2021_2022.csv") as f:
        for r in csv.DictReader(f):
            day = dt.datetime.fromtimestamp(int(r["Timestamp"]), dt.UTC).date() - dt.timedelta(
                days=1
            )
            if start <= day <= end:
                out.update({(day, token): float(r[token]) for token in IDS})
    return out


def stored(warehouse, table: str) -> pl.DataFrame:
    return warehouse.read(f"SELECT * EXCLUDE (ingested_at) FROM {table} ORDER BY ALL")


def test_the_cut_is_the_first_midnight_the_real_server_keeps():
    # 1652241600 is 2022-05-11 04:00 UTC; daily records are stamped 00:00 UTC, so the first
    # row `SK >= 1652241600` keeps is stamped 2022-05-12 (where the real by-chain recording
    # starts): the close of 2022-05-11, the first day /stablecoin/{id} serves.
    assert dt.datetime.fromtimestamp(LLAMA_HISTORY_CUT, dt.UTC) == dt.datetime(
        2022, 5, 11, 4, tzinfo=dt.UTC
    )
    assert HISTORY_START == D(2022, 5, 11)
    assert llama_stamp(HISTORY_START) == midnight(D(2022, 5, 12))


@pytest.mark.parametrize("llama_id", [1, 2])
def test_the_replay_serves_stablecoin_history_only_from_the_cut(resources, replay, llama_id):
    payload = resources["defillama"].get_json(f"/stablecoin/{llama_id}")
    days = [p["date"] for p in payload["tokens"]]
    days += [p["date"] for chain in payload["chainBalances"].values() for p in chain["tokens"]]
    assert min(days) == midnight(D(2022, 5, 12))
    assert min(p["date"] for p in payload["tokens"]) == midnight(D(2022, 5, 12))
    assert all(
        chain["tokens"][0]["date"] >= LLAMA_HISTORY_CUT
        for chain in payload["chainBalances"].values()
    )
    # The recordings reach further back: the server, not the recordings, cuts them.
    assert min(p["date"] for p in build_stablecoin(llama_id)["tokens"]) < midnight(D(2021, 1, 1))
    # So a window before the cut cannot be read from /stablecoin/{id}.
    with pytest.raises(SourceDataError, match=r"tokens\[\]\.date.*1 missing day\(s\): 2022-05-10"):
        parse_token(payload, "USDT" if llama_id == 1 else "USDC", D(2022, 5, 10), D(2022, 5, 11))
    replay.configure(llama_history_cut=False)
    uncut = resources["defillama"].get_json(f"/stablecoin/{llama_id}")
    assert uncut == build_stablecoin(llama_id)


@pytest.mark.parametrize("chain", ["all", "Ethereum"])
def test_the_replay_serves_charts_in_the_real_shape(resources, replay, chain):
    rows = resources["defillama"].get_json(f"/stablecoincharts/{chain}", params={"stablecoin": 1})
    assert rows == build_stablecoin_chart(1, chain)
    first = rows[0]
    assert isinstance(first["date"], str) and int(first["date"]) % 86400 == 0
    keys = {"date", "totalCirculating", "totalCirculatingUSD"}
    if chain != "all":  # per-chain rows carry what /stablecoincharts/Terra's do
        keys |= {"totalMintedUSD", "totalBridgedToUSD"}
    assert set(first) == keys
    assert all(
        type(v["peggedUSD"]) in (int, float) for r in rows for k, v in r.items() if k != "date"
    )
    # Peg-native amounts are not the USD-converted ones (recorded CoinGecko price that day).
    day = next(r for r in rows if r["date"] == str(midnight(D(2021, 6, 1))))
    assert day["totalCirculating"]["peggedUSD"] != day["totalCirculatingUSD"]["peggedUSD"]
    # No history cut on the chart endpoints.
    assert int(first["date"]) < LLAMA_HISTORY_CUT
    # Without ?stablecoin=, /stablecoincharts/all is still the recorded all-coin capture.
    assert resources["defillama"].get_json("/stablecoincharts/all") == capture("2026-08-22")


def test_the_replay_answers_empty_where_it_cannot_build_a_chart(resources):
    assert resources["defillama"].get_json("/stablecoincharts/Tron", params={"stablecoin": 1}) == []
    assert (
        resources["defillama"].get_json("/stablecoincharts/Ethereum", params={"stablecoin": 9})
        == []
    )
    # Chain names are matched as the server normalises them; a name with a space is quoted.
    assert resources["defillama"].get_json(
        "/stablecoincharts/ethereum", params={"stablecoin": 2}
    ) == build_stablecoin_chart(2, "Ethereum")
    assert (
        resources["defillama"].get_json("/stablecoincharts/zkSync%20Era", params={"stablecoin": 2})
        == build_stablecoin_chart(2, "zkSync Era")
        != []
    )


@pytest.mark.parametrize(
    "start, end",
    [(D(2021, 1, 1), D(2021, 12, 31)), (D(2023, 1, 1), D(2023, 10, 24))],
    ids=["2021", "2023"],
)
def test_token_supply_is_the_recorded_all_chain_supply(resources, warehouse, start, end):
    assert materialize([defillama_token_supply], resources, start, end).success
    rows = stored(warehouse, "raw.defillama_token_supply")
    assert {(d, t): v for d, t, v, _ in rows.rows()} == recorded_token_supply(start, end)
    assert rows.height == 2 * ((end - start).days + 1)
    assert set(rows["source"]) == {
        "defillama /stablecoincharts/all?stablecoin=1",
        "defillama /stablecoincharts/all?stablecoin=2",
    }
    # The same values /stablecoin/{id} tokens[] held for these days before the cut was modelled.
    for token, llama_id in IDS.items():
        before, _ = parse_token(build_stablecoin(llama_id), token, start, end)
        ours = rows.filter(pl.col("token") == token).select("date", "circulating_tokens")
        assert ours.equals(before.select("date", "circulating_tokens").sort("date"))


def test_a_2021_window_reads_per_chain_rows_from_the_chain_chart(resources, replay, warehouse):
    start, end = D(2021, 1, 1), D(2021, 12, 31)
    assert materialize([defillama_token_supply], resources, start, end).success
    rows = stored(warehouse, "raw.defillama_token_supply_by_chain")
    assert set(rows["chain"]) == {"Ethereum"}  # before the cut, only the configured chains
    assert {(d, t): v for d, t, _, v, _ in rows.rows()} == recorded_ethereum(start, end)
    assert set(rows["source"]) == {
        "defillama /stablecoincharts/Ethereum?stablecoin=1",
        "defillama /stablecoincharts/Ethereum?stablecoin=2",
    }
    assert "/defillama/stablecoin/1" not in replay.requests  # it holds nothing of 2021


def test_a_window_across_the_cut_stitches_both_sources(resources, warehouse):
    start, end = D(2022, 5, 9), D(2022, 5, 11)
    assert materialize([defillama_token_supply], resources, start, end).success
    rows = stored(warehouse, "raw.defillama_token_supply_by_chain")
    ethereum = rows.filter(pl.col("chain") == "Ethereum").sort("token", "date")
    # Every day once per token: no gap, no duplicate.
    assert ethereum.select("token", "date").rows() == [
        (t, D(2022, 5, d)) for t in ("USDC", "USDT") for d in (9, 10, 11)
    ]
    source = {(t, d.day): s for d, t, _, _, s in ethereum.rows()}
    for token, llama_id in IDS.items():
        assert (
            source[(token, 9)]
            == source[(token, 10)]
            == f"defillama /stablecoincharts/Ethereum?stablecoin={llama_id}"
        )
        assert source[(token, 11)] == f"defillama /stablecoin/{llama_id}"
    # The values are the recorded ones on both sides of the seam (the USDC by-chain recording,
    # which starts with the row stamped 2022-05-12, wins over the rounded Ethereum export).
    _, usdc_chains = parse_token(build_stablecoin(2), "USDC", start, end)
    _, usdt_chains = parse_token(build_stablecoin(1), "USDT", start, end)
    # before the cut only the chains read (this session: Ethereum) come from their charts
    expected = (
        pl.concat([usdc_chains, usdt_chains])
        .filter((pl.col("chain") == "Ethereum") | (pl.col("date") >= HISTORY_START))
        .select("date", "token", "chain", "circulating_tokens")
    )
    assert (
        rows.select("date", "token", "chain", "circulating_tokens")
        .sort("date", "token", "chain")
        .equals(expected.sort("date", "token", "chain"))
    )
    # Other chains: only from /stablecoin/{id}, only from the cut on.
    others = rows.filter(pl.col("chain") != "Ethereum")
    assert set(others["date"]) == {HISTORY_START}
    assert set(others["source"]) == {"defillama /stablecoin/1", "defillama /stablecoin/2"}
    assert rows.select("date", "token", "chain").n_unique() == rows.height


def materialized_requests(result) -> dict[str, int]:
    return {
        "/".join(m.asset_key.path): m.metadata["requests"].value
        for m in (e.materialization for e in result.get_asset_materialization_events())
    }


@pytest.mark.parametrize(
    "start, end, paths",
    [
        # A daily run (and any window from 2022-05-11 on): no per-chain chart.
        (
            D(2023, 3, 1),
            D(2023, 3, 1),
            {
                "/defillama/stablecoincharts/all": 2,
                "/defillama/stablecoin/1": 1,
                "/defillama/stablecoin/2": 1,
            },
        ),
        (
            D(2022, 5, 11),
            D(2022, 6, 30),
            {
                "/defillama/stablecoincharts/all": 2,
                "/defillama/stablecoin/1": 1,
                "/defillama/stablecoin/2": 1,
            },
        ),
        # Across the cut: one chart per configured chain and token on top.
        (
            D(2022, 5, 1),
            D(2022, 5, 31),
            {
                "/defillama/stablecoincharts/all": 2,
                "/defillama/stablecoin/1": 1,
                "/defillama/stablecoin/2": 1,
                "/defillama/stablecoincharts/Ethereum": 2,
            },
        ),
        # All before it: /stablecoin/{id} holds nothing of the window, so it is not asked.
        (
            D(2021, 1, 1),
            D(2022, 5, 10),
            {"/defillama/stablecoincharts/all": 2, "/defillama/stablecoincharts/Ethereum": 2},
        ),
    ],
    ids=["daily", "after-the-cut", "across-the-cut", "before-the-cut"],
)
def test_requests_per_run(resources, replay, start, end, paths):
    result = materialize([defillama_token_supply], resources, start, end)
    assert result.success
    assert dict(replay.requests) == paths
    assert materialized_requests(result) == {
        "raw/defillama_token_supply": sum(paths.values()),
        "raw/defillama_token_supply_by_chain": sum(paths.values()),
    }


def with_chain(monkeypatch, **changes):
    """CHAINS with one more chain: a copy of ethereum's entry under another name."""
    extra = dataclasses.replace(CHAINS[0], **changes)
    monkeypatch.setattr(defillama_module, "CHAINS", (*CHAINS, extra))


def test_a_configured_chain_is_asked_under_its_defillama_name(
    resources, replay, warehouse, monkeypatch
):
    # USDC reached zkSync Era after the cut: its chart starts later, so no row before it.
    usdc = tuple(t for t in CHAINS[0].tokens if t.symbol == "USDC")
    with_chain(monkeypatch, name="zksync_era", defillama_chain="zkSync Era", tokens=usdc)
    result = materialize([defillama_token_supply], resources, D(2022, 5, 1), D(2022, 5, 31))
    assert result.success
    assert replay.requests["/defillama/stablecoincharts/zkSync%20Era"] == 1  # USDC only
    era = stored(warehouse, "raw.defillama_token_supply_by_chain").filter(
        pl.col("chain") == "zkSync Era"
    )
    assert era["date"].min() == HISTORY_START and set(era["source"]) == {"defillama /stablecoin/2"}
    assert materialized_requests(result)["raw/defillama_token_supply"] == 7


def test_an_empty_chart_for_a_configured_chain_fails_clearly_and_writes_nothing(
    resources, replay, warehouse, monkeypatch
):
    with_chain(monkeypatch, name="tron", defillama_chain="Tron")  # not recorded: []
    result = materialize(
        [defillama_token_supply], resources, D(2022, 5, 1), D(2022, 5, 31), raise_on_error=False
    )
    assert not result.success
    errors = failure_messages(result)
    assert "defillama /stablecoincharts/Tron?stablecoin=1: field '(body)' = []: no chart" in errors
    assert "check defillama_chain in core/chains.yaml" in errors
    assert (
        not warehouse.table_exists("raw.defillama_token_supply")
        or warehouse.read("SELECT count(*) AS n FROM raw.defillama_token_supply")["n"][0] == 0
    )


def chart_row(day: dt.date, **fields) -> dict:
    """A chart row holding `day`'s close: stamped 00:00 UTC of the next day."""
    return {"date": str(llama_stamp(day)), **fields}


def test_chain_chart_days_before_its_first_row_get_no_row_and_zero_shapes_read_as_zero():
    chart = [
        chart_row(D(2021, 3, 3), totalMintedUSD={"peggedUSD": 5}),  # circulating left out
        chart_row(D(2021, 3, 4), totalCirculating={"peggedUSD": 0}),
        chart_row(D(2021, 3, 5), totalCirculating={}),
        chart_row(D(2021, 3, 6), totalCirculating=0),
        chart_row(D(2021, 3, 7), totalCirculating={"peggedUSD": 12.5}),
    ]
    frame = parse_chain_chart(chart, "USDT", "Ethereum", D(2021, 3, 1), D(2021, 3, 7))
    assert frame.select("date", "circulating_tokens").rows() == [
        (D(2021, 3, d), v) for d, v in ((3, 0.0), (4, 0.0), (5, 0.0), (6, 0.0), (7, 12.5))
    ]
    assert set(frame["chain"]) == {"Ethereum"} and set(frame["token"]) == {"USDT"}
    # A chart that starts after the window gives no row at all.
    assert parse_chain_chart(chart, "USDT", "Ethereum", D(2021, 1, 1), D(2021, 3, 2)).height == 0


BAD_CHAIN_CHARTS = {
    "empty chart": ([], "'(body)' = []: no chart"),
    "not a list": ({"rows": "x"}, "'(body)' = 'dict': not a list"),
    # DefiLlama's error body, sent with status 200: its words, not its shape
    "an error body": (
        {"message": "Internal server error"},
        "'(body)' = 'message: Internal server error': the API answered an error with status 200",
    ),
    # every daily row is stamped at a midnight (DEFILLAMA_TIMING.md): 23:00 is no daily row
    "not a midnight": (  # only the newest (live) row may carry another time
        [
            {"date": str(1614639600), "totalCirculating": {"peggedUSD": 1.0}},
            chart_row(D(2021, 3, 2), totalCirculating={"peggedUSD": 1.0}),
        ],
        "'[0].date' = '1614639600': not a UTC midnight",
    ),
    "milliseconds": (
        [{"date": "1614643200000", "totalCirculating": {"peggedUSD": 1.0}}],
        "'[0].date' = '1614643200000': not a unix timestamp in seconds",
    ),
    "a day missing after the first row": (
        [
            chart_row(D(2021, 3, 1), totalCirculating={"peggedUSD": 1.0}),
            chart_row(D(2021, 3, 3), totalCirculating={"peggedUSD": 1.0}),
        ],
        "'date' = '1 missing day(s): 2021-03-02'",
    ),
    "the chart ends before the window": (
        [chart_row(D(2021, 3, 1), totalCirculating={"peggedUSD": 1.0})],
        "'date' = '2 missing day(s): 2021-03-02, 2021-03-03'",
    ),
    "negative": (
        [chart_row(D(2021, 3, 1), totalCirculating={"peggedUSD": -1.0})],
        "'[0].totalCirculating.peggedUSD' = -1.0: must not be negative",
    ),
    "string amount": (
        [chart_row(D(2021, 3, 1), totalCirculating={"peggedUSD": "12.3M"})],
        "'[0].totalCirculating.peggedUSD' = '12.3M': not a number",
    ),
    "another peg": (
        [chart_row(D(2021, 3, 1), totalCirculating={"peggedEUR": 1.0})],
        "'[0].totalCirculating.peggedUSD' = None: not a number",
    ),
    "circulating a string": (
        [chart_row(D(2021, 3, 1), totalCirculating="n/a")],
        "'[0].totalCirculating' = 'n/a': not an object",
    ),
    "circulating null": (
        [chart_row(D(2021, 3, 1), totalCirculating=None)],
        "'[0].totalCirculating' = None: not an object",
    ),
    "bad date": (
        [{"date": "yesterday", "totalCirculating": {"peggedUSD": 1.0}}],
        "'[0].date' = 'yesterday': not a unix timestamp",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CHAIN_CHARTS))
def test_bad_chain_charts_fail_with_source_field_and_value(case):
    payload, message = BAD_CHAIN_CHARTS[case]
    end = D(2021, 3, 3) if "window" in case or "missing" in case else D(2021, 3, 1)
    with pytest.raises(SourceDataError) as err:
        parse_chain_chart(payload, "USDT", "Ethereum", D(2021, 3, 1), end)
    assert str(err.value).startswith("defillama /stablecoincharts/Ethereum?stablecoin=1: field ")
    assert message in str(err.value)


def test_bad_token_chart_names_its_source_field_and_value():
    chart = build_stablecoin_chart(2)
    index = next(i for i, r in enumerate(chart) if r["date"] == str(llama_stamp(D(2021, 3, 2))))
    chart[index]["totalCirculating"]["peggedUSD"] = -3
    with pytest.raises(SourceDataError) as err:
        parse_token_chart(chart, "USDC", D(2021, 3, 1), D(2021, 3, 3))
    assert str(err.value) == (
        f"defillama /stablecoincharts/all?stablecoin=2: field "
        f"'[{index}].totalCirculating.peggedUSD' = -3: must be positive"
    )
    with pytest.raises(SourceDataError, match=r"stablecoin=2: field 'date' = '1 missing day"):
        parse_token_chart(chart[:index] + chart[index + 1 :], "USDC", D(2021, 3, 1), D(2021, 3, 3))


# --- timing: a row stamped D+1 00:00 UTC is the close of D (DEFILLAMA_TIMING.md) ----------

COINGECKO = RECORDINGS / "coingecko"


def closes_defillama(token: str, start: dt.date, end: dt.date) -> dict[dt.date, float]:
    """The token's all-chain supply per day, as the pipeline parses and dates it."""
    frame = parse_token_chart(build_stablecoin_chart(IDS[token]), token, start, end)
    return dict(zip(frame["date"], frame["circulating_tokens"]))


def closes_coingecko(coin: str, start: dt.date, end: dt.date) -> dict[dt.date, float]:
    """CoinGecko's own supply (market cap / price) per day, as the pipeline parses and dates
    its samples (the 00:00 sample of D+1 is the close of D)."""
    from assets.ingest.coingecko import parse_market_chart

    payload = json.loads((COINGECKO / f"market_chart_{coin}.json").read_text())
    frame = parse_market_chart(payload, coin, start, end)
    return dict(zip(frame["date"], frame["market_cap_usd"] / frame["price_usd"]))


def change_correlation(a: dict, b: dict, start: dt.date, end: dt.date, k: int) -> float:
    """Correlation of daily log changes of a on D with those of b on D+k, D in start..end."""
    import numpy as np

    one = dt.timedelta(days=1)
    xs, ys = [], []
    day = start
    while day <= end:
        other = day + dt.timedelta(days=k)
        if {day, day - one} <= a.keys() and {other, other - one} <= b.keys():
            xs.append(np.log(a[day] / a[day - one]))
            ys.append(np.log(b[other] / b[other - one]))
        day += one
    return float(np.corrcoef(xs, ys)[0, 1])


@pytest.mark.parametrize("year", [2019, 2020, 2021, 2022, 2023])
def test_usdc_moves_with_coingecko_on_the_same_day_under_the_pipelines_dating(year):
    """With the pipeline's dating, DefiLlama's USDC moves on the day CoinGecko's does (lag 0
    beats -1 and +1 by at least 0.1 in every year; USDC's CoinGecko supply follows the chain).
    Dating the row stamped D as D, as before, would make the old "same day" the +1 column."""
    start, end = max(D(year, 1, 1), D(2018, 10, 26)), min(D(year, 12, 31), D(2023, 10, 23))
    ours = closes_defillama("USDC", start - dt.timedelta(days=2), end + dt.timedelta(days=2))
    gecko = closes_coingecko("usd-coin", start - dt.timedelta(days=2), end + dt.timedelta(days=2))
    same, before, after = (change_correlation(ours, gecko, start, end, k) for k in (0, -1, 1))
    assert same > max(before, after) + 0.1, (same, before, after)


def test_the_reviews_correlations_are_reproduced():
    """The numbers of the review (issue 14), over the sandbox window with log changes of the
    market cap: USDC 0.649 at lag 0 / 0.441 at +1 (here 0.652 / 0.438), USDT 0.307 / 0.379."""
    from assets.ingest.coingecko import parse_market_chart

    start, end = D(2021, 1, 1), D(2023, 10, 23)
    found = {}
    for token, coin in (("USDC", "usd-coin"), ("USDT", "tether")):
        payload = json.loads((COINGECKO / f"market_chart_{coin}.json").read_text())
        frame = parse_market_chart(payload, coin, D(2020, 12, 25), D(2023, 10, 24))
        caps = dict(zip(frame["date"], frame["market_cap_usd"]))
        ours = closes_defillama(token, D(2020, 12, 25), D(2023, 10, 24))
        found[token] = tuple(
            round(change_correlation(ours, caps, start, end, k), 3) for k in (0, 1)
        )
    assert found == {"USDC": (0.652, 0.438), "USDT": (0.307, 0.379)}


def test_the_stamped_row_was_already_reached_early_in_its_day():
    """The 2026-08-17 capture was fetched at 06:19:30 UTC: its newest row (stamped 08-17, the
    live state then) equals, net of the revision both captures differ by on every older row,
    the 08-22 capture's stored row stamped 08-17 to 0.2 % of a day's move. A row stamped S is
    a snapshot from the start of S (the close of S-1), not one updated until S ends."""
    older, newer = capture("2026-08-17"), capture("2026-08-22")

    def by_stamp(payload):
        return {int(r["date"]): r["totalCirculating"]["peggedUSD"] for r in payload}

    old, new = by_stamp(older), by_stamp(newer)
    stamp = midnight
    revision = [old[stamp(D(2026, 8, d))] - new[stamp(D(2026, 8, d))] for d in range(4, 17)]
    assert max(revision) - min(revision) < 100  # one constant revision: 1,074,230 (+- 70)
    live = old[stamp(D(2026, 8, 17))] - sorted(revision)[len(revision) // 2]
    assert max(old) == stamp(D(2026, 8, 17))  # the capture's newest row
    assert not float(old[max(old)]).is_integer()  # built from the hourly record, with cents
    stored_17, stored_16, stored_18 = (new[stamp(D(2026, 8, d))] for d in (17, 16, 18))
    assert abs(live - stored_17) < 0.002 * min(stored_17 - stored_16, stored_18 - stored_17)
    # As the pipeline dates them: the live value at 06:19 on 08-17 is the close of 08-16.
    assert recorded_total(newer, D(2026, 8, 16)) == stored_17
    # A run whose last day is the chart's newest row says so in its metadata.
    from assets.ingest.defillama import _newest_is_live

    assert _newest_is_live(older, D(2026, 8, 16)) == {
        "live_last_day": (
            "2026-08-16 is the chart's newest row (stamped 2026-08-17), which DefiLlama fills with "
            "its latest snapshot at fetch time; re-ingest after 2026-08-18 00:00 UTC for its "
            "stored first snapshot"
        )
    }
    assert _newest_is_live(older, D(2026, 8, 15)) == {} == _newest_is_live(newer, D(2026, 8, 16))


# --- known-incomplete history (sql/seeds/known_incomplete_history.csv) ------------------------


def test_the_seed_reads_and_names_every_stretch():
    from assets.ingest.defillama import known_incomplete_frame, load_known_incomplete

    stretches = load_known_incomplete()
    assert [(s.series, s.incomplete_from, s.incomplete_before) for s in stretches] == [
        ("USDT", None, D(2020, 1, 2)),
        ("total", None, D(2020, 1, 2)),
        ("USDC", D(2021, 4, 29), D(2022, 1, 1)),
        ("total", D(2021, 4, 29), D(2022, 1, 1)),
    ]
    assert known_incomplete_frame().height == 4


@pytest.mark.parametrize("token, coin", [("USDT", "tether"), ("USDC", "usd-coin")])
def test_each_stretch_is_where_the_recordings_say_the_series_is_short(token, coin):
    """Against CoinGecko's supply (same dating): inside a stretch DefiLlama is more than 2 %
    short on every day CoinGecko has, with the seed's largest missing share (+-0.01); on the
    day before it and on its first complete day it is within 1 %, and that day DefiLlama steps
    by more than a billion while CoinGecko moves less than a fifth of that."""
    from assets.ingest.defillama import load_known_incomplete

    one = dt.timedelta(days=1)
    ours = closes_defillama(token, D(2018, 10, 24), D(2023, 10, 24))
    gecko = closes_coingecko(coin, D(2018, 10, 24), D(2023, 10, 24))
    (stretch,) = [s for s in load_known_incomplete() if s.series == token]
    first = stretch.incomplete_from or min(gecko)
    inside = [
        1 - ours[d] / gecko[d]
        for d in gecko
        if first <= d < stretch.incomplete_before and d in ours
    ]
    assert min(inside) > 0.02
    assert max(inside) == pytest.approx(stretch.max_missing_share, abs=0.01)
    cut = stretch.incomplete_before
    assert abs(ours[cut] / gecko[cut] - 1) < 0.01
    assert ours[cut] - ours[cut - one] > 1e9
    assert abs(gecko[cut] - gecko[cut - one]) < (ours[cut] - ours[cut - one]) / 5
    if stretch.incomplete_from:
        assert abs(ours[first - one] / gecko[first - one] - 1) < 0.01


def test_the_totals_stretches_are_the_tokens_and_step_with_them():
    from assets.ingest.defillama import load_known_incomplete

    one = dt.timedelta(days=1)
    stretches = load_known_incomplete()
    totals = parse_total_supply(capture("2026-08-22"), D(2018, 10, 24), D(2023, 10, 24))
    total = dict(zip(totals["date"], totals["circulating_usd"]))
    for token, coin in (("USDT", "tether"), ("USDC", "usd-coin")):
        (own,) = [s for s in stretches if s.series == token]
        (of_total,) = [
            s
            for s in stretches
            if s.series == "total" and s.incomplete_before == own.incomplete_before
        ]
        assert of_total.incomplete_from == own.incomplete_from
        ours = closes_defillama(token, D(2018, 10, 24), D(2023, 10, 24))
        gecko = closes_coingecko(coin, D(2018, 10, 24), D(2023, 10, 24))
        first = own.incomplete_from or min(gecko)
        shares = [
            (gecko[d] - ours[d]) / (total[d] + gecko[d] - ours[d])
            for d in gecko
            if first <= d < own.incomplete_before and d in ours
        ]
        assert max(shares) == pytest.approx(of_total.max_missing_share, abs=0.01)
        cut = own.incomplete_before
        step = total[cut] - total[cut - one]
        assert step == pytest.approx(ours[cut] - ours[cut - one], rel=0.2) or token == "USDC"
        assert step > 1e9


def test_the_warning_names_the_days_the_flag_and_what_it_means():
    from assets.ingest.defillama import incomplete_in_window, warn_incomplete

    class Log:
        def __init__(self):
            self.lines = []

        def warning(self, text):
            self.lines.append(text)

    context = type("Context", (), {"log": Log()})()
    meta = warn_incomplete(context, ["USDT", "USDC"], D(2019, 12, 30), D(2020, 1, 3))
    (line,) = context.log.lines
    assert line.startswith(
        "KNOWN INCOMPLETE DefiLlama history in 2019-12-30..2020-01-03: USDT: "
        "3 day(s) 2019-12-30..2020-01-01 are known incomplete (up to 99% of "
        "the supply missing): DefiLlama's USDT series misses most of"
    )
    assert "Flagged in marts.liquidity_daily.usdt_supply_incomplete" in line
    assert "and over the day after the last one" in line
    assert meta == {
        "known_incomplete": line.removeprefix(
            "KNOWN INCOMPLETE DefiLlama history in 2019-12-30..2020-01-03: "
        )
    }
    # A window clear of every stretch: no warning, no metadata entry.
    assert warn_incomplete(context, ["USDT", "USDC", "total"], D(2022, 1, 1), D(2022, 3, 1)) == {}
    assert len(context.log.lines) == 1
    # Edges: the first complete day is not in a stretch, the last incomplete one is.
    assert incomplete_in_window(["USDC"], D(2022, 1, 1), D(2022, 1, 1)) == []
    assert [
        (s.series, a, b)
        for s, a, b in incomplete_in_window(["USDC"], D(2021, 4, 20), D(2021, 4, 29))
    ] == [("USDC", D(2021, 4, 29), D(2021, 4, 29))]


def test_a_window_reaching_a_stretch_warns_in_the_run(resources, replay, warehouse):
    """2021-12-30..2022-01-02 reaches the end of USDC's (and the total's) incomplete stretch:
    the run warns, once per series, and says so in the assets' metadata."""
    import dagster as dg

    from assets.ingest.defillama import defillama_total_supply

    instance = dg.DagsterInstance.ephemeral()
    result = materialize(
        [defillama_total_supply, defillama_token_supply],
        resources,
        D(2021, 12, 30),
        D(2022, 1, 2),
        instance=instance,
    )
    assert result.success
    warnings = [
        r.user_message
        for r in instance.all_logs(result.run_id)
        if r.level == logging.WARNING and "KNOWN INCOMPLETE" in r.user_message
    ]
    assert sorted(w.split(": ")[1] for w in warnings) == ["USDC", "total"]
    assert all("2 day(s) 2021-12-30..2021-12-31 are known incomplete" in w for w in warnings)
    meta = {
        "/".join(m.asset_key.path): m.metadata
        for m in (e.materialization for e in result.get_asset_materialization_events())
    }
    assert "usdc_supply_incomplete" in meta["raw/defillama_token_supply"]["known_incomplete"].value
    assert (
        "total_stablecoin_supply_incomplete"
        in meta["raw/defillama_total_supply"]["known_incomplete"].value
    )
    assert "known_incomplete" not in meta["raw/defillama_token_supply_by_chain"]
    # The values are stored as DefiLlama serves them: USDC's step on the first complete day.
    usdc = warehouse.read(
        "SELECT date, circulating_tokens FROM raw.defillama_token_supply "
        "WHERE token = 'USDC' ORDER BY date"
    )["circulating_tokens"].to_list()
    assert usdc[2] - usdc[1] > 4.5e9

    later = materialize(
        [defillama_total_supply, defillama_token_supply],
        resources,
        D(2022, 3, 1),
        D(2022, 3, 2),
        instance=instance,
    )
    assert later.success
    assert not [r for r in instance.all_logs(later.run_id) if r.level == logging.WARNING]


def test_the_replay_serves_each_series_newest_row_at_its_hourly_time():
    """The sandbox is no kinder than DefiLlama: /stablecoin/{id}'s newest row of every series
    carries the live record's time, and the pipeline reads it as the day before's close."""
    from sandbox.replay import LIVE_OFFSET_S

    payload = build_stablecoin(2)
    series = [payload["tokens"], *(c["tokens"] for c in payload["chainBalances"].values())]
    assert all(int(s[-1]["date"]) % 86_400 == LIVE_OFFSET_S for s in series)
    assert all(int(p["date"]) % 86_400 == 0 for s in series for p in s[:-1])
    stamped = dt.datetime.fromtimestamp(int(payload["tokens"][-1]["date"]), dt.UTC).date()
    close = stamped - dt.timedelta(days=1)
    totals, _ = parse_token(payload, "USDC", close - dt.timedelta(days=2), close)
    assert totals["date"].max() == close
