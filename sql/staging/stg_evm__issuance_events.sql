-- Staging: every USDT/USDC mint and burn event, one row per log.
-- Grain: chain x block_number x log_index (one event log).
-- Source: raw.evm_issuance_events (JSON-RPC eth_getLogs: USDT Issue/Redeem/DestroyedBlackFunds,
-- USDC Mint/Burn). Amounts as DOUBLE whole tokens.
-- Deduplicated on (chain, block_number, log_index), latest ingested_at wins; ingested_at dropped.
SELECT
    cast(date AS DATE)             AS date,
    lower(chain)                   AS chain,
    upper(token)                   AS token,
    cast(block_number AS BIGINT)   AS block_number,
    lower(tx_hash)                 AS tx_hash,
    cast(log_index AS BIGINT)      AS log_index,
    event,
    lower(direction)               AS direction,
    lower(account)                 AS account,
    cast(amount_tokens AS DOUBLE)  AS amount_tokens,
    source
FROM raw.evm_issuance_events
QUALIFY row_number() OVER (
    PARTITION BY lower(chain), block_number, log_index ORDER BY ingested_at DESC
) = 1
