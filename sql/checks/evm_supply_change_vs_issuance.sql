-- Reconciliation: each day's change in on-chain totalSupply equals minted - burned that day.
-- One row per chain, token and day that has a stored previous day; difference_raw must be 0.
SELECT
    s.date, s.chain, s.token,
    (s.supply_raw - lag(s.supply_raw) OVER w) - i.net_raw AS difference_raw
FROM raw.evm_token_supply AS s
JOIN raw.evm_issuance_daily AS i USING (date, chain, token)
WINDOW w AS (PARTITION BY s.chain, s.token ORDER BY s.date)
QUALIFY lag(s.date) OVER w = s.date - INTERVAL 1 DAY
ORDER BY ALL;
