-- Mart: what the exchange labels cover, per exchange and chain: labelled wallets by role, the
-- days any of them held USDT/USDC, and the exchange's share of labelled reserves on the chain.
-- Grain: exchange x chain. Every (exchange, chain) with a label has a row, also on chains the
-- pipeline does not read (chain_read = false: no balances known there).
-- Sources: raw.exchange_labels, staging.stg_evm__exchange_reserves, marts.exchanges.
-- Token sums go through DECIMAL(38, 6) (the tokens' base unit): exact, so the result does not
-- depend on the order DuckDB's threads add rows in, and a rebuild gives identical bytes.
WITH labels AS (
    SELECT
        exchange,
        chain,
        count(*)                                          AS labelled_wallets,
        count(*) FILTER (WHERE wallet_role = 'hot')       AS hot_wallets,
        count(*) FILTER (WHERE wallet_role = 'cold')      AS cold_wallets,
        count(*) FILTER (WHERE wallet_role = 'deposit')   AS deposit_wallets,
        count(*) FILTER (WHERE wallet_role = 'reserve')   AS reserve_wallets,
        count(*) FILTER (WHERE wallet_role = 'unknown')   AS unknown_role_wallets,
        string_agg(DISTINCT source, ',' ORDER BY source)  AS label_sources
    FROM raw.exchange_labels
    GROUP BY exchange, chain
),

held AS (
    SELECT
        exchange,
        chain,
        min(date) FILTER (WHERE reserve_tokens > 0)          AS first_day_with_balance,
        max(date) FILTER (WHERE reserve_tokens > 0)          AS last_day_with_balance,
        count(DISTINCT date) FILTER (WHERE reserve_tokens > 0) AS days_with_balance,
        max(wallets_with_balance)                            AS most_wallets_with_balance
    FROM staging.stg_evm__exchange_reserves
    GROUP BY exchange, chain
),

last_day AS (
    SELECT * FROM staging.stg_evm__exchange_reserves
    QUALIFY date = max(date) OVER (PARTITION BY chain)
),

latest AS (
    SELECT
        exchange,
        chain,
        max(date)                                         AS latest_date,
        sum(reserve_tokens::DECIMAL(38, 6)) FILTER (WHERE token = 'USDT')::DOUBLE
            AS latest_usdt_tokens,
        sum(reserve_tokens::DECIMAL(38, 6)) FILTER (WHERE token = 'USDC')::DOUBLE
            AS latest_usdc_tokens
    FROM last_day
    GROUP BY exchange, chain
),

read_chains AS (
    SELECT DISTINCT chain FROM staging.stg_evm__exchange_reserves
)

SELECT
    l.exchange,
    l.chain,
    e.kind,
    e.main_business,
    l.chain IN (SELECT chain FROM read_chains)            AS chain_read,
    l.labelled_wallets,
    l.hot_wallets,
    l.cold_wallets,
    l.deposit_wallets,
    l.reserve_wallets,
    l.unknown_role_wallets,
    l.label_sources,
    h.most_wallets_with_balance,
    h.first_day_with_balance,
    h.last_day_with_balance,
    h.days_with_balance,
    t.latest_date,
    t.latest_usdt_tokens,
    t.latest_usdc_tokens,
    (t.latest_usdt_tokens + t.latest_usdc_tokens)
    / nullif(sum((t.latest_usdt_tokens + t.latest_usdc_tokens)::DECIMAL(38, 6))
        OVER (PARTITION BY l.chain), 0)::DOUBLE
        AS share_of_labelled_reserves
FROM labels AS l
LEFT JOIN marts.exchanges AS e USING (exchange)
LEFT JOIN held AS h USING (exchange, chain)
LEFT JOIN latest AS t USING (exchange, chain)
ORDER BY l.exchange, l.chain
