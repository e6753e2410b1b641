"""pipelines/event_log.py: a range run's materialisations stored in batches are the records
Dagster's own SQLite event log stores one by one, in the same files."""

import shutil
import time
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.test_utils import instance_for_test

from pipelines.event_log import BatchedSqliteEventLogStorage

ROOT = Path(__file__).resolve().parents[1]
FIRST, LAST = "2024-01-01", "2024-01-10"
DAYS = dg.DailyPartitionsDefinition(start_date=FIRST, end_date="2024-01-11")
RANGE_TAGS = {
    "dagster/asset_partition_range_start": FIRST,
    "dagster/asset_partition_range_end": LAST,
}
# dagster.yaml's event log, as instance_for_test points DAGSTER_HOME at its folder.
BATCHED = {
    "event_log_storage": {
        "module": "pipelines.event_log",
        "class": "BatchedSqliteEventLogStorage",
        "config": {"dagster_home": {"env": "DAGSTER_HOME"}},
    }
}


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def upstream() -> None:
    pass


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run(), deps=[upstream])
def downstream() -> None:
    pass


def _stored(instance: dg.DagsterInstance, run_id: str) -> dict:
    """What a user of the instance sees of the two assets after the run `run_id`: partitions,
    every record (storage id, partition, tags) and the asset's latest materialisation. A
    tag's value that is the run id reads "<run>", and data versions (hashes of it) only as
    present, so two instances' runs compare."""

    def masked(tags) -> tuple:
        return tuple(
            sorted(
                (k, "<run>" if v == run_id else "<hash>" if "data_version" in k else v)
                for k, v in tags.items()
            )
        )

    def tags(record) -> tuple:
        return masked(record.event_log_entry.tags)

    seen = {}
    for key in (upstream.key, downstream.key):
        records = instance.fetch_materializations(key, limit=100).records
        assert {r.run_id for r in records} == {run_id}
        seen[key.to_user_string()] = {
            "partitions": sorted(instance.get_materialized_partitions(key)),
            "records": sorted((r.storage_id, r.partition_key, tags(r)) for r in records),
            # The index's tag rows, which Dagster's look-ups by tag (data versions) read.
            "tag_rows": sorted(
                (r.storage_id, masked(row))
                for r in records
                for row in instance.get_event_tags_for_asset(key, filter_event_id=r.storage_id)
            ),
            "latest": instance.get_latest_materialization_event(key).dagster_event.partition,
            # The asset list of the UI reads this (from the asset row or the event log).
            "asset_row": instance.get_asset_records([key])[
                0
            ].asset_entry.last_materialization_record.storage_id,
            "run_events": sum(
                e.dagster_event_type == DagsterEventType.ASSET_MATERIALIZATION
                and e.dagster_event.asset_key == key
                for e in instance.all_logs(run_id)
            ),
            # Planned events come in a batch of every kind at the run's creation.
            "planned": sum(
                e.dagster_event_type == DagsterEventType.ASSET_MATERIALIZATION_PLANNED
                and e.dagster_event.asset_key == key
                for e in instance.all_logs(run_id)
            ),
        }
    return seen


def _run(instance: dg.DagsterInstance) -> str:
    result = dg.materialize([upstream, downstream], instance=instance, tags=RANGE_TAGS)
    assert result.success
    return result.run_id


def test_batches_store_what_dagster_stores_one_by_one(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    # Per batch of materialisations: how many events, and how many files it opened.
    batches, opened = [], []
    store_batch, open_file = (
        BatchedSqliteEventLogStorage.store_event_batch,
        BatchedSqliteEventLogStorage._open,
    )

    def counted_batch(self, events):
        opened.clear()
        store_batch(self, events)
        if events[0].dagster_event_type == DagsterEventType.ASSET_MATERIALIZATION:
            batches.append((len(events), len(opened)))

    def counted_open(self, shard):
        opened.append(shard)
        return open_file(self, shard)

    monkeypatch.setattr(BatchedSqliteEventLogStorage, "store_event_batch", counted_batch)
    monkeypatch.setattr(BatchedSqliteEventLogStorage, "_open", counted_open)

    # instance_for_test points DAGSTER_HOME at its folder, as a user's instance would.
    batched_home, default_home = tmp_path / "batched", tmp_path / "dagster"
    batched_home.mkdir(), default_home.mkdir()
    with instance_for_test(overrides=BATCHED, temp_dir=str(batched_home)) as instance:
        assert type(instance.event_log_storage) is BatchedSqliteEventLogStorage
        batched_run = _run(instance)
        batched = _stored(instance, batched_run)
    # One batch per asset holding all its days, in two files: the run's and the index.
    assert batches == [(len(DAYS.get_partition_keys()), 2)] * 2

    with instance_for_test(temp_dir=str(default_home)) as instance:
        default_run = _run(instance)
        default = _stored(instance, default_run)

    days = DAYS.get_partition_keys()
    assert batched["downstream"]["partitions"] == days
    assert batched["upstream"]["run_events"] == len(days)
    assert batched["downstream"]["latest"] == LAST
    assert batched == default

    # The files are Dagster's own: the default storage reads what the batches wrote.
    with instance_for_test(temp_dir=str(batched_home)) as instance:
        assert _stored(instance, batched_run) == batched


def test_a_failed_batch_leaves_nothing_and_dagster_stores_its_events_again(tmp_path, monkeypatch):
    """A batch is one transaction per file: when an event of it fails, none of its events
    stay, and Dagster's fallback (each event on its own) stores them once, not twice."""
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    failed = []
    store_tags = BatchedSqliteEventLogStorage._store_asset_event_tags

    def fail_once(self, conn, events, event_ids):
        if len(events) > 1 and not failed:
            failed.append(len(events))
            raise OSError("disk I/O error (planted)")
        return store_tags(self, conn, events, event_ids)

    monkeypatch.setattr(BatchedSqliteEventLogStorage, "_store_asset_event_tags", fail_once)
    with instance_for_test(overrides=BATCHED, temp_dir=str(tmp_path)) as instance:
        run_id = _run(instance)
        stored = _stored(instance, run_id)
    assert failed == [len(DAYS.get_partition_keys())]
    for asset in ("upstream", "downstream"):
        assert stored[asset]["run_events"] == len(DAYS.get_partition_keys())
        assert [p for _, p, _ in stored[asset]["records"]] == DAYS.get_partition_keys()


def test_each_event_keeps_its_own_tags(tmp_path):
    """The index numbers a batch's events itself; every tag row must point at its own event.
    Here each day's materialisation carries its own data version, so a mismatch shows."""
    storage = BatchedSqliteEventLogStorage(str(tmp_path))
    key = dg.AssetKey("supply")
    days = DAYS.get_partition_keys()
    events = [
        EventLogEntry(
            error_info=None,
            level="debug",
            user_message="",
            run_id="run-1",
            timestamp=1_700_000_000.0 + i,
            step_key="supply",
            job_name="job",
            dagster_event=DagsterEvent(
                DagsterEventType.ASSET_MATERIALIZATION.value,
                "job",
                event_specific_data=StepMaterializationData(
                    dg.AssetMaterialization(
                        key, partition=day, tags={"dagster/data_version": f"v-{day}"}
                    )
                ),
            ),
        )
        for i, day in enumerate(days)
    ]
    storage.store_event_batch(events)
    records = storage.fetch_materializations(key, limit=100).records
    assert sorted(r.partition_key for r in records) == days
    for record in records:
        tags = storage.get_event_tags_for_asset(key, filter_event_id=record.storage_id)
        assert [dict(t) for t in tags] == [{"dagster/data_version": f"v-{record.partition_key}"}]
    entry = storage.get_asset_records([key])[0].asset_entry
    assert entry.last_materialization.dagster_event.partition == LAST


def _log(run_id: str, message: str) -> EventLogEntry:
    return EventLogEntry(
        error_info=None,
        level="info",
        user_message=message,
        run_id=run_id,
        timestamp=1_700_000_000.0,
        step_key=None,
        job_name="job",
        dagster_event=None,
    )


def test_the_live_run_log_sees_every_event_as_it_is_stored(tmp_path):
    """The UI follows a run through `watch` in its own process, which reacts to writes to
    the run's file: events stored one by one and in a batch must both reach it."""
    writer = BatchedSqliteEventLogStorage(str(tmp_path))
    reader = BatchedSqliteEventLogStorage(str(tmp_path))
    writer.store_event(_log("run-1", "first"))
    seen = []
    reader.watch("run-1", None, lambda event, cursor: seen.append(event.user_message))
    try:
        time.sleep(0.5)  # the watchdog's thread starts
        writer.store_event(_log("run-1", "one"))
        writer.store_event_batch([_log("run-1", "batch a"), _log("run-1", "batch b")])
        deadline = time.monotonic() + 10
        while len(seen) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        reader.dispose()
    assert seen == ["first", "one", "batch a", "batch b"]


def test_dagster_yaml_names_it_with_the_instance_folder(tmp_path, monkeypatch):
    """The checkout's dagster.yaml as a user's instance: its event logs land where
    Dagster's default SQLite storage keeps them, and without DAGSTER_HOME Dagster says so."""
    shutil.copy(ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        assert type(instance.event_log_storage) is BatchedSqliteEventLogStorage
        run_id = _run(instance)
    assert (tmp_path / "history" / "runs" / f"{run_id}.db").is_file()
    assert (tmp_path / "history" / "runs" / "index.db").is_file()
    monkeypatch.delenv("DAGSTER_HOME")
    with pytest.raises(Exception, match="DAGSTER_HOME"):
        dg.DagsterInstance.from_config(str(tmp_path))


def test_a_table_found_is_not_looked_up_again_and_a_new_one_is_found(tmp_path, monkeypatch):
    storage = BatchedSqliteEventLogStorage(str(tmp_path))
    looked_up = []
    dagster_has_table = SqliteEventLogStorage.has_table
    monkeypatch.setattr(
        SqliteEventLogStorage,
        "has_table",
        lambda self, name: looked_up.append(name) or dagster_has_table(self, name),
    )
    assert all(storage.has_table("asset_check_executions") for _ in range(3))
    assert looked_up == ["asset_check_executions"]
    # A table missing now is asked for again: a migration may add it later.
    assert not storage.has_table("added_later")
    with storage.index_connection() as conn:
        conn.execute(sqlalchemy.text("CREATE TABLE added_later (id INTEGER)"))
    assert storage.has_table("added_later")
    assert looked_up == ["asset_check_executions", "added_later", "added_later"]
    # What Dagster decides from it is unchanged.
    assert storage.supports_asset_checks
