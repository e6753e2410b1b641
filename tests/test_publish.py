"""The marts and analytics published as partitioned Parquet with a DuckDB file of views
(assets/publish.py): read back through the views, and by engines other than DuckDB, they
equal the warehouse's tables; snapshots replace each other whole."""

import datetime as dt
import os
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.dataset as ds
import pytest

from assets.publish import CURRENT, VIEWS_FILE, publish_parquet
from core.resources import Warehouse

TABLES = {
    # dated, over two years, with a 128-bit count (Parquet has no HUGEINT) and a NULL
    "marts.flows_daily": """
        CREATE TABLE marts.flows_daily AS
        SELECT DATE '2021-12-30' + i::INTEGER AS date, 'USDT' AS token,
               (i * 1.5)::DOUBLE AS netflow_tokens, (i * 10)::HUGEINT AS transfers,
               CASE WHEN i = 2 THEN NULL ELSE i % 2 = 0 END AS flagged
        FROM range(5) t(i)""",
    # no date: one file
    "marts.exchanges": """
        CREATE TABLE marts.exchanges AS
        SELECT * FROM (VALUES ('binance', 'derivatives', 12.5::DECIMAL(18, 2)),
                              ('it''s', 'spot', NULL)) t(exchange, kind, share)""",
    # dated but empty: one file with the schema
    "analytics.regime_daily": """
        CREATE TABLE analytics.regime_daily (date DATE, regime VARCHAR, ln_change DOUBLE)""",
    # not published
    "raw.fear_greed_daily": "CREATE TABLE raw.fear_greed_daily AS SELECT DATE '2021-01-01' AS date",
}


@pytest.fixture
def source(tmp_path) -> Warehouse:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        for schema in ("raw", "marts", "analytics"):
            con.execute(f"CREATE SCHEMA {schema}")
        for sql in TABLES.values():
            con.execute(sql)
        con.execute("COMMENT ON TABLE marts.flows_daily IS 'Net flows per day'")
        con.execute(
            "COMMENT ON COLUMN marts.flows_daily.transfers IS 'Transfer count, it''s exact'"
        )
    return Warehouse(path=str(path))


def columns(con: duckdb.DuckDBPyConnection, database: str, table: str) -> list[tuple]:
    schema, name = table.split(".")
    return con.execute(
        "SELECT column_name, data_type, comment FROM duckdb_columns() WHERE database_name = ? "
        "AND schema_name = ? AND table_name = ? ORDER BY column_index",
        [database, schema, name],
    ).fetchall()


def test_views_over_the_parquet_equal_the_warehouse(source, tmp_path):
    folder = tmp_path / "published"
    published = publish_parquet(source, str(folder))
    snapshot = Path(published["snapshot"])
    assert (folder / CURRENT).resolve() == snapshot.resolve()
    assert sorted(p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*.parquet")) == [
        "analytics/regime_daily/data_0.parquet",
        "marts/exchanges/data_0.parquet",
        "marts/flows_daily/year=2021/data_0.parquet",
        "marts/flows_daily/year=2022/data_0.parquet",
    ]
    with duckdb.connect(str(folder / VIEWS_FILE), read_only=True) as con:
        con.execute(f"ATTACH '{source.path}' AS warehouse (READ_ONLY)")
        views = con.execute(
            "SELECT schema_name || '.' || view_name, comment FROM duckdb_views() "
            "WHERE NOT internal AND database_name = 'stableflow' ORDER BY ALL"
        ).fetchall()
        assert views == [
            ("analytics.regime_daily", None),
            ("marts.exchanges", None),
            ("marts.flows_daily", "Net flows per day"),
        ]
        for table, _ in views:
            assert columns(con, "stableflow", table) == columns(con, "warehouse", table), table
            ours = con.execute(f"SELECT * FROM stableflow.{table} ORDER BY ALL").fetchall()
            theirs = con.execute(f"SELECT * FROM warehouse.{table} ORDER BY ALL").fetchall()
            assert ours == theirs, table
        assert con.execute("SELECT count(*) FROM marts.flows_daily").fetchone()[0] == 5


def test_other_engines_read_the_partitioned_parquet(source, tmp_path):
    folder = tmp_path / "published"
    publish_parquet(source, str(folder))
    flows = folder / CURRENT / "marts" / "flows_daily"
    # Arrow, with the hive-style year folders as a column
    table = ds.dataset(flows, format="parquet", partitioning="hive").to_table()
    assert sorted(table.column("year").to_pylist()) == [2021, 2021, 2022, 2022, 2022]
    assert table.schema.field("transfers").type.__str__() == "decimal128(38, 0)"
    # polars, one year only
    frame = pl.read_parquet(flows / "year=2022" / "*.parquet").sort("date")
    assert frame["date"].to_list() == [
        dt.date(2022, 1, 1),
        dt.date(2022, 1, 2),
        dt.date(2022, 1, 3),
    ]
    assert frame["netflow_tokens"].to_list() == [3.0, 4.5, 6.0]


def test_a_new_snapshot_replaces_the_old_whole_and_the_one_before_is_dropped(source, tmp_path):
    folder = tmp_path / "published"
    first = Path(publish_parquet(source, str(folder))["snapshot"])
    with duckdb.connect(source.path) as con:
        con.execute("DELETE FROM marts.flows_daily WHERE date < DATE '2022-01-01'")
    second = Path(publish_parquet(source, str(folder))["snapshot"])
    with duckdb.connect(str(folder / VIEWS_FILE), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.flows_daily").fetchone()[0] == 3
    assert first.exists(), "the previous snapshot stays for queries still reading it"
    third = Path(publish_parquet(source, str(folder))["snapshot"])
    assert not first.exists() and second.exists()
    assert os.readlink(folder / CURRENT) == f"snapshots/{third.name}"
    # the same tables give the same files
    assert all(
        (third / p.relative_to(second)).read_bytes() == p.read_bytes()
        for p in second.rglob("*.parquet")
    )
    assert not [p for p in folder.rglob(".*")], "nothing half-built is left"


def test_a_failed_publication_leaves_the_current_snapshot(source, tmp_path, monkeypatch):
    folder = tmp_path / "published"
    before = Path(publish_parquet(source, str(folder))["snapshot"])

    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("assets.publish._build_views", fail)
    with pytest.raises(OSError, match="No space left"):
        publish_parquet(source, str(folder))
    assert (folder / CURRENT).resolve() == before.resolve()
    assert [p.name for p in (folder / "snapshots").iterdir()] == [before.name]
    with duckdb.connect(str(folder / VIEWS_FILE), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.flows_daily").fetchone()[0] == 5
