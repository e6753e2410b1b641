-- Staging: every USDT/USDC mint and burn event, one row per log, with who minted or burned it.
-- Grain: chain x block_number x log_index (one event log).
-- Source: raw.evm_issuance_events (JSON-RPC eth_getLogs: USDT Issue/Redeem/DestroyedBlackFunds,
-- USDC Mint/Burn). Amounts as DOUBLE whole tokens.
-- channel: 'bridged' for a bridged token's (raw.evm_tokens.bridged), 'cctp' or 'gateway' when the
-- minter or burner is one of Circle's cross-chain contracts, CCTP's TokenMinter or Gateway's
-- GatewayMinter / GatewayWallet (raw.cctp_minters.protocol, the seed sql/seeds/cctp_minters.csv:
-- USDC moved between chains, burned on one and minted on the other; a row written before the
-- seed had a protocol was CCTP's), 'unknown' for a USDC Mint or Burn read
-- before stableflow kept its minter or burner (raw operator NULL: re-ingest the day to split it),
-- 'frozen' for USDT's DestroyedBlackFunds (a blacklisted holder's balance destroyed, not a
-- redemption), else 'issuer'. Classified here, at
-- query time, so a reviewed seed change re-classifies the whole history without a chain read.
-- Deduplicated on (chain, block_number, log_index), latest ingested_at wins; ingested_at dropped.
SELECT
    cast(e.date AS DATE)            AS date,
    lower(e.chain)                  AS chain,
    upper(e.token)                  AS token,
    cast(e.block_number AS BIGINT)  AS block_number,
    lower(e.tx_hash)                AS tx_hash,
    cast(e.log_index AS BIGINT)     AS log_index,
    e.event,
    lower(e.direction)              AS direction,
    lower(e.account)                AS account,
    lower(e.operator)               AS operator,
    CASE
        WHEN t.bridged THEN 'bridged'
        WHEN m.address IS NOT NULL THEN coalesce(m.protocol, 'cctp')
        -- Tether destroying a blacklisted holder's balance: frozen funds, not a redemption
        WHEN e.event = 'DestroyedBlackFunds' THEN 'frozen'
        WHEN e.operator IS NULL AND e.event IN ('Mint', 'Burn') THEN 'unknown'
        ELSE 'issuer'
    END                             AS channel,
    cast(e.amount_tokens AS DOUBLE) AS amount_tokens,
    e.source
FROM raw.evm_issuance_events AS e
LEFT JOIN raw.evm_tokens AS t
    ON lower(e.chain) = t.chain AND upper(e.token) = t.token
LEFT JOIN raw.cctp_minters AS m
    ON lower(e.chain) = m.chain AND lower(e.operator) = lower(m.address)
QUALIFY row_number() OVER (
    PARTITION BY lower(e.chain), e.block_number, e.log_index ORDER BY e.ingested_at DESC
) = 1
