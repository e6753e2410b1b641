"""The one DuckDB writer: table creation from `sql/`, partition and whole-table replaces.

Every write replaces one date window of one table in a single transaction (delete exactly
the window, insert the new rows), so re-materialising a day replaces exactly that day and a
failure leaves the table as it was. Connections are opened per operation and closed at once:
DuckDB allows one writing process per file, so nobody holds the lock longer than a write.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import dagster as dg
import duckdb
import polars as pl

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
_TABLE_NAME = re.compile(r"^(raw|staging|marts|analytics)\.[a-z][a-z0-9_]*$")
INGESTED_AT = "ingested_at"


class WarehouseError(RuntimeError):
    pass


def table_ddl(table: str) -> str:
    """The CREATE statement for `schema.table`, from `sql/<schema>/<table>.sql`."""
    if not _TABLE_NAME.match(table):
        raise WarehouseError(f"not a warehouse table name: {table!r}")
    schema, name = table.split(".")
    path = SQL_DIR / schema / f"{name}.sql"
    if not path.exists():
        raise WarehouseError(f"no DDL for {table}: expected {path}")
    return path.read_text()


@dataclass(frozen=True)
class Rows:
    """New rows for one table's window, and the key they are stored in order of."""

    table: str
    frame: pl.DataFrame
    order_by: Sequence[str]


class Warehouse(dg.ConfigurableResource):
    """The DuckDB file the pipeline writes."""

    path: str
    # How long to wait for another process's lock on the file before failing.
    lock_timeout_s: float = 120.0

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout_s
        while True:
            try:
                con = duckdb.connect(self.path, read_only=read_only)
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        try:
            yield con
        finally:
            con.close()

    def replace_window(self, start: dt.date, end: dt.date, *writes: Rows) -> dict[str, int]:
        """Replace the rows dated `start`..`end` (inclusive) of each table, in one transaction.

        Rows whose values are unchanged keep their original `ingested_at`, so re-running a
        partition over unchanged source data leaves the table byte-for-byte identical, while
        a revised value shows when the revision was picked up.
        """
        for write in writes:
            outside = write.frame.filter((pl.col("date") < start) | (pl.col("date") > end))
            if outside.height:
                raise WarehouseError(
                    f"{write.table}: {outside.height} rows fall outside the window "
                    f"{start}..{end}, e.g. date={outside['date'][0]}"
                )
        with self.transaction() as con:
            return {write.table: _replace(con, write, start, end) for write in writes}

    def replace_tables(self, *writes: Rows, statements: Sequence[str] = ()) -> dict[str, int]:
        """Replace each table whole with its rows (sorted by `order_by`), then run
        `statements` (e.g. COMMENT ON), all in one transaction: for derived tables that are
        recomputed from everything upstream, like the analytics."""
        with self.transaction() as con:
            for write in writes:
                if not _TABLE_NAME.match(write.table):
                    raise WarehouseError(f"not a warehouse table name: {write.table!r}")
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {write.table.split('.')[0]}")
                con.register("_table_rows", write.frame.sort(list(write.order_by)))
                con.execute(f"CREATE OR REPLACE TABLE {write.table} AS SELECT * FROM _table_rows")
                con.unregister("_table_rows")
            for statement in statements:
                con.execute(statement)
        return {write.table: write.frame.height for write in writes}

    def replace_whole(self, *writes: Rows) -> dict[str, int]:
        """Replace every row of each table (created from its DDL in sql/, typed and
        commented) with `frame`, in one transaction: for small reference tables that each
        run writes whole (labels, configured tokens)."""
        with self.transaction() as con:
            for write in writes:
                columns = _created(con, write)
                con.execute(f"DELETE FROM {write.table}")
                con.register("_table_rows", write.frame.select(list(columns))
                             .sort(list(write.order_by)))
                con.execute(f"INSERT INTO {write.table} BY NAME SELECT * FROM _table_rows")
                con.unregister("_table_rows")
        return {write.table: write.frame.height for write in writes}

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection inside one transaction: committed if the block ends normally,
        rolled back if it raises, so a failure leaves every table as it was."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def run_in_transaction(self, statements: Sequence[str]) -> None:
        """Run `statements` as one transaction: all of them take effect, or none."""
        with self.transaction() as con:
            for statement in statements:
                con.execute(statement)

    def publish(self, target: str) -> int:
        """Copy the whole warehouse to `target` atomically: built beside it, then renamed
        over it. Analysts holding the old copy open keep reading the old file untouched,
        and nobody ever opens a half-written one. Returns the copy's size in bytes."""
        target_path = Path(target)
        target_path.parent.mkdir(parents=True, exist_ok=True)
        building = target_path.with_name(f".{target_path.name}.building")
        building.unlink(missing_ok=True)
        with self.connect(read_only=True) as con:
            source = con.execute("SELECT current_database()").fetchone()[0]
            # ATTACH takes no parameters: the path (our own setting) is quoted as a literal.
            literal = "'" + str(building).replace("'", "''") + "'"
            con.execute(f"ATTACH {literal} AS analyst_copy (READ_WRITE)")
            con.execute(f'COPY FROM DATABASE "{source}" TO analyst_copy')
            con.execute("DETACH analyst_copy")
        os.replace(building, target_path)
        return target_path.stat().st_size

    def read(self, sql: str, params: Sequence[object] = ()) -> pl.DataFrame:
        with self.connect(read_only=True) as con:
            return con.execute(sql, list(params)).pl()

    def table_exists(self, table: str) -> bool:
        if not Path(self.path).exists():
            return False
        schema, name = table.split(".")
        found = self.read(
            "SELECT count(*) AS n FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        )
        return bool(found["n"][0])


def _created(con: duckdb.DuckDBPyConnection, write: Rows) -> pl.Schema:
    """Create `write.table` from its DDL if needed; its schema, which the rows must match."""
    con.execute(table_ddl(write.table))
    columns = con.execute(f"SELECT * FROM {write.table} LIMIT 0").pl().schema
    if set(columns) != set(write.frame.columns):
        raise WarehouseError(
            f"{write.table}: rows have columns {sorted(write.frame.columns)}, "
            f"the table has {sorted(columns)}"
        )
    return columns


def _replace(con: duckdb.DuckDBPyConnection, write: Rows, start: dt.date, end: dt.date) -> int:
    table = write.table
    columns = _created(con, write)
    new = write.frame.select(list(columns)).cast(dict(columns)).sort(list(write.order_by))
    old = con.execute(f"SELECT * FROM {table} WHERE date BETWEEN ? AND ?", [start, end]).pl()
    new = _keep_ingested_at_of_unchanged_rows(new, old)
    con.execute(f"DELETE FROM {table} WHERE date BETWEEN ? AND ?", [start, end])
    con.register("_window_rows", new)
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _window_rows")
    con.unregister("_window_rows")
    return new.height


def _keep_ingested_at_of_unchanged_rows(new: pl.DataFrame, old: pl.DataFrame) -> pl.DataFrame:
    if INGESTED_AT not in new.columns or old.is_empty():
        return new
    values = [c for c in new.columns if c != INGESTED_AT]
    previous = old.select(values + [pl.col(INGESTED_AT).alias("_previous")]).unique(values)
    return (
        new.join(previous, on=values, how="left", nulls_equal=True, maintain_order="left")
        .with_columns(pl.coalesce("_previous", INGESTED_AT).alias(INGESTED_AT))
        .drop("_previous")
    )
