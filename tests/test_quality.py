"""The suite factory: checks come from the contracts and the suites, and catch planted bad rows."""

import datetime as dt

import polars as pl
import pytest

from assets.quality import EXPECTATIONS_DIR, load_suite, suite_of, suites, validate
from core.contracts import contracts
from core.resources.warehouse import SQL_DIR, table_ddl

D = dt.date


def market_rows(days=3, coins=("bitcoin", "tether")) -> pl.DataFrame:
    rows = [
        {
            "date": D(2021, 1, 1) + dt.timedelta(days=i),
            "coin_id": coin,
            "price_usd": 1.0 + i,
            "market_cap_usd": 1e9,
            "volume_usd": 1e6,
            "sampled_at": dt.datetime(2021, 1, 2) + dt.timedelta(days=i),
            "source": "test",
            "ingested_at": dt.datetime(2024, 1, 1),
        }
        for coin in coins
        for i in range(days)
    ]
    return pl.DataFrame(rows)


SUITE = load_suite(EXPECTATIONS_DIR / "raw.coingecko_market_daily.yaml")


def failed(frame: pl.DataFrame) -> set[str]:
    return {o.name for o in validate(frame, SUITE) if not o.passed}


def test_clean_rows_pass_every_expectation():
    assert failed(market_rows()) == set()


@pytest.mark.parametrize(
    "plant,expected",
    [
        (lambda f: pl.concat([f, f.head(1)]), {"one_row_per_coin_and_day"}),
        (lambda f: f.filter(pl.col("date") != D(2021, 1, 2)), {"no_missing_days"}),
        (
            lambda f: f.with_columns(
                price_usd=pl.when(pl.col("coin_id") == "tether")
                .then(-1.0)
                .otherwise(pl.col("price_usd"))
            ),
            {"price_positive"},
        ),
        (
            lambda f: f.with_columns(coin_id=pl.col("coin_id").replace("tether", "dogecoin")),
            {"coin_known"},
        ),
        (lambda f: f.with_columns(volume_usd=pl.lit(-5.0)), {"volume_not_negative"}),
        (lambda f: f.drop("sampled_at"), {"schema"}),
        (lambda f: f.head(0), {"has_rows"}),
        (
            lambda f: f.with_columns(
                price_usd=pl.when(
                    (pl.col("coin_id") == "bitcoin") & (pl.col("date") == D(2021, 1, 2))
                )
                .then(200.0)
                .otherwise(pl.col("price_usd"))
            ),
            {"day_over_day_plausible"},
        ),
    ],
)
def test_planted_problem_fails_exactly_its_expectation(plant, expected):
    assert failed(plant(market_rows())) == expected


def test_gap_in_one_coin_is_found_even_when_another_coin_has_that_day():
    frame = market_rows().filter(
        ~((pl.col("coin_id") == "tether") & (pl.col("date") == D(2021, 1, 2)))
    )
    outcome = {o.name: o for o in validate(frame, SUITE)}["no_missing_days"]
    assert not outcome.passed and outcome.details["unexpected_count"] == 1


def test_every_contracted_table_gets_its_schema_and_key_checks(warehouse):
    """From the contract: `schema` (the columns in order) and the key check (one row per
    grain value, under the name the contract gives it); the suite file adds the rest."""
    for layer in ("raw", "staging", "marts"):
        loaded = {s.table: s for s in suites(layer)}
        assert set(loaded) == {c.table for c in contracts(layer)}, layer
        for contract in contracts(layer):
            schema, key, *_ = loaded[contract.table].expectations
            assert (schema.name, schema.kwargs) == (
                "schema",
                {"column_list": list(contract.column_names)},
            )
            assert key.name == contract.key_check
            grain = list(contract.grain)
            assert key.kwargs == (
                {"column": grain[0]} if len(grain) == 1 else {"column_list": grain}
            )
    for path in EXPECTATIONS_DIR.glob("*.yaml"):  # a suite left with nothing is deleted
        assert load_suite(path).expectations[2:], path
    with warehouse.connect() as con:
        con.execute(table_ddl("raw.coingecko_market_daily"))
        columns = [r[0] for r in con.execute("DESCRIBE raw.coingecko_market_daily").fetchall()]
    assert SUITE.expectations[0].kwargs["column_list"] == columns
    assert SUITE.expectations[1].name == "one_row_per_coin_and_day"


def test_a_table_without_a_suite_file_still_gets_the_generated_checks(tmp_path, monkeypatch):
    monkeypatch.setattr("assets.quality.EXPECTATIONS_DIR", tmp_path)  # no suite files at all
    suite = suite_of("analytics.risk_panel")
    assert [e.name for e in suite.expectations] == ["schema", "one_row_per_key"]
    assert suite.expectations[1].kwargs == {"column_list": ["period", "asset"]}
    (outcome, _) = validate(pl.DataFrame({"period": ["full"], "asset": ["BTC"]}), suite)
    assert not outcome.passed  # the other columns are missing


def test_a_suite_may_not_restate_what_the_contract_says(tmp_path):
    for entry, message in [
        (
            "{name: schema, type: ExpectTableColumnsToMatchOrderedList}",
            "generated from the contract",
        ),
        (
            "{name: one_row_per_day, type: ExpectColumnValuesToBeUnique}",
            "generated from the contract",
        ),
        ("{name: x, type: ExpectColumnValuesToNotBeNull, deps: [raw.a]}", "come from its SQL"),
    ]:
        bad = tmp_path / "raw.fear_greed_daily.yaml"
        bad.write_text(f"table: raw.fear_greed_daily\nexpectations:\n  - {entry}\n")
        with pytest.raises(ValueError, match=message):
            load_suite(bad)


def test_a_reconciliation_depends_on_the_tables_its_sql_reads():
    suite = load_suite(EXPECTATIONS_DIR / "raw.evm_issuance_daily.yaml")
    (exp,) = [e for e in suite.expectations if e.rows]
    assert exp.deps == ("raw.evm_token_supply",)


def test_suite_file_must_name_its_own_table(tmp_path):
    bad = tmp_path / "raw.a.yaml"
    bad.write_text("table: raw.b\nexpectations: []\n")
    with pytest.raises(ValueError, match="expected the file's name"):
        load_suite(bad)


def test_a_chain_above_all_chains_fails_its_ceiling():
    """WithinCeiling: the rows of its query (date, names, value, ceiling) against the ceiling
    named in assets/ingest/plausibility.yaml; a failure lists each value with its reason."""
    suite = load_suite(EXPECTATIONS_DIR / "raw.defillama_token_supply_by_chain.yaml")
    (exp,) = [e for e in suite.expectations if e.name == "within_all_chain_supply"]
    assert exp.deps == ("raw.defillama_token_supply",)
    rows = pl.DataFrame(
        {
            "date": [D(2023, 1, 1)] * 2,
            "token": ["USDT"] * 2,
            "chain": ["Ethereum", "Tron"],
            "value": [3.9e10, 4.4e12],
            "ceiling": [6.6e10, 6.6e10],
        }
    )
    from assets.quality import Suite

    (outcome,) = validate(pl.DataFrame(), Suite(suite.table, [exp]), {exp.name: rows})
    assert not outcome.passed and outcome.details["unexpected_count"] == 1
    (shown,) = outcome.details["partial_unexpected_list"]
    assert shown.startswith(
        "raw.defillama_token_supply_by_chain: field 'circulating_tokens of "
        "USDT/Tron on 2023-01-01' = 4400000000000.0: 4.4e+12 is 66.67 times"
    )
    (outcome,) = validate(pl.DataFrame(), Suite(suite.table, [exp]), {exp.name: rows.head(1)})
    assert outcome.passed


def test_a_ceiling_the_configuration_lacks_fails_the_suite_at_load(tmp_path):
    bad = tmp_path / "raw.evm_exchange_reserves.yaml"
    bad.write_text(
        "table: raw.evm_exchange_reserves\nexpectations:\n"
        "  - {name: x, type: WithinCeiling, kwargs: {ceiling: nope}, "
        "rows: checks/evm_reserves_within_supply.sql}\n"
    )
    with pytest.raises(ValueError, match="no ceiling named 'nope'"):
        load_suite(bad)


def test_the_ceiling_queries_run_on_the_warehouse(warehouse):
    """Both ceiling queries run against the raw tables' DDL (empty tables: no rows)."""
    with warehouse.connect() as con:
        for table in (
            "defillama_token_supply_by_chain",
            "defillama_token_supply",
            "evm_exchange_reserves",
            "evm_token_supply",
        ):
            con.execute(table_ddl(f"raw.{table}"))
    for name in ("defillama_chain_within_all_chains", "evm_reserves_within_supply"):
        frame = warehouse.read((SQL_DIR / "checks" / f"{name}.sql").read_text())
        assert frame.columns[0] == "date" and frame.columns[-2:] == ["value", "ceiling"]


def test_a_stored_implausible_value_fails_its_blocking_check_and_is_logged(warehouse):
    """A BTC close 100 times the day before, stored before the limits existed: the suite's
    day_over_day_plausible check fails with ERROR severity (the run fails, downstream stops)
    and the run's log names the value."""
    import dagster as dg

    from assets.quality import Suite, _run_suite
    from core.resources.warehouse import Rows

    rows = market_rows().with_columns(
        price_usd=pl.when((pl.col("coin_id") == "bitcoin") & (pl.col("date") == D(2021, 1, 2)))
        .then(200.0)
        .otherwise(pl.col("price_usd"))
    )
    warehouse.replace_window(
        D(2021, 1, 1), D(2021, 1, 3), Rows("raw.coingecko_market_daily", rows, ["date", "coin_id"])
    )

    class Log:
        def __init__(self):
            self.lines = []

        def error(self, text):
            self.lines.append(text)

    log = Log()
    check = [e for e in SUITE.expectations if e.name == "day_over_day_plausible"]
    (result,) = _run_suite(warehouse, Suite(SUITE.table, check), log)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    (line,) = log.lines
    assert line.startswith(
        "raw.coingecko_market_daily day_over_day_plausible failed: 2 "
        "implausible value(s): test: field 'price_usd of bitcoin on "
        "2021-01-02' = 200.0: 200 on 2021-01-02 is 200 times 1 on 2021-01-01"
    )


def test_a_validation_keeps_nothing_of_the_one_before():
    """The GX context is made once per process, but each validation gets a datasource of its
    own: a kept one's engine caches every metric it computed (whole-table row conditions)
    and the last frame, which would then be held for the rest of the run."""
    import gc
    import weakref

    from assets.quality import Expectation, Suite, _context

    def engine():
        return _context().data_sources.get("warehouse").get_execution_engine()

    first = Suite("raw.a", [Expectation("n", "ExpectColumnValuesToNotBeNull", {"column": "alpha"})])
    second = Suite("raw.b", [Expectation("n", "ExpectColumnValuesToNotBeNull", {"column": "beta"})])
    (outcome,) = validate(pl.DataFrame({"alpha": [1, 2, 3]}), first)
    assert outcome.passed and engine()._metric_cache  # what a kept engine would hold
    first_engine = weakref.ref(engine())
    (outcome,) = validate(pl.DataFrame({"beta": [1, None]}), second)
    assert not outcome.passed and outcome.details["unexpected_count"] == 1
    gc.collect()
    assert first_engine() is None  # released, with its metrics and frame
    assert len(list(_context().data_sources.all())) == 1
