-- Staging: close-of-day price, market cap and 24h volume per CoinGecko coin and UTC day.
-- Grain: date x coin_id. The close of D is CoinGecko's sample at 00:00 UTC of D+1 (sampled_at).
-- Source: raw.coingecko_market_daily (CoinGecko /coins/{id}/market_chart/range).
-- Deduplicated on (date, coin_id), latest ingested_at wins; ingested_at dropped.
SELECT
    cast(date AS DATE)               AS date,
    lower(coin_id)                   AS coin_id,
    cast(price_usd AS DOUBLE)        AS price_usd,
    cast(market_cap_usd AS DOUBLE)   AS market_cap_usd,
    cast(volume_usd AS DOUBLE)       AS volume_usd,
    cast(sampled_at AS TIMESTAMP)    AS sampled_at,
    source
FROM raw.coingecko_market_daily
QUALIFY row_number() OVER (PARTITION BY date, lower(coin_id) ORDER BY ingested_at DESC) = 1
