-- Mart: every labelled exchange with both spot/derivatives taxonomies, the reason for each,
-- and where its labelled wallets are.
-- Grain: exchange.
-- Sources: raw.exchanges (sql/seeds/exchanges.csv), raw.exchange_labels.
WITH wallets AS (
    SELECT
        exchange,
        count(*)                                         AS labelled_wallets,
        string_agg(DISTINCT chain, ',' ORDER BY chain)   AS labelled_chains
    FROM raw.exchange_labels
    GROUP BY exchange
)

SELECT
    e.exchange,
    e.name,
    CASE WHEN e.offers_derivatives THEN 'derivatives' ELSE 'spot' END AS kind,
    e.offers_derivatives,
    e.main_business,
    e.offers_derivatives_reason,
    e.main_business_reason,
    e.coingecko_spot_id,
    e.coingecko_derivatives_id,
    coalesce(w.labelled_wallets, 0)                      AS labelled_wallets,
    w.labelled_chains,
    e.label_version
FROM raw.exchanges AS e
LEFT JOIN wallets AS w USING (exchange)
ORDER BY e.exchange
