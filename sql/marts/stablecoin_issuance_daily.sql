-- Mart: USDT/USDC minted, burned and net per token and UTC day (summed over the ingested
-- chains, issuer tokens only: a bridged token's mints mirror tokens locked on another chain),
-- with event counts and the largest single mint of the day; minted and burned also split by
-- channel: the issuer's own vs Circle's cross-chain moves of native USDC by CCTP or by Gateway (a
-- burn on one chain and a mint on the other, so in the gross columns on both chains; staging
-- channels 'cctp' and 'gateway').
-- Grain: date x token. Every day has a row (zero on days without events).
-- Sources: staging.stg_evm__issuance_daily (daily sums), staging.stg_evm__issuance_events
--          (per-event counts, largest mint, the split by channel).
WITH daily AS (
    SELECT
        date,
        token,
        -- exact sums (DECIMAL, the tokens' 6 decimals): no float noise such as
        -- -107482504.00000003 in a sum of whole-token amounts, identical on every rebuild
        sum(minted_tokens::DECIMAL(38, 6))::DOUBLE AS minted_tokens,
        sum(burned_tokens::DECIMAL(38, 6))::DOUBLE AS burned_tokens,
        sum(net_tokens::DECIMAL(38, 6))::DOUBLE    AS net_tokens,
        sum(event_count)   AS event_count,
        -- which chains' issuance the sums hold: a chain not ingested that day is missing here
        string_agg(DISTINCT chain, ',' ORDER BY chain) AS chains
    FROM staging.stg_evm__issuance_daily
    WHERE (
        chain, token) NOT IN (
        SELECT (chain, token) FROM raw.evm_tokens
        WHERE bridged
    )
    GROUP BY date, token
),

events AS (
    SELECT
        date,
        token,
        count(*) FILTER (WHERE direction = 'mint')                        AS mint_count,
        count(*) FILTER (WHERE direction = 'burn')                        AS burn_count,
        max(amount_tokens) FILTER (WHERE direction = 'mint')              AS largest_mint_tokens,
        first(tx_hash ORDER BY amount_tokens DESC, block_number ASC, log_index ASC) FILTER (
            WHERE direction = 'mint'
        ) AS largest_mint_tx_hash,
        -- The split, from the events themselves (the daily sums carry no channel): the check
        -- channels_sum_to_gross holds issuer + cctp + gateway (+ frozen) against the gross columns.
        -- events read before the operator was kept: the day's split is unknown (NULL)
        count(*) FILTER (WHERE channel = 'unknown') AS unknown_count,
        sum(amount_tokens::DECIMAL(38, 6)) FILTER (
            WHERE direction = 'mint' AND channel = 'issuer'
        )::DOUBLE AS minted_issuer_tokens,
        sum(amount_tokens::DECIMAL(38, 6)) FILTER (
            WHERE direction = 'mint' AND channel = 'cctp'
        )::DOUBLE AS minted_cctp_tokens,
        sum(amount_tokens::DECIMAL(38, 6)) FILTER (
            WHERE direction = 'burn' AND channel = 'issuer'
        )::DOUBLE AS burned_issuer_tokens,
        sum(amount_tokens::DECIMAL(38, 6)) FILTER (
            WHERE direction = 'burn' AND channel = 'cctp'
        )::DOUBLE AS burned_cctp_tokens,
        sum(amount_tokens::DECIMAL(38, 6)) FILTER (
            WHERE direction = 'mint' AND channel = 'gateway'
        )::DOUBLE AS minted_gateway_tokens,
        sum(amount_tokens::DECIMAL(38, 6)) FILTER (
            WHERE direction = 'burn' AND channel = 'gateway'
        )::DOUBLE AS burned_gateway_tokens,
        sum(amount_tokens::DECIMAL(38, 6)) FILTER (
            WHERE direction = 'burn' AND channel = 'frozen'
        )::DOUBLE AS burned_frozen_tokens,
        -- "Circle minted $X": the largest mint by the issuer itself, cross-chain mints left out
        max(amount_tokens) FILTER (
            WHERE direction = 'mint' AND channel = 'issuer'
        ) AS largest_issuer_mint_tokens,
        first(tx_hash ORDER BY amount_tokens DESC, block_number ASC, log_index ASC) FILTER (
            WHERE direction = 'mint' AND channel = 'issuer'
        ) AS largest_issuer_mint_tx_hash
    FROM staging.stg_evm__issuance_events
    WHERE (
        chain, token) NOT IN (
        SELECT (chain, token) FROM raw.evm_tokens
        WHERE bridged
    )
    GROUP BY date, token
)

SELECT
    date,
    token,
    d.minted_tokens,
    d.burned_tokens,
    d.net_tokens,
    d.event_count,
    coalesce(e.mint_count, 0) AS mint_count,
    coalesce(e.burn_count, 0) AS burn_count,
    e.largest_mint_tokens,
    e.largest_mint_tx_hash,
    if(coalesce(e.unknown_count, 0) = 0, coalesce(e.minted_issuer_tokens, 0), NULL)
        AS minted_issuer_tokens,
    if(coalesce(e.unknown_count, 0) = 0, coalesce(e.minted_cctp_tokens, 0), NULL)
        AS minted_cctp_tokens,
    if(coalesce(e.unknown_count, 0) = 0, coalesce(e.burned_issuer_tokens, 0), NULL)
        AS burned_issuer_tokens,
    if(coalesce(e.unknown_count, 0) = 0, coalesce(e.burned_cctp_tokens, 0), NULL)
        AS burned_cctp_tokens,
    if(coalesce(e.unknown_count, 0) = 0, coalesce(e.minted_gateway_tokens, 0), NULL)
        AS minted_gateway_tokens,
    if(coalesce(e.unknown_count, 0) = 0, coalesce(e.burned_gateway_tokens, 0), NULL)
        AS burned_gateway_tokens,
    if(coalesce(e.unknown_count, 0) = 0, coalesce(e.burned_frozen_tokens, 0), NULL)
        AS burned_frozen_tokens,
    if(coalesce(e.unknown_count, 0) = 0, e.largest_issuer_mint_tokens, NULL)
        AS largest_issuer_mint_tokens,
    if(coalesce(e.unknown_count, 0) = 0, e.largest_issuer_mint_tx_hash, NULL)
        AS largest_issuer_mint_tx_hash,
    d.chains
FROM daily AS d
FULL OUTER JOIN events AS e USING (date, token)
ORDER BY date, token
