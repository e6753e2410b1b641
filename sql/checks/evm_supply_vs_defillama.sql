-- Reconciliation: on-chain Ethereum circulating supply (totalSupply less the balances of
-- sql/seeds/noncirculating_wallets.csv's wallets: issuer treasury, bridge escrows, as DefiLlama
-- leaves them out) against DefiLlama's Ethereum circulating series for the same token and day,
-- as a relative difference (days both sources have; rows read before stableflow read those
-- wallets compare nothing). Escrows of bridges the seed does not list still count on chain;
-- the suite allows 5%.
SELECT
    s.date, s.token,
    abs(s.supply_tokens - s.noncirculating_tokens - d.circulating_tokens)
    / d.circulating_tokens AS relative_difference
FROM raw.evm_token_supply AS s
JOIN raw.defillama_token_supply_by_chain AS d
    ON s.date = d.date AND s.token = d.token AND d.chain = 'Ethereum'
WHERE
    s.chain = 'ethereum' AND d.circulating_tokens > 0
    AND s.noncirculating_tokens IS NOT NULL
ORDER BY ALL;
