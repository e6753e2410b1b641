"""The one way to load a table's checks and run them as Dagster asset checks.

Every table with a contract (`sql/<layer>/<table>.yaml`, core/contracts.py) gets two checks
generated from it: `schema` (the columns, in the contract's order) and the key check (one row
per value of the grain; named `one_row_per_key` unless the contract's `key_check` names it).
What a contract cannot say (ranges, value sets, completeness, reconciliations across tables)
is a suite in `expectations/`, a YAML file named after the table it checks
(`expectations/raw.coingecko_market_daily.yaml`), listing Great Expectations 1.x
expectations by class name with their arguments. Each expectation becomes one asset check
of the table's asset (asset key = the table name split on "."); a table's checks run in
one step that reads the table once and validates it with GX on a pandas frame (GX cannot
validate DuckDB tables through SQLAlchemy). Blocking checks stop downstream assets.

Three expectations are ours, because GX has no notion of a daily series:
- `NoMissingDays` (with optional `by` columns) becomes GX's `ExpectColumnValuesToBeBetween`
  on the number of days since the previous row of the same key, which must be at most 1.
- `DayOverDay` applies the blocking day-over-day limits of assets/ingest/plausibility.yaml for the
  table to every stored row (assets/ingest/plausibility.py, the same function the ingest
  assets run before they write), and `WithinCeiling` (kwargs `ceiling`: a ceiling's name there)
  checks the `rows` of its query (date, names, value, ceiling) against that ceiling. Each
  becomes GX's `ExpectColumnValuesToBeNull` on one row per implausible value, its description
  (source, field, day, value, the limit and why), so a failure lists them; a failed blocking
  one is also logged as an error in the run.

Reconciliations across tables use the same machinery: an expectation may name `rows`, a
plain SQL file under `sql/checks/` whose result is validated instead of the table (for
example, one row per day with the difference between supply change and net issuance,
expected to be zero). The other tables that query reads (found in its SQL, as for the
models) are the check's dependencies, so it runs after them.
"""

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import yaml

from core.contracts import Contract, ContractError, contracts, load_contract, reads
from core.resources.warehouse import SQL_DIR, Warehouse

EXPECTATIONS_DIR = Path(__file__).resolve().parents[1] / "expectations"
_GAP_COLUMN = "_days_since_previous"
_IMPLAUSIBLE_COLUMN = "implausible"
PLAUSIBILITY_TYPES = ("DayOverDay", "WithinCeiling")


@dataclass(frozen=True)
class Expectation:
    name: str
    type: str
    kwargs: dict[str, Any]
    blocking: bool = True
    description: str = ""
    rows: str | None = None  # SQL file (relative to sql/) whose result is validated
    deps: tuple[str, ...] = ()  # the other tables `rows` reads (from its SQL)

    @property
    def sql(self) -> str | None:
        return (SQL_DIR / self.rows).read_text() if self.rows else None


@dataclass(frozen=True)
class Suite:
    table: str
    expectations: list[Expectation] = field(default_factory=list)

    @property
    def asset_key(self) -> dg.AssetKey:
        return dg.AssetKey(self.table.split("."))


@dataclass(frozen=True)
class Outcome:
    name: str
    passed: bool
    details: dict[str, Any]


def generated(contract: Contract) -> list[Expectation]:
    """The checks a contract implies: the columns in order, and one row per grain value."""
    grain = list(contract.grain)
    unique = (
        ("ExpectColumnValuesToBeUnique", {"column": grain[0]})
        if len(grain) == 1
        else ("ExpectCompoundColumnsToBeUnique", {"column_list": grain})
    )
    return [
        Expectation(
            name="schema",
            type="ExpectTableColumnsToMatchOrderedList",
            kwargs={"column_list": list(contract.column_names)},
            description=(
                f"The columns of {contract.where}, in order: {', '.join(contract.column_names)}."
            ),
        ),
        Expectation(
            name=contract.key_check,
            type=unique[0],
            kwargs=unique[1],
            description=f"One row per {' x '.join(grain)}: the grain of {contract.where}.",
        ),
    ]


def load_suite(path: Path) -> Suite:
    """The checks of the table `path` is named after: those generated from its contract,
    then the file's expectations."""
    raw = yaml.safe_load(path.read_text())
    table = raw.get("table")
    if table != path.stem:
        raise ValueError(f"{path}: 'table' is {table!r}, expected the file's name {path.stem!r}")
    try:
        contract = load_contract(table)
    except ContractError as exc:
        raise ValueError(f"{path}: every checked table has a contract: {exc}") from exc
    expectations = generated(contract)
    for i, entry in enumerate(raw.get("expectations") or []):
        unknown = set(entry) - {"name", "type", "kwargs", "blocking", "description", "rows"}
        if unknown or "name" not in entry or "type" not in entry:
            raise ValueError(
                f"{path}: expectation #{i + 1} needs name and type, and has unknown keys "
                f"{sorted(unknown)} (the tables a `rows` query reads come from its SQL)"
            )
        if entry["name"] in ("schema", contract.key_check):
            raise ValueError(
                f"{path}: {entry['name']} is generated from the contract {contract.where}; "
                f"leave it out of the suite"
            )
        rows = entry.get("rows")
        if rows and not (SQL_DIR / rows).exists():
            raise ValueError(f"{path}: {entry['name']}: no SQL file sql/{rows}")
        try:
            read = reads((SQL_DIR / rows).read_text()) if rows else ()
        except ContractError as exc:
            raise ValueError(f"{path}: {entry['name']}: sql/{rows}: {exc}") from exc
        expectations.append(
            Expectation(
                name=entry["name"],
                type=entry["type"],
                kwargs=entry.get("kwargs") or {},
                blocking=entry.get("blocking", True),
                description=entry.get("description", ""),
                rows=rows,
                deps=tuple(t for t in read if t != table),
            )
        )
        if entry["type"] == "WithinCeiling":
            from assets.ingest import plausibility  # not at the top: assets.ingest imports us

            if not expectations[-1].rows:
                raise ValueError(f"{path}: {entry['name']}: WithinCeiling needs `rows`")
            plausibility.config().ceiling(expectations[-1].kwargs.get("ceiling"))
    names = [e.name for e in expectations]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: expectation names must be unique, got {names}")
    return Suite(table=table, expectations=expectations)


def suite_of(table: str) -> Suite:
    """The checks of one table: its suite file if it has one, else its contract's alone."""
    path = EXPECTATIONS_DIR / f"{table}.yaml"
    if path.exists():
        return load_suite(path)
    return Suite(table=table, expectations=generated(load_contract(table)))


def suites(layer: str) -> list[Suite]:
    """The checks of every table of one warehouse layer (schema) that has a contract
    (`sql/<layer>/*.yaml`) or a suite (`expectations/<layer>.*.yaml`)."""
    tables = {c.table for c in contracts(layer)}
    tables |= {p.stem for p in EXPECTATIONS_DIR.glob(f"{layer}.*.yaml")}
    return [suite_of(table) for table in sorted(tables)]


def _with_gap_column(frame: pl.DataFrame, kwargs: dict[str, Any]) -> pl.DataFrame:
    by = kwargs.get("by") or []
    date = kwargs.get("date_column", "date")
    previous = pl.col(date).shift(1)
    if by:
        previous = previous.over(by, order_by=date)
    else:
        frame = frame.sort(date)
    return frame.with_columns((pl.col(date) - previous).dt.total_days().alias(_GAP_COLUMN))


def _implausible(frame: pl.DataFrame, exp: Expectation, table: str) -> pl.DataFrame:
    """One row per value beyond a blocking plausibility limit, described."""
    from assets.ingest import plausibility  # not at the top: assets.ingest imports us

    if exp.type == "DayOverDay":
        found = [m.line() for m in plausibility.day_over_day(frame, table) if m.level == "block"]
    else:
        ceiling = plausibility.config().ceiling(exp.kwargs["ceiling"])
        found = [
            f"{table}: field {e.field!r} = {float(e.row['value'])!r}: {e.describe()}"
            for e in plausibility.over_ceiling(frame, ceiling)
        ]
    return pl.DataFrame({_IMPLAUSIBLE_COLUMN: found}, schema={_IMPLAUSIBLE_COLUMN: pl.Utf8})


def validate(
    frame: pl.DataFrame, suite: Suite, rows: dict[str, pl.DataFrame] | None = None
) -> list[Outcome]:
    """Run every expectation of `suite` on `frame` (or, for an expectation with `rows`,
    on `rows[name]`) with Great Expectations. The expectations that read the same data are
    validated together, as one GX suite on one batch: GX then builds the batch, copies the
    data to pandas and computes the metrics they share (row counts, nulls) once, not once
    per expectation."""
    import great_expectations as gx  # ~3 s to import: only where a check actually runs

    batch_definition = _batch_definition()
    groups: dict[int, tuple[pl.DataFrame, list]] = {}
    for exp in suite.expectations:
        data, gx_type, kwargs = _gx_form(exp, frame, rows or {}, suite.table)
        # `meta` carries our name through GX, which returns a suite's results in its own order.
        expectation = getattr(gx.expectations, gx_type)(**kwargs, meta={_NAME: exp.name})
        groups.setdefault(id(data), (data, []))[1].append(expectation)
    results = {}
    for data, expectations in groups.values():
        batch = batch_definition.get_batch(batch_parameters={"dataframe": data.to_pandas()})
        validated = batch.validate(gx.ExpectationSuite(name=suite.table, expectations=expectations))
        results |= {r.expectation_config.meta[_NAME]: r for r in validated.results}
    return [
        Outcome(e.name, bool(results[e.name].success), _details(results[e.name].result))
        for e in suite.expectations
    ]


_NAME = "stableflow_check"


@functools.cache
def _context():
    """GX's ephemeral context, made once per process (making it for each table's suite cost
    ~0.3 s of a daily run); `_batch_definition` gives each validation a datasource of its own."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every pandas batch below this size by hashing every cell, for a batch
    # marker nothing here reads: 1.5 s of a daily run's 26 s. 0 turns the fingerprint off.
    pandas_execution_engine.HASH_THRESHOLD = 0
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _batch_definition():
    """A batch definition of a pandas frame passed at validation, on a new datasource: a
    datasource's execution engine caches every metric it computed (row conditions as
    whole-table Series) and the last frame, which a kept one would hold for the run."""
    return (
        _context()
        .data_sources.add_or_update_pandas("warehouse")
        .add_dataframe_asset(name="table")
        .add_batch_definition_whole_dataframe("all_rows")
    )


def _gx_form(
    exp: Expectation, frame: pl.DataFrame, rows: dict[str, pl.DataFrame], table: str
) -> tuple[pl.DataFrame, str, dict[str, Any]]:
    """The data an expectation reads and the GX expectation (class name, arguments) that
    decides it: ours (NoMissingDays, the plausibility ones) become GX's on a derived column."""
    data = rows.get(exp.name, frame)
    if exp.type == "NoMissingDays":
        # 0 is a duplicate day, which the uniqueness expectations report.
        kwargs = {"column": _GAP_COLUMN, "min_value": 0, "max_value": 1}
        return _with_gap_column(data, dict(exp.kwargs)), "ExpectColumnValuesToBeBetween", kwargs
    if exp.type in PLAUSIBILITY_TYPES:
        kwargs = {"column": _IMPLAUSIBLE_COLUMN}
        return _implausible(data, exp, table), "ExpectColumnValuesToBeNull", kwargs
    return data, exp.type, dict(exp.kwargs)


def _details(result: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "observed_value",
        "element_count",
        "unexpected_count",
        "unexpected_percent",
        "partial_unexpected_list",
        "details",
    )
    return {k: _plain(result[k]) for k in keep if k in result and result[k] is not None}


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value[:10]]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value if isinstance(value, (int, float, str, bool)) else str(value)


def _spec(suite: Suite, exp: Expectation) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name=exp.name,
        asset=suite.asset_key,
        blocking=exp.blocking,
        description=exp.description or f"{exp.type}({exp.kwargs})",
        additional_deps=[dg.AssetKey(t.split(".")) for t in exp.deps],
    )


def build_checks(layer: str) -> list[dg.AssetChecksDefinition]:
    """The checks of every table of a layer (`suites`), one asset check per expectation.
    Each table's checks run in their own step after the table, reading it once (one step per
    layer would make a blocking check of an upstream table wait for tables downstream of it)."""
    return [_suite_checks(suite) for suite in suites(layer)]


def _suite_checks(suite: Suite) -> dg.AssetChecksDefinition:
    @dg.multi_asset_check(
        specs=[_spec(suite, exp) for exp in suite.expectations],
        name=f"{suite.table.replace('.', '__')}__suite",
        can_subset=True,
        pool="duckdb",
    )
    def _checks(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
        selected = context.selected_asset_check_keys
        chosen = [
            e for e in suite.expectations if dg.AssetCheckKey(suite.asset_key, e.name) in selected
        ]
        yield from _run_suite(warehouse, Suite(suite.table, chosen), context.log)

    return _checks


def _run_suite(warehouse: Warehouse, suite: Suite, log=None):
    missing, frame, rows = _read_suite(warehouse, suite)
    for exp in suite.expectations:
        if missing[exp.name]:
            yield dg.AssetCheckResult(
                asset_key=suite.asset_key,
                check_name=exp.name,
                passed=False,
                severity=_severity(exp),
                metadata={"error": f"not materialised yet: {', '.join(missing[exp.name])}"},
            )
    runnable = Suite(suite.table, [e for e in suite.expectations if not missing[e.name]])
    if not runnable.expectations:
        return
    by_name = {e.name: e for e in runnable.expectations}
    for outcome in validate(frame, runnable, rows):
        exp = by_name[outcome.name]
        if log is not None and not outcome.passed and exp.type in PLAUSIBILITY_TYPES:
            shown = outcome.details.get("partial_unexpected_list", [])
            log.error(
                f"{suite.table} {outcome.name} failed: "
                f"{outcome.details.get('unexpected_count', len(shown))} implausible "
                f"value(s): " + " | ".join(str(v) for v in shown)
            )
        yield dg.AssetCheckResult(
            asset_key=suite.asset_key,
            check_name=outcome.name,
            passed=outcome.passed,
            severity=_severity(by_name[outcome.name]),
            metadata={
                "rows": rows.get(outcome.name, frame).height,
                **{
                    k: dg.MetadataValue.json(v) if isinstance(v, (list, dict)) else v
                    for k, v in outcome.details.items()
                },
            },
        )


def _read_suite(
    warehouse: Warehouse, suite: Suite
) -> tuple[dict[str, list[str]], pl.DataFrame | None, dict[str, pl.DataFrame]]:
    """For each expectation the tables it needs that do not exist yet; the table; and the
    `rows` of the expectations that have them. One read-only connection for all of it:
    opening the file costs more than these queries, and a range run checks ~40 tables."""
    if not Path(warehouse.path).exists():
        return {e.name: [suite.table, *e.deps] for e in suite.expectations}, None, {}
    with warehouse.connect(read_only=True) as con:
        present = {
            f"{schema}.{name}"
            for schema, name in con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables"
            ).fetchall()
        }
        missing = {
            e.name: [t for t in (suite.table, *e.deps) if t not in present]
            for e in suite.expectations
        }
        runnable = [e for e in suite.expectations if not missing[e.name]]
        if not runnable:
            return missing, None, {}
        frame = con.execute(f"SELECT * FROM {suite.table}").pl()
        rows = {e.name: con.execute(e.sql).pl() for e in runnable if e.rows}
    return missing, frame, rows


def _severity(exp: Expectation) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.ERROR if exp.blocking else dg.AssetCheckSeverity.WARN
