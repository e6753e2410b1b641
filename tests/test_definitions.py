"""The code location loads, groups assets by layer and attaches the suites as checks."""

import subprocess
import sys
from pathlib import Path

import dagster as dg

from pipelines.definitions import defs

ROOT = Path(__file__).resolve().parents[1]


def test_definitions_load_and_validate():
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    by_group: dict[str, set[str]] = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        by_group.setdefault(node.group_name, set()).add(key.to_user_string())
        assert node.backfill_policy == dg.BackfillPolicy.single_run(), key
    assert by_group["ingest"] == {
        "raw/defillama_total_supply",
        "raw/defillama_token_supply",
        "raw/defillama_token_supply_by_chain",
        "raw/coingecko_market_daily",
        "raw/evm_day_blocks",
        "raw/evm_token_supply",
        "raw/evm_issuance_events",
        "raw/evm_issuance_daily",
        "raw/evm_exchange_balances",
        "raw/evm_exchange_reserves",
        "raw/evm_exchange_flows",
        "raw/fear_greed_daily",
        "raw/fred_series_daily",
    }
    assert by_group["reference"] == {
        "raw/exchanges",
        "raw/exchange_labels",
        "raw/evm_tokens",
        "raw/data_world",
        "raw/known_incomplete_history",
    }
    assert {k.split("/")[0] for k in by_group["staging"]} == {"staging"}
    assert {
        "marts/liquidity_daily",
        "marts/exchange_reserves_by_kind_daily",
        "marts/stablecoin_supply_daily",
        "marts/stablecoin_issuance_daily",
        "marts/exchange_flows_daily",
        "marts/market_daily",
        "marts/exchanges",
        "marts/label_coverage",
        "marts/exchange_supply_share_daily",
    } <= by_group["marts"]
    assert by_group["publish"] == {"analyst_warehouse"}
    assert {
        "analytics/decoupling_summary",
        "analytics/granger_causality",
        "analytics/cointegration",
        "analytics/rolling_correlation",
        "analytics/risk_panel",
        "analytics/event_study_summary",
        "analytics/structural_breaks",
        "analytics/decoupling_report",
    } <= by_group["analytics"]
    # The analysts' copy is published after every model and analytics table is built.
    publish_deps = {
        k.to_user_string() for k in graph.get(dg.AssetKey("analyst_warehouse")).parent_keys
    }
    assert by_group["analytics"] <= publish_deps and by_group["marts"] <= publish_deps
    # Every table asset has its suite attached as checks.
    for key in graph.get_all_asset_keys():
        if key.path[0] in ("raw", "staging", "marts"):
            checks = {c.name for c in graph.asset_check_keys if c.asset_key == key}
            assert "schema" in checks, key
    assert defs.resolve_job_def("daily_refresh") is not None
    assert {s.name for s in defs.schedules} == {"daily_refresh_schedule"}


def test_dagster_cli_validates_the_code_location(tmp_path):
    env = {
        "PATH": str(Path(sys.executable).parent),
        "DAGSTER_HOME": str(tmp_path),
        "HOME": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "pipelines.definitions"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr


def test_secrets_are_read_through_envvar(monkeypatch):
    import importlib

    import pipelines.definitions as module

    monkeypatch.setenv("COINGECKO_API_KEY", "CG-planted-secret")
    reloaded = importlib.reload(module)
    try:
        coingecko = reloaded.defs.resources["coingecko"]
        assert isinstance(coingecko.api_key, dg.EnvVar)
    finally:
        monkeypatch.delenv("COINGECKO_API_KEY")
        importlib.reload(module)
