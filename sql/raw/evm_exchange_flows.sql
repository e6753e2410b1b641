-- Raw: USDT/USDC inflow, outflow and netflow per exchange and UTC day.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.evm_exchange_flows (
    date           DATE           NOT NULL,
    chain          VARCHAR        NOT NULL,
    token          VARCHAR        NOT NULL,
    exchange       VARCHAR        NOT NULL,
    inflow_raw     DECIMAL(38, 0) NOT NULL,
    outflow_raw    DECIMAL(38, 0) NOT NULL,
    netflow_raw    DECIMAL(38, 0) NOT NULL,
    inflow_tokens  DOUBLE         NOT NULL,
    outflow_tokens DOUBLE         NOT NULL,
    netflow_tokens DOUBLE         NOT NULL,
    transfers_in   BIGINT         NOT NULL,
    transfers_out  BIGINT         NOT NULL,
    label_version  VARCHAR        NOT NULL,
    source         VARCHAR        NOT NULL,
    ingested_at    TIMESTAMP      NOT NULL,
    PRIMARY KEY (date, chain, token, exchange)
);
-- Warehouses from before the taxonomy moved to sql/seeds/exchanges.csv (raw.exchanges)
-- stored a kind per row; the marts now join it, so the column goes.
ALTER TABLE raw.evm_exchange_flows DROP COLUMN IF EXISTS kind;
COMMENT ON TABLE raw.evm_exchange_flows IS 'Transfers into and out of each labelled exchange per UTC day (blocks after the previous day''s closing block up to this day''s). Transfers between two wallets of the same exchange are internal and not counted; between two exchanges they are an outflow of one and an inflow of the other. Grain: date x chain x token x exchange. Read from the JSON-RPC node of each chain (STABLEFLOW_<CHAIN>_RPC_URL); in the sandbox the chains are simulated (raw.data_world).';
COMMENT ON COLUMN raw.evm_exchange_flows.date IS 'UTC day';
COMMENT ON COLUMN raw.evm_exchange_flows.chain IS 'Chain name from core/chains.yaml';
COMMENT ON COLUMN raw.evm_exchange_flows.token IS 'Token symbol (USDT, USDC)';
COMMENT ON COLUMN raw.evm_exchange_flows.exchange IS 'Exchange slug from the label file';
COMMENT ON COLUMN raw.evm_exchange_flows.inflow_raw IS 'Received from outside the exchange, base units';
COMMENT ON COLUMN raw.evm_exchange_flows.outflow_raw IS 'Sent outside the exchange, base units';
COMMENT ON COLUMN raw.evm_exchange_flows.netflow_raw IS 'inflow_raw - outflow_raw; equals the day''s reserve change (checked)';
COMMENT ON COLUMN raw.evm_exchange_flows.inflow_tokens IS 'Inflow, whole tokens';
COMMENT ON COLUMN raw.evm_exchange_flows.outflow_tokens IS 'Outflow, whole tokens';
COMMENT ON COLUMN raw.evm_exchange_flows.netflow_tokens IS 'Netflow, whole tokens';
COMMENT ON COLUMN raw.evm_exchange_flows.transfers_in IS 'Number of inbound transfers counted';
COMMENT ON COLUMN raw.evm_exchange_flows.transfers_out IS 'Number of outbound transfers counted';
COMMENT ON COLUMN raw.evm_exchange_flows.label_version IS 'Version (SHA-256 prefix) of the label file used';
COMMENT ON COLUMN raw.evm_exchange_flows.source IS 'JSON-RPC method the row came from';
COMMENT ON COLUMN raw.evm_exchange_flows.ingested_at IS 'UTC time this value was first fetched (kept when a re-fetch returns the same value)';
