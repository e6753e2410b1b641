-- Reconciliation: spot + derivatives reserves equal the reserves of all exchanges, per token
-- and day, as a relative difference (expected 0 up to float rounding).
SELECT k.date, k.token,
       abs(k.reserve_tokens - t.reserve_tokens) / greatest(t.reserve_tokens, 1) AS relative_difference
FROM (SELECT date, token, sum(reserve_tokens) AS reserve_tokens
      FROM marts.exchange_reserves_by_kind_daily GROUP BY ALL) AS k
JOIN (SELECT date, token, sum(reserve_tokens) AS reserve_tokens
      FROM marts.exchange_reserves_daily GROUP BY ALL) AS t USING (date, token)
ORDER BY ALL;
