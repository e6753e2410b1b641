-- Raw: the exchange wallet labels the on-chain assets read (sql/seeds/exchange_labels.csv).
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.exchange_labels (
    chain         VARCHAR NOT NULL,
    address       VARCHAR NOT NULL,
    exchange      VARCHAR NOT NULL,
    wallet_role   VARCHAR NOT NULL,
    source        VARCHAR NOT NULL,
    date_added    DATE    NOT NULL,
    label_version VARCHAR NOT NULL,
    PRIMARY KEY (chain, address)
);
COMMENT ON TABLE raw.exchange_labels IS 'Every labelled exchange wallet, per chain (sql/seeds/exchange_labels.csv: Etherscan name tags and the exchanges'' own proof-of-reserves lists in DefiLlama''s adapters); replaced whole by every run. A wallet not listed here is not counted, so an exchange''s reserves are those of its labelled wallets only (marts.label_coverage). Grain: chain x address.';
COMMENT ON COLUMN raw.exchange_labels.chain IS 'Chain name (ethereum, arbitrum, ...; tron and chains not in core/chains.yaml are labelled but not read)';
COMMENT ON COLUMN raw.exchange_labels.address IS 'Wallet address: EIP-55 checksummed on EVM chains, base58 on Tron';
COMMENT ON COLUMN raw.exchange_labels.exchange IS 'Exchange slug (raw.exchanges)';
COMMENT ON COLUMN raw.exchange_labels.wallet_role IS 'hot, cold, deposit, reserve (published by the exchange for proof of reserves) or unknown';
COMMENT ON COLUMN raw.exchange_labels.source IS 'Who attributed the wallet to the exchange: etherscan-labels or defillama-cex-owners';
COMMENT ON COLUMN raw.exchange_labels.date_added IS 'Snapshot date of that source';
COMMENT ON COLUMN raw.exchange_labels.label_version IS 'Version (SHA-256 prefix) of the label files';
