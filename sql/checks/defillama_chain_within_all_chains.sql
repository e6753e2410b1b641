-- Ceiling: no chain holds more of a token than all chains together (assets/ingest/plausibility.yaml,
-- "chain within all chains"). One row per token, chain and day with both values; the check
-- fails a row whose value is above the configured multiple of its ceiling.
SELECT c.date, c.token, c.chain, c.circulating_tokens AS value, t.circulating_tokens AS ceiling
FROM raw.defillama_token_supply_by_chain AS c
JOIN raw.defillama_token_supply AS t USING (date, token)
ORDER BY ALL;
