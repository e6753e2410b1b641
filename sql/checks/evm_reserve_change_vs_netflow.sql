-- Reconciliation: each exchange's day-on-day reserve change equals its netflow that day.
-- One row per chain, token, exchange and day with a stored previous day; difference_raw must be 0.
-- Rows of different label versions are not compared (the set of wallets changed).
SELECT
    r.date, r.chain, r.token, r.exchange,
    (r.balance_raw - lag(r.balance_raw) OVER w) - f.netflow_raw AS difference_raw
FROM raw.evm_exchange_reserves AS r
JOIN raw.evm_exchange_flows AS f USING (date, chain, token, exchange, label_version)
WINDOW w AS (PARTITION BY r.chain, r.token, r.exchange, r.label_version ORDER BY r.date)
QUALIFY lag(r.date) OVER w = r.date - INTERVAL 1 DAY
ORDER BY ALL;
