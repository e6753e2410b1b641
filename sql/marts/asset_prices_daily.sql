-- Mart: daily closes of every asset the risk panel compares, in one long table.
-- Grain: date x asset. Crypto (BTC, ETH and the BTC+ETH basket) has every UTC day; equity
-- indices (SP500, NASDAQ100) have US trading days with a value only.
-- Sources: marts.market_daily (CoinGecko), staging.stg_fred__series (FRED).
WITH crypto AS (
    SELECT
        date, symbol AS asset, price_usd AS close, 365 AS periods_per_year,
        'CoinGecko price_usd' AS source
    FROM marts.market_daily
    WHERE symbol IN ('BTC', 'ETH')
),

basket AS (
    -- A cap-weighted basket's value is its members' total market cap: its return is the
    -- cap-weighted return of BTC and ETH.
    SELECT
        date, 'crypto' AS asset, sum(market_cap_usd) AS close, 365 AS periods_per_year,
        'CoinGecko market_cap_usd, BTC + ETH' AS source
    FROM marts.market_daily
    WHERE symbol IN ('BTC', 'ETH')
    GROUP BY date
    HAVING count(*) = 2
),

equities AS (
    SELECT
        date, series_id AS asset, value AS close, 252 AS periods_per_year,
        'FRED ' || series_id AS source
    FROM staging.stg_fred__series
    WHERE series_id IN ('SP500', 'NASDAQ100') AND value IS NOT NULL
)

SELECT date, asset, close, periods_per_year, source FROM crypto
UNION ALL
SELECT date, asset, close, periods_per_year, source FROM basket
UNION ALL
SELECT date, asset, close, periods_per_year, source FROM equities
ORDER BY date, asset
