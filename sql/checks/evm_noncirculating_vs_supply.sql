-- Reconciliation: raw.evm_token_supply.noncirculating_raw is the sum of the counted rows of
-- raw.evm_noncirculating_balances at the same closing block (both written by one step), and
-- never more than totalSupply(). One row per chain, token and day the supply row has a sum.
SELECT
    s.date, s.chain, s.token,
    abs(s.noncirculating_raw - coalesce(sum(n.balance_raw) FILTER (WHERE n.counted), 0))::DOUBLE
        AS difference_raw,
    (s.noncirculating_raw > s.supply_raw) AS above_supply
FROM raw.evm_token_supply AS s
LEFT JOIN raw.evm_noncirculating_balances AS n
    ON
        s.date = n.date AND s.chain = n.chain AND s.token = n.token
        AND s.block_number = n.block_number
WHERE s.noncirculating_raw IS NOT NULL
GROUP BY s.date, s.chain, s.token, s.noncirculating_raw, s.supply_raw
ORDER BY ALL;
