-- Mart: USDT/USDC held by each labelled exchange at the end of each UTC day, summed over the
-- ingested chains, with the exchange's kind (spot / derivatives).
-- Grain: date x token x exchange x kind. Every labelled exchange has a row, zero included.
-- Source: staging.stg_evm__exchange_reserves (balanceOf() at each day's closing block).
SELECT
    date,
    token,
    exchange,
    kind,
    sum(reserve_tokens)       AS reserve_tokens,
    sum(wallets_with_balance) AS wallets_with_balance
FROM staging.stg_evm__exchange_reserves
GROUP BY date, token, exchange, kind
ORDER BY date, token, exchange, kind
