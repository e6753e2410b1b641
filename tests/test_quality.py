"""The suite factory: suites load, match the tables, and catch planted bad rows."""

import datetime as dt

import polars as pl
import pytest

from assets.quality import EXPECTATIONS_DIR, load_suite, suites, validate
from pipelines.resources.warehouse import SQL_DIR

D = dt.date


def market_rows(days=3, coins=("bitcoin", "tether")) -> pl.DataFrame:
    rows = [
        {"date": D(2021, 1, 1) + dt.timedelta(days=i), "coin_id": coin, "price_usd": 1.0 + i,
         "market_cap_usd": 1e9, "volume_usd": 1e6,
         "sampled_at": dt.datetime(2021, 1, 2) + dt.timedelta(days=i),
         "source": "test", "ingested_at": dt.datetime(2024, 1, 1)}
        for coin in coins for i in range(days)
    ]
    return pl.DataFrame(rows)


SUITE = load_suite(EXPECTATIONS_DIR / "raw.coingecko_market_daily.yaml")


def failed(frame: pl.DataFrame) -> set[str]:
    return {o.name for o in validate(frame, SUITE) if not o.passed}


def test_clean_rows_pass_every_expectation():
    assert failed(market_rows()) == set()


@pytest.mark.parametrize("plant,expected", [
    (lambda f: pl.concat([f, f.head(1)]), {"one_row_per_coin_and_day"}),
    (lambda f: f.filter(pl.col("date") != D(2021, 1, 2)), {"no_missing_days"}),
    (lambda f: f.with_columns(price_usd=pl.when(pl.col("coin_id") == "tether").then(-1.0).otherwise(pl.col("price_usd"))), {"price_positive"}),
    (lambda f: f.with_columns(coin_id=pl.col("coin_id").replace("tether", "dogecoin")), {"coin_known"}),
    (lambda f: f.with_columns(volume_usd=pl.lit(-5.0)), {"volume_not_negative"}),
    (lambda f: f.drop("sampled_at"), {"schema"}),
    (lambda f: f.head(0), {"has_rows"}),
])
def test_planted_problem_fails_exactly_its_expectation(plant, expected):
    assert failed(plant(market_rows())) == expected


def test_gap_in_one_coin_is_found_even_when_another_coin_has_that_day():
    frame = market_rows().filter(~((pl.col("coin_id") == "tether") & (pl.col("date") == D(2021, 1, 2))))
    outcome = {o.name: o for o in validate(frame, SUITE)}["no_missing_days"]
    assert not outcome.passed and outcome.details["unexpected_count"] == 1


def test_every_raw_table_has_a_suite_whose_schema_matches_its_ddl(warehouse):
    tables = {f"raw.{p.stem}" for p in (SQL_DIR / "raw").glob("*.sql")}
    loaded = {s.table: s for s in suites("raw")}
    assert set(loaded) == tables
    with warehouse.connect() as con:
        for table, suite in loaded.items():
            con.execute((SQL_DIR / "raw" / f"{table.split('.')[1]}.sql").read_text())
            columns = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
            (schema,) = [e for e in suite.expectations if e.name == "schema"]
            assert schema.kwargs["column_list"] == columns, table


def test_suite_file_must_name_its_own_table(tmp_path):
    bad = tmp_path / "raw.a.yaml"
    bad.write_text("table: raw.b\nexpectations: []\n")
    with pytest.raises(ValueError, match="expected the file's name"):
        load_suite(bad)
