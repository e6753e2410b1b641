"""Dagster's SQLite event log, storing a batch of events in one transaction per file.

A run over a range of days records one materialisation per asset and day (730 per asset for
two years), and at its creation one "planned" event per asset and per asset check. Dagster
hands such events to the storage as batches when DAGSTER_EVENT_BATCH_SIZE is above 0 (the
Makefile sets it), but `SqliteEventLogStorage` has no `store_event_batch` of its own: the
base class stores the events one by one, and each opens a new connection and commits a
transaction in the run's file and another in the index. Those commits, not the pipeline,
were most of a long range run (bench/RESULTS.md, "2-year backfill").

Here every file a batch touches is opened once for the batch and committed once at its end
(rolled back whole if any event fails, after which Dagster stores the events one by one).
Two files cannot commit as one: if the second commit fails after the first succeeded, the
fallback stores the batch again and the first file holds its events twice. Dagster's own
path has the same gap per event (an event in the run's file and not in the index).
A step's materialisations of a range are stored as dagster-postgres stores them (its own
`store_event_batch`); any other batch (the planned events of a new run) by Dagster's own
`store_event`, event by event. The rows are the ones Dagster writes, so an instance can
switch between this class and `SqliteEventLogStorage` at any time (tests/test_event_log.py).

Every other event (a step starting, a log line, a check's result) is stored by Dagster's
own `store_event`, with two changes: the connection to the cross-run index stays open
(`_open` says why, and why a run's file may not), and a table found in the index is
remembered (`has_table`).

dagster.yaml names this class as `event_log_storage` with `dagster_home: {env: DAGSTER_HOME}`,
and it keeps the event logs where Dagster's default SQLite storage does, in
$DAGSTER_HOME/history/runs/. A process that opens an instance by its folder
(`DagsterInstance.from_config(folder)`) must point DAGSTER_HOME at that folder, as Dagster's
CLI, daemon, webserver and run workers always do.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from dagster import Field, StringSource
from dagster._core.events import DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool, QueuePool

_ONE_KIND = ({DagsterEventType.ASSET_MATERIALIZATION}, {DagsterEventType.ASSET_OBSERVATION})


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` that stores a batch of events in one transaction per file."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        # The open connections of the batch being stored, by file, in the storing thread
        # (set first: Dagster's __init__ already connects, to create the index).
        self._batch = threading.local()
        self._index: Engine | None = None  # the index's engine, with its kept connection
        self._tables: set[str] = set()  # tables the index is known to have
        super().__init__(base_dir, inst_data)

    @classmethod
    def config_type(cls) -> Mapping[str, Field]:
        # The instance's folder, e.g. {env: DAGSTER_HOME}: a storage is not told where the
        # dagster.yaml naming it lives, so Dagster's default folder layout is rebuilt from it.
        return {"dagster_home": Field(StringSource)}

    @classmethod
    def from_config_value(  # ty: ignore[invalid-method-override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> BatchedSqliteEventLogStorage:
        # Where Dagster's default SQLite storage keeps event logs (dagster._core.instance.ref).
        runs = os.path.join(config_value["dagster_home"], "history", "runs", "")
        return cls(runs, inst_data=inst_data)

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        # The lock Dagster's `_connect` takes for each connection is held for the whole batch:
        # other threads of this process wait for the batch, as they wait for a connection.
        with self._db_lock, contextlib.ExitStack() as commits:
            self._batch.files, self._batch.commits = {}, commits
            try:
                if _asset_events_of_one_run(events):
                    self._store_asset_events(events)
                else:
                    for event in events:
                        self.store_event(event)
            finally:
                self._batch.files = None

    def _store_asset_events(self, events: Sequence[EventLogEntry]) -> None:
        """A step's materialisations (or observations) of a range of days, as
        `PostgresEventLogStorage.store_event_batch` stores them: every event in the run's
        file and in the index, with its tags, and the asset's own row in the index updated
        once, from the last event (each update replaces the one before)."""
        rows = [self._event_to_row(event) for event in events]  # serialised once, for both
        with self.run_connection(events[0].run_id) as conn:
            conn.execute(SqlEventLogStorageTable.insert(), rows)
        with self.index_transaction() as conn:
            # The index numbers the events itself, and the tags refer to those numbers:
            # sort_by_parameter_order returns them in the order of `rows` (SQLAlchemy 2).
            inserted = conn.execute(
                SqlEventLogStorageTable.insert().returning(
                    SqlEventLogStorageTable.c.id, sort_by_parameter_order=True
                ),
                rows,
            )
            ids = [row.id for row in inserted]
            self._store_asset_event_tags(conn, events, ids)
            self._store_asset_event(conn, events[-1], ids[-1])

    def has_table(self, table_name: str) -> bool:
        # Dagster asks before every check result, concurrency claim and tag write, and its
        # answer opens a new connection to the index each time (~12 % of storing a daily
        # run's events). Migrations only add tables, and wipe() keeps them, so a table found
        # stays; one not found is asked again, as a migration may add it.
        if table_name not in self._tables and super().has_table(table_name):
            self._tables.add(table_name)
        return table_name in self._tables

    def dispose(self) -> None:
        super().dispose()
        if self._index is not None:
            self._index.dispose()

    @contextlib.contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        files = getattr(self._batch, "files", None)
        if files is not None:
            if shard not in files:
                files[shard] = self._batch.commits.enter_context(self._open(shard))
            yield files[shard]
        elif shard == INDEX_SHARD_NAME:
            with self._db_lock, self._open(shard) as conn:
                yield conn
        else:
            with super()._connect(shard) as conn:
                yield conn

    @contextlib.contextmanager
    def _open(self, shard: str) -> Iterator[Connection]:
        """`SqliteEventLogStorage._connect` without its lock (the caller holds it): a
        connection to one file in a transaction.

        A run's file is opened and closed as Dagster does: SQLite writes the file itself when
        its last connection closes, and that write is what the UI's live run log waits for
        (`SqliteEventLogStorageWatchdog` watches `<run>.db`; tests/test_event_log.py). The
        index, which every asset and check event also goes to and nothing watches, keeps one
        connection open: closing it made SQLite checkpoint and delete its write-ahead log
        at every event, and the next event create it again."""
        if shard == INDEX_SHARD_NAME:
            if self._index is None:
                self._index = self._engine(shard, QueuePool, pool_size=1, max_overflow=-1)
            with self._index.connect() as conn, conn.begin():
                yield conn
            return
        engine = self._engine(shard, NullPool)
        try:
            with engine.connect() as conn, conn.begin():
                yield conn
        finally:
            engine.dispose()

    def _engine(self, shard: str, poolclass: type, **pool: Any) -> Engine:
        """An engine for one file, created as Dagster's `_connect` creates its own, and the
        file's tables made on its first use in this process. The index's pool keeps one
        connection (max_overflow=-1: Dagster's `_initdb` connects again meanwhile), shared by
        the threads of this process, which take turns through the storage's lock."""
        engine = create_engine(
            self.conn_string_for_shard(shard),
            poolclass=poolclass,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            **pool,
        )
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        return engine


def _asset_events_of_one_run(events: Sequence[EventLogEntry]) -> bool:
    """All materialisations or all observations of one asset in one run: what a step of a
    range run hands over for each output, and the only batch whose asset row can be updated
    from its last event."""
    kinds = {event.dagster_event_type for event in events}
    keys = {event.dagster_event.asset_key for event in events if event.dagster_event}
    return kinds in _ONE_KIND and len({event.run_id for event in events}) == 1 and len(keys) == 1
