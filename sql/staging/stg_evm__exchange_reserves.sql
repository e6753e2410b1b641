-- Staging: USDT/USDC held by each labelled exchange at each UTC day's closing block.
-- Grain: date x chain x token x exchange. Every labelled exchange has a row, zero included.
-- Source: raw.evm_exchange_reserves (balanceOf() of the wallets in sql/seeds/exchange_labels.csv).
-- balance_tokens renamed reserve_tokens (DOUBLE whole tokens).
-- Deduplicated on (date, chain, token, exchange), latest ingested_at wins; ingested_at dropped.
SELECT
    cast(date AS DATE)                     AS date,
    lower(chain)                           AS chain,
    upper(token)                           AS token,
    exchange,
    cast(balance_tokens AS DOUBLE)         AS reserve_tokens,
    cast(addresses_with_balance AS BIGINT) AS wallets_with_balance,
    label_version,
    source
FROM raw.evm_exchange_reserves
QUALIFY row_number() OVER (
    PARTITION BY date, lower(chain), upper(token), exchange ORDER BY ingested_at DESC
) = 1
