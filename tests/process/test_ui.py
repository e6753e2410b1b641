"""The Dagster UI as a user sees it, in a real browser (Debian's chromium; `make test`
installs it).

A partition of two raw assets is materialised through the CLI against the replay server,
the UI is started on that DAGSTER_HOME as `make ui` starts it (pipelines/ui.py: the
webserver behind its Host and cross-site guard, without the daemon), and headless Chromium
renders the asset group (lineage and list), an asset's partitions page and its checks. The
rendered pages must show the asset names, the materialised partition and the passed checks;
the screenshots are kept in test-artifacts/ui/ for a person to look at.
"""

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.dagster_cli import materialize_command
from sandbox.replay import ReplayServer
from sandbox.world import ROOT, WINDOW_END, WINDOW_START, prepare_dagster_home
from tests.process.conftest import wait_until_serving

ARTIFACTS = ROOT / "test-artifacts" / "ui"
PARTITION = "2022-05-15"
ASSETS = ["raw/defillama_total_supply", "raw/fear_greed_daily"]
LOCATION = "pipelines.definitions"
pytestmark = pytest.mark.timeout(900)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed: run `make test`, which installs it")
    home = tmp_path_factory.mktemp("dagster_home")
    with ReplayServer() as replay:
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "STABLEFLOW_DEFILLAMA_URL": f"{replay.url}/defillama",
            "STABLEFLOW_ALTERNATIVE_ME_URL": f"{replay.url}/alternative_me",
            "STABLEFLOW_START_DATE": WINDOW_START.isoformat(),
            "STABLEFLOW_END_DATE": WINDOW_END.isoformat(),
            "STABLEFLOW_WAREHOUSE": str(home / "stableflow.duckdb"),
        }
        prepare_dagster_home(env)
        run = subprocess.run(
            materialize_command(",".join(ASSETS), "--partition", PARTITION),
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "pipelines.ui", "--port", str(port), "--no-daemon"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base, web)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        yield Browser(chromium, base, tmp_path_factory.mktemp("chromium"))
    finally:
        web.terminate()
        web.wait(timeout=30)


class Browser:
    def __init__(self, chromium: str, base: str, profile: Path):
        self.base = base
        self.flags = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--window-size=1400,900",
            "--virtual-time-budget=15000",
        ]

    def page(self, name: str, path: str) -> str:
        """The page's rendered DOM, and its screenshot saved as test-artifacts/ui/<name>.png."""
        url = self.base + path
        shot = ARTIFACTS / f"{name}.png"
        shot.unlink(missing_ok=True)
        dom = subprocess.run(
            [*self.flags, "--dump-dom", url], capture_output=True, text=True, timeout=180
        ).stdout
        subprocess.run([*self.flags, f"--screenshot={shot}", url], capture_output=True, timeout=180)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
        return dom


def test_asset_graph_shows_the_ingest_assets(ui):
    listing = ui.page("asset_group_list", f"/locations/{LOCATION}/asset-groups/ingest/list")
    for name in (
        "defillama_total_supply",
        "defillama_token_supply",
        "coingecko_market_daily",
        "fear_greed_daily",
        "fred_series_daily",
        "evm_token_supply",
        "evm_exchange_reserves",
        "evm_exchange_flows",
    ):
        assert name in listing, name
    lineage = ui.page("asset_graph", f"/locations/{LOCATION}/asset-groups/ingest/lineage")
    assert "Asset Group" in lineage and "1,027 partitions" in lineage


def test_partitions_page_shows_the_materialised_day(ui):
    page = ui.page("partitions", "/assets/raw/defillama_total_supply?view=partitions")
    assert "Materialized (1)" in page and "Missing (1026)" in page
    assert WINDOW_START.isoformat() in page and WINDOW_END.isoformat() in page


def test_check_results_show_passed(ui):
    page = ui.page("checks", "/assets/raw/defillama_total_supply?view=checks")
    for check in ("schema", "has_rows", "one_row_per_day", "supply_plausible"):
        assert check in page, check
    # Every check of the suite is listed as succeeded, and the selected one shows "Passed".
    assert "Passed" in page and page.count("Succeeded") >= 6
