-- Staging: the Crypto Fear & Greed Index per UTC day.
-- Grain: date. Source: raw.fear_greed_daily (alternative.me /fng/).
-- Deduplicated on date, latest ingested_at wins; ingested_at dropped. Days the index skipped
-- have no row.
SELECT
    cast(date AS DATE)       AS date,
    cast(value AS INTEGER)   AS fear_greed,
    classification           AS fear_greed_classification,
    source
FROM raw.fear_greed_daily
QUALIFY row_number() OVER (PARTITION BY date ORDER BY ingested_at DESC) = 1
