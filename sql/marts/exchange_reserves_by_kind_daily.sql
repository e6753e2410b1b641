-- Mart: USDT/USDC held on spot vs derivatives exchanges at the end of each UTC day, per chain,
-- under both taxonomies, and each kind's share of all exchange-held supply of the token.
-- Grain: date x chain x token x taxonomy x kind.
-- Source: marts.exchange_reserves_daily.
-- Token sums go through DECIMAL(38, 6) (the tokens' base unit): exact, so the result does not
-- depend on the order DuckDB's threads add rows in, and a rebuild gives identical bytes.
WITH classified AS (
    SELECT date, chain, token, 'offers_derivatives' AS taxonomy, kind, reserve_tokens
    FROM marts.exchange_reserves_daily
    UNION ALL
    SELECT date, chain, token, 'main_business' AS taxonomy, main_business AS kind, reserve_tokens
    FROM marts.exchange_reserves_daily
),

by_kind AS (
    SELECT
        date,
        chain,
        token,
        taxonomy,
        kind,
        sum(reserve_tokens::DECIMAL(38, 6))::DOUBLE AS reserve_tokens,
        count(*) FILTER (WHERE reserve_tokens > 0) AS exchanges_with_reserve
    FROM classified
    GROUP BY date, chain, token, taxonomy, kind
)

SELECT
    date,
    chain,
    token,
    taxonomy,
    kind,
    reserve_tokens,
    reserve_tokens / nullif(sum(reserve_tokens) OVER (PARTITION BY date, chain, token, taxonomy), 0)
        AS share_of_exchange_total,
    exchanges_with_reserve
FROM by_kind
ORDER BY date, chain, token, taxonomy, kind
