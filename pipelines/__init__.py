"""stableflow's Dagster code location: definitions, resources, jobs, schedules."""
