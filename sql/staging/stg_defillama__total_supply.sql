-- Staging: circulating supply of all USD-pegged stablecoins (all chains), one row per UTC day.
-- Grain: date. Value dated D is the close of D (UTC): DefiLlama's row stamped D+1 00:00,
-- its first snapshot after midnight (assets/ingest/DEFILLAMA_TIMING.md).
-- Source: raw.defillama_total_supply (DefiLlama /stablecoincharts/all).
-- Renamed, deduplicated on date (latest ingested_at wins); ingested_at dropped.
SELECT
    cast(date AS DATE)              AS date,
    cast(circulating_usd AS DOUBLE) AS total_circulating_usd,
    source
FROM raw.defillama_total_supply
QUALIFY row_number() OVER (PARTITION BY date ORDER BY ingested_at DESC) = 1
