-- Raw: minted, burned and net per token and UTC day.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.evm_issuance_daily (
    date          DATE           NOT NULL,
    chain         VARCHAR        NOT NULL,
    token         VARCHAR        NOT NULL,
    minted_raw    DECIMAL(38, 0) NOT NULL,
    burned_raw    DECIMAL(38, 0) NOT NULL,
    events        BIGINT         NOT NULL,
    net_raw       DECIMAL(38, 0) NOT NULL,
    minted_tokens DOUBLE         NOT NULL,
    burned_tokens DOUBLE         NOT NULL,
    net_tokens    DOUBLE         NOT NULL,
    source        VARCHAR        NOT NULL,
    ingested_at   TIMESTAMP      NOT NULL,
    PRIMARY KEY (date, chain, token)
);
COMMENT ON TABLE raw.evm_issuance_daily IS 'Daily issuance per token from raw.evm_issuance_events; zero on days without events. supply(D) - supply(D-1) = net (checked). Grain: date x chain x token. Read from the JSON-RPC node of each chain (STABLEFLOW_<CHAIN>_RPC_URL); in the sandbox the chains are simulated (raw.data_world).';
COMMENT ON COLUMN raw.evm_issuance_daily.date IS 'UTC day';
COMMENT ON COLUMN raw.evm_issuance_daily.chain IS 'Chain name from core/chains.yaml';
COMMENT ON COLUMN raw.evm_issuance_daily.token IS 'Token symbol (USDT, USDC)';
COMMENT ON COLUMN raw.evm_issuance_daily.minted_raw IS 'Sum of mint events (Issue, Mint) in base units';
COMMENT ON COLUMN raw.evm_issuance_daily.burned_raw IS 'Sum of burn events (Redeem, DestroyedBlackFunds, Burn) in base units';
COMMENT ON COLUMN raw.evm_issuance_daily.events IS 'Number of mint and burn events';
COMMENT ON COLUMN raw.evm_issuance_daily.net_raw IS 'minted_raw - burned_raw';
COMMENT ON COLUMN raw.evm_issuance_daily.minted_tokens IS 'Minted, whole tokens';
COMMENT ON COLUMN raw.evm_issuance_daily.burned_tokens IS 'Burned, whole tokens';
COMMENT ON COLUMN raw.evm_issuance_daily.net_tokens IS 'Minted minus burned, whole tokens';
COMMENT ON COLUMN raw.evm_issuance_daily.source IS 'JSON-RPC method the row came from';
COMMENT ON COLUMN raw.evm_issuance_daily.ingested_at IS 'UTC time this value was first fetched (kept when a re-fetch returns the same value)';
