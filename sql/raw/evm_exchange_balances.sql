-- Raw: balance of each labelled exchange wallet at each day's closing block (non-zero only).
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.evm_exchange_balances (
    date           DATE           NOT NULL,
    chain          VARCHAR        NOT NULL,
    token          VARCHAR        NOT NULL,
    address        VARCHAR        NOT NULL,
    block_number   BIGINT         NOT NULL,
    balance_raw    DECIMAL(38, 0) NOT NULL,
    balance_tokens DOUBLE         NOT NULL,
    exchange       VARCHAR        NOT NULL,
    label_version  VARCHAR        NOT NULL,
    source         VARCHAR        NOT NULL,
    ingested_at    TIMESTAMP      NOT NULL,
    PRIMARY KEY (date, chain, token, address)
);
-- Warehouses from before the taxonomy moved to sql/seeds/exchanges.csv (raw.exchanges)
-- stored a kind per row; the marts now join it, so the column goes.
ALTER TABLE raw.evm_exchange_balances DROP COLUMN IF EXISTS kind;
COMMENT ON TABLE raw.evm_exchange_balances IS 'balanceOf() of every labelled exchange wallet (sql/seeds/exchange_labels.csv) at the closing block of each UTC day; wallets holding zero are omitted (raw.evm_exchange_reserves has every exchange). Grain: date x chain x token x address. Read from the JSON-RPC node of each chain (STABLEFLOW_<CHAIN>_RPC_URL); in the sandbox the chains are simulated (raw.data_world).';
COMMENT ON COLUMN raw.evm_exchange_balances.date IS 'UTC day';
COMMENT ON COLUMN raw.evm_exchange_balances.chain IS 'Chain name from core/chains.yaml';
COMMENT ON COLUMN raw.evm_exchange_balances.token IS 'Token symbol (USDT, USDC)';
COMMENT ON COLUMN raw.evm_exchange_balances.address IS 'Wallet address, lowercase';
COMMENT ON COLUMN raw.evm_exchange_balances.block_number IS 'Closing block the balance was read at';
COMMENT ON COLUMN raw.evm_exchange_balances.balance_raw IS 'Balance in base units, exact';
COMMENT ON COLUMN raw.evm_exchange_balances.balance_tokens IS 'Balance in whole tokens';
COMMENT ON COLUMN raw.evm_exchange_balances.exchange IS 'Exchange slug from the label file';
COMMENT ON COLUMN raw.evm_exchange_balances.label_version IS 'Version (SHA-256 prefix) of the label file used';
COMMENT ON COLUMN raw.evm_exchange_balances.source IS 'JSON-RPC method the row came from';
COMMENT ON COLUMN raw.evm_exchange_balances.ingested_at IS 'UTC time this value was first fetched (kept when a re-fetch returns the same value)';
