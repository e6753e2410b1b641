"""In-process Dagster runs of the ingest layer against the replay server."""

import datetime as dt
import json
import re

import polars as pl

from assets.ingest import api_assets as ingest_assets
from assets.ingest import ingest_checks
from sandbox.replay import RECORDINGS
from tests.conftest import failure_messages, fast_source, materialize

D = dt.date
START, END = D(2022, 5, 1), D(2022, 5, 31)
TABLES = [
    "raw.defillama_total_supply",
    "raw.defillama_token_supply",
    "raw.defillama_token_supply_by_chain",
    "raw.coingecko_market_daily",
    "raw.fear_greed_daily",
    "raw.fred_series_daily",
]
# Requests one window costs: 7 DefiLlama (the window crosses 2022-05-11, where
# /stablecoin/{id} history starts: /stablecoincharts/all, then per token the all-chain chart,
# /stablecoin/{id} and the Ethereum chart), 4 CoinGecko, 1 alternative.me, 3 FRED.
REQUESTS = 7 + 4 + 1 + 3


def recorded_fred_rows(first: dt.date, last: dt.date) -> dict[tuple[dt.date, str], float | None]:
    """The FRED recordings' rows in first..last, read straight from the files; a weekday a
    file lacks (the SP500 and NASDAQ100 files list trading days only) is FRED's empty holiday
    row, as FRED serves it."""
    files = {
        "SP500": ("fred_SP500_2016_2026.csv", "as_of", "value"),
        "NASDAQ100": ("fred_NASDAQ100_2015_2026.csv", "as_of", "value"),
        "DTB3": ("fred_DTB3_2006_2026.csv", "observation_date", "DTB3"),
    }
    rows = {}
    for series, (name, date_col, value_col) in files.items():
        for line in (RECORDINGS / "fred" / name).read_text().splitlines()[1:]:
            values = dict(zip([date_col, value_col], line.split(",")[:2]))
            day = D.fromisoformat(values[date_col])
            if first <= day <= last:
                rows[(day, series)] = float(values[value_col]) if values[value_col] else None
    for series in files:
        for i in range((last - first).days + 1):
            day = first + dt.timedelta(days=i)
            if day.weekday() < 5:
                rows.setdefault((day, series), None)
    return rows


def snapshot(warehouse, with_ingested_at=True) -> dict[str, pl.DataFrame]:
    out = {}
    for table in TABLES:
        frame = warehouse.read(f"SELECT * FROM {table} ORDER BY ALL")
        out[table] = frame if with_ingested_at else frame.drop("ingested_at")
    return out


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for table in a:
        assert a[table].equals(b[table]), table


def test_window_run_writes_every_table_and_passes_every_check(resources, replay, warehouse):
    result = materialize([*ingest_assets, *ingest_checks], resources, START, END)
    assert result.success
    counts = {t: warehouse.read(f"SELECT count(*) AS n FROM {t}")["n"][0] for t in TABLES}
    assert counts["raw.defillama_total_supply"] == 31
    assert counts["raw.defillama_token_supply"] == 62
    assert counts["raw.coingecko_market_daily"] == 124
    assert counts["raw.fear_greed_daily"] == 31
    # FRED rows are re-read from 7 days before the window: what FRED holds for those days.
    fred = recorded_fred_rows(START - dt.timedelta(days=7), END)
    stored = warehouse.read("SELECT date, series_id, value FROM raw.fred_series_daily")
    assert {(d, s): v for d, s, v in stored.rows()} == fred
    assert fred[(D(2022, 5, 30), "DTB3")] is None  # Memorial Day: FRED's empty value, kept
    # Ethereum for both tokens, plus every USDC chain recorded from 2022-05-12 on, plus the
    # USDT the sandbox simulates on Arbitrum (no recording: the sandbox chain's own series).
    header = (
        (RECORDINGS / "defillama" / "usdc_circulating_by_chain_2022_2023.csv")
        .read_text()
        .splitlines()[0]
    )
    usdc_chains = sum(c.endswith("_Circulating") for c in header.split(","))
    chains = warehouse.read(
        "SELECT token, count(DISTINCT chain) AS n FROM raw.defillama_token_supply_by_chain "
        "GROUP BY ALL ORDER BY token"
    )
    assert chains.rows() == [("USDC", usdc_chains), ("USDT", 2)]
    evaluations = result.get_asset_check_evaluations()
    assert {e.asset_key for e in evaluations} == {k for a in ingest_assets for k in a.keys}
    assert all(e.passed for e in evaluations)
    # One request per DefiLlama path and coin, per FRED series, one for Fear & Greed.
    assert sum(replay.requests.values()) == REQUESTS
    fng = next(
        line.split(",")
        for line in (
            RECORDINGS / "alternative_me" / "alternative_me_fng_with_timestamp_2018_2025.csv"
        )
        .read_text()
        .splitlines()
        if line.split(",")[3] == "2022-05-15"
    )
    stored = warehouse.read(
        "SELECT value, classification FROM raw.fear_greed_daily WHERE date = '2022-05-15'"
    )
    assert stored.row(0) == (int(fng[0]), fng[1])
    # Stored values are the recorded ones.
    recorded = json.loads(
        (RECORDINGS / "defillama" / "stablecoincharts_all_2026-08-22.json").read_text()
    )
    # The row stamped 2022-05-16 00:00 UTC holds the close of 2022-05-15.
    may_15 = next(r for r in recorded if r["date"] == "1652659200")
    stored = warehouse.read(
        "SELECT circulating_usd FROM raw.defillama_total_supply WHERE date = '2022-05-15'"
    )
    assert stored.item() == may_15["totalCirculating"]["peggedUSD"]


def test_single_partition_run(resources, warehouse):
    import dagster as dg

    result = dg.materialize(
        ingest_assets,
        resources=resources,
        partition_key="2022-05-15",
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    dates = warehouse.read("SELECT DISTINCT date FROM raw.coingecko_market_daily")
    assert dates["date"].to_list() == [D(2022, 5, 15)]


def test_rerun_leaves_identical_tables(resources, warehouse):
    assert materialize(ingest_assets, resources, START, END).success
    first = snapshot(warehouse)
    assert materialize(ingest_assets, resources, START, END).success
    assert_same(first, snapshot(warehouse))


def test_transient_faults_are_retried_and_change_nothing(resources, replay, warehouse, tmp_path):
    assert materialize(ingest_assets, resources, START, END).success
    clean = snapshot(warehouse)
    replay.requests.clear()

    replay.inject("/coingecko/api/v3/coins/bitcoin", "429", times=2, retry_after=0.01)
    replay.inject("/defillama/stablecoin/2", "500", times=2)
    replay.inject("/defillama/stablecoincharts/all", "truncated", times=1)
    replay.inject("/coingecko/api/v3/coins/tether", "slow", times=1, delay_s=0.3)
    replay.inject("/fred/graph/fredgraph.csv", "truncated", times=1)  # a CSV cut mid-row
    replay.inject("/alternative_me/fng", "cut", times=1)
    resources = {
        **resources,
        "coingecko": fast_source("coingecko", f"{replay.url}/coingecko/api/v3", timeout_s=0.2),
    }
    result = materialize(ingest_assets, resources, START, END)
    assert result.success
    assert sum(replay.requests.values()) == REQUESTS + 2 + 2 + 1 + 1 + 1 + 1
    assert_same(clean, snapshot(warehouse))  # same values, so even ingested_at is kept


def test_persistent_failure_fails_clearly_and_writes_nothing(resources, replay, warehouse):
    assert materialize(ingest_assets, resources, START, D(2022, 5, 10)).success
    before = snapshot(warehouse)

    replay.inject("/coingecko/", "500", times=-1)
    replay.inject("/defillama/stablecoin/2", "429", times=-1, retry_after=0.01)
    result = materialize(ingest_assets, resources, START, END, raise_on_error=False)
    assert not result.success
    message = failure_messages(result)
    assert "coingecko: GET http://127.0.0.1:" in message
    assert "/coins/bitcoin/market_chart/range?vs_currency=usd&from=" in message
    assert "gave up after 4 attempts; last problem: HTTP 500" in message
    assert "defillama: GET http" in message and "/stablecoin/2 gave up" in message
    after = snapshot(warehouse)
    # USDT was fetched fine, but its tables are written only together with USDC's.
    for table in (
        "raw.coingecko_market_daily",
        "raw.defillama_token_supply",
        "raw.defillama_token_supply_by_chain",
    ):
        assert after[table].equals(before[table]), table
    # The asset that did not depend on a broken source completed its whole window.
    assert after["raw.defillama_total_supply"].height == 31


def test_errors_answered_with_status_200_fail_in_the_apis_words_and_write_nothing(
    resources, replay, warehouse
):
    """A CDN or gateway in front of an API may answer 200 with the API's error body: every
    source fails quoting it, names the source and field, and keeps what it had stored."""
    assert materialize(ingest_assets, resources, START, D(2022, 5, 10)).success
    before = snapshot(warehouse)
    for source in ("/coingecko/", "/defillama/", "/alternative_me/", "/fred/"):
        replay.inject(source, "error_200", times=-1)
    result = materialize(ingest_assets, resources, START, END, raise_on_error=False)
    assert not result.success
    message = failure_messages(result)
    status_200 = "the API answered an error with status 200"
    assert "field '(body)' = 'error 10012: Your request exceeds the allowed time range." in message
    assert "field '(body)' = 'message: Internal server error'" in message
    assert message.count(status_200) >= 2  # CoinGecko's and DefiLlama's
    assert "alternative.me /fng/: field 'metadata.error' = 'Service unavailable'" in message
    assert "field '(header)' = 'Error: the series could not be found" in message
    assert_same(before, snapshot(warehouse))


def test_bad_value_from_the_api_fails_the_run_and_writes_nothing(
    resources, replay, warehouse, monkeypatch
):
    original = replay.answer

    def corrupt(path, query):
        status, body = original(path, query)
        if path.endswith("/coins/ethereum/market_chart/range"):
            payload = json.loads(body)
            index = next(i for i, p in enumerate(payload["prices"]) if p[0] == 1652659200000)
            payload["prices"][index][1] = -12.5  # the close of 2022-05-15
            body = json.dumps(payload).encode()
        return status, body

    monkeypatch.setattr(replay, "answer", corrupt)
    result = materialize(ingest_assets, resources, START, END, raise_on_error=False)
    assert not result.success
    assert re.search(
        r"coingecko /coins/ethereum/market_chart/range: field 'prices\[\d+\]\[1\]' "
        r"= -12.5: must be positive",
        failure_messages(result),
    )
    assert not warehouse.table_exists("raw.coingecko_market_daily")


def test_an_empty_answer_never_deletes_stored_rows(resources, replay, warehouse, monkeypatch):
    assert materialize(ingest_assets, resources, START, END).success
    before = snapshot(warehouse)
    original = replay.answer

    def empty(path, query):
        if path.startswith("/fred/"):  # a header-only CSV, as an outage might serve
            return 200, f"observation_date,{query['id'][0]}\n".encode()
        if path.startswith("/alternative_me/"):
            return 200, json.dumps(
                {"name": "Fear and Greed Index", "data": [], "metadata": {"error": None}}
            ).encode()
        return original(path, query)

    monkeypatch.setattr(replay, "answer", empty)
    result = materialize(ingest_assets, resources, START, END, raise_on_error=False)
    assert not result.success
    message = failure_messages(result)
    assert (
        "alternative.me /fng/: field '(rows)' = '31 stored row(s) missing, e.g. date=2022-05-01'"
        in message
    )
    assert "fred: field '(rows)'" in message and "nothing was replaced" in message
    after = snapshot(warehouse)
    assert after["raw.fear_greed_daily"].equals(before["raw.fear_greed_daily"])
    assert after["raw.fred_series_daily"].equals(before["raw.fred_series_daily"])
