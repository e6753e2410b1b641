"""Paths anchored to the project, and every run saying which warehouse it wrote.

A relative STABLEFLOW_WAREHOUSE / STABLEFLOW_ANALYST_WAREHOUSE / STABLEFLOW_REPORTS_DIR is
taken from the project root, never from the working directory: a run started from another
folder (or with `--working-directory`) writes the project's warehouse, not a second, empty
one under that folder. Every step that writes logs the warehouse's absolute path and records
it as `warehouse` metadata on each materialisation.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg

from assets.ingest import reference_data
from assets.ingest.alternative_me import fear_greed_daily
from core.settings import PROJECT_ROOT, Settings, project_path
from sandbox.world import ROOT, WINDOW_END, WINDOW_START, prepare_dagster_home
from tests.conftest import dagster_instance, materialize

PATH_VARIABLES = ("STABLEFLOW_WAREHOUSE", "STABLEFLOW_ANALYST_WAREHOUSE", "STABLEFLOW_REPORTS_DIR")
SHOW_SETTINGS = (
    "import json; from core.settings import Settings; s = Settings.from_env(); "
    "print(json.dumps([s.warehouse_path, s.analyst_warehouse_path, s.reports_dir]))"
)


def settings_seen_from(cwd: Path, **paths: str) -> list[str]:
    """The three paths as a process started in `cwd` reads them."""
    env = {k: v for k, v in os.environ.items() if k not in PATH_VARIABLES}
    env.update(paths, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-c", SHOW_SETTINGS],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return json.loads(out)


def test_the_project_root_is_where_the_code_is():
    assert PROJECT_ROOT == ROOT and (PROJECT_ROOT / "pyproject.toml").is_file()


def test_relative_paths_resolve_against_the_project_root_whatever_the_cwd(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for cwd in (elsewhere, Path("/"), ROOT / "tests"):
        assert settings_seen_from(cwd) == [
            str(ROOT / "data" / "stableflow.duckdb"),
            str(ROOT / "data" / "stableflow_analyst.duckdb"),
            str(ROOT / "reports"),
        ]
        assert settings_seen_from(
            cwd,
            STABLEFLOW_WAREHOUSE="data/other.duckdb",
            STABLEFLOW_ANALYST_WAREHOUSE="./shared/../analyst.duckdb",
            STABLEFLOW_REPORTS_DIR="out/reports",
        ) == [
            str(ROOT / "data" / "other.duckdb"),
            str(ROOT / "analyst.duckdb"),
            str(ROOT / "out" / "reports"),
        ]
    assert not list(elsewhere.iterdir())


def test_absolute_home_and_empty_paths(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STABLEFLOW_WAREHOUSE", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("STABLEFLOW_ANALYST_WAREHOUSE", "~/analyst.duckdb")
    # Empty is "not set": DuckDB would otherwise open an in-memory database and lose the run.
    monkeypatch.setenv("STABLEFLOW_REPORTS_DIR", "")
    settings = Settings.from_env()
    assert settings.warehouse_path == str(tmp_path / "w.duckdb")
    assert settings.analyst_warehouse_path == str(Path.home() / "analyst.duckdb")
    assert settings.reports_dir == str(ROOT / "reports")
    assert project_path("a/../b") == str(ROOT / "b")


def test_a_run_records_the_absolute_warehouse_path_on_every_materialisation(resources, warehouse):
    """Every materialisation of a partition-range run (one per day) and of a multi-asset (one
    per table) carries `warehouse`; each writing step logs the path once."""
    instance = dg.DagsterInstance.ephemeral()
    result = materialize(
        [fear_greed_daily, reference_data],
        resources,
        dt.date(2022, 5, 1),
        dt.date(2022, 5, 3),
        instance=instance,
    )
    assert result.success
    events = [e.materialization for e in result.get_asset_materialization_events()]
    assert len(events) == 3 + len(reference_data.keys)
    where = os.path.abspath(warehouse.path)
    assert {e.metadata["warehouse"].path for e in events} == {where}
    logged = [
        r.user_message
        for r in instance.all_logs(result.run_id)
        if r.user_message.startswith("warehouse: writing")
    ]
    assert logged == [f"warehouse: writing {where}"] * 2


def test_a_cli_run_from_another_folder_writes_the_project_warehouse(replay, tmp_path):
    """The finding: `dagster asset materialize ... --working-directory <elsewhere>` started in
    another folder made a second, empty warehouse there. Now it writes the project's file,
    logs its absolute path and records it in the materialisation."""
    relative = Path("test-artifacts") / f"paths-{uuid.uuid4().hex[:8]}" / "stableflow.duckdb"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    home = tmp_path / "dagster_home"
    env = {
        **{k: v for k, v in os.environ.items() if k not in PATH_VARIABLES},
        "PYTHONPATH": str(ROOT),
        "DAGSTER_HOME": str(home),
        "STABLEFLOW_WAREHOUSE": str(relative),
        "STABLEFLOW_ALTERNATIVE_ME_URL": f"{replay.url}/alternative_me",
        "STABLEFLOW_START_DATE": WINDOW_START.isoformat(),
        "STABLEFLOW_END_DATE": WINDOW_END.isoformat(),
    }
    prepare_dagster_home(env)
    try:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "dagster",
                "asset",
                "materialize",
                "-m",
                "pipelines.definitions",
                "--working-directory",
                str(elsewhere),
                "--select",
                "raw/fear_greed_daily",
                "--partition",
                "2022-05-15",
            ],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        output = run.stdout + run.stderr
        assert run.returncode == 0, output[-3000:]
        written = ROOT / relative
        assert written.is_file()
        assert not [p for p in elsewhere.rglob("*")], "nothing may be created where it ran"
        assert f"warehouse: writing {written}" in output
        with dagster_instance(home) as instance:
            event = instance.get_latest_materialization_event(
                dg.AssetKey(["raw", "fear_greed_daily"])
            )
        assert event.asset_materialization.metadata["warehouse"].path == str(written)
    finally:
        shutil.rmtree(ROOT / relative.parent, ignore_errors=True)


def test_the_definitions_warehouse_is_the_project_file():
    """What the UI, the daemon and every code server configure, from any folder."""
    env = {k: v for k, v in os.environ.items() if k not in PATH_VARIABLES}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from pipelines.definitions import defs; print(defs.resources['warehouse'].path)",
        ],
        cwd="/",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == str(ROOT / "data" / "stableflow.duckdb")
