-- Reconciliation: the issuer, CCTP and Gateway parts of minted and burned, and the frozen funds
-- Tether destroyed (of burned), summed from the events, add up to the gross minted and burned
-- (from the daily sums), per token and day, as the larger
-- relative difference of the two (expected 0 up to float rounding). Both come from the same logs, so a
-- difference means the events and the daily sums disagree: an event lost, doubled, or in no
-- channel counted here. Days not split (events read before the operator was kept) are left out.
SELECT
    date, token,
    greatest(
        abs(
            minted_issuer_tokens + minted_cctp_tokens + minted_gateway_tokens
            - coalesce(minted_tokens, 0)
        )
        / greatest(coalesce(minted_tokens, 0), 1),
        abs(
            burned_issuer_tokens + burned_cctp_tokens + burned_gateway_tokens
            + burned_frozen_tokens - coalesce(burned_tokens, 0)
        )
        / greatest(coalesce(burned_tokens, 0), 1)
    ) AS relative_difference
FROM marts.stablecoin_issuance_daily
WHERE minted_issuer_tokens IS NOT NULL
ORDER BY ALL;
