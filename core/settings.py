"""Everything the deployment decides, read from the environment in one place.

Live mode needs none of these set: the defaults are the real public endpoints. The sandbox
(`sandbox/world.py`) sets the base URLs to the local replay server and the window to the
period the recordings cover. Secrets (API keys) are not read here: they reach resources
through `dagster.EnvVar`, so Dagster never stores their values.

File paths (the warehouse, the analysts' copy, the reports folder) are anchored to the
project: a relative value is taken from the project root (the folder holding pyproject.toml,
found from this file's location), never from the working directory, so `make`, `dagster dev`,
the CLI run from another folder or with `--working-directory`, and every code server read
and write the same files.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

# The project root: core/settings.py -> core/ -> the checkout.
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def project_path(value: str | os.PathLike[str]) -> str:
    """`value` as an absolute path: kept if absolute (after expanding `~`), otherwise taken
    from the project root, whatever the working directory is."""
    path = Path(value).expanduser()
    return os.path.normpath(path if path.is_absolute() else PROJECT_ROOT / path)


def _path(name: str, default: str) -> str:
    """The path in environment variable `name` (unset or empty: `default`), anchored to the
    project root. Empty is not "no file": DuckDB would open an in-memory database and the
    run's data would vanish."""
    raw = os.environ.get(name, "")
    return project_path(raw if raw.strip() else default)


def _date(name: str, default: str | None) -> dt.date | None:
    raw = os.environ.get(name, default)
    if raw in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} is not a YYYY-MM-DD date") from None


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    try:
        return default if raw in (None, "") else float(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} is not a number") from None


def _coingecko_spacing_s() -> float:
    """Seconds between CoinGecko calls for the tier in use. CoinGecko documents 5 to 15 calls a
    minute for the public API without a key and 30 for a demo key
    (https://docs.coingecko.com/reference/common-errors-rate-limit, as best known; the figures
    have changed over time): keyless calls are spaced for the lowest, 5 a minute. Paid plans
    allow more; set STABLEFLOW_COINGECKO_MIN_INTERVAL_S to use it. Only whether a key is set
    is read here, never the key."""
    return 60 / 30 if os.environ.get("COINGECKO_API_KEY") else 60 / 5


def _published_default() -> str:
    """The published folder's default: the analysts' copy's path without its extension, plus
    `_published`."""
    analyst = Path(_path("STABLEFLOW_ANALYST_WAREHOUSE", "data/stableflow_analyst.duckdb"))
    return str(analyst.with_name(f"{analyst.stem}_published"))


WORLDS = ("live", "sandbox")


def _world() -> str:
    value = os.environ.get("STABLEFLOW_WORLD", "live")
    if value not in WORLDS:
        raise ValueError(
            f"environment variable STABLEFLOW_WORLD={value!r}: expected one of {', '.join(WORLDS)}"
        )
    return value


@dataclass(frozen=True)
class Settings:
    start_date: dt.date
    end_date: dt.date | None  # last day to ingest (inclusive); None = up to yesterday
    warehouse_path: str  # absolute (project_path): never relative to the working directory
    analyst_warehouse_path: str  # absolute
    defillama_url: str
    coingecko_url: str
    coingecko_min_interval_s: float
    alternative_me_url: str
    fred_url: str
    reports_dir: str  # absolute
    # Which world the sources are: "live" (the real endpoints, the default) or "sandbox" (set
    # by sandbox/world.py: replayed recordings and simulated chains). Recorded with the data
    # (raw.data_world) and shown by the report, never used to change what is read.
    world: str = "live"
    # The marts and analytics published as Parquet for any engine, with a DuckDB file of views
    # over them (assets/publish.py); absolute. Default: beside the analysts' copy, named after
    # it (data/stableflow_analyst_published/), so each copy has its own.
    published_dir: str = ""

    @classmethod
    def from_env(cls) -> Settings:
        start = _date("STABLEFLOW_START_DATE", "2021-01-01")
        end = _date("STABLEFLOW_END_DATE", None)
        if end is not None and end < start:
            raise ValueError(f"STABLEFLOW_END_DATE={end} is before STABLEFLOW_START_DATE={start}")
        return cls(
            start_date=start,
            end_date=end,
            warehouse_path=_path("STABLEFLOW_WAREHOUSE", "data/stableflow.duckdb"),
            analyst_warehouse_path=_path(
                "STABLEFLOW_ANALYST_WAREHOUSE", "data/stableflow_analyst.duckdb"
            ),
            defillama_url=os.environ.get(
                "STABLEFLOW_DEFILLAMA_URL", "https://stablecoins.llama.fi"
            ),
            coingecko_url=os.environ.get(
                "STABLEFLOW_COINGECKO_URL", "https://api.coingecko.com/api/v3"
            ),
            coingecko_min_interval_s=_float(
                "STABLEFLOW_COINGECKO_MIN_INTERVAL_S", _coingecko_spacing_s()
            ),
            alternative_me_url=os.environ.get(
                "STABLEFLOW_ALTERNATIVE_ME_URL", "https://api.alternative.me"
            ),
            fred_url=os.environ.get("STABLEFLOW_FRED_URL", "https://fred.stlouisfed.org"),
            reports_dir=_path("STABLEFLOW_REPORTS_DIR", "reports"),
            world=_world(),
            published_dir=_path("STABLEFLOW_PUBLISHED_DIR", _published_default()),
        )
