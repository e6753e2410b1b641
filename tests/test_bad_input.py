"""Bad input of every kind the pipeline reads: a clear error naming what is wrong, nothing written.

The kinds tried (each a case below; parser-level cases are the same functions the assets
call, so an error there fails the asset before its one write):

 configuration and settings
  1. start date after end date                      (STABLEFLOW_START_DATE / _END_DATE)
  2. a date that is not a date                      (STABLEFLOW_END_DATE=2023-02-30)
  3. a number that is not a number                  (STABLEFLOW_COINGECKO_MIN_INTERVAL_S)
  4. an unknown token standard in chains.yaml
  5. a token address that is not a checksummed address
  6. the same token contract configured twice
  7. a misspelt key in a chain entry                (rpc_url instead of rpc_url_env)
 34. a chain id that is not a number                 (chain_id: "1")
 35. an anchor without its timestamp
 36. more topic values than nodes take               (max_topic_values: 5000)
 37. a DefiLlama chain name that is not one          (defillama_chain: Ethereum/1)
 38. two chains with one DefiLlama chain name        (ethereum, and mainnet as ETHEREUM)
 42. a bridged flag that is not true or false       (bridged: "yes")
 43. a chain to read that chains.yaml does not have (STABLEFLOW_CHAINS=ethereum,base)
  8. a chain with no tokens
  9. impossible decimals                            (decimals: 77)
 10. an upper-case chain name                       (Ethereum)
 exchange labels (sql/seeds/exchange_labels.csv)
 11. an address with a bad checksum
 12. an unknown wallet role                         (warm instead of hot/cold/...)
 13. one address labelled twice
 14. a file with no rows
 HTTP APIs
 15. DefiLlama: a negative supply
 16. DefiLlama: an absurd supply                    (1e20)
 17. DefiLlama: a supply that is not a number       ("12.3M")
 18. DefiLlama: a day missing from the window
 19. CoinGecko: a negative price
 20. CoinGecko: a timestamp that is not a number
 21. alternative.me: an index value above 100
 22. alternative.me: an unknown classification
 23. FRED: a negative index close
 24. FRED: a date that is not a date
 25. an empty answer where rows are stored          (tests/test_materialize.py)
 JSON-RPC
 26. totalSupply() answered with non-hex data
 27. a log whose amount is cut short (fewer than 64 hex digits)
 28. a log without a block number
 29. a totalSupply() larger than Decimal(38, 0) holds
 30. a log index that is not a hex quantity
 HTTP APIs, beside the shapes read as valid (a chain's left-out zero, FRED's older DATE header)
 31. DefiLlama: a per-chain balance that is not a number   ("12.3M")
 32. DefiLlama: a per-chain `circulating` that is not an object ("n/a")
 33. FRED: a date that is not a date under the older DATE header
 DefiLlama charts read for the days /stablecoin/{id} no longer serves (before 2022-05-12)
 39. an empty per-chain chart                       (a chain name DefiLlama does not know)
 40. a per-chain chart amount that is not a number  ("12.3M")
 41. a negative all-chain token supply              (/stablecoincharts/all?stablecoin=1)
 Known-incomplete history (sql/seeds/known_incomplete_history.csv,
 assets/ingest/DEFILLAMA_TIMING.md)
 44. a start date before a series' complete history  (STABLEFLOW_START_DATE=2019-12-01: USDT
     and the total before 2020-01-02) - not refused: the run warns, the marts flag the days
 45. a seed row that is not one                      (unknown series, dates the wrong way round)
 Values that keep the schema but not the sense (assets/ingest/plausibility.yaml: each limit with
 its reason and source; assets/ingest/plausibility.py)
 46. CoinGecko: a BTC close 100 times the day before    (3.66 M USD; within one answer)
 47. CoinGecko: a BTC close 100 times the stored one     (a daily run: yesterday read from the
     warehouse) - fails the run naming source, field, day and value; nothing written
 48. CoinGecko: a market cap a hundredth of the day before
 49. CoinGecko: a stablecoin price in cents              (100 USD for USDC)
 50. CoinGecko: a volume ten thousand times smaller
 51. DefiLlama: a token's supply 100 times the day before
 52. DefiLlama: the all-stablecoin supply a hundredth of the day before
 53. DefiLlama: one chain holding more than all chains together
 54. DefiLlama: /stablecoin/{id} answering for another coin   (symbol USDe for id 1)
 55. DefiLlama: a chain renamed upstream ('Ethereum' -> 'Ethereum Mainnet') - fails naming both
     chains, nothing written; passes (with a warning) once listed in chain_changes.allowed
 56. DefiLlama: a chain that vanishes from the answer
 57. FRED: an S&P 500 close a hundredth of the day before
 58. FRED: the T-bill yield as a fraction               (0.045 after 4.5 percent)
 59. exchange reserves above the token's supply         (the raw suite's reserves_within_supply)
 60. a BTC close 100 times the day before already stored (the raw suite's day_over_day_plausible)
 61. a plausibility limit that is not one               (block below warn, no source, a float
     YAML reads as text, an unknown table or change)
 - and what is not refused: a rare move (BTC -20 %) warns and is written; DefiLlama's seeded
   catch-up steps (+1.09 bn USDT on 2020-01-02, +4.53 bn USDC on 2022-01-01) neither block nor
   warn as moves.
 and end to end: a bad API value fails the run and writes nothing (DefiLlama, FRED, F&G), and
 a JSON-RPC batch answered with errors (tests/ingest/test_evm.py).
"""

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
import yaml

from assets.ingest import api_assets
from assets.ingest.alternative_me import parse_fear_greed
from assets.ingest.coingecko import parse_market_chart
from assets.ingest.defillama import (
    parse_chain_chart,
    parse_token,
    parse_token_chart,
    parse_total_supply,
)
from assets.ingest.evm.extract import _LOG_QUANTITIES, _amounts, _quantities
from assets.ingest.fred import parse_fredgraph
from assets.ingest.labels import LabelError, load_labels
from core.chains import CHAINS_FILE, ConfigError, enabled, load_chains
from core.errors import SourceDataError
from core.settings import Settings
from tests.conftest import failure_messages, materialize

D = dt.date
MIDNIGHT = int(dt.datetime(2022, 5, 1, tzinfo=dt.UTC).timestamp())
LABEL_HEADER = "chain,address,exchange,wallet_role,source,date_added"
BINANCE_14 = "0x28C6c06298d514Db089934071355E5743bf21d60"


def settings_error(monkeypatch, **env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError) as err:
        Settings.from_env()
    return str(err.value)


@pytest.mark.parametrize(
    "env, expected",
    [
        (
            {"STABLEFLOW_START_DATE": "2023-02-01", "STABLEFLOW_END_DATE": "2023-01-31"},
            "STABLEFLOW_END_DATE=2023-01-31 is before STABLEFLOW_START_DATE=2023-02-01",
        ),
        (
            {"STABLEFLOW_END_DATE": "2023-02-30"},
            "STABLEFLOW_END_DATE='2023-02-30' is not a YYYY-MM-DD date",
        ),
        (
            {"STABLEFLOW_COINGECKO_MIN_INTERVAL_S": "fast"},
            "STABLEFLOW_COINGECKO_MIN_INTERVAL_S='fast' is not a number",
        ),
    ],
    ids=["start-after-end", "not-a-date", "not-a-number"],
)
def test_bad_settings(monkeypatch, env, expected):
    assert expected in settings_error(monkeypatch, **env)


def chains_with(tmp_path: Path, edit) -> Path:
    config = yaml.safe_load(CHAINS_FILE.read_text())
    edit(config)
    path = tmp_path / "chains.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


USDT = "0xdAC17F958D2ee523a2206206994597C13D831ec7"


@pytest.mark.parametrize(
    "edit, field, reason",
    [
        (
            lambda c: c["ethereum"]["tokens"]["USDT"].update(standard="erc777"),
            "ethereum.tokens.USDT.standard = 'erc777'",
            "not one of",
        ),
        (
            lambda c: c["ethereum"]["tokens"]["USDT"].update(address=USDT.lower()),
            f"ethereum.tokens.USDT.address = '{USDT.lower()}'",
            "not a checksummed 20-byte address",
        ),
        # Keys are read in file order (USDC before USDT once re-dumped): the second one is named.
        (
            lambda c: c["ethereum"]["tokens"]["USDC"].update(address=USDT),
            f"ethereum.tokens.USDT.address = '{USDT}'",
            "configured twice",
        ),
        (
            lambda c: c["ethereum"].update(rpc_url=c["ethereum"].pop("rpc_url_env")),
            "ethereum = ['anchor', 'chain_id', 'confirmations', 'max_topic_values', 'rpc_url', "
            "'tokens']",
            "expected the keys",
        ),
        (
            lambda c: c["ethereum"].update(chain_id="1"),
            "ethereum.chain_id = '1'",
            "not a positive whole number",
        ),
        (
            lambda c: c["ethereum"]["anchor"].pop("timestamp"),
            "ethereum.anchor = ['number']",
            "expected the keys ['number', 'timestamp']",
        ),
        (
            lambda c: c["ethereum"].update(max_topic_values=5000),
            "ethereum.max_topic_values = 5000",
            "nodes refuse more than 1,000",
        ),
        (lambda c: c["ethereum"].update(tokens={}), "ethereum.tokens = {}", "no tokens configured"),
        (
            lambda c: c["ethereum"]["tokens"]["USDT"].update(decimals=77),
            "ethereum.tokens.USDT.decimals = 77",
            "not a whole number in 0..36",
        ),
        (
            lambda c: c.update(Ethereum=c.pop("ethereum")),
            "chain = 'Ethereum'",
            "lower-case identifiers",
        ),
        (
            lambda c: c["ethereum"].update(defillama_chain="Ethereum/1"),
            "ethereum.defillama_chain = 'Ethereum/1'",
            "not a DefiLlama chain name",
        ),
        (
            lambda c: c.update(mainnet=dict(c["ethereum"], defillama_chain="ETHEREUM")),
            "mainnet.defillama_chain = 'ETHEREUM'",
            "the same DefiLlama chain as ethereum",
        ),
        (
            lambda c: c["arbitrum"]["tokens"]["USDT"].update(bridged="yes"),
            "arbitrum.tokens.USDT.bridged = 'yes'",
            "not true or false",
        ),
        (
            lambda c: c["arbitrum"]["tokens"]["USDC"].update(deployed_after_anchor="2023-06"),
            "arbitrum.tokens.USDC.deployed_after_anchor = '2023-06'",
            "not true or false",
        ),
    ],
    ids=[
        "unknown-standard",
        "unchecksummed-address",
        "duplicate-contract",
        "misspelt-key",
        "chain-id-as-text",
        "anchor-without-timestamp",
        "too-many-topic-values",
        "no-tokens",
        "impossible-decimals",
        "upper-case-chain",
        "bad-defillama-chain",
        "defillama-chain-twice",
        "bridged-not-a-boolean",
        "deployed-after-anchor-not-a-boolean",
    ],
)
def test_bad_chain_configuration(tmp_path, edit, field, reason):
    path = chains_with(tmp_path, edit)
    with pytest.raises(ConfigError) as err:
        load_chains(path)
    assert f"{path}: {field}: " in str(err.value) and reason in str(err.value)


def test_a_chain_to_read_that_is_not_configured():
    with pytest.raises(ConfigError) as err:
        enabled(load_chains(), "ethereum,base")
    assert (
        "STABLEFLOW_CHAINS='ethereum,base': ['base'] not in chains.yaml "
        "(configured: ethereum, arbitrum)"
    ) in str(err.value)


@pytest.mark.parametrize(
    "rows, fragment",
    [
        (
            [
                f"ethereum,{BINANCE_14.replace('C6c', 'c6C')},binance,hot,"
                "etherscan-labels,2023-06-01"
            ],
            "checksum",
        ),
        ([f"ethereum,{BINANCE_14},binance,warm,etherscan-labels,2023-06-01"], "'warm'"),
        ([f"ethereum,{BINANCE_14},binance,hot,etherscan-labels,2023-06-01"] * 2, "line 3"),
        ([], "a header but no rows"),
    ],
    ids=["bad-checksum", "unknown-role", "labelled-twice", "no-rows"],
)
def test_bad_label_files(tmp_path, rows, fragment):
    path = tmp_path / "labels.csv"
    path.write_text("\n".join([LABEL_HEADER, *rows]) + "\n")
    with pytest.raises(LabelError) as err:
        load_labels(path)
    assert str(path) in str(err.value) and fragment in str(err.value)


# DefiLlama stamps the close of 2022-05-01 00:00 of 2022-05-02 (assets/ingest/DEFILLAMA_TIMING.md).
LLAMA_STAMP = MIDNIGHT + 86_400


def llama(value) -> list:
    return [{"date": str(LLAMA_STAMP), "totalCirculating": {"peggedUSD": value}}]


def llama_chain(circulating) -> dict:
    """`/stablecoin/1` for one day: a valid all-chain total, Ethereum's entry as given."""
    return {
        "pegType": "peggedUSD",
        "tokens": [{"date": LLAMA_STAMP, "circulating": {"peggedUSD": 5.0}}],
        "chainBalances": {
            "Ethereum": {"tokens": [{"date": LLAMA_STAMP, "circulating": circulating}]}
        },
    }


def gecko(ms, price) -> dict:
    point = [[ms, price]]
    return {"prices": point, "market_caps": [[ms, 1e9]], "total_volumes": [[ms, 1e6]]}


def fng(value: str, label: str) -> dict:
    return {
        "name": "Fear and Greed Index",
        "metadata": {"error": None},
        "data": [{"value": value, "value_classification": label, "timestamp": str(MIDNIGHT)}],
    }


DAY = D(2022, 5, 1)
NEXT_MS = (MIDNIGHT + 86_400) * 1000
API_CASES = [
    (
        "defillama-negative",
        lambda: parse_total_supply(llama(-5.0), DAY, DAY),
        "defillama /stablecoincharts/all",
        "[0].totalCirculating.peggedUSD",
        "must be positive",
    ),
    (
        "defillama-absurd",
        lambda: parse_total_supply(llama(1e20), DAY, DAY),
        "defillama /stablecoincharts/all",
        "[0].totalCirculating.peggedUSD",
        "implausibly large",
    ),
    (
        "defillama-not-a-number",
        lambda: parse_total_supply(llama("12.3M"), DAY, DAY),
        "defillama /stablecoincharts/all",
        "[0].totalCirculating.peggedUSD",
        "not a number",
    ),
    (
        "defillama-missing-day",
        lambda: parse_total_supply(llama(5.0), DAY, D(2022, 5, 2)),
        "defillama /stablecoincharts/all",
        "date",
        "no value for every day",
    ),
    (
        "defillama-chain-balance-not-a-number",
        lambda: parse_token(llama_chain({"peggedUSD": "12.3M"}), "USDT", DAY, DAY),
        "defillama /stablecoin/1",
        "chainBalances.Ethereum.tokens[0].circulating.peggedUSD",
        "not a number",
    ),
    (
        "defillama-chain-circulating-not-an-object",
        lambda: parse_token(llama_chain("n/a"), "USDT", DAY, DAY),
        "defillama /stablecoin/1",
        "chainBalances.Ethereum.tokens[0].circulating",
        "not an object",
    ),
    (
        "defillama-chain-chart-empty",
        lambda: parse_chain_chart([], "USDT", "Ethereum", DAY, DAY),
        "defillama /stablecoincharts/Ethereum?stablecoin=1",
        "(body)",
        "no chart",
    ),
    (
        "defillama-chain-chart-not-a-number",
        lambda: parse_chain_chart(llama("12.3M"), "USDT", "Ethereum", DAY, DAY),
        "defillama /stablecoincharts/Ethereum?stablecoin=1",
        "[0].totalCirculating.peggedUSD",
        "not a number",
    ),
    (
        "defillama-token-chart-negative",
        lambda: parse_token_chart(llama(-5.0), "USDT", DAY, DAY),
        "defillama /stablecoincharts/all?stablecoin=1",
        "[0].totalCirculating.peggedUSD",
        "must be positive",
    ),
    (
        "coingecko-negative-price",
        lambda: parse_market_chart(gecko(NEXT_MS, -1.0), "bitcoin", DAY, DAY),
        "coingecko /coins/bitcoin/market_chart/range",
        "prices[0][1]",
        "must be positive",
    ),
    (
        "coingecko-bad-timestamp",
        lambda: parse_market_chart(gecko("yesterday", 1.0), "bitcoin", DAY, DAY),
        "coingecko /coins/bitcoin/market_chart/range",
        "prices[0][0]",
        "not a millisecond timestamp",
    ),
    (
        "fear-greed-above-100",
        lambda: parse_fear_greed(fng("140", "Greed"), DAY, DAY),
        "alternative.me /fng/",
        "data[0].value",
        "outside the index's 0..100",
    ),
    (
        "fear-greed-unknown-label",
        lambda: parse_fear_greed(fng("40", "Meh"), DAY, DAY),
        "alternative.me /fng/",
        "data[0].value_classification",
        "not one of",
    ),
    (
        "fred-negative-close",
        lambda: parse_fredgraph(
            [{"observation_date": "2022-05-02", "SP500": "-4100"}], "SP500", DAY, D(2022, 5, 3)
        ),
        "fred SP500",
        "2022-05-02.SP500",
        "outside the plausible range",
    ),
    (
        "fred-not-a-date",
        lambda: parse_fredgraph(
            [{"observation_date": "May 2, 2022", "SP500": "4100"}], "SP500", DAY, D(2022, 5, 3)
        ),
        "fred SP500",
        "line 2 observation_date",
        "not a YYYY-MM-DD date",
    ),
    (
        "fred-not-a-date-under-the-older-header",
        lambda: parse_fredgraph(
            [{"DATE": "May 2, 2022", "SP500": "4100"}], "SP500", DAY, D(2022, 5, 3)
        ),
        "fred SP500",
        "line 2 DATE",
        "not a YYYY-MM-DD date",
    ),
    (
        "rpc-total-supply-not-hex",
        lambda: supply_word("0x" + "zz" * 32),
        "rpc ethereum eth_call",
        "totalSupply() of USDT at block 5",
        "not 64 hex digits",
    ),
    (
        "rpc-total-supply-above-decimal-38",
        lambda: supply_word("0x" + "f" * 64),
        "rpc ethereum eth_call",
        "totalSupply() of USDT at block 5",
        "larger than Decimal(38, 0)",
    ),
    (
        "rpc-log-amount-cut-short",
        lambda: log_frame(amount_hex="0" * 40),
        "rpc ethereum eth_getLogs",
        "Issue log 0x01 data",
        "not 64 hex digits",
    ),
    (
        "rpc-block-number-missing",
        lambda: log_frame(block_number=None),
        "rpc ethereum eth_getLogs",
        "Issue log 0x01 blockNumber",
        "not a hex quantity",
    ),
    (
        "rpc-log-index-not-hex",
        lambda: log_frame(log_index="12"),
        "rpc ethereum eth_getLogs",
        "Issue log 0x01 logIndex",
        "not a hex quantity",
    ),
]


def supply_word(word: str) -> pl.DataFrame:
    """extract.token_supply's decoding of one totalSupply() answer."""
    frame = pl.DataFrame(
        {"token": ["USDT"], "block_number": [5], "supply_hex": [word], "decimals": [6]}
    )
    return _amounts(
        frame,
        "supply",
        "rpc ethereum eth_call",
        pl.format("totalSupply() of {} at block {}", "token", "block_number"),
    )


def log_frame(block_number="0x10", log_index="0x0", amount_hex="0" * 63 + "1") -> pl.DataFrame:
    """extract.issuance_events's decoding of one Issue log."""
    frame = pl.DataFrame(
        {
            "event": ["Issue"],
            "tx_hash": ["0x01"],
            "block_number": [block_number],
            "log_index": [log_index],
            "amount_hex": [amount_hex],
            "decimals": [6],
        },
        schema_overrides={"block_number": pl.Utf8},
    )
    field = pl.format("{} log {}", "event", "tx_hash")
    frame = _quantities(frame, _LOG_QUANTITIES, "rpc ethereum eth_getLogs", field)
    return _amounts(frame, "amount", "rpc ethereum eth_getLogs", field + " data")


@pytest.mark.parametrize(
    "call, source, field, reason", [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES]
)
def test_bad_values_from_sources_name_source_field_and_value(call, source, field, reason):
    with pytest.raises(SourceDataError) as err:
        call()
    assert str(err.value).startswith(f"{source}: field {field!r} = ") and reason in str(err.value)


def test_a_bad_value_fails_its_run_and_writes_nothing(resources, replay, warehouse, monkeypatch):
    """One bad value per HTTP source family, through Dagster: the run fails naming it and the
    affected tables are not written at all (the window is replaced whole or not at all)."""
    original = replay.answer

    def corrupt(path, query):
        status, body = original(path, query)
        if path.endswith("/stablecoincharts/all"):
            rows = json.loads(body)
            day = next(r for r in rows if r["date"] == str(MIDNIGHT + 86_400 * 4))
            day["totalCirculating"]["peggedUSD"] = -1.0
            body = json.dumps(rows).encode()
        elif path.endswith("fredgraph.csv"):
            body = body.replace(b"\n2022-05-03,", b"\n2022-05-03,-")
        elif path.startswith("/alternative_me/"):
            payload = json.loads(body)
            day = next(e for e in payload["data"] if e["timestamp"] == str(MIDNIGHT + 86_400 * 4))
            day["value_classification"] = "Euphoria"
            body = json.dumps(payload).encode()
        return status, body

    monkeypatch.setattr(replay, "answer", corrupt)
    result = materialize(api_assets, resources, DAY, D(2022, 5, 10), raise_on_error=False)
    assert not result.success
    errors = failure_messages(result)
    assert (
        "defillama /stablecoincharts/all: field '" in errors
        and "= -1.0: must be positive" in errors
    )
    assert "fred SP500: field '2022-05-03.SP500' = '-" in errors
    assert (
        "alternative.me /fng/: field 'data[" in errors
        and "].value_classification' = 'Euphoria'" in errors
    )
    for table in ("raw.defillama_total_supply", "raw.fred_series_daily", "raw.fear_greed_daily"):
        assert not warehouse.table_exists(table), table


# --- 44, 45: known-incomplete history ---------------------------------------------------------

EARLY_RUN = """
import datetime as dt, json, logging, sys
import dagster as dg
from assets.ingest import api_assets, reference_data
from assets.models import model_assets
from core.resources import HttpSource, Warehouse
from core.contracts import contracts
from core.resources.warehouse import table_ddl

url, path, start, end = sys.argv[1:5]
warehouse = Warehouse(path=path)
def source(name, base):
    return HttpSource(name=name, base_url=f"{url}/{base}", backoff_s=0.01, max_backoff_s=0.05,
                      max_attempts=4, timeout_s=5)
resources = {"warehouse": warehouse, "defillama": source("defillama", "defillama"),
             "coingecko": source("coingecko", "coingecko/api/v3"),
             "alternative_me": source("alternative.me", "alternative_me"),
             "fred": source("fred", "fred")}
instance = dg.DagsterInstance.ephemeral()
ingest = dg.materialize([*api_assets, reference_data], resources=resources, instance=instance,
                        tags={"dagster/asset_partition_range_start": start,
                              "dagster/asset_partition_range_end": end})
# No chain is read here: the on-chain tables exist, empty, so the marts build.
with warehouse.connect() as con:
    for contract in contracts("raw"):
        con.execute(table_ddl(contract.table))
built = dg.materialize(model_assets, resources={"warehouse": warehouse}, instance=instance)
meta = {"/".join(m.asset_key.path): {k: str(v.value) for k, v in m.metadata.items()}
        for m in (e.materialization for e in ingest.get_asset_materialization_events())}
print(json.dumps({
    "success": [ingest.success, built.success],
    "warnings": [r.user_message for r in instance.all_logs(ingest.run_id)
                 if r.level == logging.WARNING],
    "metadata": meta,
    "liquidity": warehouse.read(
        "SELECT date, usdt_supply_incomplete, usdc_supply_incomplete, "
        "total_stablecoin_supply_incomplete, supply_incomplete_reason, usdt_supply_tokens, "
        "usdt_supply_tokens_change FROM marts.liquidity_daily ORDER BY date").rows(),
    "supply": warehouse.read(
        "SELECT date, token, supply_incomplete, supply_incomplete_reason "
        "FROM marts.stablecoin_supply_daily WHERE chain = 'all' ORDER BY date, token").rows(),
}, default=str))
"""


def test_a_start_before_the_complete_history_warns_and_is_flagged(replay, tmp_path):
    """A user who configures STABLEFLOW_START_DATE=2019-12-01 gets the window 2019-12-30..
    2020-01-03 (the replay serves DefiLlama's real 2019 USDT): the run is not refused (its
    prices, USDC and the rest are sound), it warns for USDT and the total, and the marts flag
    exactly the incomplete days with the reason; USDC, complete then, is not flagged."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "STABLEFLOW_START_DATE": "2019-12-01",
        "STABLEFLOW_CHAINS": "ethereum",
        "PYTHONPATH": str(root),
        "DAGSTER_HOME": str(tmp_path),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            EARLY_RUN,
            replay.url,
            str(tmp_path / "early.duckdb"),
            "2019-12-30",
            "2020-01-03",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["success"] == [True, True]

    known = [w for w in out["warnings"] if w.startswith("KNOWN INCOMPLETE DefiLlama history")]
    assert len(known) == 2 and len(out["warnings"]) == 2
    assert any(
        "USDT: 3 day(s) 2019-12-30..2020-01-01 are known incomplete (up to 99% of the "
        "supply missing)"
        in w
        and "usdt_supply_incomplete" in w
        for w in known
    )
    assert any("total: 3 day(s) 2019-12-30..2020-01-01" in w for w in known)
    assert "USDT: 3 day(s)" in out["metadata"]["raw/defillama_token_supply"]["known_incomplete"]
    assert "total: 3 day(s)" in out["metadata"]["raw/defillama_total_supply"]["known_incomplete"]

    days = [D(2019, 12, 30) + dt.timedelta(days=i) for i in range(5)]
    liquidity = {D.fromisoformat(r[0]): r[1:] for r in out["liquidity"]}
    assert sorted(liquidity) == days
    for day, (usdt, usdc, total, reason, *_rest) in liquidity.items():
        incomplete = day < D(2020, 1, 2)
        assert (usdt, usdc, total) == (incomplete, False, incomplete), day
        assert (reason is not None) == incomplete
        if incomplete:
            assert reason.startswith("USDT: DefiLlama's USDT series misses most of the supply")
            assert "total: The all-stablecoin total" in reason
    # Why the day after the last flagged one matters: its change is the step to the full series.
    assert liquidity[D(2020, 1, 2)][5] > 1.0e9
    supply = {(D.fromisoformat(d), t): (flag, reason) for d, t, flag, reason in out["supply"]}
    assert {k for k, (flag, _) in supply.items() if flag} == {(d, "USDT") for d in days[:3]}
    assert all(reason is None for flag, reason in supply.values() if not flag)


@pytest.mark.parametrize(
    "row, fragment",
    [
        ("defillama,DAI,,2020-01-02,0.5,why,how", "series = 'DAI': not one of"),
        (
            "defillama,USDT,2020-02-01,2020-01-02,0.5,why,how",
            "incomplete_from = 2020-02-01 is not before incomplete_before = 2020-01-02",
        ),
        (
            "defillama,USDT,,2020-13-02,0.5,why,how",
            "incomplete_before = '2020-13-02': not a YYYY-MM-DD",
        ),
        ("defillama,USDT,,2020-01-02,1.5,why,how", "max_missing_share = '1.5': not a share"),
        ("defillama,USDT,,2020-01-02,0.5,, ", "reason is empty"),
        ("coingecko,USDT,,2020-01-02,0.5,why,how", "source = 'coingecko': only 'defillama'"),
    ],
    ids=[
        "unknown-series",
        "dates-reversed",
        "not-a-date",
        "share-above-1",
        "no-reason",
        "other-source",
    ],
)
def test_bad_known_incomplete_rows(tmp_path, row, fragment):
    from assets.ingest.defillama import KNOWN_INCOMPLETE_COLUMNS, SeedError, load_known_incomplete

    path = tmp_path / "known_incomplete_history.csv"
    path.write_text(",".join(KNOWN_INCOMPLETE_COLUMNS) + "\n" + row + "\n")
    with pytest.raises(SeedError) as err:
        load_known_incomplete(path)
    assert f"{path}: line 2: " in str(err.value) and fragment in str(err.value)


# --- 46-61: values that keep the schema but not the sense (assets/ingest/plausibility.yaml) -------

from assets.ingest import plausibility  # noqa: E402
from assets.ingest.defillama import check_chains_within_total, token_chart_source  # noqa: E402
from assets.ingest.parsing import stamp  # noqa: E402

FETCHED = dt.datetime(2022, 5, 10)


def gecko_days(
    coin: str, prices: list, caps: list | None = None, volumes: list | None = None
) -> pl.DataFrame:
    """Closes of consecutive days from DAY on, parsed and stamped as the asset does."""
    n = len(prices)
    ms = [NEXT_MS + i * 86_400_000 for i in range(n)]
    payload = {
        "prices": [[m, v] for m, v in zip(ms, prices)],
        "market_caps": [[m, v] for m, v in zip(ms, caps or [1e9] * n)],
        "total_volumes": [[m, v] for m, v in zip(ms, volumes or [1e6] * n)],
    }
    frame = parse_market_chart(payload, coin, DAY, DAY + dt.timedelta(days=n - 1))
    return stamp(frame, f"coingecko /coins/{coin}/market_chart/range", FETCHED)


def llama_days(values: list) -> list:
    return [
        {"date": str(LLAMA_STAMP + 86_400 * i), "totalCirculating": {"peggedUSD": v}}
        for i, v in enumerate(values)
    ]


def fred_days(series: str, values: list) -> pl.DataFrame:
    rows = [
        {"observation_date": str(DAY + dt.timedelta(days=i)), series: v}
        for i, v in enumerate(values)
    ]
    return stamp(
        parse_fredgraph(rows, series, DAY, DAY + dt.timedelta(days=len(values))),
        f"fred {series}",
        FETCHED,
    )


def judged(table: str, rows: pl.DataFrame) -> dict:
    """What an ingest asset does with a window's rows before it writes them."""
    return plausibility.report(None, plausibility.day_over_day(rows, table))


def one_chain(total: float, ethereum: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    totals, chains = parse_token(llama_chain({"peggedUSD": ethereum}), "USDT", DAY, DAY)
    totals = totals.with_columns(circulating_tokens=pl.lit(total))
    return (
        stamp(chains, "defillama /stablecoin/1", FETCHED),
        stamp(totals, token_chart_source("USDT"), FETCHED),
    )


D2 = "2022-05-02"
PLAUSIBILITY_CASES = [
    (
        "btc-close-100x",
        lambda: judged(
            "raw.coingecko_market_daily", gecko_days("bitcoin", [36_600.0, 3_660_000.0])
        ),
        "coingecko /coins/bitcoin/market_chart/range",
        f"price_usd of bitcoin on {D2}",
        3_660_000.0,
        "is 100 times 36600 on 2022-05-01; the blocking limit 'bitcoin price' allows a factor of 2",
    ),
    (
        "market-cap-a-hundredth",
        lambda: judged(
            "raw.coingecko_market_daily",
            gecko_days("ethereum", [2_800.0, 2_810.0], caps=[3.4e11, 3.4e9]),
        ),
        "coingecko /coins/ethereum/market_chart/range",
        f"market_cap_usd of ethereum on {D2}",
        3.4e9,
        "'ethereum market cap' allows a factor of 2.5",
    ),
    (
        "stablecoin-price-in-cents",
        lambda: judged("raw.coingecko_market_daily", gecko_days("usd-coin", [1.0, 100.0])),
        "coingecko /coins/usd-coin/market_chart/range",
        f"price_usd of usd-coin on {D2}",
        100.0,
        "'stablecoin price' allows a factor of 2",
    ),
    (
        "volume-ten-thousand-times-smaller",
        lambda: judged(
            "raw.coingecko_market_daily",
            gecko_days("bitcoin", [36_600.0, 36_700.0], volumes=[3e10, 3e6]),
        ),
        "coingecko /coins/bitcoin/market_chart/range",
        f"volume_usd of bitcoin on {D2}",
        3e6,
        "'trading volume' allows a factor of 1000",
    ),
    (
        "token-supply-100x",
        lambda: judged(
            "raw.defillama_token_supply",
            stamp(
                parse_token_chart(llama_days([83e9, 8.3e12]), "USDT", DAY, D(2022, 5, 2)),
                token_chart_source("USDT"),
                FETCHED,
            ),
        ),
        "defillama /stablecoincharts/all?stablecoin=1",
        f"circulating_tokens of USDT on {D2}",
        8.3e12,
        "'USDT supply' allows a factor of 2",
    ),
    (
        "total-supply-a-hundredth",
        lambda: judged(
            "raw.defillama_total_supply",
            stamp(
                parse_total_supply(llama_days([1.6e11, 1.6e9]), DAY, D(2022, 5, 2)),
                "defillama /stablecoincharts/all",
                FETCHED,
            ),
        ),
        "defillama /stablecoincharts/all",
        f"circulating_usd on {D2}",
        1.6e9,
        "'all stablecoins supply' allows a factor of 2",
    ),
    (
        "chain-above-all-chains",
        lambda: check_chains_within_total(*one_chain(5e9, 5e11)),
        "defillama /stablecoin/1",
        "circulating_tokens of USDT/Ethereum on 2022-05-01",
        5e11,
        "is 100 times the token's all-chain supply",
    ),
    (
        "another-coin-behind-the-id",
        lambda: parse_token(
            {**llama_chain({"peggedUSD": 1.0}), "symbol": "USDe"}, "USDT", DAY, DAY
        ),
        "defillama /stablecoin/1",
        "symbol",
        "USDe",
        "expected USDT: DefiLlama id 1 names another",
    ),
    (
        "sp500-a-hundredth",
        lambda: judged("raw.fred_series_daily", fred_days("SP500", ["4155.38", "41.75"])),
        "fred SP500",
        f"value of SP500 on {D2}",
        41.75,
        "'S&P 500' allows a factor of 1.5",
    ),
    (
        "t-bill-as-a-fraction",
        lambda: judged("raw.fred_series_daily", fred_days("DTB3", ["4.5", "0.045"])),
        "fred DTB3",
        f"value of DTB3 on {D2}",
        0.045,
        "is -4.455 from 4.5 on 2022-05-01; the blocking limit '3-month T-bill' allows 2 either way",
    ),
]


@pytest.mark.parametrize(
    "call, source, field, value, reason",
    [c[1:] for c in PLAUSIBILITY_CASES],
    ids=[c[0] for c in PLAUSIBILITY_CASES],
)
def test_implausible_values_fail_naming_source_field_day_and_value(
    call, source, field, value, reason
):
    with pytest.raises(SourceDataError) as err:
        call()
    assert str(err.value).startswith(f"{source}: field {field!r} = {value!r}: "), str(err.value)
    assert reason in str(err.value), str(err.value)


class _Log:
    def __init__(self):
        self.lines: list[str] = []

    def warning(self, text):
        self.lines.append(text)


def test_a_rare_move_warns_and_is_written_and_catch_up_steps_do_not_block():
    """BTC -20 % in a day is rare, not impossible: the run warns, names it, and goes on.
    DefiLlama's seeded catch-up steps are neither: real recorded values, listed apart."""
    context = type("Context", (), {"log": _Log()})()
    meta = plausibility.report(
        context,
        plausibility.day_over_day(
            gecko_days("bitcoin", [36_600.0, 29_280.0]), "raw.coingecko_market_daily"
        ),
    )
    (line,) = context.log.lines
    assert line.startswith(
        "RARE MOVE coingecko /coins/bitcoin/market_chart/range: field "
        "'price_usd of bitcoin on 2022-05-02' = 29280.0: 29280 on 2022-05-02 "
        "is 0.8 times 36600 on 2022-05-01; the warning limit 'bitcoin "
        "price' allows a factor of 1.15"
    )
    assert meta["rare_moves"] == line.removeprefix("RARE MOVE ")
    # The recorded catch-up steps, as a backfill over them reads them.
    from sandbox.replay import build_stablecoin_chart

    for llama_id, token, first in ((1, "USDT", D(2019, 12, 30)), (2, "USDC", D(2021, 12, 30))):
        rows = stamp(
            parse_token_chart(
                build_stablecoin_chart(llama_id), token, first, first + dt.timedelta(days=4)
            ),
            token_chart_source(token),
            FETCHED,
        )
        context = type("Context", (), {"log": _Log()})()
        meta = plausibility.report(
            context, plausibility.day_over_day(rows, "raw.defillama_token_supply")
        )
        assert context.log.lines == [] and "rare_moves" not in meta
        assert "is known incomplete before" in meta["moves_in_known_incomplete_history"]
    # ... but a hundredfold value on the catch-up day still blocks.
    with pytest.raises(SourceDataError, match="no catch-up step is this large"):
        judged(
            "raw.defillama_token_supply",
            stamp(
                parse_token_chart(llama_days([3.2e9, 3.2e11]), "USDT", DAY, D(2022, 5, 2)),
                token_chart_source("USDT"),
                FETCHED,
            ).with_columns(date=pl.col("date") + (D(2020, 1, 1) - DAY)),
        )


def test_a_btc_close_100x_the_stored_day_fails_the_daily_run(
    resources, replay, warehouse, monkeypatch
):
    """The issue's case: yesterday is stored, today's BTC close comes 100 times too large. The
    run's window has one day, so yesterday is read from the warehouse."""
    from assets.ingest.coingecko import coingecko_market_daily

    assert materialize([coingecko_market_daily], resources, DAY, DAY).success
    stored = warehouse.read(
        "SELECT price_usd FROM raw.coingecko_market_daily WHERE coin_id = 'bitcoin'"
    ).item()
    original = replay.answer
    close_of_may_2 = (MIDNIGHT + 2 * 86_400) * 1000

    def corrupt(path, query):
        status, body = original(path, query)
        if path.endswith("/coins/bitcoin/market_chart/range"):
            payload = json.loads(body)
            payload["prices"] = [
                [ms, v * 100 if ms == close_of_may_2 else v] for ms, v in payload["prices"]
            ]
            body = json.dumps(payload).encode()
        return status, body

    monkeypatch.setattr(replay, "answer", corrupt)
    result = materialize(
        [coingecko_market_daily], resources, D(2022, 5, 2), D(2022, 5, 2), raise_on_error=False
    )
    assert not result.success
    errors = failure_messages(result)
    assert (
        "coingecko /coins/bitcoin/market_chart/range: field 'price_usd of bitcoin on 2022-05-02' = "
    ) in errors
    assert (
        f" times {stored:.6g} on 2022-05-01 (stored); the blocking limit 'bitcoin price'" in errors
    )
    assert "Nothing was written" in errors
    dates = warehouse.read("SELECT DISTINCT date FROM raw.coingecko_market_daily")["date"]
    assert dates.to_list() == [DAY]


def _rename(chain: str, new: str | None):
    """A replay answer for /stablecoin/2 with `chain` renamed to `new` (None: dropped)."""

    def answer(original):
        def corrupt(path, query):
            status, body = original(path, query)
            if path == "/defillama/stablecoin/2":
                payload = json.loads(body)
                balance = payload["chainBalances"].pop(chain)
                if new is not None:
                    payload["chainBalances"][new] = balance
                body = json.dumps(payload).encode()
            return status, body

        return corrupt

    return answer


@pytest.mark.parametrize(
    "new, expected",
    [
        (
            "Ethereum Mainnet",
            "'Ethereum Mainnet' appears (in the answer for 2022-06-03, not stored "
            "for 2022-06-02); 'Ethereum' disappears (stored for 2022-06-02, not in "
            "the answer for 2022-06-03)",
        ),
        (None, "'Ethereum' disappears (stored for 2022-06-02, not in the answer for 2022-06-03)"),
    ],
    ids=["renamed", "dropped"],
)
def test_a_chain_renamed_or_dropped_upstream_fails_naming_it(
    resources, replay, warehouse, monkeypatch, new, expected
):
    from dataclasses import replace

    from assets.ingest.defillama import defillama_token_supply

    assert materialize([defillama_token_supply], resources, D(2022, 6, 1), D(2022, 6, 2)).success
    before = warehouse.read("SELECT * FROM raw.defillama_token_supply_by_chain ORDER BY ALL")
    monkeypatch.setattr(replay, "answer", _rename("Ethereum", new)(replay.answer))
    result = materialize(
        [defillama_token_supply], resources, D(2022, 6, 3), D(2022, 6, 3), raise_on_error=False
    )
    assert not result.success
    errors = failure_messages(result)
    assert "defillama /stablecoin/2: field 'chainBalances' = " in errors
    assert f"the USDC chains differ from the stored ones: {expected}." in errors
    assert "list it under chain_changes.allowed in assets/ingest/plausibility.yaml" in errors
    after = warehouse.read("SELECT * FROM raw.defillama_token_supply_by_chain ORDER BY ALL")
    assert after.equals(before)  # nothing written

    # Listed in the configuration, the same change passes, with a warning.
    import dagster as dg

    allowed = [plausibility.AllowedChange("USDC", "Ethereum", "disappears", "a test rename")]
    if new:
        allowed.append(plausibility.AllowedChange("USDC", new, "appears", "a test rename"))
    configured = replace(plausibility.config(), allowed_changes=tuple(allowed))
    monkeypatch.setattr(plausibility, "config", lambda: configured)
    instance = dg.DagsterInstance.ephemeral()
    result = materialize(
        [defillama_token_supply], resources, D(2022, 6, 3), D(2022, 6, 3), instance=instance
    )
    assert result.success
    warnings = [
        r.user_message
        for r in instance.all_logs(result.run_id)
        if r.user_message.startswith("CHAIN CHANGE")
    ]
    assert any("'Ethereum' disappears" in w and "allowed (a test rename)" in w for w in warnings)


def test_stored_values_beyond_a_limit_fail_the_raw_suites():
    """Rows stored before the limits existed (or written another way) are checked too: a
    stored BTC close 100 times the day before, and exchanges holding more than the supply."""
    from assets.quality import EXPECTATIONS_DIR, Suite, load_suite, validate

    market = load_suite(EXPECTATIONS_DIR / "raw.coingecko_market_daily.yaml")
    check = [e for e in market.expectations if e.name == "day_over_day_plausible"]
    (outcome,) = validate(
        gecko_days("bitcoin", [36_600.0, 3_660_000.0, 36_800.0]), Suite(market.table, check)
    )
    assert not outcome.passed and outcome.details["unexpected_count"] == 2
    assert outcome.details["partial_unexpected_list"][0].startswith(
        "coingecko /coins/bitcoin/market_chart/range: field 'price_usd of bitcoin on 2022-05-02' "
        "= 3660000.0: 3.66e+06 on 2022-05-02 is 100 times 36600 on 2022-05-01"
    )

    reserves = load_suite(EXPECTATIONS_DIR / "raw.evm_exchange_reserves.yaml")
    check = [e for e in reserves.expectations if e.name == "reserves_within_supply"]
    rows = pl.DataFrame(
        {
            "date": [DAY, D(2022, 5, 2)],
            "chain": ["ethereum"] * 2,
            "token": ["USDT"] * 2,
            "value": [4e15, 4e17],
            "ceiling": [4e16, 4e16],
        }
    )
    (outcome,) = validate(
        pl.DataFrame(), Suite(reserves.table, check), {"reserves_within_supply": rows}
    )
    assert not outcome.passed and outcome.details["unexpected_count"] == 1
    assert outcome.details["partial_unexpected_list"][0].startswith(
        "raw.evm_exchange_reserves: field 'balance_raw of ethereum/USDT on 2022-05-02' = 4e+17: "
        "4e+17 is "
        "10 times totalSupply() of the token on the chain the same day"
    )


@pytest.mark.parametrize(
    "edit, where, reason",
    [
        (
            lambda c: c["day_over_day"][0].update(block=1.1),
            "day_over_day[0] (bitcoin price).block = 1.1",
            "not above warn = 1.15",
        ),
        (
            lambda c: c["day_over_day"][0].pop("source"),
            "day_over_day[0] (bitcoin price).source = None",
            "every limit states its reason and its source",
        ),
        (
            lambda c: c["day_over_day"][7].update(floor="1.0e8"),
            "day_over_day[7] (USDT supply).floor = '1.0e8'",
            "not a number",
        ),
        (
            lambda c: c["day_over_day"][0].update(table="raw.coingecko"),
            "day_over_day[0] (bitcoin price).table = 'raw.coingecko'",
            "not one of",
        ),
        (
            lambda c: c["chain_changes"].update(
                allowed=[{"token": "USDC", "chain": "Base", "change": "renamed", "reason": "x"}]
            ),
            "chain_changes.allowed[0].change = 'renamed'",
            "not one of ['appears', 'disappears']",
        ),
    ],
    ids=["block-below-warn", "no-source", "float-read-as-text", "unknown-table", "unknown-change"],
)
def test_bad_plausibility_configuration(tmp_path, edit, where, reason):
    config = yaml.safe_load(plausibility.CONFIG_FILE.read_text())
    edit(config)
    path = tmp_path / "plausibility.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(plausibility.PlausibilityConfigError) as err:
        plausibility.load(path)
    assert f"{path}: {where}: " in str(err.value) and reason in str(err.value), str(err.value)
