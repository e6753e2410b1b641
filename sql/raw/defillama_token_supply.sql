-- Raw: circulating supply of one stablecoin across all chains, one row per token and UTC day.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.defillama_token_supply (
    date               DATE      NOT NULL,
    token              VARCHAR   NOT NULL,
    circulating_tokens DOUBLE    NOT NULL,
    source             VARCHAR   NOT NULL,
    ingested_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (date, token)
);
COMMENT ON TABLE raw.defillama_token_supply IS 'USDT and USDC circulating supply, all chains, at the end of each UTC day (DefiLlama /stablecoincharts/all?stablecoin={id}, full history). Grain: date x token.';
COMMENT ON COLUMN raw.defillama_token_supply.date IS 'UTC day; the value is the close of that day: DefiLlama''s row stamped the next day 00:00 UTC (its first snapshot after midnight)';
COMMENT ON COLUMN raw.defillama_token_supply.token IS 'Token symbol: USDT (DefiLlama id 1) or USDC (id 2)';
COMMENT ON COLUMN raw.defillama_token_supply.circulating_tokens IS 'circulating.peggedUSD: whole tokens in circulation (peg-native units, not USD-converted)';
COMMENT ON COLUMN raw.defillama_token_supply.source IS 'API and path the row came from';
COMMENT ON COLUMN raw.defillama_token_supply.ingested_at IS 'UTC time this value was first fetched (kept when a re-fetch returns the same value)';
