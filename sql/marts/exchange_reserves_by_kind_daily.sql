-- Mart: USDT/USDC held on spot vs derivatives exchanges at the end of each UTC day, and each
-- kind's share of all exchange-held supply of the token.
-- Grain: date x token x kind.
-- Source: marts.exchange_reserves_daily.
WITH by_kind AS (
    SELECT
        date,
        token,
        kind,
        sum(reserve_tokens)                            AS reserve_tokens,
        count(*) FILTER (WHERE reserve_tokens > 0)     AS exchanges_with_reserve
    FROM marts.exchange_reserves_daily
    GROUP BY date, token, kind
)
SELECT
    date,
    token,
    kind,
    reserve_tokens,
    reserve_tokens / nullif(sum(reserve_tokens) OVER (PARTITION BY date, token), 0)
        AS share_of_exchange_total,
    exchanges_with_reserve
FROM by_kind
ORDER BY date, token, kind
