-- Staging: FRED daily series (SP500, NASDAQ100 closes; DTB3 T-bill yield in percent).
-- Grain: date x series_id; weekdays only; value NULL where FRED has none (US market holidays).
-- Source: raw.fred_series_daily (FRED fredgraph.csv).
-- Deduplicated on (date, series_id), latest ingested_at wins; ingested_at dropped.
SELECT
    cast(date AS DATE)      AS date,
    upper(series_id)        AS series_id,
    cast(value AS DOUBLE)   AS value,
    source
FROM raw.fred_series_daily
QUALIFY row_number() OVER (PARTITION BY date, upper(series_id) ORDER BY ingested_at DESC) = 1
