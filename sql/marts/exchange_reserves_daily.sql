-- Mart: USDT/USDC held by each labelled exchange at the end of each UTC day, per chain, with
-- the exchange's class under both taxonomies.
-- Grain: date x chain x token x exchange. Every exchange labelled on the chain has a row, zero
-- included.
-- Sources: staging.stg_evm__exchange_reserves, marts.exchanges.
SELECT
    r.date,
    r.chain,
    r.token,
    r.exchange,
    e.kind,
    e.main_business,
    r.reserve_tokens,
    r.wallets_with_balance
FROM staging.stg_evm__exchange_reserves AS r
LEFT JOIN marts.exchanges AS e USING (exchange)
ORDER BY r.date, r.chain, r.token, r.exchange
