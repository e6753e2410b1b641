-- Staging: on-chain totalSupply() of USDT and USDC per chain at each UTC day's closing block.
-- Grain: date x chain x token.
-- Source: raw.evm_token_supply (JSON-RPC totalSupply() at the closing block, raw.evm_day_blocks,
-- and the balances of sql/seeds/noncirculating_wallets.csv's wallets at the same block).
-- Amounts as DOUBLE whole tokens (the exact base-unit DECIMAL stays in raw for reconciliation).
-- Deduplicated on (date, chain, token), latest ingested_at wins; ingested_at dropped.
SELECT
    cast(date AS DATE)            AS date,
    lower(chain)                  AS chain,
    upper(token)                  AS token,
    cast(block_number AS BIGINT)  AS block_number,
    cast(supply_tokens AS DOUBLE) AS supply_tokens,
    cast(noncirculating_tokens AS DOUBLE) AS noncirculating_tokens,
    cast(supply_tokens - noncirculating_tokens AS DOUBLE) AS circulating_tokens,
    source
FROM raw.evm_token_supply
QUALIFY row_number() OVER (
    PARTITION BY date, lower(chain), upper(token) ORDER BY ingested_at DESC
) = 1
