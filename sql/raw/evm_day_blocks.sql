-- Raw: the closing block of each UTC day per EVM chain (cache for every on-chain asset).
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.evm_day_blocks (
    date            DATE      NOT NULL,
    chain           VARCHAR   NOT NULL,
    block_number    BIGINT    NOT NULL,
    block_timestamp TIMESTAMP NOT NULL,
    block_hash      VARCHAR   NOT NULL,
    source          VARCHAR   NOT NULL,
    ingested_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (date, chain)
);
COMMENT ON TABLE raw.evm_day_blocks IS 'Closing block of each UTC day: the last block whose timestamp is before 00:00 UTC of the next day. Every on-chain value dated D is read at (or summed up to) this block. Grain: date x chain. Read from the JSON-RPC node of each chain (STABLEFLOW_<CHAIN>_RPC_URL); in the sandbox the chains are simulated (raw.data_world).';
COMMENT ON COLUMN raw.evm_day_blocks.date IS 'UTC day';
COMMENT ON COLUMN raw.evm_day_blocks.chain IS 'Chain name from core/chains.yaml';
COMMENT ON COLUMN raw.evm_day_blocks.block_number IS 'Number of the closing block';
COMMENT ON COLUMN raw.evm_day_blocks.block_timestamp IS 'UTC timestamp of the closing block';
COMMENT ON COLUMN raw.evm_day_blocks.block_hash IS 'Hash of the closing block (detects reorganisations)';
COMMENT ON COLUMN raw.evm_day_blocks.source IS 'JSON-RPC method the row came from';
COMMENT ON COLUMN raw.evm_day_blocks.ingested_at IS 'UTC time this value was first fetched (kept when a re-fetch returns the same value)';
