"""SQL models: one Dagster asset per file in sql/staging/ and sql/marts/.

A model is a plain DuckDB SELECT (`sql/<layer>/<table>.sql`, runnable as is by an analyst)
with its documentation next to it (`<table>.yaml`: description, grain, depends_on, and every
column with its unit and source). Materialising a model rebuilds its whole table from
everything upstream, in one transaction, and documents it with COMMENT ON. Models are
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
import yaml

from assets.quality import build_checks
from core.resources import Warehouse
from core.resources.warehouse import SQL_DIR

LAYERS = ("staging", "marts")


@dataclass(frozen=True)
class Model:
    table: str
    sql: str
    description: str
    grain: tuple[str, ...]
    depends_on: tuple[str, ...]
    columns: dict[str, str]

    @property
    def key(self) -> dg.AssetKey:
        return dg.AssetKey(self.table.split("."))

    def statements(self) -> list[str]:
        """Rebuild the table (rows in grain order, so rebuilds are identical) and document it."""

        def quoted(text: str) -> str:
            return "'" + " ".join(text.split()).replace("'", "''") + "'"

        schema = self.table.split(".")[0]
        order = ", ".join(self.grain)
        return [
            f"CREATE SCHEMA IF NOT EXISTS {schema}",
            f"CREATE OR REPLACE TABLE {self.table} AS SELECT * FROM ({self.sql}) ORDER BY {order}",
            f"COMMENT ON TABLE {self.table} IS {quoted(self.description)}",
            *(
                f"COMMENT ON COLUMN {self.table}.{column} IS {quoted(text)}"
                for column, text in self.columns.items()
            ),
        ]


def load_model(sql_path: Path) -> Model:
    doc_path = sql_path.with_suffix(".yaml")
    if not doc_path.exists():
        raise ValueError(f"{sql_path}: model has no documentation file {doc_path.name}")
    doc = yaml.safe_load(doc_path.read_text())
    missing = {"description", "grain", "depends_on", "columns"} - set(doc)
    if missing:
        raise ValueError(f"{doc_path}: missing {sorted(missing)}")
    sql = sql_path.read_text().strip().rstrip(";")
    return Model(
        table=f"{sql_path.parent.name}.{sql_path.stem}",
        sql=sql,
        description=doc["description"],
        grain=tuple(doc["grain"]),
        depends_on=tuple(doc["depends_on"]),
        columns=dict(doc["columns"]),
    )


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
        warehouse.run_in_transaction(model.statements())
        dated = "date" in model.columns
        rows, first, last = warehouse.read(
            f"SELECT count(*), {'min(date), max(date)' if dated else 'NULL, NULL'} "
            f"FROM {model.table}"
        ).row(0)
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
# Suites in expectations/staging.*.yaml and expectations/marts.*.yaml.
model_checks = [check for layer in LAYERS for check in build_checks(layer)]
