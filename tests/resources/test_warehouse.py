"""Warehouse.replace_window: exactly the window, one transaction, idempotent; a write that
cannot complete (disk full, a DuckDB fatal error, a failed rollback) fails with its cause."""

import contextlib
import datetime as dt
import errno
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from core.resources import Rows, Warehouse, WarehouseError

ROOT = Path(__file__).resolve().parents[2]

D = dt.date
T0 = dt.datetime(2024, 1, 1, 12, 0)
T1 = dt.datetime(2024, 1, 2, 12, 0)
TABLE = "raw.defillama_total_supply"


def supply(days: dict[dt.date, float], ingested_at: dt.datetime = T0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "date": list(days),
            "circulating_usd": list(days.values()),
            "source": "test",
            "ingested_at": ingested_at,
        }
    )


def rows(warehouse, table=TABLE):
    return warehouse.read(f"SELECT * FROM {table} ORDER BY date").rows()


def test_replaces_exactly_the_window(warehouse):
    warehouse.replace_window(
        D(2021, 1, 1),
        D(2021, 1, 3),
        Rows(TABLE, supply({D(2021, 1, 1): 1.0, D(2021, 1, 2): 2.0, D(2021, 1, 3): 3.0}), ["date"]),
    )
    warehouse.replace_window(
        D(2021, 1, 2), D(2021, 1, 2), Rows(TABLE, supply({D(2021, 1, 2): 20.0}, T1), ["date"])
    )
    assert [(r[0], r[1]) for r in rows(warehouse)] == [
        (D(2021, 1, 1), 1.0),
        (D(2021, 1, 2), 20.0),
        (D(2021, 1, 3), 3.0),
    ]


def test_rerun_with_same_values_is_byte_identical_and_keeps_ingested_at(warehouse):
    frame = {D(2021, 1, 1): 1.0, D(2021, 1, 2): 2.0}
    warehouse.replace_window(D(2021, 1, 1), D(2021, 1, 2), Rows(TABLE, supply(frame, T0), ["date"]))
    before = rows(warehouse)
    # Same values fetched a day later, one of them revised.
    warehouse.replace_window(
        D(2021, 1, 1),
        D(2021, 1, 2),
        Rows(TABLE, supply({D(2021, 1, 1): 1.0, D(2021, 1, 2): 2.5}, T1), ["date"]),
    )
    after = rows(warehouse)
    assert after[0] == before[0]  # unchanged value keeps its first ingestion time
    assert after[1][1:] == (2.5, "test", T1)  # revised value shows when it was picked up
    warehouse.replace_window(
        D(2021, 1, 1),
        D(2021, 1, 2),
        Rows(
            TABLE,
            supply({D(2021, 1, 1): 1.0, D(2021, 1, 2): 2.5}, dt.datetime(2030, 1, 1)),
            ["date"],
        ),
    )
    assert rows(warehouse) == after


def test_failure_mid_transaction_leaves_every_table_as_it_was(warehouse):
    warehouse.replace_window(
        D(2021, 1, 1), D(2021, 1, 1), Rows(TABLE, supply({D(2021, 1, 1): 1.0}), ["date"])
    )
    broken = pl.DataFrame({"date": [D(2021, 1, 1)], "wrong_column": [1.0]})
    with pytest.raises(WarehouseError, match="columns"):
        warehouse.replace_window(
            D(2021, 1, 1),
            D(2021, 1, 1),
            Rows(TABLE, supply({D(2021, 1, 1): 99.0}), ["date"]),  # would succeed alone
            Rows("raw.defillama_token_supply", broken, ["date"]),
        )
    assert [r[1] for r in rows(warehouse)] == [1.0]
    assert not warehouse.table_exists("raw.defillama_token_supply")


def test_rows_outside_the_window_are_refused(warehouse):
    with pytest.raises(WarehouseError, match="outside the window"):
        warehouse.replace_window(
            D(2021, 1, 1),
            D(2021, 1, 1),
            Rows(TABLE, supply({D(2021, 1, 1): 1.0, D(2021, 1, 2): 2.0}), ["date"]),
        )
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
    warehouse.replace_window(
        D(2021, 1, 1), D(2021, 1, 1), Rows(TABLE, supply({D(2021, 1, 1): 1.0}), ["date"])
    )
    comments = warehouse.read(
        "SELECT column_name, comment FROM duckdb_columns() WHERE table_name = ?",
        ["defillama_total_supply"],
    )
    assert comments["comment"].null_count() == 0 and comments.height == 4


def test_replace_tables_swaps_whole_tables_or_nothing(warehouse):
    first = pl.DataFrame({"period": ["b", "a"], "value": [2.0, 1.0]})
    warehouse.replace_tables(
        Rows("analytics.example", first, ["period"]),
        statements=["COMMENT ON TABLE analytics.example IS 'v1'"],
    )
    stored = warehouse.read("SELECT * FROM analytics.example")
    assert stored.rows() == [("a", 1.0), ("b", 2.0)]  # stored in key order
    second = pl.DataFrame({"period": ["c"], "value": [3.0]})
    with pytest.raises(duckdb.CatalogException):
        warehouse.replace_tables(
            Rows("analytics.example", second, ["period"]),
            statements=["COMMENT ON TABLE analytics.missing IS 'x'"],
        )
    assert warehouse.read("SELECT * FROM analytics.example").rows() == [("a", 1.0), ("b", 2.0)]
    with pytest.raises(WarehouseError, match="not a warehouse table name"):
        warehouse.replace_tables(Rows("main.example; DROP TABLE x", second, ["period"]))


def test_a_window_is_replaced_key_by_key(warehouse):
    """Gone keys deleted, changed rows updated, new keys inserted, the rest untouched: no key
    is deleted and inserted again in one transaction (see the disk-full tests below)."""
    table, key = "raw.fred_series_daily", ["date", "series_id"]

    def fred(values: dict[tuple[dt.date, str], float], at=T0) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "date": [d for d, _ in values],
                "series_id": [s for _, s in values],
                "value": list(values.values()),
                "source": "test",
                "ingested_at": at,
            }
        )

    def stored():
        return warehouse.read(f"SELECT * FROM {table} ORDER BY date, series_id").rows()

    warehouse.replace_window(
        D(2021, 1, 1),
        D(2021, 1, 3),
        Rows(
            table,
            fred(
                {
                    (D(2021, 1, 1), "SP500"): 1.0,
                    (D(2021, 1, 2), "SP500"): 2.0,
                    (D(2021, 1, 3), "SP500"): 3.0,
                    (D(2021, 1, 3), "DTB3"): 0.1,
                }
            ),
            key,
        ),
    )
    warehouse.replace_window(
        D(2021, 1, 2),
        D(2021, 1, 3),
        Rows(
            table,
            fred(
                {
                    (D(2021, 1, 2), "SP500"): 2.0,
                    (D(2021, 1, 3), "SP500"): 30.0,
                    (D(2021, 1, 3), "NASDAQ100"): 5.0,
                },
                T1,
            ),
            key,
        ),
    )
    assert stored() == [
        (D(2021, 1, 1), "SP500", 1.0, "test", T0),  # outside the window: untouched
        (D(2021, 1, 2), "SP500", 2.0, "test", T0),  # unchanged: keeps its ingested_at
        (D(2021, 1, 3), "NASDAQ100", 5.0, "test", T1),  # new key: inserted
        (D(2021, 1, 3), "SP500", 30.0, "test", T1),  # changed: updated
    ]  # (D(2021, 1, 3), "DTB3") is no longer in the window's rows: deleted
    before = stored()
    with pytest.raises(WarehouseError, match=r"2 rows share a key \(date, series_id\)"):
        warehouse.replace_window(
            D(2021, 1, 3),
            D(2021, 1, 3),
            Rows(
                table,
                pl.concat(
                    [fred({(D(2021, 1, 3), "SP500"): 1.0}), fred({(D(2021, 1, 3), "SP500"): 2.0})]
                ),
                key,
            ),
        )
    assert stored() == before


def test_replace_whole_replaces_a_reference_table_key_by_key(warehouse):
    def exchanges(names: dict[str, str]) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "exchange": list(names),
                "name": list(names.values()),
                "offers_derivatives": False,
                "main_business": "spot",
                "coingecko_spot_id": "x",
                "coingecko_derivatives_id": "",
                "offers_derivatives_reason": "r",
                "main_business_reason": "r",
                "label_version": "1",
            }
        )

    warehouse.replace_whole(Rows("raw.exchanges", exchanges({"a": "A", "b": "B"}), ["exchange"]))
    warehouse.replace_whole(Rows("raw.exchanges", exchanges({"b": "B2", "c": "C"}), ["exchange"]))
    assert warehouse.read("SELECT exchange, name FROM raw.exchanges ORDER BY exchange").rows() == [
        ("b", "B2"),
        ("c", "C"),
    ]


def test_too_little_free_space_fails_before_opening_the_file(tmp_path):
    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"), min_free_mb=1e12)
    with pytest.raises(WarehouseError) as failed:
        warehouse.replace_window(
            D(2021, 1, 1), D(2021, 1, 1), Rows(TABLE, supply({D(2021, 1, 1): 1.0}), ["date"])
        )
    assert str(failed.value).startswith(
        f"warehouse {tmp_path / 'w.duckdb'}: too little free disk space to write {TABLE} ("
    )
    assert "nothing was written" in str(failed.value)
    assert not (tmp_path / "w.duckdb").exists()


def test_a_failed_rollback_never_hides_the_cause(warehouse, monkeypatch):
    """The issue's headline was `cannot rollback - no transaction is active`, with the real
    cause only in the chained exception: the cause leads now, the rollback's error follows."""
    warehouse.replace_window(
        D(2021, 1, 1), D(2021, 1, 1), Rows(TABLE, supply({D(2021, 1, 1): 1.0}), ["date"])
    )
    real_connect = Warehouse.connect

    @contextlib.contextmanager
    def connect(self, read_only=False):
        with real_connect(self, read_only) as con:
            yield _RollbackFails(con)

    monkeypatch.setattr(Warehouse, "connect", connect)
    broken = supply({D(2021, 1, 1): 2.0}).with_columns(circulating_usd=pl.lit(None, pl.Float64))
    with pytest.raises(WarehouseError) as failed:
        warehouse.replace_window(D(2021, 1, 1), D(2021, 1, 1), Rows(TABLE, broken, ["date"]))
    message = str(failed.value)
    assert message.startswith(f"warehouse {warehouse.where}: Constraint Error: NOT NULL "), message
    assert (
        "while writing raw.defillama_total_supply; nothing was committed, but the rollback "
        "failed as well (TransactionContext Error: cannot rollback" in message
    )
    monkeypatch.undo()
    assert [r[1] for r in rows(warehouse)] == [1.0]


class _RollbackFails:
    def __init__(self, con):
        self._con = con

    def execute(self, sql, *args):
        if sql == "ROLLBACK":
            self._con.execute("ROLLBACK")
            return self._con.execute("ROLLBACK")  # "cannot rollback - no transaction is active"
        return self._con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._con, name)


# --- A real full disk: a tmpfs the test mounts, filled to the last page. ---


@contextlib.contextmanager
def tmpfs(folder: Path, size: str):
    """A tmpfs of `size` mounted at `folder` (created), unmounted afterwards; the test is
    skipped where mounting is not permitted (it needs root or CAP_SYS_ADMIN)."""
    folder.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
        )
    except FileNotFoundError:
        pytest.skip("no mount command: cannot mount a small filesystem to fill")
    if done.returncode:
        pytest.skip(
            f"cannot mount a small tmpfs to fill (needs root or CAP_SYS_ADMIN): "
            f"{done.stderr.strip()}"
        )
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.fixture
def small_disk(tmp_path) -> Path:
    with tmpfs(tmp_path / "disk", "4m") as folder:
        yield folder


def fill(folder: Path | str) -> Path:
    """Write zeros into folder/filler until the filesystem has no page left."""
    filler = Path(folder) / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for size in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
    assert os.statvfs(folder).f_bavail == 0
    return filler


def isolated(script: str, *args: str) -> dict:
    """Run `script` in its own Python process, so a DuckDB abort (SIGABRT) fails the test
    instead of ending the session; the script prints one JSON object last."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, (
        f"the writing process died (exit {done.returncode}):\n{done.stderr[-3000:]}"
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


WRITE_ON_A_FULL_DISK = """
    import datetime as dt, json, os, sys
    import duckdb, polars as pl
    from core.resources import Rows, Warehouse, WarehouseError
    from tests.resources.test_warehouse import fill

    path, threshold, second = sys.argv[1], sys.argv[2], sys.argv[3]
    if threshold:  # DuckDB's checkpoint_threshold: a commit this large checkpoints at once
        real = duckdb.connect
        duckdb.connect = lambda p, read_only=False: real(
            p, read_only=read_only, config={"checkpoint_threshold": threshold})
    warehouse = Warehouse(path=path, min_free_mb=0)
    table = "raw.fred_series_daily"
    # A week: with the old delete-and-insert, DuckDB 1.5.6 aborted on every window of 1 to
    # 19 days tried here (not on 23 or more: the index's node sizes decide).
    january = [dt.date(2021, 1, d) for d in range(1, 8)]
    days = {"rewrite": january, "new": [dt.date(2021, 2, d) for d in range(1, 8)]}[second]

    def fred(days, value, at):
        return Rows(table, pl.DataFrame({
            "date": days * 3,
            "series_id": [s for s in ("SP500", "NASDAQ100", "DTB3") for _ in days],
            "value": value, "source": "test", "ingested_at": at}), ["date", "series_id"])

    def stored():
        return warehouse.read(f"SELECT * FROM {table} ORDER BY ALL").rows()

    warehouse.replace_window(january[0], january[-1], fred(january, 1.0, dt.datetime(2024, 1, 1)))
    before = stored()
    filler = fill(os.path.dirname(path))
    try:
        warehouse.replace_window(days[0], days[-1], fred(days, 2.0, dt.datetime(2024, 1, 2)))
        error = None
    except WarehouseError as exc:
        error = str(exc)
    unchanged = stored() == before  # read in this same process, on the still full disk
    filler.unlink()
    warehouse.replace_window(days[0], days[-1], fred(days, 2.0, dt.datetime(2024, 1, 2)))
    values = warehouse.read(f"SELECT date, value FROM {table} WHERE date BETWEEN ? AND ?",
                            [days[0], days[-1]])["value"].unique().to_list()
    print(json.dumps({"error": error, "unchanged": unchanged, "values": values}))
"""


def test_a_full_disk_fails_the_write_with_its_cause_and_the_process_lives(small_disk):
    """Rewriting stored keys on a full disk: the commit cannot write the WAL. DuckDB 1.5.6
    aborted the whole process here when the write deleted the keys and inserted them again
    (it cannot undo such a failed commit: `FatalException: Failed to append to PRIMARY_...`,
    SIGABRT); keys are updated in place now, and the write fails naming the cause."""
    path = small_disk / "w.duckdb"
    out = isolated(WRITE_ON_A_FULL_DISK, str(path), "", "rewrite")
    assert out["error"].startswith(
        f"warehouse {path}: No space left on device while writing raw.fred_series_daily; "
        f"nothing was written: DuckDB undid the commit, so no partial window and nothing lost"
    ), out["error"]
    assert "cannot rollback" not in out["error"]
    assert out["unchanged"] and out["values"] == [2.0]


def test_a_duckdb_fatal_error_fails_the_write_with_its_cause_and_the_process_lives(small_disk):
    """A commit that checkpoints at once (past DuckDB's checkpoint_threshold, set tiny here)
    and runs out of space is a DuckDB fatal error: FatalException, the database invalidated
    in this process. The write fails naming the cause, no ROLLBACK is sent to the invalidated
    database, nothing of the window is stored, and the next write reopens the file."""
    path = small_disk / "w.duckdb"
    out = isolated(WRITE_ON_A_FULL_DISK, str(path), "1KB", "new")
    assert out["error"].startswith(
        f"warehouse {path}: No space left on device while writing raw.fred_series_daily; "
        f"DuckDB stopped with a fatal error and invalidated the database in this process"
    ), out["error"]
    assert "[DuckDB: FATAL Error: Failed to create checkpoint" in out["error"]
    assert out["unchanged"] and out["values"] == [2.0]


def test_publishing_onto_a_full_disk_fails_with_its_cause_and_keeps_the_previous_copy(
    warehouse, small_disk
):
    target = small_disk / "analyst.duckdb"
    warehouse.replace_window(
        D(2021, 1, 1), D(2021, 1, 1), Rows(TABLE, supply({D(2021, 1, 1): 1.0}), ["date"])
    )
    warehouse.publish(str(target))
    warehouse.replace_window(
        D(2021, 1, 2), D(2021, 1, 2), Rows(TABLE, supply({D(2021, 1, 2): 2.0}), ["date"])
    )
    filler = fill(small_disk)
    with pytest.raises(WarehouseError) as failed:
        warehouse.publish(str(target))
    assert str(failed.value).startswith(
        f"analysts' copy {target}: No space left on device while building it; the previous "
        f"copy is untouched."
    ), str(failed.value)
    assert sorted(p.name for p in small_disk.iterdir()) == ["analyst.duckdb", "filler"]
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute(f"SELECT count(*) FROM {TABLE}").fetchone() == (1,)
    filler.unlink()
    warehouse.publish(str(target))
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute(f"SELECT count(*) FROM {TABLE}").fetchone() == (2,)


# --- turns: processes take turns at the file through <file>.lock ------------------------------

HOLD = """
import sys, time
from core.resources import Warehouse
warehouse = Warehouse(path=sys.argv[1])
with warehouse.{how} as con:
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


@contextlib.contextmanager
def holding(path: str, seconds: float, how: str = "transaction()"):
    """Another process holding the warehouse (a write's transaction by default)."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD.format(how=how), path, str(seconds)],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "holding"
        yield process
    finally:
        process.kill()
        process.wait()


def test_a_write_waits_for_another_process_s_write_then_succeeds(tmp_path):
    path = str(tmp_path / "w.duckdb")
    warehouse = Warehouse(path=path)
    warehouse.run_in_transaction(["CREATE SCHEMA raw", "CREATE TABLE raw.t (x INTEGER)"])
    with holding(path, 1.5):
        started = time.monotonic()
        warehouse.run_in_transaction(["INSERT INTO raw.t VALUES (1)"])
        waited = time.monotonic() - started
    assert waited > 1.0, f"the write did not wait for the other process ({waited:.2f} s)"
    assert warehouse.read("SELECT x FROM raw.t")["x"].to_list() == [1]


def test_readers_share_the_file_and_a_write_waits_for_them(tmp_path):
    path = str(tmp_path / "w.duckdb")
    warehouse = Warehouse(path=path)
    warehouse.run_in_transaction(["CREATE SCHEMA raw", "CREATE TABLE raw.t (x INTEGER)"])
    with holding(path, 3, how="connect(read_only=True)"):
        started = time.monotonic()
        assert warehouse.read("SELECT count(*) AS n FROM raw.t")["n"][0] == 0
        assert time.monotonic() - started < 1.0, "a read waited for another reader"
        late = Warehouse(path=path, lock_timeout_s=0.5)
        with pytest.raises(WarehouseError, match=r"lock_timeout_s .*/w\.duckdb\.lock"):
            late.run_in_transaction(["INSERT INTO raw.t VALUES (1)"])
    assert warehouse.read("SELECT count(*) AS n FROM raw.t")["n"][0] == 0


def test_a_killed_holder_never_leaves_the_warehouse_locked(tmp_path):
    path = str(tmp_path / "w.duckdb")
    warehouse = Warehouse(path=path, lock_timeout_s=10)
    warehouse.run_in_transaction(["CREATE SCHEMA raw", "CREATE TABLE raw.t (x INTEGER)"])
    with holding(path, 60) as other:
        other.kill()  # SIGKILL mid-transaction: the kernel drops its lock
        other.wait()
        warehouse.run_in_transaction(["INSERT INTO raw.t VALUES (2)"])
    assert warehouse.read("SELECT x FROM raw.t")["x"].to_list() == [2]


def blocks(chains: dict[str, int]) -> pl.DataFrame:
    """raw.evm_day_blocks rows: one closing block per chain."""
    return pl.DataFrame(
        {
            "date": D(2024, 1, 1),
            "chain": list(chains),
            "block_number": list(chains.values()),
            "block_timestamp": T0,
            "block_hash": "0x" + "ab" * 32,
            "source": "test",
            "ingested_at": T0,
        }
    )


def test_a_write_within_some_chains_leaves_the_other_chains_rows(warehouse):
    """A run that read one chain (a run per chain, or STABLEFLOW_CHAINS naming a subset)
    replaces that chain's rows of the window, not the others'."""
    day = D(2024, 1, 1)
    table = "raw.evm_day_blocks"
    warehouse.replace_window(
        day, day, Rows(table, blocks({"ethereum": 1, "arbitrum": 2}), ["chain"])
    )
    warehouse.replace_window(
        day, day, Rows(table, blocks({"ethereum": 10}), ["chain"], within={"chain": ["ethereum"]})
    )
    stored = warehouse.read(f"SELECT chain, block_number FROM {table} ORDER BY chain").rows()
    assert stored == [("arbitrum", 2), ("ethereum", 10)]
    with pytest.raises(WarehouseError, match=r"outside the chains .* chain='arbitrum'"):
        warehouse.replace_window(
            day,
            day,
            Rows(table, blocks({"arbitrum": 20}), ["chain"], within={"chain": ["ethereum"]}),
        )
    assert warehouse.read(f"SELECT chain, block_number FROM {table} ORDER BY chain").rows() == [
        ("arbitrum", 2),
        ("ethereum", 10),
    ]
