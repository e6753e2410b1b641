"""Table contracts: one YAML per warehouse table, the single description of it.

`sql/<layer>/<table>.yaml` (layers raw, staging, marts, analytics) says what the table is:

    description: >-
      What a row is, where its values come from. Grain: date x coin.
    grain: [date, coin_id]          # the key: PRIMARY KEY of a raw table, sort order of all
    key_check: one_row_per_coin_and_day   # optional: the key check's name (one_row_per_key)
    columns:                        # in table order
      date:
        type: DATE                  # as DuckDB's DESCRIBE prints it
        description: UTC day ...
      account:
        type: VARCHAR
        nullable: true              # raw only: raw columns are NOT NULL unless nullable
        description: ...
    dropped_columns: [kind]         # raw only, optional: columns older warehouses still have

A nullable column a raw contract adds (listed last) is added to an older warehouse's table in
place, NULL in the rows written before; a NOT NULL one cannot be, and the write fails naming
the table's columns.

Everything else is generated from it: a raw table's DDL (CREATE TABLE with types, NOT NULL
and PRIMARY KEY, then COMMENT ON), the comments of the tables the SQL models and the analytics
build, the `schema` and key checks of every table (assets/quality.py), and the check that what
a model's SQL or an analytics frame produces is what the contract says (`Contract.check`).
Lineage is not written down: `reads` lists the tables a query reads from DuckDB's own parse
of the SQL.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
LAYERS = ("raw", "staging", "marts", "analytics")
KEY_CHECK = "one_row_per_key"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_REQUIRED = ("description", "grain", "columns")
_OPTIONAL = ("key_check", "dropped_columns")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ContractError(ValueError):
    """A contract file that cannot be read, or a table that disagrees with its contract."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB's spelling, as DESCRIBE prints it: DECIMAL(38,0), not DECIMAL(38, 0)
    description: str
    not_null: bool = False


@dataclass(frozen=True)
class Contract:
    table: str  # schema.name
    path: Path
    description: str
    grain: tuple[str, ...]
    columns: tuple[Column, ...]
    key_check: str = KEY_CHECK
    dropped_columns: tuple[str, ...] = ()

    @property
    def layer(self) -> str:
        return self.table.split(".")[0]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def where(self) -> str:
        """The contract file, as messages name it (relative to the project when inside it)."""
        try:
            return str(self.path.relative_to(SQL_DIR.parent))
        except ValueError:
            return str(self.path)

    def comments(self) -> list[str]:
        """COMMENT ON the table and each of its columns."""
        return [
            f"COMMENT ON TABLE {self.table} IS {sql_literal(self.description)}",
            *(
                f"COMMENT ON COLUMN {self.table}.{c.name} IS {sql_literal(c.description)}"
                for c in self.columns
            ),
        ]

    def create_statements(self) -> list[str]:
        """The table's DDL: created if missing (typed, NOT NULL where the contract says, its
        grain the PRIMARY KEY), nullable columns the contract added since added, columns it
        dropped removed, then documented."""
        columns = [f"{c.name} {c.type}{' NOT NULL' if c.not_null else ''}" for c in self.columns]
        if self.grain:
            columns.append(f"PRIMARY KEY ({', '.join(self.grain)})")
        body = ",\n    ".join(columns)
        return [
            f"CREATE SCHEMA IF NOT EXISTS {self.layer}",
            f"CREATE TABLE IF NOT EXISTS {self.table} (\n    {body}\n)",
            *(
                f"ALTER TABLE {self.table} ADD COLUMN IF NOT EXISTS {c.name} {c.type}"
                for c in self.columns
                if not c.not_null and c.name not in self.grain
            ),
            *(f"ALTER TABLE {self.table} DROP COLUMN IF EXISTS {c}" for c in self.dropped_columns),
            *self.comments(),
        ]

    def ddl(self) -> str:
        return "".join(f"{statement};\n" for statement in self.create_statements())

    def disagreements(self, columns: Sequence[tuple[str, str]]) -> list[str]:
        """How `columns` ((name, DuckDB type) in table order, e.g. from `describe`) differ
        from the contract's; empty when they agree."""
        have = dict(columns)
        want = {c.name: c.type for c in self.columns}
        found = [f"missing column {n} {t}" for n, t in want.items() if n not in have]
        found += [f"extra column {n} {t}" for n, t in have.items() if n not in want]
        found += [
            f"column {n} is {have[n]}, the contract says {t}"
            for n, t in want.items()
            if n in have and have[n] != t
        ]
        if not found and [n for n, _ in columns] != list(want):
            found.append(
                f"columns in the order {[n for n, _ in columns]}, the contract's order is "
                f"{list(want)}"
            )
        return found

    def check(self, columns: Sequence[tuple[str, str]], what: str) -> None:
        """Raise ContractError naming `what` and the contract file unless `columns` agree."""
        found = self.disagreements(columns)
        if found:
            raise ContractError(
                f"{what} disagrees with its contract {self.where}: " + "; ".join(found)
            )


def sql_literal(text: str) -> str:
    """`text` as a SQL string literal, its runs of white space (YAML line breaks) one space."""
    return "'" + " ".join(text.split()).replace("'", "''") + "'"


def describe(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    """(name, type) of each column of a table, view or registered frame, in order."""
    return [(row[0], row[1]) for row in con.execute(f"DESCRIBE {relation}").fetchall()]


def contract_path(table: str, sql_dir: Path = SQL_DIR) -> Path:
    layer, _, name = table.partition(".")
    if layer not in LAYERS or not _NAME.match(name):
        raise ContractError(f"not a warehouse table name: {table!r}")
    return sql_dir / layer / f"{name}.yaml"


def load_contract(table: str, sql_dir: Path = SQL_DIR) -> Contract:
    """The contract of `table` (`raw.fred_series_daily`: sql/raw/fred_series_daily.yaml)."""
    path = contract_path(table, sql_dir)
    if not path.exists():
        raise ContractError(f"no contract for {table}: expected {path}")
    return load_contract_file(path)


def contracts(layer: str, sql_dir: Path = SQL_DIR) -> list[Contract]:
    """Every contract of one layer, by table name."""
    if layer not in LAYERS:
        raise ContractError(f"not a warehouse layer: {layer!r} (one of {', '.join(LAYERS)})")
    return [load_contract_file(p) for p in sorted((sql_dir / layer).glob("*.yaml"))]


def load_contract_file(path: Path) -> Contract:
    """Read and validate one contract; the table is named by the file (layer folder, stem)."""
    layer, name = path.parent.name, path.stem
    if layer not in LAYERS or not _NAME.match(name):
        raise ContractError(f"{path}: a contract lives in sql/<layer>/<table>.yaml")
    try:
        doc = yaml.load(path.read_text(), Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise ContractError(f"{path}: not valid YAML: {exc}") from exc

    def fail(message: str) -> ContractError:
        return ContractError(f"{path}: {message}")

    if not isinstance(doc, dict):
        raise fail("expected a mapping with " + ", ".join(_REQUIRED))
    missing = [k for k in _REQUIRED if k not in doc]
    if missing:
        raise fail(f"missing {', '.join(missing)}")
    unknown = sorted(set(doc) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise fail(
            f"unknown key(s) {', '.join(map(str, unknown))} (a contract has "
            f"{', '.join(_REQUIRED + _OPTIONAL)}; lineage comes from the SQL)"
        )
    if layer != "raw" and "dropped_columns" in doc:
        raise fail("dropped_columns: only raw tables, which the pipeline alters, have them")
    description = _text(doc["description"], fail, "description")
    columns_doc = doc["columns"]
    if not isinstance(columns_doc, dict) or not columns_doc:
        raise fail("columns: expected a mapping of column name to its type and description")
    columns = tuple(_column(name, spec, layer, fail) for name, spec in columns_doc.items())
    names = [c.name for c in columns]
    grain = _names(doc["grain"], fail, "grain")
    if not grain:
        raise fail("grain: name the columns that make a row unique")
    strangers = [g for g in grain if g not in names]
    if strangers:
        raise fail(f"grain: {', '.join(strangers)} not among the columns")
    key_check = doc.get("key_check", KEY_CHECK)
    if not isinstance(key_check, str) or not _NAME.match(key_check):
        raise fail(f"key_check: expected a check name, got {key_check!r}")
    dropped = _names(doc.get("dropped_columns") or [], fail, "dropped_columns")
    kept = [d for d in dropped if d in names]
    if kept:
        raise fail(f"dropped_columns: {', '.join(kept)} also listed under columns")
    return Contract(
        table=f"{layer}.{name}",
        path=path,
        description=description,
        grain=grain,
        columns=columns,
        key_check=key_check,
        dropped_columns=dropped,
    )


def _text(value: object, fail, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail(f"{key}: expected text")
    return value


def _names(value: object, fail, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and _NAME.match(v) for v in value):
        raise fail(f"{key}: expected a list of column names, got {value!r}")
    return tuple(value)


def _column(name: object, spec: object, layer: str, fail) -> Column:
    where = f"columns.{name}"
    if not isinstance(name, str) or not _NAME.match(name):
        raise fail(f"{where}: not a column name (lower case, digits, underscores)")
    if not isinstance(spec, dict):
        raise fail(f"{where}: expected type and description")
    missing = [k for k in ("type", "description") if k not in spec]
    if missing:
        raise fail(f"{where}: missing {', '.join(missing)}")
    unknown = sorted(set(spec) - {"type", "description", "nullable"})
    if unknown:
        raise fail(f"{where}: unknown key(s) {', '.join(map(str, unknown))}")
    if "nullable" in spec and (layer != "raw" or not isinstance(spec["nullable"], bool)):
        raise fail(
            f"{where}.nullable: true or false, and only in raw contracts (a table built by "
            f"SQL or from a frame has no NOT NULL constraints)"
        )
    try:
        type_ = str(duckdb.sqltype(_text(spec["type"], fail, f"{where}.type")))
    except duckdb.Error as exc:
        raise fail(f"{where}.type: DuckDB does not know {spec['type']!r}: {exc}") from exc
    if type_ != spec["type"]:
        raise fail(f"{where}.type: write {spec['type']!r} as DuckDB spells it: {type_}")
    return Column(
        name=name,
        type=type_,
        description=_text(spec["description"], fail, f"{where}.description"),
        not_null=layer == "raw" and not spec.get("nullable", False),
    )


def reads(sql: str) -> tuple[str, ...]:
    """The tables `sql` reads (schema.table, sorted), from DuckDB's parse tree of the query
    (json_serialize_sql): parsing only, so the tables need not exist. (duckdb.get_table_names
    binds the query, which fails on a USING join of tables it does not know, and its qualified
    names keep the alias.) A table named without its schema is an error unless a CTE."""
    global _parser
    literal = "'" + sql.replace("'", "''") + "'"  # a parameter costs the first call 1 s
    with _PARSER_LOCK:
        if _parser is None:
            _parser = duckdb.connect()  # in memory, reads nothing: parsing only
        tree = json.loads(_parser.execute(f"SELECT json_serialize_sql({literal})").fetchone()[0])
    if tree.get("error"):
        raise ContractError(f"DuckDB cannot parse the query: {tree.get('error_message')}")
    tables: set[tuple[str, str]] = set()
    ctes: set[str] = set()
    for node in _nodes(tree):
        for entry in (node.get("cte_map") or {}).get("map") or []:
            ctes.add(entry["key"])
        if node.get("type") == "BASE_TABLE" and "table_name" in node:
            tables.add((node.get("schema_name") or "", node["table_name"]))
    bare = sorted(t for s, t in tables if not s and t not in ctes)
    if bare:
        raise ContractError(
            f"the query reads {', '.join(bare)} without a schema: name tables as schema.table"
        )
    return tuple(sorted(f"{s}.{t}" for s, t in tables if s))


_parser: duckdb.DuckDBPyConnection | None = None  # one per process: connecting takes 20 ms
_PARSER_LOCK = threading.Lock()


def _nodes(tree: object) -> Iterable[dict]:
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
