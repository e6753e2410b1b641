"""Ingest layer: one module per source, each writing raw.* tables for a window of days."""

from assets.ingest.alternative_me import fear_greed_daily
from assets.ingest.coingecko import coingecko_market_daily
from assets.ingest.defillama import defillama_token_supply, defillama_total_supply
from assets.ingest.evm import evm_assets
from assets.ingest.fred import fred_series_daily
from assets.ingest.reference import reference_data
from assets.quality import build_checks

# Sources reached over plain HTTP APIs, and those read from EVM chains over JSON-RPC.
api_assets = [
    defillama_total_supply,
    defillama_token_supply,
    coingecko_market_daily,
    fear_greed_daily,
    fred_series_daily,
]
ingest_assets = [*api_assets, *evm_assets, reference_data]
# Checks: `schema` and the key check from each table's contract (sql/raw/*.yaml), the rest
# from expectations/raw.*.yaml.
ingest_checks = build_checks("raw")
