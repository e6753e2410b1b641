"""How the pipeline is pointed at the sandbox: base URLs and the window the recordings cover.

This is the whole difference between live and sandbox mode: environment variables.
"""

import datetime as dt
from pathlib import Path

# Every recorded series covers these days (see recordings/SOURCES.md).
WINDOW_START = dt.date(2021, 1, 1)
WINDOW_END = dt.date(2023, 10, 24)


def sandbox_environment(replay_url: str) -> dict[str, str]:
    return {
        "STABLEFLOW_DEFILLAMA_URL": f"{replay_url}/defillama",
        "STABLEFLOW_COINGECKO_URL": f"{replay_url}/coingecko/api/v3",
        "STABLEFLOW_START_DATE": WINDOW_START.isoformat(),
        "STABLEFLOW_END_DATE": WINDOW_END.isoformat(),
        # The replay server has no rate limit to respect.
        "STABLEFLOW_COINGECKO_MIN_INTERVAL_S": "0",
    }


def prepare_dagster_home(env: dict[str, str]) -> None:
    """Point DAGSTER_HOME at the checkout's git-ignored folder and give it dagster.yaml."""
    root = Path(__file__).resolve().parents[1]
    home = Path(env.setdefault("DAGSTER_HOME", str(root / ".dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    config = (root / "dagster.yaml").read_text()
    target = home / "dagster.yaml"
    if not target.exists() or target.read_text() != config:
        target.write_text(config)
