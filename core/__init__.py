"""stableflow's foundations: settings, chains, partitions, resources, errors.

The bottom layer. It imports neither `assets` nor the code location (`pipelines`), so the
assets build on it and `pipelines/definitions.py` assembles both (tests/test_layers.py).
"""

from core import quiet

# Every process that defines assets imports this package before any asset module runs its
# decorators: Dagster's beta notices about features we chose stay out of the output.
quiet.filters()
