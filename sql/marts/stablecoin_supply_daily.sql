-- Mart: USDT/USDC supply per chain and UTC day from DefiLlama and from on-chain totalSupply(),
-- side by side, with their difference and ratio.
-- Grain: date x token x chain; a row for every (date, token, chain) either source has.
-- chain = 'all' rows carry DefiLlama's all-chain totals (no on-chain counterpart: NULL).
-- Sources: staging.stg_defillama__token_supply_by_chain (per chain),
--          staging.stg_defillama__token_supply (all chains, chain = 'all'),
--          staging.stg_evm__token_supply (on-chain totalSupply() at the closing block).
WITH defillama AS (
    SELECT date, token, chain, circulating_tokens AS supply_defillama_tokens
    FROM staging.stg_defillama__token_supply_by_chain
    UNION ALL
    SELECT date, token, 'all' AS chain, circulating_tokens AS supply_defillama_tokens
    FROM staging.stg_defillama__token_supply
),
onchain AS (
    SELECT date, token, chain, supply_tokens AS supply_onchain_tokens
    FROM staging.stg_evm__token_supply
)
SELECT
    date,
    token,
    chain,
    d.supply_defillama_tokens,
    o.supply_onchain_tokens,
    o.supply_onchain_tokens - d.supply_defillama_tokens AS supply_difference_tokens,
    o.supply_onchain_tokens / nullif(d.supply_defillama_tokens, 0) AS supply_ratio
FROM defillama AS d
FULL OUTER JOIN onchain AS o USING (date, token, chain)
ORDER BY date, token, chain
