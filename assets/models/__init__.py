"""SQL models: one Dagster asset per file in sql/staging/ and sql/marts/.

A model is a plain DuckDB SELECT (`sql/<layer>/<table>.sql`, runnable as is by an analyst)
with its contract next to it (`<table>.yaml`, core/contracts.py: description, grain, and every
column with its type, unit and source). What a model reads, and so what it depends on, comes
from the SQL itself. Materialising a model rebuilds its whole table from everything upstream,
in one transaction, checks the table's columns and types against the contract (a model that
disagrees fails and leaves the old table) and documents it with COMMENT ON. Models are
derived and cheap, and a whole rebuild makes day-on-day changes right at window edges and
makes the result independent of the order in which parallel backfill runs finish: the last
rebuild sees every raw row. So the models are not partitioned: a daily or backfill run of the
raw partitions rebuilds them once, after the raw assets (their single-run backfill policy
lets them join a partition-range run). Dagster records one event per asset and partition,
and a model partitioned over years of days would write thousands of them for one rebuild.
"""

from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

from assets.quality import build_checks
from core.contracts import Contract, ContractError, describe, load_contract_file, reads
from core.resources import Warehouse
from core.resources.warehouse import SQL_DIR, table_ddl

LAYERS = ("staging", "marts")


@dataclass(frozen=True)
class Model:
    sql: str
    contract: Contract
    depends_on: tuple[str, ...]  # the tables the SQL reads

    @property
    def table(self) -> str:
        return self.contract.table

    @property
    def description(self) -> str:
        return self.contract.description

    @property
    def grain(self) -> tuple[str, ...]:
        return self.contract.grain

    @property
    def columns(self) -> tuple[str, ...]:
        return self.contract.column_names

    @property
    def key(self) -> dg.AssetKey:
        return dg.AssetKey(self.table.split("."))

    def statements(self) -> list[str]:
        """Rebuild the table (rows in grain order, so rebuilds are identical) and document it."""
        schema = self.table.split(".")[0]
        order = ", ".join(self.grain)
        return [
            f"CREATE SCHEMA IF NOT EXISTS {schema}",
            f"CREATE OR REPLACE TABLE {self.table} AS SELECT * FROM ({self.sql}) ORDER BY {order}",
            *self.contract.comments(),
        ]

    def build(self, con: duckdb.DuckDBPyConnection) -> None:
        """Run `statements` on `con` and check the table against the contract. First, each raw
        table it reads gains the nullable columns its contract added since it was written
        (NULL in the old rows), as the table's next write would add them: a warehouse from an
        older release can be rebuilt before its raw tables are written again."""
        present = {
            f"{schema}.{name}"
            for schema, name in con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() "
                "WHERE database_name = current_database()"
            ).fetchall()
        }
        for table in self.depends_on:
            if table.startswith("raw.") and table in present:
                con.execute(table_ddl(table))
        for statement in self.statements():
            con.execute(statement)
        self.contract.check(describe(con, self.table), f"{self.table} as built by its SQL")


def load_model(sql_path: Path) -> Model:
    doc_path = sql_path.with_suffix(".yaml")
    if not doc_path.exists():
        raise ContractError(f"{sql_path}: model has no contract {doc_path.name}")
    sql = sql_path.read_text().strip().rstrip(";")
    try:
        depends_on = reads(sql)
    except ContractError as exc:
        raise ContractError(f"{sql_path}: {exc}") from exc
    return Model(sql=sql, contract=load_contract_file(doc_path), depends_on=depends_on)


def load_models() -> list[Model]:
    return [load_model(p) for layer in LAYERS for p in sorted((SQL_DIR / layer).glob("*.sql"))]


def build_model_asset(model: Model) -> dg.AssetsDefinition:
    layer, name = model.table.split(".")

    @dg.asset(
        key=model.key,
        group_name=layer,
        kinds={"duckdb", "sql"},
        description=model.description,
        deps=[dg.AssetKey(t.split(".")) for t in model.depends_on],
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool="duckdb",
    )
    def _model(warehouse: Warehouse) -> dg.MaterializeResult:
        dated = "date" in model.columns
        with warehouse.transaction(model.table) as con:  # one open of the file per model
            model.build(con)
            rows, first, last = con.execute(
                f"SELECT count(*), {'min(date), max(date)' if dated else 'NULL, NULL'} "
                f"FROM {model.table}"
            ).fetchone()
        return dg.MaterializeResult(
            metadata={
                "rows": rows,
                **({"dates": f"{first}..{last}"} if dated else {}),
                "sql": dg.MetadataValue.md(f"```sql\n{model.sql}\n```"),
            }
        )

    _model.__name__ = f"{layer}__{name}"
    return _model


models = load_models()
model_assets = [build_model_asset(m) for m in models]
# Schema and key checks from each model's contract, the rest from expectations/<layer>.*.yaml.
model_checks = [check for layer in LAYERS for check in build_checks(layer)]
