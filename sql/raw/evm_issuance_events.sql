-- Raw: every mint and burn event of USDT and USDC, one row per log.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.evm_issuance_events (
    date          DATE           NOT NULL,
    chain         VARCHAR        NOT NULL,
    token         VARCHAR        NOT NULL,
    block_number  BIGINT         NOT NULL,
    tx_hash       VARCHAR        NOT NULL,
    log_index     BIGINT         NOT NULL,
    event         VARCHAR        NOT NULL,
    direction     VARCHAR        NOT NULL,
    account       VARCHAR,
    amount_raw    DECIMAL(38, 0) NOT NULL,
    amount_tokens DOUBLE         NOT NULL,
    source        VARCHAR        NOT NULL,
    ingested_at   TIMESTAMP      NOT NULL,
    PRIMARY KEY (chain, block_number, log_index)
);
COMMENT ON TABLE raw.evm_issuance_events IS 'Every mint and burn: USDT Issue, Redeem and DestroyedBlackFunds; USDC Mint and Burn (their companion Transfer from/to 0x0 is not counted again). For mint alerts and event studies. Grain: log. Read from the JSON-RPC node of each chain (STABLEFLOW_<CHAIN>_RPC_URL); in the sandbox the chains are simulated (raw.data_world).';
COMMENT ON COLUMN raw.evm_issuance_events.date IS 'UTC day of the block (blocks after the previous day''s closing block up to this day''s)';
COMMENT ON COLUMN raw.evm_issuance_events.chain IS 'Chain name from core/chains.yaml';
COMMENT ON COLUMN raw.evm_issuance_events.token IS 'Token symbol (USDT, USDC)';
COMMENT ON COLUMN raw.evm_issuance_events.block_number IS 'Block of the event';
COMMENT ON COLUMN raw.evm_issuance_events.tx_hash IS 'Transaction hash';
COMMENT ON COLUMN raw.evm_issuance_events.log_index IS 'Log index within the block';
COMMENT ON COLUMN raw.evm_issuance_events.event IS 'Event name: Issue, Redeem, DestroyedBlackFunds, Mint, Burn';
COMMENT ON COLUMN raw.evm_issuance_events.direction IS 'mint (adds supply) or burn (removes supply)';
COMMENT ON COLUMN raw.evm_issuance_events.account IS 'Lowercase address credited (Mint: recipient) or debited (Burn: burner; DestroyedBlackFunds: blacklisted holder); NULL for USDT Issue/Redeem, which act on the owner';
COMMENT ON COLUMN raw.evm_issuance_events.amount_raw IS 'Amount in base units, exact';
COMMENT ON COLUMN raw.evm_issuance_events.amount_tokens IS 'Amount in whole tokens';
COMMENT ON COLUMN raw.evm_issuance_events.source IS 'JSON-RPC method the row came from';
COMMENT ON COLUMN raw.evm_issuance_events.ingested_at IS 'UTC time this value was first fetched (kept when a re-fetch returns the same value)';
