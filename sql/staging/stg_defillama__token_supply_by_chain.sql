-- Staging: circulating supply of USDT and USDC per chain, one row per token, chain and UTC day.
-- Grain: date x token x chain. Only days DefiLlama reports for that chain (no gap filling).
-- Value dated D is the close of D (UTC): DefiLlama's row stamped D+1 00:00 (DEFILLAMA_TIMING.md).
-- Source: raw.defillama_token_supply_by_chain (DefiLlama /stablecoin/{1,2} chainBalances from 2022-05-11,
-- /stablecoincharts/{Chain}?stablecoin={1,2} for configured chains before).
-- Chain names lower-cased ('Ethereum' -> 'ethereum') to match the on-chain tables.
-- Deduplicated on (date, token, chain), latest ingested_at wins; ingested_at dropped.
SELECT
    cast(date AS DATE)                 AS date,
    upper(token)                       AS token,
    lower(chain)                       AS chain,
    cast(circulating_tokens AS DOUBLE) AS circulating_tokens,
    source
FROM raw.defillama_token_supply_by_chain
QUALIFY row_number() OVER (
    PARTITION BY date, upper(token), lower(chain) ORDER BY ingested_at DESC
) = 1
