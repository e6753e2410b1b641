"""SQL models and the analysts' copy, over the replay server and the sandbox chain."""

import datetime as dt
import re
import subprocess
import sys
import textwrap

import duckdb
import pytest

from assets.ingest import ingest_assets, ingest_checks
from assets.models import model_assets, model_checks, models
from assets.publish import analyst_warehouse
from core.resources.evm import EvmRpc
from core.resources.warehouse import SQL_DIR
from sandbox.world import planted_chain
from tests.conftest import materialize

D = dt.date
START, END = D(2022, 5, 1), D(2022, 5, 20)


@pytest.fixture(scope="module")
def chain_url():
    with planted_chain(START, END) as (node_url, _):
        yield node_url


@pytest.fixture
def built(resources, chain_url, tmp_path, monkeypatch):
    analyst = tmp_path / "analyst.duckdb"
    monkeypatch.setenv("STABLEFLOW_ANALYST_WAREHOUSE", str(analyst))
    everything = {**resources, "rpc_ethereum": EvmRpc(chain="ethereum", url=chain_url)}
    result = materialize(
        [*ingest_assets, *model_assets, analyst_warehouse, *ingest_checks, *model_checks],
        everything,
        START,
        END,
    )
    return result, resources["warehouse"], analyst


def analyst_queries() -> dict[str, str]:
    text = (SQL_DIR / "analyst_queries.sql").read_text()
    parts = re.split(r"^-- name: (\w+)\s*$", text, flags=re.M)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2])}


def readme_queries() -> list[str]:
    """The SQL blocks of the README's "For analysts" section, statement by statement."""
    readme = (SQL_DIR.parent / "README.md").read_text()
    section = readme.split("## For analysts", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sql\n(.*?)```", section, flags=re.S)
    return [
        q.strip()
        for block in blocks
        for q in block.split(";")
        if q.strip() and not all(line.startswith("--") for line in q.strip().splitlines())
    ]


FRED_MARTS = {"marts.asset_prices_daily", "marts.risk_free_daily"}


def test_models_build_documented_and_checked(built):
    result, warehouse, analyst = built
    assert result.success
    failed = [
        (e.asset_key.to_user_string(), e.check_name)
        for e in result.get_asset_check_evaluations()
        if not e.passed
    ]
    assert failed == []
    with duckdb.connect(str(analyst), read_only=True) as con:
        for model in models:
            dated = "date" in model.columns
            days, first, last = con.execute(
                f"SELECT count(DISTINCT date), min(date), max(date) FROM {model.table}"
                if dated
                else "SELECT NULL, NULL, NULL"
            ).fetchone()
            if not dated:
                assert model.table in ("marts.exchanges", "marts.label_coverage"), model.table
                assert con.execute(f"SELECT count(*) FROM {model.table}").fetchone()[0] > 0
            elif "fred" in model.table or model.table in FRED_MARTS:
                # FRED rows are re-read from 7 days before the window (late postings).
                assert START - dt.timedelta(days=7) <= first < START and last == END, model.table
            else:
                assert (first, last) == (START, END) or model.table.endswith("issuance_events"), (
                    model.table
                )
            undocumented = con.execute(
                "SELECT column_name FROM duckdb_columns() "
                "WHERE schema_name || '.' || table_name = ? "
                "AND (comment IS NULL OR comment = '')",
                [model.table],
            ).fetchall()
            assert undocumented == [], model.table
        liquidity = con.execute("SELECT count(*), min(ssr) FROM marts.liquidity_daily").fetchone()
        assert liquidity[0] == (END - START).days + 1 and liquidity[1] > 0
        # No supply series is known incomplete in May 2022 (raw.known_incomplete_history):
        # every flag false, no reason.
        flags = con.execute(
            "SELECT bool_or(usdt_supply_incomplete OR usdc_supply_incomplete "
            "OR total_stablecoin_supply_incomplete), count(supply_incomplete_reason) "
            "FROM marts.liquidity_daily"
        ).fetchone()
        assert flags == (False, 0)
        assert (
            con.execute(
                "SELECT bool_or(supply_incomplete) FROM marts.stablecoin_supply_daily"
            ).fetchone()[0]
            is False
        )
        # DefiLlama's Ethereum series is what circulates at the chain's closes: totalSupply
        # less what the seed's treasury and escrows hold, planted on top of it (so
        # totalSupply alone sits above DefiLlama's series, as it does on mainnet).
        gap, above = con.execute(
            "SELECT max(abs(circulating_ratio - 1)), min(supply_ratio) "
            "FROM marts.stablecoin_supply_daily "
            "WHERE chain = 'ethereum' AND supply_ratio IS NOT NULL"
        ).fetchone()
        assert gap is not None and gap < 1e-9 and above > 1.001


def test_analyst_queries_run_as_written(built):
    _, _, analyst = built
    queries = analyst_queries()
    assert {"usdt_exchange_reserves_by_kind_monthly", "net_issuance_weekly", "ssr_monthly"} <= set(
        queries
    )
    with duckdb.connect(str(analyst), read_only=True) as con:
        for name, sql in queries.items():
            assert con.execute(sql).fetchall(), name
        assert len(readme_queries()) == 3
        for sql in readme_queries():
            assert con.execute(sql).fetchall(), sql
        # Weekly sums of whole-token amounts are exact (DECIMAL), with the days each week has.
        weekly = con.sql(queries["net_issuance_weekly"])
        types = dict(zip(weekly.columns, map(str, weekly.types)))
        assert types["usdt_net_tokens"].startswith("DECIMAL") and "days_in_data" in types


def test_materialisation_succeeds_while_an_analyst_holds_the_copy_open(built, resources, chain_url):
    result, warehouse, analyst = built
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import duckdb, sys, time
        con = duckdb.connect({str(analyst)!r}, read_only=True)
        print(con.execute("SELECT count(*) FROM marts.liquidity_daily").fetchone()[0], flush=True)
        sys.stdin.read()  # hold the file open until the test closes stdin
        print(con.execute("SELECT count(*) FROM marts.liquidity_daily").fetchone()[0], flush=True)
    """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == str((END - START).days + 1)
        everything = {**resources, "rpc_ethereum": EvmRpc(chain="ethereum", url=chain_url)}
        again = materialize([*model_assets, analyst_warehouse], everything, START, END)
        assert again.success
        out, _ = holder.communicate("", timeout=60)
        assert out.strip() == str((END - START).days + 1)  # the old copy, still whole
    finally:
        holder.kill()


def test_each_model_asset_depends_on_the_tables_its_sql_reads():
    """Lineage is not written down: the asset's deps are what DuckDB parses from the SQL."""
    for model, asset in zip(models, model_assets):
        assert asset.key == model.key
        deps = {key.to_user_string().replace("/", ".") for key in asset.asset_deps[asset.key]}
        assert deps == set(model.depends_on) and deps, model.table
    (liquidity,) = [m for m in models if m.table == "marts.liquidity_daily"]
    assert liquidity.depends_on == (
        "marts.exchange_reserves_by_kind_daily",
        "marts.market_daily",
        "marts.stablecoin_supply_daily",
        "raw.known_incomplete_history",
        "staging.stg_alternative_me__fear_greed",
        "staging.stg_defillama__total_supply",
    )
