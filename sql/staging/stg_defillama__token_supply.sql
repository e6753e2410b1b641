-- Staging: circulating supply of USDT and USDC across all chains, one row per token and UTC day.
-- Grain: date x token. Value dated D is the close of D (UTC): DefiLlama's row stamped D+1 00:00,
-- its first snapshot after midnight (assets/ingest/DEFILLAMA_TIMING.md).
-- Source: raw.defillama_token_supply (DefiLlama /stablecoincharts/all?stablecoin={1,2}).
-- Deduplicated on (date, token), latest ingested_at wins; ingested_at dropped.
SELECT
    cast(date AS DATE)                 AS date,
    upper(token)                       AS token,
    cast(circulating_tokens AS DOUBLE) AS circulating_tokens,
    source
FROM raw.defillama_token_supply
QUALIFY row_number() OVER (PARTITION BY date, upper(token) ORDER BY ingested_at DESC) = 1
