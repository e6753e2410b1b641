-- Staging: circulating supply of all USD-pegged stablecoins (all chains), one row per UTC day.
-- Grain: date. Value is DefiLlama's last snapshot of the day (end-of-day D, UTC).
-- Source: raw.defillama_total_supply (DefiLlama /stablecoincharts/all).
-- Renamed, deduplicated on date (latest ingested_at wins); ingested_at dropped.
SELECT
    CAST(date AS DATE)              AS date,
    CAST(circulating_usd AS DOUBLE) AS total_circulating_usd,
    source
FROM raw.defillama_total_supply
QUALIFY row_number() OVER (PARTITION BY date ORDER BY ingested_at DESC) = 1
