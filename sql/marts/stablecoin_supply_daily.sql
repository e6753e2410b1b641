-- Mart: USDT/USDC supply per chain and UTC day from DefiLlama and from on-chain totalSupply(),
-- side by side, with their difference and ratio.
-- Grain: date x token x chain; a row for every (date, token, chain) either source has.
-- chain = 'all' rows carry DefiLlama's all-chain totals (no on-chain counterpart: NULL).
-- Sources: staging.stg_defillama__token_supply_by_chain (per chain),
--          staging.stg_defillama__token_supply (all chains, chain = 'all'),
--          staging.stg_evm__token_supply (on-chain totalSupply() at the closing block, and what
--          circulates: less the noncirculating wallets' balances),
--          raw.known_incomplete_history (days DefiLlama's all-chain series is known to miss
--          part of the supply: supply_incomplete on the chain = 'all' rows).
WITH defillama AS (
    SELECT date, token, chain, circulating_tokens AS supply_defillama_tokens
    FROM staging.stg_defillama__token_supply_by_chain
    UNION ALL
    SELECT date, token, 'all' AS chain, circulating_tokens AS supply_defillama_tokens
    FROM staging.stg_defillama__token_supply
),

onchain AS (
    SELECT
        date,
        token,
        chain,
        supply_tokens AS supply_onchain_tokens,
        circulating_tokens AS circulating_onchain_tokens
    FROM staging.stg_evm__token_supply
),

joined AS (
    SELECT
        date,
        token,
        chain,
        d.supply_defillama_tokens,
        o.supply_onchain_tokens,
        o.supply_onchain_tokens - d.supply_defillama_tokens AS supply_difference_tokens,
        o.supply_onchain_tokens / nullif(d.supply_defillama_tokens, 0) AS supply_ratio,
        o.circulating_onchain_tokens,
        o.circulating_onchain_tokens / nullif(d.supply_defillama_tokens, 0) AS circulating_ratio
    FROM defillama AS d
    FULL OUTER JOIN onchain AS o USING (date, token, chain)
),

-- A token's all-chain DefiLlama series on the days it is known to be incomplete.
incomplete AS (
    SELECT
        j.date,
        j.token,
        string_agg(k.reason, ' ' ORDER BY k.incomplete_before) AS reason
    FROM joined AS j
    JOIN raw.known_incomplete_history AS k
        ON
            k.source = 'defillama' AND j.token = k.series AND j.chain = 'all'
            AND j.supply_defillama_tokens IS NOT NULL
            AND j.date >= coalesce(k.incomplete_from, j.date) AND j.date < k.incomplete_before
    GROUP BY j.date, j.token
)

SELECT
    j.*,
    i.reason IS NOT NULL AS supply_incomplete,
    i.reason             AS supply_incomplete_reason
FROM joined AS j
LEFT JOIN incomplete AS i ON j.date = i.date AND j.token = i.token AND j.chain = 'all'
ORDER BY date, token, chain
