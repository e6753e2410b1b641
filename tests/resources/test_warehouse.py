"""Warehouse.replace_window: exactly the window, one transaction, idempotent."""

import datetime as dt

import duckdb
import polars as pl
import pytest

from pipelines.resources import Rows, WarehouseError

D = dt.date
T0 = dt.datetime(2024, 1, 1, 12, 0)
T1 = dt.datetime(2024, 1, 2, 12, 0)
TABLE = "raw.defillama_total_supply"


def supply(days: dict[dt.date, float], ingested_at: dt.datetime = T0) -> pl.DataFrame:
    return pl.DataFrame({
        "date": list(days), "circulating_usd": list(days.values()),
        "source": "test", "ingested_at": ingested_at,
    })


def rows(warehouse, table=TABLE):
    return warehouse.read(f"SELECT * FROM {table} ORDER BY date").rows()


def test_replaces_exactly_the_window(warehouse):
    warehouse.replace_window(D(2021, 1, 1), D(2021, 1, 3), Rows(TABLE, supply(
        {D(2021, 1, 1): 1.0, D(2021, 1, 2): 2.0, D(2021, 1, 3): 3.0}), ["date"]))
    warehouse.replace_window(D(2021, 1, 2), D(2021, 1, 2), Rows(TABLE, supply(
        {D(2021, 1, 2): 20.0}, T1), ["date"]))
    assert [(r[0], r[1]) for r in rows(warehouse)] == [
        (D(2021, 1, 1), 1.0), (D(2021, 1, 2), 20.0), (D(2021, 1, 3), 3.0)]


def test_rerun_with_same_values_is_byte_identical_and_keeps_ingested_at(warehouse):
    frame = {D(2021, 1, 1): 1.0, D(2021, 1, 2): 2.0}
    warehouse.replace_window(D(2021, 1, 1), D(2021, 1, 2), Rows(TABLE, supply(frame, T0), ["date"]))
    before = rows(warehouse)
    # Same values fetched a day later, one of them revised.
    warehouse.replace_window(D(2021, 1, 1), D(2021, 1, 2), Rows(TABLE, supply(
        {D(2021, 1, 1): 1.0, D(2021, 1, 2): 2.5}, T1), ["date"]))
    after = rows(warehouse)
    assert after[0] == before[0]  # unchanged value keeps its first ingestion time
    assert after[1][1:] == (2.5, "test", T1)  # revised value shows when it was picked up
    warehouse.replace_window(D(2021, 1, 1), D(2021, 1, 2), Rows(TABLE, supply(
        {D(2021, 1, 1): 1.0, D(2021, 1, 2): 2.5}, dt.datetime(2030, 1, 1)), ["date"]))
    assert rows(warehouse) == after


def test_failure_mid_transaction_leaves_every_table_as_it_was(warehouse):
    warehouse.replace_window(D(2021, 1, 1), D(2021, 1, 1), Rows(TABLE, supply({D(2021, 1, 1): 1.0}), ["date"]))
    broken = pl.DataFrame({"date": [D(2021, 1, 1)], "wrong_column": [1.0]})
    with pytest.raises(WarehouseError, match="columns"):
        warehouse.replace_window(
            D(2021, 1, 1), D(2021, 1, 1),
            Rows(TABLE, supply({D(2021, 1, 1): 99.0}), ["date"]),  # would succeed alone
            Rows("raw.defillama_token_supply", broken, ["date"]),
        )
    assert [r[1] for r in rows(warehouse)] == [1.0]
    assert not warehouse.table_exists("raw.defillama_token_supply")


def test_rows_outside_the_window_are_refused(warehouse):
    with pytest.raises(WarehouseError, match="outside the window"):
        warehouse.replace_window(D(2021, 1, 1), D(2021, 1, 1), Rows(TABLE, supply(
            {D(2021, 1, 1): 1.0, D(2021, 1, 2): 2.0}), ["date"]))
    assert not warehouse.table_exists(TABLE)


def test_null_in_not_null_column_is_refused_and_nothing_written(warehouse):
    frame = supply({D(2021, 1, 1): 1.0}).with_columns(circulating_usd=pl.lit(None, pl.Float64))
    with pytest.raises(duckdb.ConstraintException):
        warehouse.replace_window(D(2021, 1, 1), D(2021, 1, 1), Rows(TABLE, frame, ["date"]))
    assert not warehouse.table_exists(TABLE)


def test_unknown_table_names_are_refused(warehouse):
    for name in ("raw.nope", "raw.x; DROP TABLE y", "main.defillama_total_supply"):
        with pytest.raises(WarehouseError):
            warehouse.replace_window(D(2021, 1, 1), D(2021, 1, 1), Rows(name, supply({}), ["date"]))


def test_tables_are_documented_in_the_database(warehouse):
    warehouse.replace_window(D(2021, 1, 1), D(2021, 1, 1), Rows(TABLE, supply({D(2021, 1, 1): 1.0}), ["date"]))
    comments = warehouse.read(
        "SELECT column_name, comment FROM duckdb_columns() WHERE table_name = ?",
        ["defillama_total_supply"])
    assert comments["comment"].null_count() == 0 and comments.height == 4


def test_replace_tables_swaps_whole_tables_or_nothing(warehouse):
    first = pl.DataFrame({"period": ["b", "a"], "value": [2.0, 1.0]})
    warehouse.replace_tables(Rows("analytics.example", first, ["period"]),
                             statements=["COMMENT ON TABLE analytics.example IS 'v1'"])
    stored = warehouse.read("SELECT * FROM analytics.example")
    assert stored.rows() == [("a", 1.0), ("b", 2.0)]  # stored in key order
    second = pl.DataFrame({"period": ["c"], "value": [3.0]})
    with pytest.raises(duckdb.CatalogException):
        warehouse.replace_tables(Rows("analytics.example", second, ["period"]),
                                 statements=["COMMENT ON TABLE analytics.missing IS 'x'"])
    assert warehouse.read("SELECT * FROM analytics.example").rows() == [("a", 1.0), ("b", 2.0)]
    with pytest.raises(WarehouseError, match="not a warehouse table name"):
        warehouse.replace_tables(Rows("main.example; DROP TABLE x", second, ["period"]))
