-- Mart: one row per UTC day with the stablecoin liquidity picture: USDT, USDC and total
-- stablecoin supply (DefiLlama, all chains), USDT+USDC held on spot vs derivatives exchanges
-- (the market reports' split, summed over the ingested chains),
-- BTC and ETH market caps, the Stablecoin Supply Ratio (SSR), the Fear & Greed Index,
-- day-on-day changes, and flags for the days a supply series is known to be incomplete.
-- Grain: date; a row for every day in staging.stg_defillama__total_supply (itself one per day
-- of raw.defillama_total_supply); inputs missing on a day are NULL, never dropped.
-- Sources: staging.stg_defillama__total_supply, marts.stablecoin_supply_daily (chain 'all'),
--          marts.exchange_reserves_by_kind_daily, marts.market_daily,
--          staging.stg_alternative_me__fear_greed, raw.known_incomplete_history (the days a
--          supply series is known to miss part of the supply: the *_supply_incomplete flags).
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

-- Per day and series, the known-incomplete stretches it falls in (sql/seeds/, reason joined).
incomplete AS (
    SELECT
        s.date,
        k.series,
        string_agg(k.series || ': ' || k.reason, ' ' ORDER BY k.incomplete_before) AS reason
    FROM spine AS s
    JOIN raw.known_incomplete_history AS k
        ON
            k.source = 'defillama'
            AND s.date >= coalesce(k.incomplete_from, s.date) AND s.date < k.incomplete_before
    GROUP BY s.date, k.series
),

flags AS (
    SELECT
        date,
        bool_or(series = 'USDT')  AS usdt_incomplete,
        bool_or(series = 'USDC')  AS usdc_incomplete,
        bool_or(series = 'total') AS total_incomplete,
        string_agg(
            reason, ' ' ORDER BY CASE series WHEN 'USDT' THEN 1 WHEN 'USDC' THEN 2 ELSE 3 END
        )
            AS reason
    FROM incomplete
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
        f.fear_greed_classification,
        -- NULL supply is not flagged: the flag is about a value that is there but partial.
        coalesce(k.usdt_incomplete AND p.usdt_supply_tokens IS NOT NULL, FALSE)
            AS usdt_supply_incomplete,
        coalesce(k.usdc_incomplete AND p.usdc_supply_tokens IS NOT NULL, FALSE)
            AS usdc_supply_incomplete,
        coalesce(k.total_incomplete, FALSE) AS total_stablecoin_supply_incomplete,
        k.reason AS supply_incomplete_reason
    FROM spine AS s
    LEFT JOIN flags AS k ON s.date = k.date
    LEFT JOIN supply AS p ON s.date = p.date
    LEFT JOIN reserves AS r ON s.date = r.date
    LEFT JOIN market AS m ON s.date = m.date
    LEFT JOIN staging.stg_alternative_me__fear_greed AS f ON s.date = f.date
)

SELECT
    * EXCLUDE (
        usdt_supply_incomplete, usdc_supply_incomplete,
        total_stablecoin_supply_incomplete, supply_incomplete_reason
    ),
    -- day-on-day changes; NULL when the previous calendar day has no row
    CASE
        WHEN lag(date) OVER w = date - INTERVAL 1 DAY
            THEN usdt_supply_tokens - lag(usdt_supply_tokens) OVER w
    END
        AS usdt_supply_tokens_change,
    CASE
        WHEN lag(date) OVER w = date - INTERVAL 1 DAY
            THEN usdc_supply_tokens - lag(usdc_supply_tokens) OVER w
    END
        AS usdc_supply_tokens_change,
    CASE
        WHEN lag(date) OVER w = date - INTERVAL 1 DAY
            THEN total_stablecoin_supply_usd - lag(total_stablecoin_supply_usd) OVER w
    END
        AS total_stablecoin_supply_usd_change,
    CASE
        WHEN lag(date) OVER w = date - INTERVAL 1 DAY
            THEN spot_exchange_reserve_tokens - lag(spot_exchange_reserve_tokens) OVER w
    END
        AS spot_exchange_reserve_tokens_change,
    CASE
        WHEN lag(date) OVER w = date - INTERVAL 1 DAY
            THEN
                derivatives_exchange_reserve_tokens
                - lag(derivatives_exchange_reserve_tokens) OVER w
    END
        AS derivatives_exchange_reserve_tokens_change,
    -- Known-incomplete supply (raw.known_incomplete_history). A change is also partial on the
    -- day after a flagged day: it compares with the incomplete value.
    usdt_supply_incomplete,
    usdc_supply_incomplete,
    total_stablecoin_supply_incomplete,
    supply_incomplete_reason
FROM joined
WINDOW w AS (ORDER BY date)
ORDER BY date
