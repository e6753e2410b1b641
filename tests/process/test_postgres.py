"""The team profile (dagster.postgres.yaml): Dagster's runs, event logs, schedules and sensors
in PostgreSQL, with the daemon and the webserver as separate processes.

A throwaway cluster of Debian's PostgreSQL (sandbox/postgres.py; `make test` installs the
package) and the sandbox for three days. Against them, with DAGSTER_HOME holding the team
profile as its dagster.yaml:

- a backfill of the window's ingest assets as one run through the Dagster CLI: the run, its
  events and the pool "duckdb"'s slots are rows in PostgreSQL, and no SQLite storage is made;
- the daemon (`dagster-daemon run`) and the webserver (`python -m pipelines.ui --no-daemon`)
  as two processes: both sensors switched on through the webserver's GraphQL API (what the
  UI's toggle sends) are ticked by the daemon, which reads the backfill's materialisations and
  the sensors' state from PostgreSQL and stores its ticks there; the webserver lists the run;
- the daily schedule's tick, evaluated as the daemon's scheduler does at 01:30 the day after
  the window (Dagster's clock frozen there): the tick and the run it requests for the last
  day are rows in PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import yaml

from sandbox.dagster_cli import LOCATION, materialize_command, migrate_instance, partition_range
from sandbox.postgres import PostgresCluster, free_port, prepare_team_home
from sandbox.world import ROOT, running_sandbox
from tests.process.conftest import wait_until_serving

pytestmark = pytest.mark.timeout(600)
D = dt.date
START, END = D(2022, 5, 1), D(2022, 5, 3)
DAYS = [str(START + dt.timedelta(days=i)) for i in range((END - START).days + 1)]
# 01:30 UTC on the day after the window: the schedule's tick for its last day.
SCHEDULE_TICK = dt.datetime(2022, 5, 4, 1, 30, tzinfo=dt.UTC)


def test_the_team_profile_is_dagster_yaml_with_its_storage_in_postgres():
    team = yaml.safe_load((ROOT / "dagster.postgres.yaml").read_text())
    storage = team.pop("storage")
    single = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    # the SQLite event log that stores batches gives way to PostgreSQL's, which does so itself
    assert single.pop("event_log_storage")["class"] == "BatchedSqliteEventLogStorage"
    # the same pool, run queue and run monitoring as the single-user instance
    assert team == single
    db = storage["postgres"]["postgres_db"]
    # every connection setting, the password first, comes from the environment
    assert {k: v for k, v in db.items() if k != "scheme"} == {
        "hostname": {"env": "DAGSTER_PG_HOST"},
        "port": {"env": "DAGSTER_PG_PORT"},
        "username": {"env": "DAGSTER_PG_USERNAME"},
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "db_name": {"env": "DAGSTER_PG_DB"},
    }


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(process: subprocess.Popen | None) -> None:
    """SIGTERM to the process group it leads (its code server with it), SIGKILL after 30 s."""
    if process is not None and process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@dataclass
class Team:
    """The instance of the team profile, and its long-running processes."""

    pg: PostgresCluster
    env: dict[str, str]
    home: Path
    folder: Path
    port: int = field(default_factory=free_port)
    daemon: subprocess.Popen | None = None
    webserver: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self.pg.query(sql, params)

    def start_services(self) -> None:
        """The daemon and the webserver, each its own process as a team runs them (README
        "Team deployment"), unless running already."""
        if self.daemon is None or self.daemon.poll() is not None:
            self.daemon = _start(
                [sys.executable, "-m", "dagster._daemon", "run", "-m", LOCATION],
                self.env,
                self.folder / "daemon.log",
            )
        if self.webserver is None or self.webserver.poll() is not None:
            self.webserver = _start(
                [sys.executable, "-m", "pipelines.ui", "--no-daemon", "--port", str(self.port)],
                self.env,
                self.folder / "webserver.log",
            )

    def stop_services(self) -> None:
        _stop(self.webserver)
        _stop(self.daemon)
        self.webserver = self.daemon = None

    def daemon_log(self) -> str:
        return (self.folder / "daemon.log").read_text()[-3000:]


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    """The cluster, the sandbox, a DAGSTER_HOME with the team profile, and the window's
    ingest assets backfilled into them as one run through the CLI (while the daemon and the
    webserver start)."""
    folder = tmp_path_factory.mktemp("team")
    with (
        PostgresCluster(durable=False) as pg,
        running_sandbox(START, END) as (sandbox_env, _, _),
    ):
        home = folder / "home"
        prepare_team_home(home)
        env = {
            **os.environ,
            **sandbox_env,
            **pg.dagster_env(),
            "DAGSTER_HOME": str(home),
            "STABLEFLOW_START_DATE": str(START),
            "STABLEFLOW_END_DATE": str(END),
            "STABLEFLOW_WAREHOUSE": str(folder / "stableflow.duckdb"),
            "STABLEFLOW_ANALYST_WAREHOUSE": str(folder / "analyst.duckdb"),
            "STABLEFLOW_REPORTS_DIR": str(folder / "reports"),
        }
        team = Team(pg, env, home, folder)
        # the schema, created once before the processes start, as README "Team deployment"
        # says (processes starting on an empty database at once would race to create it)
        migrate_instance(env)
        try:
            team.start_services()
            backfill = subprocess.run(
                materialize_command("group:ingest", *partition_range(START, END)),
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert backfill.returncode == 0, (backfill.stdout + backfill.stderr)[-3000:]
            yield team
        finally:
            team.stop_services()


def test_a_backfill_run_and_its_events_are_rows_in_postgres(team):
    [(run_id, status, tags)] = team.query(
        "SELECT run_id, status, run_body::json -> 'tags' FROM runs"
    )
    assert status == "SUCCESS"
    assert tags["dagster/asset_partition_range_start"] == str(START)
    assert tags["dagster/asset_partition_range_end"] == str(END)
    materialized = team.query(
        "SELECT asset_key, partition FROM event_logs "
        "WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
        (run_id,),
    )
    assets = {key for key, _ in materialized}
    assert '["raw", "fear_greed_daily"]' in assets and '["raw", "evm_day_blocks"]' in assets
    for key in assets:
        assert sorted(p for k, p in materialized if k == key) == DAYS, key
    [(step_success,)] = team.query(
        "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = 'STEP_SUCCESS'",
        (run_id,),
    )
    assert step_success >= len(assets)
    # the pool that keeps DuckDB to one writer is shared through PostgreSQL
    assert team.query("SELECT concurrency_key, count(*) FROM concurrency_slots GROUP BY 1") == [
        ("duckdb", 1)
    ]
    # nothing went to SQLite beside the profile: Dagster's local storage is only for logs
    assert not list(team.home.rglob("*.db")), list(team.home.rglob("*.db"))


def _graphql(base: str, query: str, **variables) -> dict:
    answer = requests.post(
        f"{base}/graphql", json={"query": query, "variables": variables}, timeout=60
    )
    answer.raise_for_status()
    body = answer.json()
    assert "errors" not in body, body
    return body["data"]


SENSORS = {
    # the backfill stored every raw asset for every day of the window (read from PostgreSQL)
    "missing_days_sensor": f"no missing day among {len(DAYS)} settled days (or its run is in "
    "progress)",
    # the closing blocks it stored are still on the chain (read from the warehouse)
    "reorg_sensor": "every stored closing block is still on its chain",
}


def _stored(team: Team, sql: str, params: tuple = ()) -> list:
    """The rows of `sql`, with Dagster's serialised objects (a tick's data, an instigator's
    state, a run) read back as Dagster reads them."""
    import dagster._core.scheduler.instigation  # noqa: F401 (registers what ticks hold)
    from dagster._serdes import deserialize_value

    return [
        tuple(deserialize_value(v) if isinstance(v, str) and v.startswith("{") else v for v in r)
        for r in team.query(sql, params)
    ]


def _sensor_ticks(team: Team) -> dict[str, tuple[str, str | None]]:
    """{sensor: (status, skip reason)} of the sensor ticks stored in PostgreSQL."""
    return {
        tick.instigator_name: (status, tick.skip_reason)
        for status, tick in _stored(
            team, "SELECT status, tick_body FROM job_ticks WHERE type = 'SENSOR' ORDER BY id"
        )
    }


def _done(ticks: dict[str, tuple[str, str | None]]) -> bool:
    """Whether every sensor has a tick that has finished (not STARTED)."""
    return set(ticks) == set(SENSORS) and all(s != "STARTED" for s, _ in ticks.values())


def test_daemon_and_webserver_as_separate_processes_share_the_instance(team):
    team.start_services()
    base = team.base
    wait_until_serving(base, team.webserver)
    # the run the CLI made, as the webserver reads it from PostgreSQL
    runs = _graphql(base, "{ runsOrError { ... on Runs { results { runId status } } } }")
    assert [r["status"] for r in runs["runsOrError"]["results"]] == ["SUCCESS"]
    [location] = _graphql(
        base,
        "{ workspaceOrError { ... on Workspace { locationEntries { name "
        "locationOrLoadError { ... on RepositoryLocation { repositories { name } } } } } } }",
    )["workspaceOrError"]["locationEntries"]
    [repository] = location["locationOrLoadError"]["repositories"]
    for sensor in SENSORS:  # the UI's switch: the webserver writes the state
        started = _graphql(
            base,
            "mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) { "
            "__typename ... on Sensor { sensorState { status } } "
            "... on PythonError { message } } }",
            s={
                "repositoryLocationName": location["name"],
                "repositoryName": repository["name"],
                "sensorName": sensor,
            },
        )["startSensor"]
        assert started.get("sensorState") == {"status": "RUNNING"}, started
    states = _stored(
        team, "SELECT instigator_body, status FROM instigators WHERE instigator_type = 'SENSOR'"
    )
    assert sorted((state.instigator_name, status) for state, status in states) == [
        (s, "RUNNING") for s in sorted(SENSORS)
    ]
    # ... and the daemon, another process, reads it and ticks each sensor once
    deadline = time.monotonic() + 180
    while not _done(_sensor_ticks(team)):
        assert team.daemon.poll() is None, team.daemon_log()
        assert time.monotonic() < deadline, team.daemon_log()
        time.sleep(1)
    ticks = _sensor_ticks(team)
    assert ticks == {name: ("SKIPPED", reason) for name, reason in SENSORS.items()}, ticks
    # the daemon's heartbeats are in PostgreSQL too (what the UI's daemon status reads)
    daemons = {d for (d,) in team.query("SELECT daemon_type FROM daemon_heartbeats")}
    assert {"SENSOR", "SCHEDULER", "QUEUED_RUN_COORDINATOR"} <= daemons, daemons


def test_the_schedule_ticks_against_postgres(team, monkeypatch):
    """The daemon's scheduler, run once in this process with Dagster's clock at 01:25 and
    01:31 on the day after the window: it stores the tick and submits the run for the window's
    last day to the run queue (no daemon is running, so it stays queued)."""
    from dagster import DagsterInstance
    from dagster._core.scheduler.instigation import TickStatus
    from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
    from dagster._core.workspace.load_target import ModuleTarget
    from dagster._scheduler.scheduler import launch_scheduled_runs

    team.stop_services()  # no daemon to launch the run the tick requests
    for name, value in team.env.items():  # the code server it starts inherits them
        monkeypatch.setenv(name, value)
    target = ModuleTarget(
        module_name=LOCATION, attribute=None, working_directory=str(ROOT), location_name=None
    )
    with (
        DagsterInstance.from_config(str(team.home)) as instance,
        create_test_daemon_workspace_context(target, instance) as workspace,
    ):
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        [location] = workspace.create_request_context().get_code_location_entries().values()
        [repository] = location.code_location.get_repositories().values()
        schedule = repository.get_schedule("daily_refresh_schedule")
        with freeze_time(SCHEDULE_TICK - dt.timedelta(minutes=5)):
            instance.start_schedule(schedule)
        tick_time = SCHEDULE_TICK + dt.timedelta(minutes=1)
        with freeze_time(tick_time):
            list(launch_scheduled_runs(workspace, logging.getLogger("test"), tick_time, {}))
        try:
            [(status, tick)] = _stored(
                team, "SELECT status, tick_body FROM job_ticks WHERE type = 'SCHEDULE'"
            )
            assert status == TickStatus.SUCCESS.value, tick
            assert tick.instigator_name == "daily_refresh_schedule"
            assert tick.timestamp == SCHEDULE_TICK.timestamp()
            [run_id] = tick.run_ids
            [(run_status, tags)] = team.query(
                "SELECT status, run_body::json -> 'tags' FROM runs WHERE run_id = %s", (run_id,)
            )
            assert run_status == "QUEUED"
            assert tags["dagster/partition"] == str(END)
            assert tags["dagster/schedule_name"] == "daily_refresh_schedule"
        finally:
            instance.stop_schedule(schedule.get_remote_origin_id(), schedule.selector_id, schedule)
            for (run_id,) in team.query("SELECT run_id FROM runs WHERE status = 'QUEUED'"):
                instance.delete_run(run_id)


def test_the_server_asks_for_the_password(team):
    """The connection works only with DAGSTER_PG_PASSWORD: the cluster checks it over TCP
    (scram-sha-256), as a shared server does."""
    import psycopg2

    env = team.pg.dagster_env()
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(
            host=env["DAGSTER_PG_HOST"],
            port=env["DAGSTER_PG_PORT"],
            user=env["DAGSTER_PG_USERNAME"],
            password="not-the-password",
            dbname=env["DAGSTER_PG_DB"],
        ).close()
