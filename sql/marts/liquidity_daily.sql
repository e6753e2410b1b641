-- Mart: one row per UTC day with the stablecoin liquidity picture: USDT, USDC and total
-- stablecoin supply (DefiLlama, all chains), USDT+USDC held on spot vs derivatives exchanges
-- (the market reports' split, summed over the ingested chains),
-- BTC and ETH market caps, the Stablecoin Supply Ratio (SSR), the Fear & Greed Index and
-- day-on-day changes.
-- Grain: date; a row for every day in staging.stg_defillama__total_supply (itself one per day
-- of raw.defillama_total_supply); inputs missing on a day are NULL, never dropped.
-- Sources: staging.stg_defillama__total_supply, marts.stablecoin_supply_daily (chain 'all'),
--          marts.exchange_reserves_by_kind_daily, marts.market_daily,
--          staging.stg_alternative_me__fear_greed.
WITH spine AS (
    SELECT date, total_circulating_usd AS total_stablecoin_supply_usd
    FROM staging.stg_defillama__total_supply
),
supply AS (
    SELECT
        date,
        max(supply_defillama_tokens) FILTER (WHERE token = 'USDT') AS usdt_supply_tokens,
        max(supply_defillama_tokens) FILTER (WHERE token = 'USDC') AS usdc_supply_tokens
    FROM marts.stablecoin_supply_daily
    WHERE chain = 'all'
    GROUP BY date
),
reserves AS (
    SELECT
        date,
        -- exact sums (DECIMAL, the tokens' base unit): identical on every rebuild
        sum(reserve_tokens::DECIMAL(38, 6)) FILTER (WHERE kind = 'spot')::DOUBLE
            AS spot_exchange_reserve_tokens,
        sum(reserve_tokens::DECIMAL(38, 6)) FILTER (WHERE kind = 'derivatives')::DOUBLE
            AS derivatives_exchange_reserve_tokens
    FROM marts.exchange_reserves_by_kind_daily
    WHERE token IN ('USDT', 'USDC') AND taxonomy = 'offers_derivatives'
    GROUP BY date
),
market AS (
    SELECT
        date,
        max(market_cap_usd) FILTER (WHERE coin_id = 'bitcoin')  AS btc_market_cap_usd,
        max(market_cap_usd) FILTER (WHERE coin_id = 'ethereum') AS eth_market_cap_usd
    FROM marts.market_daily
    GROUP BY date
),
joined AS (
    SELECT
        s.date,
        p.usdt_supply_tokens,
        p.usdc_supply_tokens,
        s.total_stablecoin_supply_usd,
        r.spot_exchange_reserve_tokens,
        r.derivatives_exchange_reserve_tokens,
        r.derivatives_exchange_reserve_tokens
            / nullif(r.spot_exchange_reserve_tokens + r.derivatives_exchange_reserve_tokens, 0)
            AS derivatives_share_of_exchange_reserves,
        m.btc_market_cap_usd,
        m.eth_market_cap_usd,
        m.btc_market_cap_usd / nullif(s.total_stablecoin_supply_usd, 0) AS ssr,
        f.fear_greed,
        f.fear_greed_classification
    FROM spine AS s
    LEFT JOIN supply AS p ON p.date = s.date
    LEFT JOIN reserves AS r ON r.date = s.date
    LEFT JOIN market AS m ON m.date = s.date
    LEFT JOIN staging.stg_alternative_me__fear_greed AS f ON f.date = s.date
)
SELECT
    *,
    -- day-on-day changes; NULL when the previous calendar day has no row
    CASE WHEN lag(date) OVER w = date - INTERVAL 1 DAY
         THEN usdt_supply_tokens - lag(usdt_supply_tokens) OVER w END
        AS usdt_supply_tokens_change,
    CASE WHEN lag(date) OVER w = date - INTERVAL 1 DAY
         THEN usdc_supply_tokens - lag(usdc_supply_tokens) OVER w END
        AS usdc_supply_tokens_change,
    CASE WHEN lag(date) OVER w = date - INTERVAL 1 DAY
         THEN total_stablecoin_supply_usd - lag(total_stablecoin_supply_usd) OVER w END
        AS total_stablecoin_supply_usd_change,
    CASE WHEN lag(date) OVER w = date - INTERVAL 1 DAY
         THEN spot_exchange_reserve_tokens - lag(spot_exchange_reserve_tokens) OVER w END
        AS spot_exchange_reserve_tokens_change,
    CASE WHEN lag(date) OVER w = date - INTERVAL 1 DAY
         THEN derivatives_exchange_reserve_tokens - lag(derivatives_exchange_reserve_tokens) OVER w END
        AS derivatives_exchange_reserve_tokens_change
FROM joined
WINDOW w AS (ORDER BY date)
ORDER BY date
