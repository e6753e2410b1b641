-- Reconciliation: under each taxonomy, spot + derivatives reserves equal the reserves of all
-- exchanges, per chain, token and day, as a relative difference (expected 0 up to float
-- rounding).
WITH t AS (
    SELECT date, chain, token, sum(reserve_tokens) AS reserve_tokens
    FROM marts.exchange_reserves_daily
    GROUP BY ALL
)

SELECT
    k.date, k.chain, k.token, k.taxonomy,
    abs(k.reserve_tokens - t.reserve_tokens) / greatest(t.reserve_tokens, 1) AS relative_difference
FROM (
    SELECT date, chain, token, taxonomy, sum(reserve_tokens) AS reserve_tokens
    FROM marts.exchange_reserves_by_kind_daily
    GROUP BY ALL
) AS k
JOIN t
    USING (date, chain, token)
ORDER BY ALL;
