"""Mart rebuild on a scaled synthetic warehouse: 10 years x 1000 addresses x 2 tokens.

    python -m bench.marts                  # the benchmark alone (3 runs), printed
    python -m bench.marts --generate PATH  # child: write the synthetic warehouse to PATH
    python -m bench.marts --rebuild PATH   # child: rebuild every model in PATH, print timings

The generator fills every raw table from its real DDL (generated from its contract in
sql/raw/*.yaml by `table_ddl`, as the ingest assets create them) with deterministic
synthetic rows made in SQL: values come from hash() of the row's key, never random(), so
every generation is identical whatever the thread count. The rows are consistent the way the
reconciliation checks in sql/checks/ expect (reserves are the sum of the balances, netflow
is the reserve change, supply changes by the net issuance), so the models see realistic
joins and windows.

A rebuild is what the Dagster model assets do: every staging and marts model, in dependency
order, each as `Warehouse.run_in_transaction(model.statements())` (one connection and one
transaction per model). Each run rebuilds a fresh copy of the same generated file in a new
process, so the process's peak RSS (VmHWM) is the rebuild's and no run warms the next one's
DuckDB buffers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.report import ROOT, Line, ProcessCost, Section, fmt, memory_kib, run_process, table

START = "2016-01-01"
DAYS = 3650  # 10 years
ADDRESSES = 1000  # the first 1000 Ethereum rows of sql/seeds/exchange_labels.csv
TOKENS = ("USDT", "USDC")
TARGET_S = 5.0
WORK = ROOT / ".bench" / "marts"
RESULT = "BENCH_MARTS_RESULT "  # prefix of the child's one line of JSON on stdout

# Helpers for the generator. u(...) is a uniform number in [0, 1) fixed by its arguments;
# hex64(...) a 0x-prefixed 32-byte hash (block and transaction hashes).
MACROS = f"""
CREATE TEMP MACRO u(a, b, c) AS (hash(a, b, c) % 1000003) / 1000003.0;
CREATE TEMP MACRO hex64(a, b) AS '0x' || md5(concat_ws('/', a, b)) || md5(concat_ws('\\', a, b));
CREATE TEMP TABLE days AS
    SELECT CAST(d AS INTEGER) AS day, DATE '{START}' + CAST(d AS INTEGER) AS date
    FROM range({DAYS}) AS t(d);
CREATE TEMP TABLE tokens AS
    SELECT * FROM (VALUES ('USDT', 0, 'Issue', 'Redeem', 2e9), ('USDC', 1, 'Mint', 'Burn', 1e9))
    AS t(token, t, mint_event, burn_event, first_supply);
"""

# One INSERT per raw table, in an order where every table is made before those derived from it.
INSERTS = {
    # The reference tables, as the reference_data asset writes them (assets/ingest/reference.py).
    "raw.exchanges": "SELECT *, $version FROM exchanges_frame",
    "raw.exchange_labels": "SELECT *, $version FROM labels_frame",
    "raw.evm_tokens": "SELECT * FROM tokens_frame",
    # The seed, as the reference_data asset writes it: the marts flag its stretches.
    "raw.known_incomplete_history": "SELECT * FROM incomplete_frame",
    # The CCTP minter seed, as the reference_data asset writes it.
    "raw.cctp_minters": "SELECT * FROM cctp_frame",
    # The closing block of day d: 7200 blocks a day, so block ranges of days never overlap.
    "raw.evm_day_blocks": """
        SELECT date, 'ethereum', 1000000 + day * 7200 + 7199,
               CAST(date + 1 AS TIMESTAMP) - INTERVAL 7 SECOND, hex64('block', day),
               'json-rpc eth_getBlockByNumber', CAST(date + 1 AS TIMESTAMP) + INTERVAL 1 HOUR
        FROM days""",
    # Every address holds every token every day (non-zero rows only are stored): a per-address
    # level between 1e3 and 1e8 tokens, times a daily factor 0.5..1.5. 7.3 M rows.
    "raw.evm_exchange_balances": """
        WITH b AS (
            SELECT d.date, d.day, k.token, l.address, l.exchange,
                   CAST(round(l.level * (0.5 + u(l.address, k.token, d.day)) * 1e6)
                        AS DECIMAL(38, 0))
                       AS balance_raw
            FROM days AS d, tokens AS k, labels AS l
        )
        SELECT date, 'ethereum', token, address, 1000000 + day * 7200 + 7199, balance_raw,
               CAST(balance_raw AS DOUBLE) / 1e6, exchange, $version,
               'json-rpc eth_call balanceOf (BalanceReader)',
               CAST(date + 1 AS TIMESTAMP) + INTERVAL 1 HOUR
        FROM b ORDER BY date, token, address""",
    # The sum of the balances per exchange: every exchange has a row every day. Sums of
    # DOUBLE are taken from exact DECIMAL sums or in a fixed order: a parallel sum of floats
    # may differ in the last bit from one generation to the next.
    "raw.evm_exchange_reserves": """
        SELECT date, chain, token, exchange, sum(balance_raw),
               CAST(sum(balance_raw) AS DOUBLE) / 1e6,
               count(*) FILTER (WHERE balance_raw > 0), label_version, source, max(ingested_at)
        FROM raw.evm_exchange_balances
        GROUP BY date, chain, token, exchange, label_version, source
        ORDER BY date, chain, token, exchange""",
    # netflow = the reserve change (the first day from zero); inflow carries some churn.
    "raw.evm_exchange_flows": """
        WITH r AS (
            SELECT *, balance_raw - coalesce(lag(balance_raw) OVER (
                       PARTITION BY chain, token, exchange ORDER BY date), 0) AS net,
                   CAST(round(balance_raw * 0.05 * u(exchange, token, date)) AS DECIMAL(38, 0))
                       AS churn
            FROM raw.evm_exchange_reserves
        ), f AS (
            SELECT *, CAST(greatest(net, 0) + churn AS DECIMAL(38, 0)) AS inflow,
                   CAST(greatest(-net, 0) + churn AS DECIMAL(38, 0)) AS outflow
            FROM r
        )
        SELECT date, chain, token, exchange, inflow, outflow, net,
               CAST(inflow AS DOUBLE) / 1e6, CAST(outflow AS DOUBLE) / 1e6,
               CAST(net AS DOUBLE) / 1e6, hash(exchange, token, date, 'in') % 50,
               hash(exchange, token, date, 'out') % 50, label_version,
               'json-rpc eth_getLogs Transfer', ingested_at
        FROM f ORDER BY date, chain, token, exchange""",
    # Up to 6 candidate events per token and day, half of them kept (~11 k rows); mints
    # outnumber burns so supply grows. log_index 2k+t keeps (block, log_index) unique.
    "raw.evm_issuance_events": """
        WITH e AS (
            SELECT d.date, d.day, k.token, k.t, i.n AS k,
                   u(k.token, d.day, i.n) < 0.55 AS is_mint,
                   CAST(round(pow(10, 4 + 4 * u(k.token, d.day, i.n + 100)) * 1e6)
                        AS DECIMAL(38, 0)) AS amount_raw,
                   k.mint_event, k.burn_event
            FROM days AS d, tokens AS k, range(6) AS i(n)
            WHERE u(k.token, d.day, i.n + 200) < 0.5
        )
        SELECT date, 'ethereum', token,
               1000000 + day * 7200 + hash(token, day, k) % 7200, hex64(token, day * 10 + k),
               2 * k + t,
               CASE WHEN is_mint THEN mint_event ELSE burn_event END,
               CASE WHEN is_mint THEN 'mint' ELSE 'burn' END,
               CASE WHEN token = 'USDC' THEN hex64('account', day * 10 + k)[:42] END,
               -- USDC's minter or burner: CCTP's TokenMinter for about a third of the events
               CASE WHEN token = 'USDC' THEN (CASE WHEN u(token, day, k + 300) < 0.3
                   THEN '0xc4922d64a24675e16e1586e3e3aa56c06fabe907'
                   ELSE hex64('minter', 0)[:42] END) END,
               amount_raw, CAST(amount_raw AS DOUBLE) / 1e6, 'json-rpc eth_getLogs',
               CAST(date + 1 AS TIMESTAMP) + INTERVAL 1 HOUR
        FROM e ORDER BY 2, 4, 6""",
    # Daily sums of the events, zero on days without any.
    "raw.evm_issuance_daily": """
        WITH s AS (
            SELECT d.date, k.token,
                   CAST(coalesce(sum(e.amount_raw) FILTER (WHERE e.direction = 'mint'), 0)
                        AS DECIMAL(38, 0)) AS minted,
                   CAST(coalesce(sum(e.amount_raw) FILTER (WHERE e.direction = 'burn'), 0)
                        AS DECIMAL(38, 0)) AS burned,
                   count(e.token) AS events
            FROM days AS d CROSS JOIN tokens AS k
            LEFT JOIN raw.evm_issuance_events AS e ON e.date = d.date AND e.token = k.token
            GROUP BY d.date, k.token
        )
        SELECT date, 'ethereum', token, minted, burned, events,
               CAST(minted - burned AS DECIMAL(38, 0)), CAST(minted AS DOUBLE) / 1e6,
               CAST(burned AS DOUBLE) / 1e6, CAST(minted - burned AS DOUBLE) / 1e6,
               'json-rpc eth_getLogs', CAST(date + 1 AS TIMESTAMP) + INTERVAL 1 HOUR
        FROM s ORDER BY date, token""",
    # Supply = a starting supply plus the cumulated net issuance.
    "raw.evm_token_supply": """
        WITH s AS (
            SELECT i.date, i.chain, i.token,
                   CAST(k.first_supply * 1e6 AS DECIMAL(38, 0)) + sum(i.net_raw) OVER (
                       PARTITION BY i.token ORDER BY i.date) AS supply_raw
            FROM raw.evm_issuance_daily AS i JOIN tokens AS k USING (token)
        )
        SELECT date, chain, token, 1000000 + (date - DATE '{START}') * 7200 + 7199, supply_raw,
               CAST(supply_raw AS DOUBLE) / 1e6, 'json-rpc eth_call totalSupply',
               CAST(date + 1 AS TIMESTAMP) + INTERVAL 1 HOUR
        FROM s ORDER BY date, chain, token""",
    # DefiLlama per chain: Ethereum close to the on-chain supply, other chains a multiple of
    # it; chain c is reported from day 300 c on (later chains appear later).
    "raw.defillama_token_supply_by_chain": """
        SELECT s.date, s.token, c.chain,
               s.supply_tokens * CASE WHEN c.chain = 'Ethereum'
                                      THEN 1 + 0.002 * (u(s.token, s.date, 'eth') - 0.5)
                                      ELSE c.share * (0.5 + u(s.token, s.date, c.chain)) END,
               'defillama /stablecoin/' || (1 + k.t),
               CAST(s.date + 1 AS TIMESTAMP) + INTERVAL 2 HOUR
        FROM raw.evm_token_supply AS s JOIN tokens AS k USING (token),
             (VALUES ('Ethereum', 0, 1.0), ('Tron', 1, 1.2), ('BSC', 2, 0.1),
                     ('Solana', 3, 0.1), ('Arbitrum', 4, 0.05), ('Polygon', 5, 0.03),
                     ('Avalanche', 6, 0.02), ('Optimism', 7, 0.01)) AS c(chain, c, share)
        WHERE s.date >= DATE '{START}' + 300 * c.c
        ORDER BY s.date, s.token, c.chain""",
    "raw.defillama_token_supply": """
        SELECT date, token, sum(circulating_tokens ORDER BY chain), any_value(source),
               max(ingested_at)
        FROM raw.defillama_token_supply_by_chain GROUP BY date, token ORDER BY date, token""",
    # All USD-pegged stablecoins: USDT + USDC and 30 % more.
    "raw.defillama_total_supply": """
        SELECT date, 1.3 * sum(circulating_tokens ORDER BY token),
               'defillama /stablecoincharts/all', max(ingested_at)
        FROM raw.defillama_token_supply GROUP BY date ORDER BY date""",
    # Prices: a trend, a cycle and daily noise; market cap = price x a slowly growing supply.
    "raw.coingecko_market_daily": """
        WITH p AS (
            SELECT d.date, d.day, c.coin_id, c.coins,
                   CASE WHEN c.trend = 0 THEN 1 + 0.004 * (u(c.coin_id, d.day, 'p') - 0.5)
                        ELSE c.base * exp(c.trend * d.day / 3650 + 0.4 * sin(d.day / 180.0)
                                          + 0.05 * u(c.coin_id, d.day, 'p')) END AS price
            FROM days AS d,
                 (VALUES ('bitcoin', 400.0, 4.5, 19e6), ('ethereum', 1.0, 7.5, 120e6),
                         ('tether', 1.0, 0.0, 80e9), ('usd-coin', 1.0, 0.0, 30e9))
                 AS c(coin_id, base, trend, coins)
        )
        SELECT date, coin_id, price, price * coins * (0.5 + day / 7300.0),
               price * coins * 0.05 * (0.5 + u(coin_id, day, 'v')),
               CAST(date + 1 AS TIMESTAMP),
               'coingecko /coins/' || coin_id || '/market_chart/range',
               CAST(date + 1 AS TIMESTAMP) + INTERVAL 3 HOUR
        FROM p ORDER BY date, coin_id""",
    # The index skipped about 1 % of days.
    "raw.fear_greed_daily": """
        WITH f AS (SELECT date, CAST(hash(date, 'fng') % 101 AS INTEGER) AS v FROM days
                   WHERE u(date, 'skip', 0) >= 0.01)
        SELECT date, v,
               CASE WHEN v < 25 THEN 'Extreme Fear' WHEN v < 45 THEN 'Fear'
                    WHEN v < 56 THEN 'Neutral' WHEN v < 76 THEN 'Greed' ELSE 'Extreme Greed' END,
               'alternative.me /fng/', CAST(date AS TIMESTAMP) + INTERVAL 4 HOUR
        FROM f ORDER BY date""",
    # US trading days only (weekdays); about 4 % of them holidays with an empty value.
    "raw.fred_series_daily": """
        SELECT d.date, s.series_id,
               CASE WHEN u(d.date, 'holiday', 0) >= 0.04 THEN
                   CASE WHEN s.series_id = 'DTB3' THEN 2.5 + 2.5 * sin(d.day / 400.0)
                        ELSE s.base * exp(0.9 * d.day / 3650 + 0.1 * sin(d.day / 120.0)
                                          + 0.02 * u(s.series_id, d.day, 'v')) END END,
               'fred ' || s.series_id, CAST(d.date + 1 AS TIMESTAMP) + INTERVAL 5 HOUR
        FROM days AS d, (VALUES ('SP500', 2000.0), ('NASDAQ100', 4500.0), ('DTB3', 0.0))
                        AS s(series_id, base)
        WHERE isodow(d.date) <= 5
        ORDER BY d.date, s.series_id""",
}
RAW_TABLES = tuple(INSERTS)


def generate(path: Path) -> dict:
    """Write the synthetic warehouse to `path` (replacing it); rows and seconds per raw table."""
    import duckdb
    import polars as pl

    from assets.ingest.cctp import load_cctp_minters
    from assets.ingest.defillama import known_incomplete_frame
    from assets.ingest.labels import load_labels
    from core.chains import CONFIGURED
    from core.resources.warehouse import table_ddl

    labels = load_labels().on_chain("ethereum").subset(ADDRESSES)
    ethereum = next(c for c in CONFIGURED if c.name == "ethereum")
    tokens = pl.DataFrame(
        [
            (
                ethereum.name,
                ethereum.chain_id,
                t.symbol,
                t.address,
                t.decimals,
                t.standard,
                t.bridged,
                ethereum.defillama_chain,
            )
            for t in ethereum.tokens
            if t.symbol in TOKENS
        ],
        orient="row",
    )
    path.unlink(missing_ok=True)
    with duckdb.connect(str(path)) as con:
        con.register("labels_frame", labels.frame)
        con.register("exchanges_frame", labels.exchanges)
        con.register("tokens_frame", tokens)
        con.register("incomplete_frame", known_incomplete_frame())
        con.register("cctp_frame", load_cctp_minters())
        con.execute(MACROS)
        # Each address's typical balance: 1e3..1e8 tokens, log-uniform.
        con.execute(
            "CREATE TEMP TABLE labels AS SELECT lower(address) AS address, exchange, "
            "pow(10, 3 + 5 * u(address, 'level', 0)) AS level FROM labels_frame"
        )
        seconds = {}
        for name in RAW_TABLES:
            t = time.perf_counter()
            con.execute(table_ddl(name))
            sql = INSERTS[name].replace("{START}", START)
            con.execute(
                f"INSERT INTO {name} {sql}",
                {"version": labels.version} if "$version" in sql else {},
            )
            seconds[name] = time.perf_counter() - t
        con.execute("CHECKPOINT")
        rows = {
            name: con.execute(f"SELECT count(*) FROM {name}").fetchone()[0] for name in RAW_TABLES
        }
    return {"rows": rows, "seconds": seconds}


def build_order(models: list) -> list:
    """Models in dependency order (depends_on among the models), else in load order."""
    by_table = {m.table: m for m in models}
    ordered: list = []

    def visit(model, path=()):
        if model in ordered:
            return
        if model.table in path:
            raise ValueError(f"dependency cycle: {' -> '.join(path + (model.table,))}")
        for dep in model.depends_on:
            if dep in by_table:
                visit(by_table[dep], path + (model.table,))
        ordered.append(model)

    for model in models:
        visit(model)
    return ordered


def rebuild(path: Path) -> dict:
    """Rebuild every model in `path` as the model assets do; seconds per model and in all."""
    from assets.models import load_models
    from core.resources import Warehouse

    warehouse = Warehouse(path=str(path))
    order = build_order(load_models())
    rss_before = memory_kib("VmRSS") / 1024
    seconds, cpu_seconds = {}, {}
    t0, cpu0 = time.perf_counter(), time.process_time()
    for model in order:
        t, c = time.perf_counter(), time.process_time()
        warehouse.run_in_transaction(model.statements())
        seconds[model.table] = time.perf_counter() - t
        cpu_seconds[model.table] = time.process_time() - c
    total, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    # Not part of the rebuild: what each model pays for its own connection and transaction
    # (an empty one), and the rows built.
    empty = []
    for _ in range(5):
        t = time.perf_counter()
        warehouse.run_in_transaction([])
        empty.append(time.perf_counter() - t)
    with warehouse.connect(read_only=True) as con:
        rows = {
            m.table: con.execute(f"SELECT count(*) FROM {m.table}").fetchone()[0] for m in order
        }
    # CPU seconds of all threads: less disturbed than wall time when the machine is shared.
    return {
        "rebuild_s": total,
        "cpu_s": cpu,
        "model_s": seconds,
        "model_cpu_s": cpu_seconds,
        "empty_transaction_s": statistics.median(empty),
        "rows": rows,
        "rss_before_mib": rss_before,
    }


def _child(mode: str, path: Path, log: Path) -> tuple[dict, ProcessCost]:
    """Run this module in `mode` in a fresh process; its printed result and its cost."""
    cost = run_process(
        [
            sys.executable,
            "-m",
            "bench.marts",
            mode,
            str(path),
            "--days",
            str(DAYS),
            "--addresses",
            str(ADDRESSES),
        ],
        log=log,
    )
    lines = log.read_text().splitlines()
    if cost.returncode != 0:
        raise RuntimeError(
            f"bench.marts {mode} failed ({cost.returncode}):\n" + "\n".join(lines[-30:])
        )
    found = [line[len(RESULT) :] for line in lines if line.startswith(RESULT)]
    return json.loads(found[-1]), cost


@dataclass(frozen=True)
class Generated:
    """The synthetic warehouse: its file, the generator's rows and seconds per raw table,
    and what the generating process cost."""

    path: Path
    raw: dict
    cost: ProcessCost
    mib: float


@dataclass(frozen=True)
class Rebuilds:
    """Every rebuild: its own timings (`rebuild`), its process's cost, and the load average
    when they started."""

    results: list[dict]
    costs: list[ProcessCost]
    load: float

    def median(self, key: str) -> float:
        return _median(r[key] for r in self.results)


def run(runs: int = 3) -> Section:
    generated = prepare()
    rebuilds = measure(generated, runs)
    return report(generated, rebuilds, runs)


def prepare() -> Generated:
    """Generate the synthetic warehouse in a fresh process."""
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / "generated.duckdb"
    raw, cost = _child("--generate", path, WORK / "generate.log")
    return Generated(path, raw, cost, path.stat().st_size / 2**20)


def measure(generated: Generated, runs: int) -> Rebuilds:
    """`runs` rebuilds, each of a fresh copy of the generated file in a new process."""
    load = os.getloadavg()[0]  # wall times stretch when other work shares the cores
    fresh = WORK / "rebuild.duckdb"
    results, costs = [], []
    for i in range(runs):
        shutil.copyfile(generated.path, fresh)  # every run starts from the same file
        result, cost = _child("--rebuild", fresh, WORK / f"rebuild-{i}.log")
        results.append(result)
        costs.append(cost)
    fresh.unlink()
    return Rebuilds(results, costs, load)


# --- report ---------------------------------------------------------------------------------


def _median(values) -> float:
    return statistics.median(list(values))


def _runs_of(values, unit: str) -> list[str]:
    """The median with its unit, and every run's value."""
    values = list(values)
    return [f"{fmt(_median(values))} {unit}", ", ".join(fmt(v) for v in values)]


def report(generated: Generated, rebuilds: Rebuilds, runs: int) -> Section:
    return Section("Mart rebuild", summary_lines(rebuilds), body(generated, rebuilds, runs))


def summary_lines(rebuilds: Rebuilds) -> list[Line]:
    rebuild_s = rebuilds.median("rebuild_s")
    scale = f"{DAYS // 365} y x {ADDRESSES} addresses x {len(TOKENS)} tokens"
    return [
        Line(
            "mart rebuild",
            f"wall time, {scale}",
            rebuild_s,
            "s",
            f"< {TARGET_S:g} s",
            rebuild_s < TARGET_S,
            key="marts.rebuild_s",
        ),
        Line(
            "mart rebuild",
            "whole rebuild process (start-up, imports, rebuild)",
            _median(c.seconds for c in rebuilds.costs),
            "s",
            "-",
            None,
            key="marts.process_s",
        ),
        Line(
            "mart rebuild",
            "peak memory (RSS) of the rebuild process",
            _median(c.peak_rss_mib for c in rebuilds.costs),
            "MiB",
            "-",
            None,
            key="marts.peak_rss_mib",
        ),
    ]


def rebuild_table(rebuilds: Rebuilds) -> str:
    results, costs = rebuilds.results, rebuilds.costs
    return table(
        ["", "median", "each run"],
        [
            [
                "rebuild, wall (timed inside the process around all models)",
                *_runs_of((r["rebuild_s"] for r in results), "s"),
            ],
            ["rebuild, CPU (all threads)", *_runs_of((r["cpu_s"] for r in results), "s")],
            [
                "whole process (interpreter, imports, rebuild)",
                *_runs_of((c.seconds for c in costs), "s"),
            ],
            ["peak RSS of the process (VmHWM)", *_runs_of((c.peak_rss_mib for c in costs), "MiB")],
            [
                "RSS before the rebuild (interpreter and imports)",
                *_runs_of((r["rss_before_mib"] for r in results), "MiB"),
            ],
        ],
    )


def model_rows(rebuilds: Rebuilds) -> list[list]:
    """Per model, in the order rebuilt: median wall and CPU seconds, rows."""
    results = rebuilds.results
    return [
        [
            t,
            _median(r["model_s"][t] for r in results),
            _median(r["model_cpu_s"][t] for r in results),
            results[-1]["rows"][t],
        ]
        for t in results[0]["model_s"]
    ]


def body(generated: Generated, rebuilds: Rebuilds, runs: int) -> str:
    models = model_rows(rebuilds)
    slowest = sorted(models, key=lambda row: -row[1])[:3]
    raw = generated.raw
    return "\n".join(
        [
            f"A synthetic warehouse of {DAYS} days from {START} x the first {ADDRESSES} labelled "
            f"Ethereum addresses of sql/seeds/exchange_labels.csv x {', '.join(TOKENS)} is "
            "generated in SQL, then every staging and marts model is rebuilt on a fresh copy of "
            f"it, {runs} times, each time in a new process. Load average when the rebuilds "
            f"started: {rebuilds.load:.1f} on {os.cpu_count()} cores (the CPU time below is the "
            "figure least changed by other work on the machine).",
            "",
            rebuild_table(rebuilds),
            "",
            "Per model, in the order rebuilt (dependency order): the median wall and CPU time "
            "of one "
            "`Warehouse.run_in_transaction(model.statements())`, which opens the file, "
            "CREATE OR REPLACEs the table in grain order, COMMENTs it, commits and closes.",
            "",
            table(["model", "wall (s)", "CPU (s)", "rows"], models),
            "",
            "Slowest: " + "; ".join(f"{t} {fmt(s)} s" for t, s, _, _ in slowest) + ". Each "
            f"model also pays for its own connection: an empty `run_in_transaction` on this file "
            f"takes {fmt(rebuilds.median('empty_transaction_s') * 1000)} ms (open, "
            f"commit, close), {len(models)} times per rebuild.",
            "",
            f"Generation (not a target): {fmt(generated.cost.seconds)} s for the whole process, "
            f"peak RSS {fmt(generated.cost.peak_rss_mib)} MiB, a {fmt(generated.mib)} MiB "
            "file. Each raw table is created from its contract in sql/raw/*.yaml (primary key "
            "included):",
            "",
            table(
                ["raw table", "rows", "generation (s)"],
                [[t, n, raw["seconds"][t]] for t, n in raw["rows"].items()],
            ),
            "",
            "Method: values are hash() of each row's key (deterministic whatever the thread "
            "count), consistent as sql/checks/ expects: reserves are the sums of the balances, "
            "netflow is the reserve change, on-chain supply moves by the net issuance, DefiLlama "
            "Ethereum supply is within 0.1 % of it. The rebuild time excludes interpreter "
            "start-up and imports; process time and peak RSS come from the kernel. No model "
            "reads raw.evm_exchange_balances (the 7.3 M rows): the models read its per-exchange "
            "sums (raw.evm_exchange_reserves and _flows: 65 exchanges x 2 tokens x 3650 days), so "
            "the rebuild grows with exchanges x days, not with addresses.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    global DAYS, ADDRESSES
    parser = argparse.ArgumentParser(
        prog="python -m bench.marts",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--generate", type=Path, metavar="PATH")
    mode.add_argument("--rebuild", type=Path, metavar="PATH")
    parser.add_argument("--runs", type=int, default=3)
    # the size, passed on to the children (python -m bench --set marts.DAYS=...)
    parser.add_argument("--days", type=int, default=DAYS)
    parser.add_argument("--addresses", type=int, default=ADDRESSES)
    args = parser.parse_args(argv)
    DAYS, ADDRESSES = args.days, args.addresses
    if args.generate:
        print(RESULT + json.dumps(generate(args.generate)), flush=True)
    elif args.rebuild:
        print(RESULT + json.dumps(rebuild(args.rebuild)), flush=True)
    else:
        section = run(args.runs)
        for line in section.lines:
            print(f"{line.metric}: {fmt(line.ours)} {line.unit} (target {line.target})")
        print(section.body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
