-- Raw: circulating supply of one stablecoin on one chain, one row per token, chain and UTC day.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.defillama_token_supply_by_chain (
    date               DATE      NOT NULL,
    token              VARCHAR   NOT NULL,
    chain              VARCHAR   NOT NULL,
    circulating_tokens DOUBLE    NOT NULL,
    source             VARCHAR   NOT NULL,
    ingested_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (date, token, chain)
);
COMMENT ON TABLE raw.defillama_token_supply_by_chain IS 'USDT and USDC circulating supply per chain at the end of each UTC day (DefiLlama /stablecoin/{id} chainBalances from 2022-05-11, every chain it reports: the API keeps no earlier day; before that /stablecoincharts/{Chain}?stablecoin={id} for the chains in core/chains.yaml only). Grain: date x token x chain. Only days DefiLlama reports for that chain.';
COMMENT ON COLUMN raw.defillama_token_supply_by_chain.date IS 'UTC day; the value is the close of that day: DefiLlama''s row stamped the next day 00:00 UTC (its first snapshot after midnight)';
COMMENT ON COLUMN raw.defillama_token_supply_by_chain.token IS 'Token symbol: USDT (DefiLlama id 1) or USDC (id 2)';
COMMENT ON COLUMN raw.defillama_token_supply_by_chain.chain IS 'DefiLlama chain name (Ethereum, Tron, ...)';
COMMENT ON COLUMN raw.defillama_token_supply_by_chain.circulating_tokens IS 'chainBalances.<chain>.tokens[].circulating.peggedUSD: whole tokens circulating on the chain';
COMMENT ON COLUMN raw.defillama_token_supply_by_chain.source IS 'API and path the row came from';
COMMENT ON COLUMN raw.defillama_token_supply_by_chain.ingested_at IS 'UTC time this value was first fetched (kept when a re-fetch returns the same value)';
