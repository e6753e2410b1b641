"""The analytics layer's Dagster assets: statistics over the marts, written to `analytics.*`.

Each asset reads the marts it needs, computes with the pure functions of
`assets.analytics.decoupling` and `assets.analytics.markets`, and replaces its tables whole
in one transaction. Each table has a contract, `sql/analytics/<table>.yaml` (core/contracts.py,
like the SQL models): a frame whose columns or types disagree with it is not written, and the
table is documented from it (COMMENT ON). The statistics look at the whole history at once (a
Granger test of 2022 needs all of 2022), so the assets are not partitioned: a daily or
backfill run rebuilds them after its models. `decoupling_summary` reads the Granger,
cointegration and correlation tables back from the warehouse, so each number in it is one
that an analyst can find in those tables.
The report asset renders the charts into `reports/` and attaches them to its materialisation.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from assets.analytics import lazy
from assets.quality import build_checks
from core.contracts import ContractError, describe, load_contract
from core.resources import Rows, Warehouse
from core.settings import Settings

GROUP = "analytics"
decoupling = lazy("assets.analytics.decoupling")
markets = lazy("assets.analytics.markets")
report = lazy("assets.analytics.report")


def frame_columns(frame: pl.DataFrame) -> list[tuple[str, str]]:
    """(name, DuckDB type) of each column `frame` is stored with."""
    with duckdb.connect() as con:
        con.register("frame", frame.head(0))
        return describe(con, "frame")


# ---- inputs: the marts, shaped as the statistics expect -----------------------------------


def read_panel(warehouse: Warehouse) -> pl.DataFrame:
    """One row per day: supplies, market caps (crypto = BTC + ETH), reserves, SSR, sentiment.

    A supply on a day the mart flags as known incomplete (raw.known_incomplete_history: e.g.
    DefiLlama's USDT before 2020-01-02, a USDC chain missing in 2021) is NULL here: every
    statistic leaves it out, and with it the change into the first complete day, which is
    the catch-up step (+1.09 bn USDT on 2020-01-02), not growth.
    """
    panel = warehouse.read("""
        SELECT date,
               CASE WHEN NOT usdt_supply_incomplete THEN usdt_supply_tokens END AS usdt_supply,
               CASE WHEN NOT usdc_supply_incomplete THEN usdc_supply_tokens END AS usdc_supply,
               CASE WHEN NOT total_stablecoin_supply_incomplete
                    THEN total_stablecoin_supply_usd END AS total_supply,
               btc_market_cap_usd AS btc_mcap, eth_market_cap_usd AS eth_mcap,
               btc_market_cap_usd + eth_market_cap_usd AS crypto_mcap,
               spot_exchange_reserve_tokens AS spot_reserve,
               derivatives_exchange_reserve_tokens AS derivatives_reserve,
               derivatives_share_of_exchange_reserves AS derivatives_share,
               ssr, CAST(fear_greed AS DOUBLE) AS fear_greed
        FROM marts.liquidity_daily ORDER BY date""")
    if panel.is_empty():
        raise ValueError(
            f"marts.liquidity_daily in {warehouse.where} has no rows, so there is nothing to "
            "analyse: materialise the ingest assets and the marts for a window of days first "
            "(make demo, or a backfill)"
        )
    return panel


def read_issuance_events(warehouse: Warehouse) -> pl.DataFrame:
    """The issuers' own mints and burns (channel issuer): a bridged token's, and CCTP's and
    Gateway's mints and burns of USDC moved between chains, only move supply from one chain to
    another (a "Circle minted $500M" that is a CCTP arrival is no issuance event). Events read
    before their minter was kept (channel unknown, an older warehouse) count as the issuer's,
    as they did then, rather than leave the study until their days are ingested again."""
    return warehouse.read("""
        SELECT date, chain, token, block_number, tx_hash, log_index, event, direction,
               amount_tokens
        FROM staging.stg_evm__issuance_events
        WHERE channel IN ('issuer', 'unknown')
        ORDER BY date, chain, block_number, log_index""")


def read_table(warehouse: Warehouse, table: str) -> pl.DataFrame:
    return warehouse.read(f"SELECT * FROM {table}")


def _lead_lag(warehouse: Warehouse) -> dict[str, pl.DataFrame]:
    panel = read_panel(warehouse)
    return {
        "window_correlation": decoupling.window_correlation(panel),
        "stationarity": decoupling.stationarity(panel),
        "granger_causality": decoupling.granger_causality(panel),
    }


def _regimes(warehouse: Warehouse) -> dict[str, pl.DataFrame]:
    panel = read_panel(warehouse)
    daily, periods = decoupling.regimes(panel)
    return {
        "regime_daily": daily,
        "regime_periods": periods,
        "structural_breaks": decoupling.structural_breaks(panel),
    }


def _mint_event_study(warehouse: Warehouse) -> dict[str, pl.DataFrame]:
    mints = markets.large_mints(read_issuance_events(warehouse))
    returns, summary = markets.event_study(read_panel(warehouse), mints)
    return {"large_mints": mints, "event_study_returns": returns, "event_study_summary": summary}


def _risk(warehouse: Warehouse) -> dict[str, pl.DataFrame]:
    prices = warehouse.read(
        "SELECT date, asset, close, periods_per_year "
        "FROM marts.asset_prices_daily ORDER BY date, asset"
    )
    risk_free = warehouse.read("SELECT date, rate FROM marts.risk_free_daily ORDER BY date")
    return {
        "risk_panel": markets.risk_panel(prices, risk_free),
        "risk_correlation": markets.risk_correlation(prices),
    }


def _summary(warehouse: Warehouse) -> dict[str, pl.DataFrame]:
    return {
        "decoupling_summary": decoupling.decoupling_summary(
            read_table(warehouse, "analytics.window_correlation"),
            read_table(warehouse, "analytics.granger_causality"),
            read_table(warehouse, "analytics.cointegration"),
        )
    }


@dataclass(frozen=True)
class Step:
    """One Dagster step: the tables it computes together and the tables it reads."""

    name: str
    tables: tuple[str, ...]
    reads: tuple[str, ...]
    compute: Callable[[Warehouse], dict[str, pl.DataFrame]]


LIQUIDITY = "marts.liquidity_daily"
STEPS = [
    Step(
        "rolling_correlation",
        ("rolling_correlation",),
        (LIQUIDITY,),
        lambda w: {"rolling_correlation": decoupling.rolling_correlation(read_panel(w))},
    ),
    Step(
        "lead_lag",
        ("window_correlation", "stationarity", "granger_causality"),
        (LIQUIDITY,),
        _lead_lag,
    ),
    Step(
        "cointegration",
        ("cointegration",),
        (LIQUIDITY,),
        lambda w: {"cointegration": decoupling.cointegration(read_panel(w))},
    ),
    Step(
        "regimes", ("regime_daily", "regime_periods", "structural_breaks"), (LIQUIDITY,), _regimes
    ),
    Step(
        "mint_event_study",
        ("large_mints", "event_study_returns", "event_study_summary"),
        (LIQUIDITY, "staging.stg_evm__issuance_events"),
        _mint_event_study,
    ),
    Step(
        "exchange_migration",
        ("exchange_migration",),
        (LIQUIDITY,),
        lambda w: {"exchange_migration": markets.exchange_migration(read_panel(w))},
    ),
    Step(
        "risk",
        ("risk_panel", "risk_correlation"),
        ("marts.asset_prices_daily", "marts.risk_free_daily"),
        _risk,
    ),
    Step(
        "decoupling_summary",
        ("decoupling_summary",),
        ("analytics.window_correlation", "analytics.granger_causality", "analytics.cointegration"),
        _summary,
    ),
]


def _key(table: str) -> dg.AssetKey:
    return dg.AssetKey(table.split("."))


def _write(warehouse: Warehouse, frames: dict[str, pl.DataFrame]) -> dict[str, int]:
    writes, statements = [], []
    for name, frame in frames.items():
        contract = load_contract(f"analytics.{name}")
        what = f"the frame computed for {contract.table}"
        contract.check(frame_columns(frame), what)
        # The key check the other layers run after the write (assets/quality.py), here before
        # it: the analytics tables are replaced whole, so a duplicate is never stored.
        repeated = frame.filter(frame.select(contract.grain).is_duplicated())
        if repeated.height:
            raise ContractError(
                f"{what} repeats its key {list(contract.grain)} ({contract.where}) in "
                f"{repeated.height} rows, e.g. {repeated.select(contract.grain).row(0)}"
            )
        writes.append(Rows(contract.table, frame, contract.grain))
        statements += contract.comments()
    return warehouse.replace_tables(*writes, statements=statements)


def build_step_asset(step: Step) -> dg.AssetsDefinition:
    table_contracts = [load_contract(f"analytics.{t}") for t in step.tables]

    @dg.multi_asset(
        name=step.name,
        specs=[
            dg.AssetSpec(
                _key(contract.table),
                group_name=GROUP,
                description=contract.description,
                kinds={"python", "duckdb"},
                deps=[_key(t) for t in step.reads],
            )
            for contract in table_contracts
        ],
        pool="duckdb",
        # Unpartitioned, but part of partitioned range runs: one run backfills everything.
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def _asset(warehouse: Warehouse):
        written = _write(warehouse, step.compute(warehouse))
        for table in step.tables:
            yield dg.MaterializeResult(
                asset_key=_key(f"analytics.{table}"),
                metadata={"rows": written[f"analytics.{table}"]},
            )

    return _asset


def world_notices(warehouse: Warehouse) -> tuple[list[str], bool]:
    """What the report must say about the world its data came from (raw.data_world), and
    whether any on-chain value in the warehouse is simulated."""
    if not warehouse.table_exists("raw.data_world"):
        return [], False
    worlds = warehouse.read("SELECT * FROM raw.data_world ORDER BY NOT latest, world")
    notices = [n for n in worlds.filter(pl.col("onchain_simulated"))["notice"]]
    if worlds.height > 1:
        notices.append(
            "This warehouse mixes days read from "
            + " and ".join(worlds["world"])
            + " sources (raw.data_world): re-read the whole window in one world "
            "before comparing numbers."
        )
    return notices, bool(worlds["onchain_simulated"].any())


@dg.asset(
    key=["analytics", "decoupling_report"],
    group_name=GROUP,
    kinds={"python", "html"},
    deps=[_key(f"analytics.{t}") for step in STEPS for t in step.tables] + [_key("raw.data_world")],
    pool="duckdb",
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def decoupling_report(warehouse: Warehouse) -> dg.MaterializeResult:
    """Charts (supply vs market cap, rolling correlation with regime shading, reserves by
    kind, SSR) as PNG files and one self-contained HTML report, in STABLEFLOW_REPORTS_DIR
    (default reports/); the charts are attached here so they show in the Dagster UI."""
    out_dir = Path(Settings.from_env().reports_dir)
    panel = read_panel(warehouse)
    tables = {t: read_table(warehouse, f"analytics.{t}") for step in STEPS for t in step.tables}
    notices, simulated = world_notices(warehouse)
    charts = report.render_charts(panel, tables, out_dir, simulated=simulated)
    window = f"{panel['date'].min()}..{panel['date'].max()}" if panel.height else "no data"
    html_path = report.render_html(
        panel,
        tables,
        charts,
        out_dir / "decoupling_report.html",
        generated_for=window,
        notices=notices,
    )
    summary = tables["decoupling_summary"]
    verdicts = summary.group_by("verdict").len().sort("verdict").rows()
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.path(str(html_path.resolve())),
            "window": window,
            "verdicts": ", ".join(f"{v}: {n}" for v, n in verdicts),
            "simulated_onchain": simulated,
            **{
                f"chart_{name}": dg.MetadataValue.md(report.markdown_image(path))
                for name, path in charts.items()
            },
        }
    )


step_assets = [build_step_asset(step) for step in STEPS]
analytics_assets = [*step_assets, decoupling_report]
# Checks: `schema` and the key check from each table's contract (sql/analytics/*.yaml), as the
# other layers run them after the write (here `_write` has already refused a frame that breaks
# either), and what a contract cannot say (p-values in 0..1, label sets) from
# expectations/analytics.*.yaml. Building them reads YAML only: no statistics are imported.
analytics_checks = build_checks("analytics")
