-- Reconciliation: on-chain Ethereum totalSupply against DefiLlama's Ethereum circulating
-- series for the same token and day, as a relative difference (days both sources have).
-- DefiLlama excludes tokens it counts as unreleased (e.g. issuer treasury), so live
-- values differ by a few percent at times; the suite allows 5%.
SELECT
    s.date, s.token,
    abs(s.supply_tokens - d.circulating_tokens) / d.circulating_tokens AS relative_difference
FROM raw.evm_token_supply AS s
JOIN raw.defillama_token_supply_by_chain AS d
    ON s.date = d.date AND s.token = d.token AND d.chain = 'Ethereum'
WHERE s.chain = 'ethereum' AND d.circulating_tokens > 0
ORDER BY ALL;
