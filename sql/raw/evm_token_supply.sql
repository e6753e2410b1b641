-- Raw: on-chain totalSupply() per token at each day's closing block.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.evm_token_supply (
    date          DATE           NOT NULL,
    chain         VARCHAR        NOT NULL,
    token         VARCHAR        NOT NULL,
    block_number  BIGINT         NOT NULL,
    supply_raw    DECIMAL(38, 0) NOT NULL,
    supply_tokens DOUBLE         NOT NULL,
    source        VARCHAR        NOT NULL,
    ingested_at   TIMESTAMP      NOT NULL,
    PRIMARY KEY (date, chain, token)
);
COMMENT ON TABLE raw.evm_token_supply IS 'totalSupply() of USDT and USDC at the closing block of each UTC day, per chain. Grain: date x chain x token. Read from the JSON-RPC node of each chain (STABLEFLOW_<CHAIN>_RPC_URL); in the sandbox the chains are simulated (raw.data_world).';
COMMENT ON COLUMN raw.evm_token_supply.date IS 'UTC day';
COMMENT ON COLUMN raw.evm_token_supply.chain IS 'Chain name from core/chains.yaml';
COMMENT ON COLUMN raw.evm_token_supply.token IS 'Token symbol (USDT, USDC)';
COMMENT ON COLUMN raw.evm_token_supply.block_number IS 'Closing block the value was read at';
COMMENT ON COLUMN raw.evm_token_supply.supply_raw IS 'totalSupply() in base units (10^-decimals tokens), exact';
COMMENT ON COLUMN raw.evm_token_supply.supply_tokens IS 'totalSupply() in whole tokens (supply_raw / 10^decimals)';
COMMENT ON COLUMN raw.evm_token_supply.source IS 'JSON-RPC method the row came from';
COMMENT ON COLUMN raw.evm_token_supply.ingested_at IS 'UTC time this value was first fetched (kept when a re-fetch returns the same value)';
