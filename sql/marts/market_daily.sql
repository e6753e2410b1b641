-- Mart: close-of-day price, market cap and 24h volume in USD per asset and UTC day.
-- Grain: date x coin_id. The close of D is CoinGecko's sample at 00:00 UTC of D+1.
-- Source: staging.stg_coingecko__market_daily.
SELECT
    date,
    coin_id,
    CASE coin_id
        WHEN 'bitcoin'  THEN 'BTC'
        WHEN 'ethereum' THEN 'ETH'
        WHEN 'tether'   THEN 'USDT'
        WHEN 'usd-coin' THEN 'USDC'
    END AS symbol,
    price_usd,
    market_cap_usd,
    volume_usd
FROM staging.stg_coingecko__market_daily
ORDER BY date, coin_id
