"""The one DuckDB writer: table creation from the contracts in `sql/`, partition and
whole-table replaces.

Every write replaces one date window of one table in a single transaction, so
re-materialising a day replaces exactly that day and a failure leaves the table as it was.
Connections are opened per operation and closed at once: DuckDB allows one writing process
per file, so nobody holds the lock longer than a write. Processes take turns through a lock
file beside the warehouse (`<file>.lock`, flock: shared for a read, exclusive for a write),
so a step that reads a chain or an API for minutes never holds the warehouse meanwhile, and
steps of parallel runs extract at once and queue only for their writes.

A window is replaced key by key: rows whose key is gone are deleted, changed rows updated,
new keys inserted, unchanged rows left alone. Never deleting a key and inserting it again in
one transaction matters: when such a commit fails (disk full while writing the WAL), DuckDB
1.5 cannot undo it and aborts the whole process (`FatalException: Failed to append to
PRIMARY_...`, then SIGABRT), taking the Dagster run with it.

A write that cannot complete (disk full, any DuckDB error while committing, a DuckDB fatal
error) raises WarehouseError whose message starts with the warehouse and the cause, e.g.
`warehouse /data/w.duckdb: No space left on device while writing raw.fred_series_daily;
nothing was written ...`; DuckDB's own text follows. Before writing, the free space where the
file lives is checked against `min_free_mb` (plus twice the rows' size), so a nearly full
disk fails the step before DuckDB gets near its own out-of-space paths.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import os
import re
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from core.contracts import SQL_DIR as SQL_DIR  # where sql/ is, for the modules reading it
from core.contracts import ContractError, load_contract

_TABLE_NAME = re.compile(r"^(raw|staging|marts|analytics)\.[a-z][a-z0-9_]*$")
INGESTED_AT = "ingested_at"


class WarehouseError(RuntimeError):
    pass


_MB = 1024 * 1024


def table_ddl(table: str) -> str:
    """The DDL of `schema.table` (CREATE SCHEMA and TABLE IF NOT EXISTS, COMMENT ON),
    generated from its contract `sql/<schema>/<table>.yaml` (core/contracts.py)."""
    if not _TABLE_NAME.match(table):
        raise WarehouseError(f"not a warehouse table name: {table!r}")
    try:
        return load_contract(table).ddl()
    except ContractError as exc:
        raise WarehouseError(str(exc)) from exc


@dataclass(frozen=True)
class Rows:
    """New rows for one table's window, and the key they are stored in order of.

    `within` narrows what a window replace owns: {column: values}, e.g. {"chain": chains
    read}, so a run that read some chains replaces only their rows of the window and leaves
    the others' (a run per chain, or STABLEFLOW_CHAINS naming a subset). Rows outside it are
    refused."""

    table: str
    frame: pl.DataFrame
    order_by: Sequence[str]
    within: Mapping[str, Sequence[object]] = field(default_factory=dict)


class Warehouse(dg.ConfigurableResource):
    """The DuckDB file the pipeline writes."""

    path: str
    # How long to wait for another process's lock on the file before failing.
    lock_timeout_s: float = 120.0
    # Free space (MB) the filesystem holding the file must keep beyond twice the rows being
    # written, or the write fails before it starts: DuckDB's WAL and checkpoints need room,
    # and a write that runs out of it mid-commit is the case DuckDB handles worst. 0: no check.
    min_free_mb: float = 64.0

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if not read_only:
            record_write(self.path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout_s
        with _turn(self.path, read_only, deadline, self.where):
            with self._open(read_only, deadline) as con:
                yield con

    @contextlib.contextmanager
    def _open(self, read_only: bool, deadline: float) -> Iterator[duckdb.DuckDBPyConnection]:
        while True:
            try:
                con = duckdb.connect(self.path, read_only=read_only)
                break
            except duckdb.IOException as exc:
                if _no_space(exc):
                    raise WarehouseError(
                        f"warehouse {self.where}: No space left on device while opening it; "
                        f"nothing was written. Free space on its filesystem, then re-run. "
                        f"[DuckDB: {_one_line(exc)}]"
                    ) from exc
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        try:
            yield con
        except BaseException:
            # Never let closing hide why the block failed (after a DuckDB fatal error the
            # database is invalidated; closing it is still safe, and the next connect
            # reopens the file and replays its WAL).
            with contextlib.suppress(duckdb.Error):
                con.close()
            raise
        con.close()

    @property
    def where(self) -> str:
        """The warehouse file's absolute path, as messages name it."""
        return os.path.abspath(self.path)

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
            for column, values in write.within.items():
                if not values:
                    raise WarehouseError(f"{write.table}: no {column} to replace rows of")
                stray = write.frame.filter(~pl.col(column).is_in(list(values)))
                if stray.height:
                    raise WarehouseError(
                        f"{write.table}: {stray.height} rows fall outside the {column}s this "
                        f"write replaces {sorted(values)}, e.g. {column}={stray[column][0]!r}"
                    )
        with self.transaction(_names(writes), _frames_bytes(writes)) as con:
            return {write.table: _replace(con, write, start, end) for write in writes}

    def replace_tables(self, *writes: Rows, statements: Sequence[str] = ()) -> dict[str, int]:
        """Replace each table whole with its rows (sorted by `order_by`), then run
        `statements` (e.g. COMMENT ON), all in one transaction: for derived tables that are
        recomputed from everything upstream, like the analytics."""
        with self.transaction(_names(writes), _frames_bytes(writes)) as con:
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
        """Replace every row of each table (created from its contract in sql/, typed and
        commented) with `frame`, in one transaction: for small reference tables that each
        run writes whole (labels, configured tokens)."""
        with self.transaction(_names(writes), _frames_bytes(writes)) as con:
            for write in writes:
                columns = _created(con, write)
                _put_rows(
                    con,
                    write.table,
                    write.frame.select(list(columns)).sort(list(write.order_by)),
                    write.order_by,
                    "TRUE",
                    [],
                )
        return {write.table: write.frame.height for write in writes}

    @contextlib.contextmanager
    def transaction(
        self, writing: str = "the warehouse", size_bytes: int = 0
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection inside one transaction: committed if the block ends normally,
        rolled back if it raises, so a failure leaves every table as it was.

        `writing` names what is written (for messages); `size_bytes` is roughly how much, for
        the free-space check. A failed commit, an I/O error, a failed rollback or a DuckDB
        fatal error raise WarehouseError leading with the cause (module docstring)."""
        self._check_free_space(writing, size_bytes)
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException as exc:
                self._abandon(con, exc, writing)
                raise
            try:
                con.execute("COMMIT")
            except duckdb.Error as exc:
                # DuckDB undoes a commit that fails (nothing is left to roll back), or, after
                # a fatal error, has invalidated the database: no further statement is sent.
                raise self._failure(exc, writing, "commit") from exc

    def _abandon(self, con: duckdb.DuckDBPyConnection, exc: BaseException, writing: str) -> None:
        """Roll back after `exc` ended the block early; raise WarehouseError instead of `exc`
        when it is a DuckDB fatal error or a disk problem, or when the rollback fails."""
        if _fatal(exc):
            raise self._failure(exc, writing, "statement") from exc
        try:
            con.execute("ROLLBACK")
        except duckdb.Error as rollback_exc:
            raise self._failure(exc, writing, "statement", rollback_exc) from exc
        if _no_space(exc) or isinstance(exc, (duckdb.IOException, OSError)):
            raise self._failure(exc, writing, "statement") from exc

    def _failure(
        self,
        exc: BaseException,
        writing: str,
        during: str,
        rollback_exc: BaseException | None = None,
    ) -> WarehouseError:
        """The error a failed write raises: warehouse, cause, what was being written, what
        became of it, what to do; DuckDB's own words last."""
        cause = "No space left on device" if _no_space(exc) else _one_line(exc)
        if _fatal(exc):
            outcome = (
                "DuckDB stopped with a fatal error and invalidated the database in this "
                "process: the transaction was abandoned without a rollback (one "
                "transaction, so the window is stored whole or not at all, never in "
                "part; rows stored before are intact) and the next write reopens the "
                "file"
            )
        elif rollback_exc is not None:
            outcome = (
                f"nothing was committed, but the rollback failed as well "
                f"({_one_line(rollback_exc)})"
            )
        elif during == "commit":
            outcome = (
                "nothing was written: DuckDB undid the commit, so no partial window "
                "and nothing lost of the rows stored before"
            )
        else:
            outcome = (
                "nothing was written: the transaction was rolled back, so no partial "
                "window and nothing lost of the rows stored before"
            )
        advice = (
            " Free space on the filesystem holding the warehouse, then re-run."
            if _no_space(exc)
            else " Re-running the window writes it whole."
        )
        detail = f" [DuckDB: {_one_line(exc)}]" if cause != _one_line(exc) else ""
        return WarehouseError(
            f"warehouse {self.where}: {cause} while writing {writing}; {outcome}.{advice}{detail}"
        )

    def _check_free_space(self, writing: str, size_bytes: int) -> None:
        """Fail before opening the file when its filesystem has too little room left."""
        if self.min_free_mb <= 0:
            return
        folder = Path(self.where).parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        stats = os.statvfs(folder)
        free = stats.f_bavail * stats.f_frsize
        needed = self.min_free_mb * _MB + 2 * size_bytes
        if free < needed:
            raise WarehouseError(
                f"warehouse {self.where}: too little free disk space to write {writing} "
                f"({free / _MB:.1f} MB free on its filesystem, {needed / _MB:.1f} MB required: "
                f"Warehouse.min_free_mb={self.min_free_mb:g} plus twice the rows); nothing was "
                f"written. Free space there, then re-run."
            )

    def run_in_transaction(self, statements: Sequence[str]) -> None:
        """Run `statements` as one transaction: all of them take effect, or none."""
        written = sorted({m.group(1) for s in statements for m in [_WRITTEN_TABLE.search(s)] if m})
        with self.transaction(", ".join(written) or "the warehouse") as con:
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
        try:
            with self.connect(read_only=True) as con:
                source = con.execute("SELECT current_database()").fetchone()[0]
                # ATTACH takes no parameters: the path (our own setting) is quoted as a literal.
                literal = "'" + str(building).replace("'", "''") + "'"
                con.execute(f"ATTACH {literal} AS analyst_copy (READ_WRITE)")
                con.execute(f'COPY FROM DATABASE "{source}" TO analyst_copy')
                con.execute("DETACH analyst_copy")
        except BaseException as exc:
            building.unlink(missing_ok=True)  # a half-built copy only takes space
            for leftover in building.parent.glob(f"{building.name}.wal"):
                leftover.unlink(missing_ok=True)
            if _no_space(exc):
                raise WarehouseError(
                    f"analysts' copy {os.path.abspath(target_path)}: No space left on device "
                    f"while building it; the previous copy is untouched. Free space on its "
                    f"filesystem, then re-run. [DuckDB: {_one_line(exc)}]"
                ) from exc
            raise
        os.replace(building, target_path)
        return target_path.stat().st_size

    def read(self, sql: str, params: Sequence[object] | Mapping[str, object] = ()) -> pl.DataFrame:
        """The rows of `sql`, with `params` by position (?) or by name ($name)."""
        with self.connect(read_only=True) as con:
            return con.execute(sql, params if isinstance(params, Mapping) else list(params)).pl()

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


# This process's turns at each warehouse: path -> [lock file descriptor, depth]. A turn is
# re-entrant within the process (a read inside a write's block must not wait for itself).
_TURNS: dict[str, list[int]] = {}
_TURNS_GUARD = threading.Lock()


@contextlib.contextmanager
def _turn(path: str, read_only: bool, deadline: float, where: str) -> Iterator[None]:
    """Wait for this process's turn at the warehouse file: flock on `<file>.lock`, shared for
    a read and exclusive for a write, polled until `deadline`. The kernel drops the lock when
    its process dies, so a killed run never leaves the warehouse locked. DuckDB's own file
    lock still guards against processes that do not take turns (an analyst's CLI)."""
    key = os.path.abspath(path)
    with _TURNS_GUARD:
        held = _TURNS.get(key)
        if held:
            held[1] += 1
    if held:
        try:
            yield
        finally:
            with _TURNS_GUARD:
                held[1] -= 1
        return
    fd = os.open(f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        mode = fcntl.LOCK_SH if read_only else fcntl.LOCK_EX
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise WarehouseError(
                        f"warehouse {where}: another process kept it busy beyond "
                        f"Warehouse.lock_timeout_s ({'reading' if read_only else 'writing'} "
                        f"waits for its turn at {key}.lock); nothing was written"
                    ) from None
                time.sleep(0.05)
        with _TURNS_GUARD:
            _TURNS[key] = [fd, 1]
        try:
            yield
        finally:
            with _TURNS_GUARD:
                del _TURNS[key]
    finally:
        os.close(fd)  # releases the lock


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
    scope, params = "t.date BETWEEN ? AND ?", [start, end]
    for column, values in write.within.items():
        scope += f' AND t."{column}" IN ({", ".join("?" for _ in values)})'
        params += list(values)
    old = con.execute(f"SELECT * FROM {table} AS t WHERE {scope}", params).pl()
    new = _keep_ingested_at_of_unchanged_rows(new, old)
    _put_rows(con, table, new, write.order_by, scope, params)
    return new.height


def _put_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    new: pl.DataFrame,
    order_by: Sequence[str],
    scope: str,
    params: list,
) -> None:
    """Make the rows of `table` matching `scope` (SQL on alias `t`) exactly `new`.

    With a primary key: delete the keys `new` lacks, update the rows whose values changed,
    insert the keys not yet there (in `order_by` order); a key is never deleted and inserted
    again (module docstring: DuckDB aborts the process when such a commit fails). Without
    one: delete the scope, insert `new`."""
    key = _primary_key(con, table)
    con.register("_new_rows", new)
    try:
        if not key:
            con.execute(f"DELETE FROM {table} AS t WHERE {scope}", params)
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _new_rows")
            return
        repeated = new.filter(pl.struct(key).is_duplicated())
        if repeated.height:
            raise WarehouseError(
                f"{table}: {repeated.height} rows share a key ({', '.join(key)}), e.g. "
                f"{repeated.select(key).row(0, named=True)}"
            )
        same = " AND ".join(f't."{c}" = n."{c}"' for c in key)
        con.execute(
            f"DELETE FROM {table} AS t WHERE {scope} AND NOT EXISTS "
            f"(SELECT 1 FROM _new_rows AS n WHERE {same})",
            params,
        )
        values = [c for c in new.columns if c not in key]
        if values:
            assign = ", ".join(f'"{c}" = n."{c}"' for c in values)
            changed = " OR ".join(f't."{c}" IS DISTINCT FROM n."{c}"' for c in values)
            con.execute(
                f"UPDATE {table} AS t SET {assign} FROM _new_rows AS n "
                f"WHERE {same} AND {scope} AND ({changed})",
                params,
            )
        order = ", ".join(f'n."{c}"' for c in order_by)
        con.execute(
            f"INSERT INTO {table} BY NAME SELECT n.* FROM _new_rows AS n WHERE NOT "
            f"EXISTS (SELECT 1 FROM {table} AS t WHERE {same} AND {scope}) "
            f"ORDER BY {order}",
            params,
        )
    finally:
        con.unregister("_new_rows")


def _primary_key(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    schema, name = table.split(".")
    found = con.execute(
        "SELECT constraint_column_names FROM duckdb_constraints() WHERE database_name = "
        "current_database() AND schema_name = ? AND table_name = ? "
        "AND constraint_type = 'PRIMARY KEY'",
        [schema, name],
    ).fetchone()
    return list(found[0]) if found else []


_WRITTEN_TABLE = re.compile(
    r"^\s*(?:CREATE\s+(?:OR\s+REPLACE\s+)?TABLE|INSERT\s+INTO|DELETE\s+FROM|UPDATE)\s+"
    r"([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)",
    re.IGNORECASE,
)


def _names(writes: Sequence[Rows]) -> str:
    return ", ".join(write.table for write in writes) or "the warehouse"


def _frames_bytes(writes: Sequence[Rows]) -> int:
    return sum(write.frame.estimated_size() for write in writes)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _no_space(exc: BaseException) -> bool:
    """Whether `exc` (or what it was raised from) is the filesystem running out of room."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(exc)
        if "No space left on device" in text or "Disk quota exceeded" in text:
            return True
        exc = exc.__cause__
    return False


def _fatal(exc: BaseException) -> bool:
    """A DuckDB fatal (or internal) error: the database is invalidated in this process, and
    every further statement on it, ROLLBACK included, fails."""
    return isinstance(exc, (duckdb.FatalException, duckdb.InternalException)) or (
        "database has been invalidated" in str(exc)
    )


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


_RECORDED: weakref.WeakSet[dg.AssetExecutionContext] = weakref.WeakSet()


def record_write(path: str) -> None:
    """Inside a Dagster asset step, say which file it writes: log the warehouse's absolute
    path (once per step) and record it as `warehouse` metadata on every asset the step
    materialises. Outside a step (checks, scripts, tests calling the resource) nothing."""
    try:
        context = dg.AssetExecutionContext.get()
    except dg.DagsterInvariantViolationError:
        return
    if context in _RECORDED:
        return
    _RECORDED.add(context)
    where = os.path.abspath(path)
    context.log.info(f"warehouse: writing {where}")
    for key in context.selected_asset_keys:
        context.add_asset_metadata({"warehouse": dg.MetadataValue.path(where)}, asset_key=key)
