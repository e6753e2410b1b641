"""alternative.me Fear & Greed parser against the recorded API shape."""

import datetime as dt
import json

import pytest

from assets.ingest.alternative_me import parse_fear_greed
from core.errors import SourceDataError

D = dt.date


def payload(*entries: dict) -> dict:
    return {"name": "Fear and Greed Index", "data": list(entries), "metadata": {"error": None}}


def entry(day: dt.date, value: str = "40", label: str = "Fear") -> dict:
    ts = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())
    return {"value": value, "value_classification": label, "timestamp": str(ts)}


def test_recorded_response_parses_to_the_recorded_values(replay):
    status, body = replay.answer("/alternative_me/fng/", {"limit": ["0"]})
    assert status == 200
    frame = parse_fear_greed(json.loads(body), D(2021, 1, 1), D(2023, 10, 24))
    assert frame.height == (D(2023, 10, 24) - D(2021, 1, 1)).days + 1  # no gap in this span
    # 2022-06-18, the day after the June 2022 capitulation: the recording says 6, Extreme Fear.
    assert frame.filter(date=D(2022, 6, 18)).select("value", "classification").row(0) == (
        6,
        "Extreme Fear",
    )
    assert frame["date"].is_sorted()


def test_a_gap_in_the_index_stays_a_gap():
    frame = parse_fear_greed(
        payload(entry(D(2024, 10, 27)), entry(D(2024, 10, 24))), D(2024, 10, 24), D(2024, 10, 27)
    )
    assert frame["date"].to_list() == [D(2024, 10, 24), D(2024, 10, 27)]


@pytest.mark.parametrize(
    "bad, field, reason",
    [
        (payload(entry(D(2022, 1, 1), value="101")), "data[0].value", "outside the index's 0..100"),
        (payload(entry(D(2022, 1, 1), value="-3")), "data[0].value", "not a whole number"),
        (payload(entry(D(2022, 1, 1), value="4O")), "data[0].value", "not a whole number"),
        (
            payload(entry(D(2022, 1, 1), label="Panic")),
            "data[0].value_classification",
            "not one of",
        ),
        (
            payload({"value": "40", "value_classification": "Fear", "timestamp": "yesterday"}),
            "data[0].timestamp",
            "not a unix timestamp",
        ),
        (
            payload(entry(D(2022, 1, 1), "40"), entry(D(2022, 1, 1), "41")),
            "data[1]",
            "a second, different value",
        ),
        (
            {"name": "x", "data": [], "metadata": {"error": "Limit exceeded"}},
            "metadata.error",
            "reported an error",
        ),
        ({"name": "x", "data": {}, "metadata": {"error": None}}, "data", "not a list"),
        ({"name": "x", "data": [], "metadata": "ok"}, "metadata", "not an object"),
        ({"error": "Service unavailable"}, "(body)", "the API answered an error with status 200"),
        (payload(entry(D(2022, 1, 1), value="²")), "data[0].value", "not a whole number"),
        (payload(entry(D(2022, 1, 1), value="٣")), "data[0].value", "not a whole number"),
        (
            payload({**entry(D(2022, 1, 1)), "timestamp": str(1640995200 + 3600)}),
            "data[0].timestamp",
            "not 00:00 UTC",
        ),
    ],
)
def test_bad_payloads_name_the_field_and_value(bad, field, reason):
    with pytest.raises(SourceDataError) as err:
        parse_fear_greed(bad, D(2022, 1, 1), D(2022, 1, 1))
    assert f"field '{field}'" in str(err.value) and reason in str(err.value)
