"""CoinGecko: request planning, day snapping and the close convention, bad input, and the
server behaviours the recordings cannot show (an exclusive `to`, the public API's history limit)."""

import datetime as dt
import json

import polars as pl
import pytest

from assets.ingest import coingecko
from assets.ingest.coingecko import (
    coingecko_market_daily,
    earliest_day,
    parse_market_chart,
    request_ranges,
)
from core.errors import SourceDataError, SourceError
from core.resources import Warehouse
from sandbox.replay import RECORDINGS
from tests.conftest import failure_messages, fast_source, materialize

D = dt.date


def recording(coin: str) -> dict:
    return json.loads((RECORDINGS / "coingecko" / f"market_chart_{coin}.json").read_text())


def test_requests_cover_every_sample_within_the_free_tier_limits():
    for start, end in [
        (D(2021, 1, 1), D(2021, 1, 1)),
        (D(2021, 1, 1), D(2023, 10, 24)),
        (D(2022, 3, 1), D(2023, 2, 28)),
    ]:
        ranges = request_ranges(start, end)
        spans = [(hi - lo) / 86400 for lo, hi in ranges]
        assert all(91 <= s <= 365 for s in spans), spans  # daily points, <= 365 days a call
        needed = {start + dt.timedelta(days=i + 1) for i in range((end - start).days + 1)}
        covered = {
            dt.datetime.fromtimestamp(lo + 86400 * k, dt.UTC).date()
            for lo, hi in ranges
            for k in range(int((hi - lo) / 86400) + 1)
        }
        assert needed <= covered
    assert len(request_ranges(D(2021, 1, 1), D(2023, 10, 24))) == 3


# Close prices in USD from an independent source (Yahoo Finance BTC-USD / ETH-USD daily
# closes, UTC), on days with large moves: a one-day shift of the convention misses by 7-16%.
YAHOO_CLOSE = {
    ("bitcoin", D(2021, 1, 1)): 29374.15,
    ("bitcoin", D(2021, 1, 2)): 32127.27,
    ("bitcoin", D(2022, 6, 13)): 22487.39,
    ("bitcoin", D(2022, 11, 8)): 18541.27,
    ("bitcoin", D(2022, 11, 9)): 15880.78,
    ("ethereum", D(2022, 6, 13)): 1204.58,
    ("ethereum", D(2022, 11, 9)): 1100.17,
}


@pytest.mark.parametrize("coin,day", sorted(YAHOO_CLOSE))
def test_value_dated_d_is_the_close_of_d(coin, day):
    frame = parse_market_chart(recording(coin), coin, day, day)
    row = frame.row(0, named=True)
    assert row["sampled_at"] == dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
    assert row["price_usd"] == pytest.approx(YAHOO_CLOSE[(coin, day)], rel=0.015)


def test_whole_window_parses_with_the_intraday_point_dropped():
    payload = recording("tether")
    frame = parse_market_chart(payload, "tether", D(2021, 1, 1), D(2023, 10, 25))
    # The last daily sample is 2023-10-25 00:00 (close of 10-24); the 17:15 "now" point is not
    # a close.
    assert frame["date"].max() == D(2023, 10, 24) and frame.height == 1027
    last_ms = payload["prices"][-2][0]
    assert (
        frame.filter(pl.col("date") == D(2023, 10, 24))["price_usd"].item()
        == payload["prices"][-2][1]
    )
    assert last_ms == 1698192000000


def test_missing_metric_for_a_sample_is_an_error():
    payload = recording("bitcoin")
    payload["market_caps"] = [p for p in payload["market_caps"] if p[0] != 1609545600000]
    with pytest.raises(SourceDataError, match="market_caps.*no point at 2021-01-02T00:00Z"):
        parse_market_chart(payload, "bitcoin", D(2020, 12, 30), D(2021, 1, 3))


@pytest.mark.parametrize(
    "metric,value,reason",
    [
        ("prices", 0.0, "must be positive"),
        ("prices", None, "not a number"),
        ("market_caps", -1.0, "must be positive"),
        ("total_volumes", float("nan"), "not a finite number"),
        ("prices", 5e14, "implausibly large"),
    ],
)
def test_bad_values_name_the_coin_field_and_value(metric, value, reason):
    payload = recording("ethereum")
    index = next(i for i, p in enumerate(payload[metric]) if p[0] == 1609545600000)
    payload[metric][index][1] = value
    with pytest.raises(SourceDataError, match=reason) as err:
        parse_market_chart(payload, "ethereum", D(2021, 1, 1), D(2021, 1, 1))
    assert f"coingecko /coins/ethereum/market_chart/range: field '{metric}[{index}][1]'" in str(
        err.value
    )


def test_an_error_body_sent_with_status_200_is_quoted():
    """CoinGecko's rate-limit body (its docs, "Common Errors & Rate Limit"), answered 200 by a
    proxy: the error in its own words, not "prices is not a list"."""
    body = {"status": {"error_code": 429, "error_message": "You've exceeded the Rate Limit."}}
    with pytest.raises(SourceDataError) as err:
        parse_market_chart(body, "bitcoin", D(2021, 1, 1), D(2021, 1, 1))
    assert "field '(body)' = \"error 429: You've exceeded the Rate Limit.\"" in str(err.value)


def test_a_daily_point_off_midnight_is_named_not_dropped():
    """Only the last point may be off 00:00 UTC (CoinGecko's "now"); a daily point seconds
    late is named, not dropped into a misleading "missing day"."""
    payload = recording("bitcoin")
    index = next(i for i, p in enumerate(payload["prices"]) if p[0] == 1609545600000)
    payload["prices"][index][0] += 5_000
    with pytest.raises(SourceDataError, match="not at 00:00 UTC, and not the last point") as err:
        parse_market_chart(payload, "bitcoin", D(2020, 12, 30), D(2021, 1, 3))
    assert f"'prices[{index}][0]' = 1609545605000" in str(err.value)


def test_conflicting_duplicate_samples_are_an_error():
    payload = recording("bitcoin")
    point = next(p for p in payload["prices"] if p[0] == 1609545600000)
    payload["prices"].insert(-1, [point[0], point[1] * 2])  # before the last, "now" point
    with pytest.raises(SourceDataError, match="second, different value"):
        parse_market_chart(payload, "bitcoin", D(2021, 1, 1), D(2021, 1, 1))


# --- HTTP edges the recordings cannot show ---------------------------------------------------

# The recording's own "now": its final intraday point was taken 2023-10-25T17:16:37Z.
RECORDED_NOW = dt.datetime(2023, 10, 25, 17, 16, 37)


def recorded_closes(coin: str, start: dt.date, end: dt.date) -> dict[dt.date, float]:
    """Close prices of start..end read straight from the recording: the 00:00 UTC point of D+1."""
    points = {ms: price for ms, price in recording(coin)["prices"]}
    closes = {}
    for i in range((end - start).days + 1):
        day = start + dt.timedelta(days=i)
        midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
        closes[day] = points[int(midnight.timestamp() * 1000)]
    return closes


def stored_prices(warehouse) -> pl.DataFrame:
    return warehouse.read(
        "SELECT * EXCLUDE (ingested_at) FROM raw.coingecko_market_daily ORDER BY ALL"
    )


def stored_closes(frame: pl.DataFrame, coin: str) -> dict[dt.date, float]:
    coin_rows = frame.filter(pl.col("coin_id") == coin)
    return dict(zip(coin_rows["date"], coin_rows["price_usd"]))


def test_the_replay_honours_an_exclusive_to(replay):
    """The replay can treat `to` either way, and it matters for a range ending on a midnight."""
    midnight = int(dt.datetime(2023, 10, 25, tzinfo=dt.UTC).timestamp())
    query = {"vs_currency": ["usd"], "from": [str(midnight - 100 * 86400)], "to": [str(midnight)]}
    last_ms = []
    for inclusive in (True, False):
        replay.configure(coingecko_to_inclusive=inclusive)
        _, body = replay.answer("/coingecko/api/v3/coins/bitcoin/market_chart/range", query)
        last_ms.append(json.loads(body)["prices"][-1][0])
    assert last_ms == [midnight * 1000, (midnight - 86400) * 1000]


@pytest.mark.parametrize(
    "start, end", [(D(2023, 10, 24), D(2023, 10, 24)), (D(2022, 1, 1), D(2023, 3, 31))]
)
def test_stored_rows_are_the_same_whether_to_is_inclusive_or_not(
    resources, replay, tmp_path, start, end
):
    stored = []
    for inclusive in (True, False):
        replay.configure(coingecko_to_inclusive=inclusive)
        warehouse = Warehouse(path=str(tmp_path / f"inclusive_{inclusive}.duckdb"))
        assert materialize(
            [coingecko_market_daily], {**resources, "warehouse": warehouse}, start, end
        ).success
        stored.append(stored_prices(warehouse))
    assert stored[0].equals(stored[1])
    assert stored_closes(stored[0], "bitcoin") == recorded_closes("bitcoin", start, end)
    for lo, hi in request_ranges(start, end):  # every `to` is an hour past a midnight
        assert hi % 86400 == 3600 and (hi - lo) // 86400 >= 91


def test_earliest_day_applies_to_the_public_host_only():
    today = D(2023, 10, 25)
    assert earliest_day("https://api.coingecko.com/api/v3", today) == D(2022, 10, 26)
    assert earliest_day("https://pro-api.coingecko.com/api/v3", today) is None
    assert earliest_day("http://127.0.0.1:8765/coingecko/api/v3", today) is None


@pytest.mark.parametrize(
    "start, end",
    [
        (D(2022, 10, 26), D(2022, 10, 26)),
        (D(2022, 10, 26), D(2022, 12, 1)),
        (D(2022, 10, 26), D(2023, 10, 24)),
        (D(2023, 2, 1), D(2023, 2, 1)),
    ],
)
def test_requests_stay_within_the_public_history_and_still_span_91_days(start, end):
    earliest = D(2022, 10, 26)
    oldest_sample = int(dt.datetime(2022, 10, 27, tzinfo=dt.UTC).timestamp())
    ranges = request_ranges(start, end, earliest)
    assert all(lo >= oldest_sample and 91 <= (hi - lo) / 86400 <= 365 for lo, hi in ranges)
    needed = {start + dt.timedelta(days=i + 1) for i in range((end - start).days + 1)}
    covered = {
        dt.datetime.fromtimestamp(lo + 86400 * k, dt.UTC).date()
        for lo, hi in ranges
        for k in range(int((hi - lo) / 86400) + 1)
    }
    assert needed <= covered


@pytest.fixture
def public_api(replay, monkeypatch):
    """The replay answering as CoinGecko's public host at the recording's "now", and the
    pipeline treating it as that host, on that day."""
    replay.configure(coingecko_public_now=RECORDED_NOW.isoformat())
    monkeypatch.setattr(coingecko, "PUBLIC_HOST", "127.0.0.1")
    monkeypatch.setattr(coingecko, "utc_now", lambda: RECORDED_NOW)
    return replay


@pytest.mark.parametrize("end", [D(2022, 10, 31), D(2023, 10, 24)])
def test_the_oldest_days_the_public_api_serves_are_ingested(resources, public_api, warehouse, end):
    start = D(2022, 10, 26)
    result = materialize([coingecko_market_daily], resources, start, end)
    assert result.success
    closes = stored_closes(stored_prices(warehouse), "bitcoin")
    assert closes == recorded_closes("bitcoin", start, end)
    assert sum(public_api.requests.values()) == 4  # one per coin, none refused
    # Reaching 91 days back from the first day, as without the limit, would have been refused.
    lo, hi = request_ranges(start, start)[0]
    with pytest.raises(SourceError, match="HTTP 401.*10012"):
        resources["coingecko"].get_json(
            "/coins/bitcoin/market_chart/range", {"vs_currency": "usd", "from": lo, "to": hi}
        )


def test_a_window_older_than_the_public_api_serves_fails_before_any_request(
    resources, public_api, warehouse
):
    result = materialize(
        [coingecko_market_daily], resources, D(2022, 10, 25), D(2022, 10, 31), raise_on_error=False
    )
    assert not result.success
    message = failure_messages(result)
    assert "serves only the last 365 days" in message
    assert "from 2022-10-26 on, and the window 2022-10-25..2022-10-31 starts before" in message
    assert "COINGECKO_API_KEY" in message and "STABLEFLOW_START_DATE=2022-10-26" in message
    assert sum(public_api.requests.values()) == 0
    assert not warehouse.table_exists("raw.coingecko_market_daily")


def test_the_public_host_serves_old_history_to_a_paid_key_only(replay):
    replay.configure(coingecko_public_now=RECORDED_NOW.isoformat())
    day = D(2021, 1, 1)
    lo, hi = request_ranges(day, day)[0]
    params = {"vs_currency": "usd", "from": lo, "to": hi, "interval": "daily"}
    url = f"{replay.url}/coingecko/api/v3"
    paid = fast_source("coingecko", url, api_key="CG-paid", api_key_header="x-cg-pro-api-key")
    closes = parse_market_chart(
        paid.get_json("/coins/bitcoin/market_chart/range", params), "bitcoin", day, day
    )
    assert stored_closes(closes, "bitcoin") == recorded_closes("bitcoin", day, day)
    demo = fast_source("coingecko", url, api_key="CG-demo", api_key_header="x-cg-demo-api-key")
    with pytest.raises(SourceError, match="HTTP 401"):
        demo.get_json("/coins/bitcoin/market_chart/range", params)
