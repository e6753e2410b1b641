-- Staging: USDT/USDC transfers into and out of each labelled exchange per UTC day.
-- Grain: date x chain x token x exchange. Transfers between wallets of the same exchange are
-- not counted; between two exchanges they are an outflow of one and an inflow of the other.
-- Source: raw.evm_exchange_flows (JSON-RPC eth_getLogs Transfer, wallets from the label file).
-- Amounts as DOUBLE whole tokens.
-- Deduplicated on (date, chain, token, exchange), latest ingested_at wins; ingested_at dropped.
SELECT
    cast(date AS DATE)             AS date,
    lower(chain)                   AS chain,
    upper(token)                   AS token,
    exchange,
    cast(inflow_tokens AS DOUBLE)  AS inflow_tokens,
    cast(outflow_tokens AS DOUBLE) AS outflow_tokens,
    cast(netflow_tokens AS DOUBLE) AS netflow_tokens,
    cast(transfers_in AS BIGINT)   AS transfers_in,
    cast(transfers_out AS BIGINT)  AS transfers_out,
    label_version,
    source
FROM raw.evm_exchange_flows
QUALIFY row_number() OVER (
    PARTITION BY date, lower(chain), upper(token), exchange ORDER BY ingested_at DESC
) = 1
