"""What the pipeline publishes for readers, after every model is built: the analysts' copy
of the warehouse, and the marts and analytics as Parquet for any engine.

Analysts open `data/stableflow_analyst.duckdb` (STABLEFLOW_ANALYST_WAREHOUSE) read-only
with any DuckDB client; the pipeline writes only its working file. So an analyst never
blocks a run (DuckDB allows one writer, or readers, per file, never both) and never sees a
half-written state: the copy is rebuilt beside the old one and renamed over it.

The published folder (STABLEFLOW_PUBLISHED_DIR, default `data/stableflow_analyst_published/`)
serves readers that are not DuckDB, or many at once on shared storage:

    current -> snapshots/<UTC time>       the newest complete snapshot (a symbolic link)
    snapshots/<UTC time>/<schema>/<table>/year=<YYYY>/data_0.parquet   tables with a date
    snapshots/<UTC time>/<schema>/<table>/data_0.parquet               the others
    snapshots/<UTC time>/manifest.json    every table: columns, types, comments, rows, files
    stableflow.duckdb                     views over the newest snapshot, named as in the
                                          warehouse (marts.liquidity_daily ...), commented

A snapshot is written whole under a hidden name, then renamed into place; the views file is
built beside the old one and renamed over it, and `current` is swapped by renaming a new link
over it. A reader therefore sees one whole snapshot or the previous one, never a mix, and
the previous snapshot is kept until the next publication, so a query already running on it
finishes. Parquet cannot hold DuckDB's HUGEINT (128-bit integers): those columns are written
as DECIMAL(38, 0) and the views cast them back.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import dagster as dg
import duckdb

from assets.analytics.assets import analytics_assets
from assets.models import model_assets
from core.resources import Warehouse
from core.settings import Settings

# The schemas published as Parquet: the answers and the statistics over them.
PUBLISHED_SCHEMAS = ("marts", "analytics")
# Tables with this column are partitioned by its year (hive style: year=2021/).
DATE_COLUMN = "date"
PARTITION = "year"
VIEWS_FILE = "stableflow.duckdb"
CURRENT = "current"
# The newest snapshots kept: the current one, and the one before it for queries still on it.
KEEP_SNAPSHOTS = 2
# Parquet has no 128-bit integer: written as the widest decimal, cast back by the views.
_STORED_AS = {"HUGEINT": "DECIMAL(38, 0)", "UHUGEINT": "DECIMAL(38, 0)"}


@dg.asset(
    key=["analyst_warehouse"],
    group_name="publish",
    kinds={"duckdb"},
    deps=[key for asset in [*model_assets, *analytics_assets] for key in asset.keys],
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="duckdb",
)
def analyst_warehouse(warehouse: Warehouse) -> dg.MaterializeResult:
    """A read-only copy of the whole warehouse for analysts (every schema, with its table
    and column comments), replaced atomically once the models and analytics of a run are
    built; and the marts and analytics as partitioned Parquet with a DuckDB file of views
    over them (STABLEFLOW_PUBLISHED_DIR), for any engine."""
    settings = Settings.from_env()
    target = settings.analyst_warehouse_path
    size = warehouse.publish(target)
    published = publish_parquet(warehouse, settings.published_dir)
    return dg.MaterializeResult(
        metadata={
            "path": target,
            "bytes": size,
            "published_snapshot": published["snapshot"],
            "published_views": published["views"],
            "published_tables": len(published["tables"]),
            "published_bytes": published["bytes"],
        }
    )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _tables(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...]) -> list[dict]:
    """Every table of `schemas`: name, comment, row count and columns (name, type, comment)."""
    tables = []
    for schema, table, comment in con.execute(
        "SELECT schema_name, table_name, comment FROM duckdb_tables() "
        "WHERE database_name = current_database() AND schema_name IN "
        f"({', '.join('?' for _ in schemas)}) ORDER BY ALL",
        list(schemas),
    ).fetchall():
        columns = [
            {"name": n, "type": t, "comment": c}
            for n, t, c in con.execute(
                "SELECT column_name, data_type, comment FROM duckdb_columns() "
                "WHERE database_name = current_database() AND schema_name = ? "
                "AND table_name = ? ORDER BY column_index",
                [schema, table],
            ).fetchall()
        ]
        rows = con.execute(f"SELECT count(*) FROM {_ident(schema)}.{_ident(table)}").fetchone()[0]
        tables.append(
            {"schema": schema, "table": table, "comment": comment, "rows": rows, "columns": columns}
        )
    return tables


def _write_table(con: duckdb.DuckDBPyConnection, info: dict, folder: Path) -> None:
    """One table as Parquet under `folder`/<schema>/<table>/, by year of its date if it has
    one (and rows), rows in a fixed order so the same table gives the same files."""
    names = [c["name"] for c in info["columns"]]
    if PARTITION in names:
        raise ValueError(
            f"{info['schema']}.{info['table']}: a column is named {PARTITION!r}, the name of the "
            "Parquet partition column"
        )
    select = ", ".join(
        f"{_ident(c['name'])}::{_STORED_AS[c['type']]} AS {_ident(c['name'])}"
        if c["type"] in _STORED_AS
        else _ident(c["name"])
        for c in info["columns"]
    )
    source = f"{_ident(info['schema'])}.{_ident(info['table'])}"
    target = folder / info["schema"] / info["table"]
    target.mkdir(parents=True)
    if DATE_COLUMN in names and info["rows"]:
        info["partitioned_by"] = f"{PARTITION}({DATE_COLUMN})"
        con.execute(
            f"COPY (SELECT {select}, year({_ident(DATE_COLUMN)}) AS {PARTITION} FROM {source} "
            f"ORDER BY ALL) TO {_literal(str(target))} "
            f"(FORMAT parquet, PARTITION_BY ({PARTITION}), OVERWRITE_OR_IGNORE)"
        )
    else:
        info["partitioned_by"] = None
        con.execute(
            f"COPY (SELECT {select} FROM {source} ORDER BY ALL) "
            f"TO {_literal(str(target / 'data_0.parquet'))} (FORMAT parquet)"
        )
    info["files"] = sorted(str(p.relative_to(folder)) for p in target.rglob("*.parquet"))


def _view_sql(info: dict, snapshot: Path) -> str:
    folder = snapshot / info["schema"] / info["table"]
    if info["partitioned_by"]:
        source = (
            f"read_parquet({_literal(str(folder / '*' / '*.parquet'))}, hive_partitioning = true)"
        )
    else:
        source = f"read_parquet({_literal(str(folder / '*.parquet'))})"
    columns = ", ".join(
        f"{_ident(c['name'])}::{c['type']} AS {_ident(c['name'])}" for c in info["columns"]
    )
    name = f"{_ident(info['schema'])}.{_ident(info['table'])}"
    return f"CREATE VIEW {name} AS SELECT {columns} FROM {source}"


def _build_views(tables: list[dict], snapshot: Path, target: Path) -> None:
    """The DuckDB file of views over `snapshot`, with the tables' comments, built beside
    `target` and renamed over it."""
    building = target.with_name(f".{target.name}.building")
    building.unlink(missing_ok=True)
    try:
        with duckdb.connect(str(building)) as con:
            for schema in sorted({t["schema"] for t in tables}):
                con.execute(f"CREATE SCHEMA {_ident(schema)}")
            for info in tables:
                name = f"{_ident(info['schema'])}.{_ident(info['table'])}"
                con.execute(_view_sql(info, snapshot))
                if info["comment"]:
                    con.execute(f"COMMENT ON VIEW {name} IS {_literal(info['comment'])}")
                for column in info["columns"]:
                    if column["comment"]:
                        con.execute(
                            f"COMMENT ON COLUMN {name}.{_ident(column['name'])} "
                            f"IS {_literal(column['comment'])}"
                        )
    except BaseException:
        building.unlink(missing_ok=True)
        raise
    os.replace(building, target)


def publish_parquet(
    warehouse: Warehouse, folder: str, schemas: tuple[str, ...] = PUBLISHED_SCHEMAS
) -> dict:
    """Publish the tables of `schemas` as a new Parquet snapshot in `folder`, point the views
    file and `current` at it, and drop the snapshots before the previous one. Returns the
    snapshot's path, the views file, the manifest's tables and the snapshot's size in bytes."""
    root = Path(folder)
    snapshots = root / "snapshots"
    snapshots.mkdir(parents=True, exist_ok=True)
    name = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    building = snapshots / f".{name}.building"
    snapshot = snapshots / name
    try:
        with warehouse.connect(read_only=True) as con:
            # One thread: DuckDB's parallel Parquet writer splits row groups by timing, so
            # the same rows would not always give the same bytes.
            con.execute("SET threads = 1")
            tables = _tables(con, schemas)
            for info in tables:
                _write_table(con, info, building)
        (building / "manifest.json").write_text(
            json.dumps(
                {
                    "written_at": name,
                    "schemas": list(schemas),
                    "partitioning": f"tables with a {DATE_COLUMN!r} column: hive-style "
                    f"{PARTITION}=YYYY folders; HUGEINT stored as DECIMAL(38, 0)",
                    "tables": tables,
                },
                indent=1,
            )
            + "\n"
        )
        building.rename(snapshot)
        _build_views(tables, snapshot, root / VIEWS_FILE)
    except BaseException:  # the views and `current` still name the previous snapshot
        shutil.rmtree(building, ignore_errors=True)
        shutil.rmtree(snapshot, ignore_errors=True)
        raise
    link = root / f".{CURRENT}.new"
    link.unlink(missing_ok=True)
    link.symlink_to(Path("snapshots") / name)
    os.replace(link, root / CURRENT)
    for old in sorted(p for p in snapshots.iterdir() if not p.name.startswith("."))[
        :-KEEP_SNAPSHOTS
    ]:
        shutil.rmtree(old, ignore_errors=True)
    return {
        "snapshot": str(snapshot),
        "views": str(root / VIEWS_FILE),
        "tables": tables,
        "bytes": sum(p.stat().st_size for p in snapshot.rglob("*") if p.is_file()),
    }
