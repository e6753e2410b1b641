-- Mart: USDT/USDC flowing into and out of labelled exchanges per kind (spot / derivatives)
-- and UTC day, summed over exchanges and the ingested chains.
-- Grain: date x token x kind. A transfer between two exchanges counts as an outflow of one and
-- an inflow of the other, so within one kind it appears in both inflow and outflow (it cancels
-- in netflow).
-- Source: staging.stg_evm__exchange_flows (Transfer logs of the labelled wallets).
SELECT
    date,
    token,
    kind,
    sum(inflow_tokens)  AS inflow_tokens,
    sum(outflow_tokens) AS outflow_tokens,
    sum(netflow_tokens) AS netflow_tokens,
    sum(transfers_in)   AS transfers_in,
    sum(transfers_out)  AS transfers_out
FROM staging.stg_evm__exchange_flows
GROUP BY date, token, kind
ORDER BY date, token, kind
