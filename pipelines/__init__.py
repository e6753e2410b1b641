"""stableflow's Dagster code location: definitions, resources, jobs, schedules."""

from pipelines import quiet

# Every process that loads the code location imports this package before any asset module
# runs its decorators: Dagster's beta notices about features we chose stay out of the output.
quiet.filters()
