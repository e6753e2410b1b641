-- Ceiling: all labelled exchanges together never hold more of a token than its totalSupply()
-- on the chain (assets/ingest/plausibility.yaml, "reserves within supply": balances of distinct
-- wallets sum to at most totalSupply(), and each wallet is labelled for one exchange).
-- One row per chain, token and day with both values, in base units.
SELECT
    r.date, r.chain, r.token, sum(r.balance_raw)::DOUBLE AS value,
    any_value(s.supply_raw)::DOUBLE AS ceiling
FROM raw.evm_exchange_reserves AS r
JOIN raw.evm_token_supply AS s USING (date, chain, token)
GROUP BY r.date, r.chain, r.token
ORDER BY ALL;
