-- Mart: USDT/USDC flowing into and out of labelled exchanges per kind (spot / derivatives),
-- per chain, under both taxonomies.
-- Grain: date x chain x token x taxonomy x kind. A transfer between two exchanges counts as an
-- outflow of one and an inflow of the other, so within one kind it appears in both inflow and
-- outflow (it cancels in netflow).
-- Sources: staging.stg_evm__exchange_flows, marts.exchanges.
-- Token sums go through DECIMAL(38, 6) (the tokens' base unit): exact, so the result does not
-- depend on the order DuckDB's threads add rows in, and a rebuild gives identical bytes.
WITH flows AS (
    SELECT f.*, e.kind, e.main_business
    FROM staging.stg_evm__exchange_flows AS f
    LEFT JOIN marts.exchanges AS e USING (exchange)
),

classified AS (
    SELECT *, 'offers_derivatives' AS taxonomy, kind AS class FROM flows
    UNION ALL
    SELECT *, 'main_business' AS taxonomy, main_business AS class FROM flows
)

SELECT
    date,
    chain,
    token,
    taxonomy,
    class               AS kind,
    sum(inflow_tokens::DECIMAL(38, 6))::DOUBLE  AS inflow_tokens,
    sum(outflow_tokens::DECIMAL(38, 6))::DOUBLE AS outflow_tokens,
    sum(netflow_tokens::DECIMAL(38, 6))::DOUBLE AS netflow_tokens,
    sum(transfers_in)   AS transfers_in,
    sum(transfers_out)  AS transfers_out
FROM classified
GROUP BY date, chain, token, taxonomy, class
ORDER BY date, chain, token, taxonomy, kind
