-- Raw: exchange-held USDT/USDC per exchange at each day's closing block.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.evm_exchange_reserves (
    date                   DATE           NOT NULL,
    chain                  VARCHAR        NOT NULL,
    token                  VARCHAR        NOT NULL,
    exchange               VARCHAR        NOT NULL,
    balance_raw            DECIMAL(38, 0) NOT NULL,
    balance_tokens         DOUBLE         NOT NULL,
    addresses_with_balance BIGINT         NOT NULL,
    label_version          VARCHAR        NOT NULL,
    source                 VARCHAR        NOT NULL,
    ingested_at            TIMESTAMP      NOT NULL,
    PRIMARY KEY (date, chain, token, exchange)
);
-- Warehouses from before the taxonomy moved to sql/seeds/exchanges.csv (raw.exchanges)
-- stored a kind per row; the marts now join it, so the column goes.
ALTER TABLE raw.evm_exchange_reserves DROP COLUMN IF EXISTS kind;
COMMENT ON TABLE raw.evm_exchange_reserves IS 'Sum of the balances of every labelled wallet of each exchange at the closing block of each UTC day; every exchange labelled on the chain has a row, zero included. Spot vs derivatives: join raw.exchanges (two taxonomies), as the marts do. Grain: date x chain x token x exchange. Read from the JSON-RPC node of each chain (STABLEFLOW_<CHAIN>_RPC_URL); in the sandbox the chains are simulated (raw.data_world).';
COMMENT ON COLUMN raw.evm_exchange_reserves.date IS 'UTC day';
COMMENT ON COLUMN raw.evm_exchange_reserves.chain IS 'Chain name from core/chains.yaml';
COMMENT ON COLUMN raw.evm_exchange_reserves.token IS 'Token symbol (USDT, USDC)';
COMMENT ON COLUMN raw.evm_exchange_reserves.exchange IS 'Exchange slug from the label file';
COMMENT ON COLUMN raw.evm_exchange_reserves.balance_raw IS 'Reserve in base units, exact';
COMMENT ON COLUMN raw.evm_exchange_reserves.balance_tokens IS 'Reserve in whole tokens';
COMMENT ON COLUMN raw.evm_exchange_reserves.addresses_with_balance IS 'Labelled wallets of the exchange holding a non-zero balance';
COMMENT ON COLUMN raw.evm_exchange_reserves.label_version IS 'Version (SHA-256 prefix) of the label file used';
COMMENT ON COLUMN raw.evm_exchange_reserves.source IS 'JSON-RPC method the row came from';
COMMENT ON COLUMN raw.evm_exchange_reserves.ingested_at IS 'UTC time this value was first fetched (kept when a re-fetch returns the same value)';
