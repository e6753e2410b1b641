"""CoinGecko: request planning, day snapping and the close convention, bad input."""

import datetime as dt
import json

import polars as pl
import pytest

from assets.ingest.coingecko import request_ranges, parse_market_chart
from pipelines.resources import SourceDataError
from sandbox.replay import RECORDINGS

D = dt.date


def recording(coin: str) -> dict:
    return json.loads((RECORDINGS / "coingecko" / f"market_chart_{coin}.json").read_text())


def test_requests_cover_every_sample_within_the_free_tier_limits():
    for start, end in [(D(2021, 1, 1), D(2021, 1, 1)), (D(2021, 1, 1), D(2023, 10, 24)),
                       (D(2022, 3, 1), D(2023, 2, 28))]:
        ranges = request_ranges(start, end)
        spans = [(hi - lo) / 86400 for lo, hi in ranges]
        assert all(91 <= s <= 365 for s in spans), spans  # daily points, <= 365 days a call
        needed = {start + dt.timedelta(days=i + 1) for i in range((end - start).days + 1)}
        covered = {dt.datetime.fromtimestamp(lo + 86400 * k, dt.UTC).date()
                   for lo, hi in ranges for k in range(int((hi - lo) / 86400) + 1)}
        assert needed <= covered
    assert len(request_ranges(D(2021, 1, 1), D(2023, 10, 24))) == 3


# Close prices in USD from an independent source (Yahoo Finance BTC-USD / ETH-USD daily
# closes, UTC), on days with large moves: a one-day shift of the convention misses by 7-16%.
YAHOO_CLOSE = {
    ("bitcoin", D(2021, 1, 1)): 29374.15, ("bitcoin", D(2021, 1, 2)): 32127.27,
    ("bitcoin", D(2022, 6, 13)): 22487.39, ("bitcoin", D(2022, 11, 8)): 18541.27,
    ("bitcoin", D(2022, 11, 9)): 15880.78, ("ethereum", D(2022, 6, 13)): 1204.58,
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
    # The last daily sample is 2023-10-25 00:00 (close of 10-24); the 17:15 "now" point is not a close.
    assert frame["date"].max() == D(2023, 10, 24) and frame.height == 1027
    last_ms = payload["prices"][-2][0]
    assert frame.filter(pl.col("date") == D(2023, 10, 24))["price_usd"].item() == payload["prices"][-2][1]
    assert last_ms == 1698192000000


def test_missing_metric_for_a_sample_is_an_error():
    payload = recording("bitcoin")
    payload["market_caps"] = [p for p in payload["market_caps"] if p[0] != 1609545600000]
    with pytest.raises(SourceDataError, match="market_caps.*no point at 2021-01-02T00:00Z"):
        parse_market_chart(payload, "bitcoin", D(2020, 12, 30), D(2021, 1, 3))


@pytest.mark.parametrize("metric,value,reason", [
    ("prices", 0.0, "must be positive"), ("prices", None, "not a number"),
    ("market_caps", -1.0, "must be positive"), ("total_volumes", float("nan"), "not a finite number"),
    ("prices", 5e14, "implausibly large"),
])
def test_bad_values_name_the_coin_field_and_value(metric, value, reason):
    payload = recording("ethereum")
    index = next(i for i, p in enumerate(payload[metric]) if p[0] == 1609545600000)
    payload[metric][index][1] = value
    with pytest.raises(SourceDataError, match=reason) as err:
        parse_market_chart(payload, "ethereum", D(2021, 1, 1), D(2021, 1, 1))
    assert f"coingecko /coins/ethereum/market_chart/range: field '{metric}[{index}][1]'" in str(err.value)


def test_conflicting_duplicate_samples_are_an_error():
    payload = recording("bitcoin")
    point = next(p for p in payload["prices"] if p[0] == 1609545600000)
    payload["prices"].append([point[0], point[1] * 2])
    with pytest.raises(SourceDataError, match="second, different value"):
        parse_market_chart(payload, "bitcoin", D(2021, 1, 1), D(2021, 1, 1))
