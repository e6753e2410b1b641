-- Mart: the share of each token's on-chain supply that sits on labelled exchange wallets, per
-- chain and UTC day.
-- Grain: date x chain x token.
-- Sources: staging.stg_evm__exchange_reserves, staging.stg_evm__token_supply.
-- Token sums go through DECIMAL(38, 6) (the tokens' base unit): exact, so the result does not
-- depend on the order DuckDB's threads add rows in, and a rebuild gives identical bytes.
WITH held AS (
    SELECT
        date, chain, token, sum(reserve_tokens::DECIMAL(38, 6))::DOUBLE AS labelled_exchange_tokens
    FROM staging.stg_evm__exchange_reserves
    GROUP BY date, chain, token
)

SELECT
    s.date,
    s.chain,
    s.token,
    h.labelled_exchange_tokens,
    s.supply_tokens,
    h.labelled_exchange_tokens / nullif(s.supply_tokens, 0) AS share_of_supply,
    s.circulating_tokens,
    h.labelled_exchange_tokens / nullif(s.circulating_tokens, 0) AS share_of_circulating
FROM staging.stg_evm__token_supply AS s
LEFT JOIN held AS h USING (date, chain, token)
ORDER BY s.date, s.chain, s.token
