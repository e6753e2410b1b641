"""FRED fredgraph.csv parser against the recorded CSV shape."""

import datetime as dt

import pytest

from assets.ingest.fred import fred_series_daily, parse_fredgraph
from core.errors import SourceDataError
from core.resources import Warehouse
from tests.conftest import materialize

D = dt.date


def rows(series: str, *pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"observation_date": d, series: v} for d, v in pairs]


def test_recorded_csv_parses_with_holidays_as_null(replay):
    status, body = replay.answer(
        "/fred/graph/fredgraph.csv",
        {"id": ["DTB3"], "cosd": ["2022-12-23"], "coed": ["2022-12-30"]},
    )
    assert status == 200
    lines = body.decode().splitlines()
    assert lines[0] == "observation_date,DTB3"
    parsed = parse_fredgraph(
        rows("DTB3", *(tuple(line.split(",")) for line in lines[1:])),
        "DTB3",
        D(2022, 12, 23),
        D(2022, 12, 30),
    )
    values = dict(zip(parsed["date"], parsed["value"]))
    assert values[D(2022, 12, 26)] is None  # Christmas observed: FRED's empty value
    assert values[D(2022, 12, 23)] == 4.23 and len(values) == 6


def test_only_the_window_is_kept():
    parsed = parse_fredgraph(
        rows("SP500", ("2022-01-03", "4796.56"), ("2022-01-04", "4793.54")),
        "SP500",
        D(2022, 1, 4),
        D(2022, 1, 4),
    )
    assert parsed.rows() == [(D(2022, 1, 4), "SP500", 4793.54)]


@pytest.mark.parametrize(
    "series, bad, field, reason",
    [
        (
            "SP500",
            rows("SP500", ("2022-01-03", "-4796.56")),
            "2022-01-03.SP500",
            "outside the plausible range",
        ),
        (
            "SP500",
            rows("SP500", ("2022-01-03", "4.8e9")),
            "2022-01-03.SP500",
            "outside the plausible range",
        ),
        ("SP500", rows("SP500", ("2022-01-03", "n/a")), "2022-01-03.SP500", "not a number"),
        (
            "SP500",
            rows("SP500", ("2022-01-03", "inf")),
            "2022-01-03.SP500",
            "outside the plausible range",
        ),
        (
            "DTB3",
            rows("DTB3", ("2022-01-03", "45")),
            "2022-01-03.DTB3",
            "outside the plausible range",
        ),
        (
            "SP500",
            rows("SP500", ("03/01/2022", "4796.56")),
            "line 2 observation_date",
            "not a YYYY-MM-DD date",
        ),
        (
            "SP500",
            rows("SP500", ("2022-01-03", "1"), ("2022-01-03", "2")),
            "line 3 observation_date",
            "appears twice",
        ),
        ("SP500", rows("NASDAQ100", ("2022-01-03", "16000")), "line 2", "expected two fields"),
        (
            "SP500",
            [{"observation_date": "2022-01-03", "SP500": None}],
            "line 2",
            "expected two fields",
        ),
        (
            "SP500",
            [{"observation_date": "2022-01-03", "SP500": "1", None: ["2"]}],
            "line 2",
            "expected two fields",
        ),
    ],
)
def test_bad_rows_name_the_field_and_value(series, bad, field, reason):
    with pytest.raises(SourceDataError) as err:
        parse_fredgraph(bad, series, D(2022, 1, 1), D(2022, 1, 31))
    assert f"fred {series}: field '{field}'" in str(err.value) and reason in str(err.value)


def test_the_older_date_header_gives_the_same_rows(resources, replay, warehouse, tmp_path):
    """fredgraph.csv said DATE (and "." for no value) until late 2024; both store alike."""
    start, end = D(2022, 12, 19), D(2022, 12, 30)
    stored, headers = [], []
    for legacy in (False, True):
        replay.configure(fred_legacy_csv=legacy)
        _, body = replay.answer("/fred/graph/fredgraph.csv", {"id": ["DTB3"]})
        headers.append(body.decode().splitlines()[0])
        target = Warehouse(path=str(tmp_path / f"legacy_{legacy}.duckdb"))
        assert materialize(
            [fred_series_daily], {**resources, "warehouse": target}, start, end
        ).success
        stored.append(
            target.read("SELECT date, series_id, value FROM raw.fred_series_daily ORDER BY ALL")
        )
    assert headers == ["observation_date,DTB3", "DATE,DTB3"]
    assert stored[0].equals(stored[1])
    values = {(d, s): v for d, s, v in stored[1].rows()}
    # fred_DTB3_2006_2026.csv: 2022-12-23,4.23 and 2022-12-26, (Christmas observed, empty).
    assert values[(D(2022, 12, 23), "DTB3")] == 4.23 and values[(D(2022, 12, 26), "DTB3")] is None


def test_a_bad_date_under_the_older_header_names_that_column():
    with pytest.raises(SourceDataError) as err:
        parse_fredgraph(
            [{"DATE": "12/23/2022", "DTB3": "4.23"}], "DTB3", D(2022, 12, 1), D(2022, 12, 31)
        )
    assert str(err.value) == (
        "fred DTB3: field 'line 2 DATE' = '12/23/2022': not a YYYY-MM-DD date"
    )


def test_an_error_body_is_told_from_an_empty_answer_by_its_header():
    """An error page or a JSON error on one line reads as a header and no rows; FRED's answer
    for a window its series does not cover (SP500 before 2016) is its header alone, stored as
    nothing. Only the header tells them apart."""
    with pytest.raises(SourceDataError, match=r"fred SP500: field '\(header\)' = '<html>"):
        parse_fredgraph([], "SP500", D(2022, 1, 3), D(2022, 1, 7), ["<html>Service down</html>"])
    empty = parse_fredgraph(
        [], "SP500", D(2010, 1, 4), D(2010, 1, 8), ["observation_date", "SP500"]
    )
    assert empty.is_empty()


def test_a_reread_blanking_a_stored_value_replaces_nothing(warehouse):
    """The 7-day re-read answering an empty value (FRED's holiday form) where a number is
    stored fails naming the series, day and stored value, and leaves the row as it was."""
    from assets.ingest.parsing import require_nothing_lost, stamp
    from core.resources import Rows

    day = D(2023, 3, 8)
    stored = stamp(
        parse_fredgraph(rows("SP500", ("2023-03-08", "3992.01")), "SP500", day, day),
        "fred SP500",
        dt.datetime(2023, 3, 9),
    )
    warehouse.replace_window(day, day, Rows("raw.fred_series_daily", stored, ["date", "series_id"]))
    blank = parse_fredgraph(rows("SP500", ("2023-03-08", "")), "SP500", day, day)
    keys = ["date", "series_id"]
    with pytest.raises(SourceDataError) as err:
        require_nothing_lost(
            warehouse, "raw.fred_series_daily", blank, keys, day, day, "fred", values=("value",)
        )
    assert "value (date=2023-03-08, series_id=SP500)" in str(err.value)
    assert "3992.01 is stored" in str(err.value)
    assert warehouse.read("SELECT value FROM raw.fred_series_daily")["value"].to_list() == [3992.01]


def test_a_weekday_without_a_row_fails():
    """FRED answers every weekday, a holiday with an empty value (the DTB3 download misses
    none in 20 years): a weekday with no row at all is a cut answer, not a holiday."""
    with pytest.raises(SourceDataError, match=r"'1 weekday\(s\) without a row, e.g. 2023-06-14'"):
        parse_fredgraph(
            rows("SP500", ("2023-06-13", "4369.01"), ("2023-06-15", "4425.84")),
            "SP500",
            D(2023, 6, 12),
            D(2023, 6, 16),
        )
    # the last row before `end` (a value not posted yet) is no gap
    assert (
        parse_fredgraph(
            rows("SP500", ("2023-06-13", "4369.01"), ("2023-06-14", "")),
            "SP500",
            D(2023, 6, 12),
            D(2023, 6, 16),
        ).height
        == 2
    )
