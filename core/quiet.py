"""Dagster's own notices that are not the user's business, silenced where we start Dagster.

The project opts into Dagster features Dagster still labels beta (BackfillPolicy on every
asset, AssetSelection.all(include_sources=...)) and the demo uses the `dagster asset
materialize` CLI, which Dagster marks superseded. Each import of the definitions repeated
these as dozens of warnings ahead of anything useful (issue 16). Only these exact notices are
silenced; every other warning still shows.
"""

import os
import re
import warnings

# Literal message prefixes, as PYTHONWARNINGS matches them (it escapes the text), so the same
# list serves subprocesses (the Dagster CLI, code servers) and this process.
NOTICES = (
    "Parameter `backfill_policy` of function `asset` is currently in beta",
    "Parameter `include_sources` of function `AssetSelection.all` is currently in beta",
    "Function `asset_materialize_command` is superseded",
)


def environment(env: dict[str, str]) -> dict[str, str]:
    """`env` with PYTHONWARNINGS extended so a Dagster subprocess does not print NOTICES."""
    ours = ",".join(f"ignore:{notice}" for notice in NOTICES)
    theirs = env.get("PYTHONWARNINGS")
    return {**env, "PYTHONWARNINGS": f"{theirs},{ours}" if theirs else ours}


def filters() -> None:
    """The same filters in this process."""
    for notice in NOTICES:
        warnings.filterwarnings("ignore", message=re.escape(notice))


def silence() -> None:
    """The filters in this process, and in the subprocesses it starts."""
    filters()
    os.environ.update(environment(dict(os.environ)))
