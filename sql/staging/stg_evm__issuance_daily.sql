-- Staging: minted, burned and net USDT/USDC per chain and UTC day (zero on days without events).
-- Grain: date x chain x token.
-- Source: raw.evm_issuance_daily (daily sums of raw.evm_issuance_events, JSON-RPC eth_getLogs).
-- Amounts as DOUBLE whole tokens; events renamed event_count.
-- Deduplicated on (date, chain, token), latest ingested_at wins; ingested_at dropped.
SELECT
    cast(date AS DATE)            AS date,
    lower(chain)                  AS chain,
    upper(token)                  AS token,
    cast(minted_tokens AS DOUBLE) AS minted_tokens,
    cast(burned_tokens AS DOUBLE) AS burned_tokens,
    cast(net_tokens AS DOUBLE)    AS net_tokens,
    cast(events AS BIGINT)        AS event_count,
    source
FROM raw.evm_issuance_daily
QUALIFY row_number() OVER (
    PARTITION BY date, lower(chain), upper(token) ORDER BY ingested_at DESC
) = 1
