"""Every table agrees with its contract (sql/<layer>/<table>.yaml, core/contracts.py).

An empty warehouse is built the way the pipeline builds one: the raw tables from their
contracts' DDL, then every staging and mart model from its SQL in dependency order, then the
analytics frames from a few planted days. Each table's columns, their order and their DuckDB
types must be the contract's; lineage comes from the SQL and names contracted tables only.
"""

import re
import shutil

import pytest
import yaml

from assets.analytics import assets as analytics
from assets.models import models
from assets.quality import suites
from core.contracts import (
    LAYERS,
    ContractError,
    contracts,
    describe,
    load_contract,
    load_contract_file,
    reads,
)
from core.resources import Warehouse
from core.resources.warehouse import SQL_DIR, table_ddl

CONTRACTS = {c.table: c for layer in LAYERS for c in contracts(layer)}
DAYS = 8


def in_dependency_order(models_: list) -> list:
    by_table = {m.table: m for m in models_}
    ordered: list = []

    def visit(model, path=()):
        assert model.table not in path, f"dependency cycle: {' -> '.join((*path, model.table))}"
        if model not in ordered:
            for dep in model.depends_on:
                if dep in by_table:
                    visit(by_table[dep], (*path, model.table))
            ordered.append(model)

    for model in models_:
        visit(model)
    return ordered


def disagreements(con, tables) -> list[str]:
    return [
        f"{table} ({CONTRACTS[table].where}): {problem}"
        for table in tables
        for problem in CONTRACTS[table].disagreements(describe(con, table))
    ]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A warehouse file with every raw, staging and mart table, empty but for a few days of
    the marts the analytics read."""
    warehouse = Warehouse(path=str(tmp_path_factory.mktemp("contracts") / "w.duckdb"))
    with warehouse.transaction() as con:
        for contract in contracts("raw"):
            con.execute(table_ddl(contract.table))
        for model in in_dependency_order(models):
            for statement in model.statements():
                con.execute(statement)
        con.execute(
            f"""INSERT INTO marts.liquidity_daily BY NAME
            SELECT DATE '2024-01-01' + i::INTEGER AS date, 1e9 + 1e6 * i AS usdt_supply_tokens,
                   1e9 AS usdc_supply_tokens, 3e9 + 1e6 * i AS total_stablecoin_supply_usd,
                   1e8 AS spot_exchange_reserve_tokens,
                   1e8 + 1e6 * i AS derivatives_exchange_reserve_tokens,
                   0.5 AS derivatives_share_of_exchange_reserves,
                   1e12 * (1 + i / 10) AS btc_market_cap_usd, 1e11 AS eth_market_cap_usd,
                   300.0 AS ssr, 50 AS fear_greed, false AS usdt_supply_incomplete,
                   false AS usdc_supply_incomplete, false AS total_stablecoin_supply_incomplete
            FROM range({DAYS}) AS t (i)"""
        )
        con.execute(
            f"""INSERT INTO marts.asset_prices_daily BY NAME
            SELECT DATE '2024-01-01' + i::INTEGER AS date, asset, 100.0 + i * i AS close,
                   365 AS periods_per_year, 'test' AS source
            FROM range({DAYS}) AS t (i), (VALUES ('BTC'), ('SP500')) AS a (asset)"""
        )
        con.execute(
            f"""INSERT INTO marts.risk_free_daily BY NAME
            SELECT DATE '2024-01-01' + i::INTEGER AS date, 0.02 AS rate
            FROM range({DAYS}) AS t (i)"""
        )
    return warehouse


def test_every_table_has_a_contract_and_every_model_its_sql():
    sql = {
        f"{layer}.{p.stem}"
        for layer in ("staging", "marts")
        for p in (SQL_DIR / layer).glob("*.sql")
    }
    assert {m.table for m in models} == sql
    assert sql == {t for t in CONTRACTS if t.split(".")[0] in ("staging", "marts")}
    assert not list((SQL_DIR / "raw").glob("*.sql")), "raw DDL is generated from the contracts"
    assert {t for t in CONTRACTS if t.startswith("analytics.")} == {
        f"analytics.{t}" for step in analytics.STEPS for t in step.tables
    }


def test_raw_tables_are_created_as_their_contracts_say(built):
    with built.connect(read_only=True) as con:
        assert disagreements(con, [c.table for c in contracts("raw")]) == []
        for contract in contracts("raw"):
            schema, name = contract.table.split(".")
            key, not_null, comments = con.execute(
                """SELECT
                    (SELECT constraint_column_names FROM duckdb_constraints()
                     WHERE schema_name = $1 AND table_name = $2
                       AND constraint_type = 'PRIMARY KEY'),
                    (SELECT list(column_name ORDER BY column_index) FROM duckdb_columns()
                     WHERE schema_name = $1 AND table_name = $2 AND NOT is_nullable),
                    (SELECT count(*) FROM duckdb_columns()
                     WHERE schema_name = $1 AND table_name = $2 AND comment <> '')""",
                [schema, name],
            ).fetchone()
            assert tuple(key) == contract.grain, contract.table
            assert not_null == [c.name for c in contract.columns if c.not_null], contract.table
            assert comments == len(contract.columns), contract.table


def test_every_model_builds_the_columns_and_types_of_its_contract(built):
    with built.connect(read_only=True) as con:
        assert disagreements(con, [m.table for m in models]) == []
        for model in models:
            table_comment = con.execute(
                "SELECT comment FROM duckdb_tables() WHERE schema_name || '.' || table_name = ?",
                [model.table],
            ).fetchone()[0]
            assert table_comment == " ".join(model.description.split()), model.table


def test_the_analytics_frames_are_their_contracts(built):
    """What each analytics step computes (from the planted days) has its contract's
    columns and types, and is stored with them."""
    written = []
    for step in analytics.STEPS:
        frames = step.compute(built)
        assert set(frames) == set(step.tables), step.name
        for name, frame in frames.items():
            contract = CONTRACTS[f"analytics.{name}"]
            assert contract.disagreements(analytics.frame_columns(frame)) == [], contract.where
        analytics._write(built, frames)
        written += [f"analytics.{t}" for t in step.tables]
    with built.connect(read_only=True) as con:
        assert disagreements(con, written) == []
        assert con.execute("SELECT count(*) FROM analytics.rolling_correlation").fetchone()[0]


def test_lineage_comes_from_the_sql_and_names_contracted_tables():
    for model in models:
        assert model.depends_on, model.table
        assert set(model.depends_on) <= set(CONTRACTS), (model.table, model.depends_on)
        assert model.table not in model.depends_on
    assert [m.table for m in in_dependency_order(models)]  # no cycle
    liquidity = next(m for m in models if m.table == "marts.liquidity_daily")
    assert "raw.known_incomplete_history" in liquidity.depends_on  # read in a CTE's join
    reconciliations = [
        (suite.table, exp)
        for layer in ("raw", "marts")
        for suite in suites(layer)
        for exp in suite.expectations
        if exp.rows
    ]
    assert reconciliations
    for table, exp in reconciliations:
        assert set(exp.deps) <= set(CONTRACTS) and table not in exp.deps, exp.name
    by_name = {exp.name: exp for _, exp in reconciliations}
    assert by_name["reserve_change_equals_netflow"].deps == ("raw.evm_exchange_flows",)


def test_sql_headers_state_the_contract_grain():
    for model in models:
        stated = re.search(r"^-- Grain: ([a-z0-9_]+(?: x [a-z0-9_]+)*)", model.sql, flags=re.M)
        assert stated, f"{model.table}: no '-- Grain:' line in its SQL header"
        assert tuple(stated.group(1).split(" x ")) == model.grain, model.table


def test_reads_parses_without_the_tables():
    sql = """WITH recent AS (SELECT * FROM raw.a WHERE date > DATE '2024-01-01')
             SELECT * FROM recent JOIN staging.b AS b USING (date)
             WHERE date IN (SELECT date FROM marts.c)"""
    assert reads(sql) == ("marts.c", "raw.a", "staging.b")
    with pytest.raises(ContractError, match="reads a without a schema"):
        reads("SELECT * FROM a")
    with pytest.raises(ContractError, match="cannot parse"):
        reads("SELEC 1")


# ---- a disagreement fails, and says what and where ----------------------------------------


def planted(tmp_path, table: str, edit) -> object:
    """The contract of `table` copied to tmp_path/sql/<layer>/, edited, and loaded."""
    source = load_contract(table).path
    target = tmp_path / "sql" / source.parent.name / source.name
    target.parent.mkdir(parents=True)
    shutil.copy(source, target)
    doc = yaml.safe_load(target.read_text())
    edit(doc)
    target.write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_contract_file(target)


def test_a_wrong_type_in_a_contract_is_found(built, tmp_path):
    def wrong(doc):
        doc["columns"]["value"]["type"] = "VARCHAR"

    contract = planted(tmp_path, "staging.stg_fred__series", wrong)
    with built.connect(read_only=True) as con:
        columns = describe(con, contract.table)
    assert contract.disagreements(columns) == ["column value is DOUBLE, the contract says VARCHAR"]
    with pytest.raises(ContractError) as failed:
        contract.check(columns, "staging.stg_fred__series as built by its SQL")
    assert str(failed.value) == (
        f"staging.stg_fred__series as built by its SQL disagrees with its contract "
        f"{contract.path}: column value is DOUBLE, the contract says VARCHAR"
    )


def test_a_missing_or_moved_column_is_found(built, tmp_path):
    def without_source(doc):
        del doc["columns"]["source"]

    def with_extra(doc):
        doc["columns"]["series_name"] = {"type": "VARCHAR", "description": "Not in the SQL"}

    def reordered(doc):
        doc["columns"] = dict(reversed(list(doc["columns"].items())))

    with built.connect(read_only=True) as con:
        columns = describe(con, "staging.stg_fred__series")
    found = planted(tmp_path / "a", "staging.stg_fred__series", without_source)
    assert found.disagreements(columns) == ["extra column source VARCHAR"]
    found = planted(tmp_path / "b", "staging.stg_fred__series", with_extra)
    assert found.disagreements(columns) == ["missing column series_name VARCHAR"]
    found = planted(tmp_path / "c", "staging.stg_fred__series", reordered)
    (problem,) = found.disagreements(columns)
    assert problem.startswith("columns in the order ['date', 'series_id', 'value', 'source']")


def test_a_model_whose_sql_disagrees_fails_its_build(built):
    import duckdb

    (model,) = [m for m in models if m.table == "staging.stg_fred__series"]
    drifted = type(model)(
        sql=model.sql.replace("cast(value AS DOUBLE)", "cast(value AS FLOAT)"),
        contract=model.contract,
        depends_on=model.depends_on,
    )
    with duckdb.connect() as con:
        con.execute(table_ddl("raw.fred_series_daily"))
        model.build(con)
        with pytest.raises(ContractError, match="column value is FLOAT, the contract says DOUBLE"):
            drifted.build(con)


def test_an_analytics_frame_that_disagrees_is_not_written(tmp_path):
    import polars as pl

    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))
    frame = pl.DataFrame({"period": ["full"], "asset_a": ["BTC"], "asset_b": ["ETH"]})
    with pytest.raises(ContractError) as failed:
        analytics._write(warehouse, {"risk_correlation": frame})
    assert str(failed.value).startswith(
        "the frame computed for analytics.risk_correlation disagrees with its contract "
        "sql/analytics/risk_correlation.yaml: missing column window_start DATE; "
    )
    assert not warehouse.table_exists("analytics.risk_correlation")


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.pop("grain"), r"stg_fred__series\.yaml: missing grain"),
        (lambda d: d.update(depends_on=["raw.x"]), r"unknown key\(s\) depends_on"),
        (lambda d: d["columns"]["value"].pop("type"), r"columns\.value: missing type"),
        (lambda d: d["columns"]["value"].update(type="DUBBLE"), r"columns\.value\.type: DuckDB"),
        (
            lambda d: d["columns"]["value"].update(type="decimal(38, 0)"),
            r"as DuckDB spells it: DECIMAL\(38,0\)",
        ),
        (lambda d: d.update(grain=["date", "series"]), r"grain: series not among the columns"),
        (lambda d: d["columns"]["value"].update(nullable=True), r"only in raw contracts"),
        (lambda d: d["columns"]["value"].update(unit="USD"), r"columns\.value: unknown key"),
    ],
)
def test_a_contract_missing_a_key_or_with_a_bad_one_names_file_and_key(tmp_path, edit, message):
    with pytest.raises(ContractError, match=message):
        planted(tmp_path, "staging.stg_fred__series", edit)


def test_raw_contracts_say_what_the_ddl_said(tmp_path):
    """NOT NULL unless nullable, the grain the primary key, dropped columns dropped."""
    import duckdb

    with duckdb.connect() as con:
        con.execute(table_ddl("raw.evm_exchange_flows"))
        con.execute("ALTER TABLE raw.evm_exchange_flows ADD COLUMN kind VARCHAR")  # as of old
        con.execute(table_ddl("raw.evm_exchange_flows"))
        assert "kind" not in [n for n, _ in describe(con, "raw.evm_exchange_flows")]
    events = load_contract("raw.evm_issuance_events")
    assert [c.name for c in events.columns if not c.not_null] == ["account", "operator"]
    assert "PRIMARY KEY (chain, block_number, log_index)" in events.ddl()
    assert "COMMENT ON COLUMN raw.evm_issuance_events.account IS 'Lowercase" in events.ddl()
