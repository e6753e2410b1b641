"""stableflow's Dagster code location (definitions, jobs, schedules, sensors) and its tools
(the preflight `doctor`, the guarded `ui`). The top layer: it assembles `assets` and `core`."""
