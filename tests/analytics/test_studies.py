"""The README's comparison with published studies is what the code computes now.

bench/studies.py runs the pipeline's own functions on the real recordings (shipped in
sandbox/recordings, so this needs no network); the README holds its table between the
`studies` markers. A change in the statistics, the data dating or the recordings that moves
any number fails here, with the new table to review and paste (python -m bench.studies).
"""

from pathlib import Path

import pytest

from bench import studies

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_table() -> str:
    text = README.read_text()
    start, end = "<!-- studies:start -->\n", "\n<!-- studies:end -->"
    return text[text.index(start) + len(start) : text.index(end)]


@pytest.fixture(scope="module")
def real() -> tuple:
    series = studies.load_real_series()
    return series, studies.decoupling_tables(series)


def test_the_readme_comparison_with_published_studies_is_current(real):
    computed = studies.table(*real)
    assert readme_table() == computed, (
        "README.md's studies table differs from what the code computes; review and paste:\n"
        + computed
    )


def test_the_comparison_keeps_the_literature_direction(real):
    """The substance the README's prose states, checked on the numbers themselves."""
    summary = real[1]["summary"]
    full = summary.filter(period="full", supply_series="USDT", price_series="BTC").row(
        0, named=True
    )
    # Prices lead supply more strongly than supply leads prices (Kristoufek's direction)...
    assert full["price_to_supply_p_adj_lags"] < 0.05 < full["supply_to_price_p_adj_lags"]
    # ...but nothing is coupled once every pair and period is corrected for.
    assert set(summary["verdict"]) <= {"not detected", "decoupled", "inconclusive"}
