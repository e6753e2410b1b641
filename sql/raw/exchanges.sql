-- Raw: every exchange of the label seed with both spot/derivatives taxonomies (sql/seeds/exchanges.csv).
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.exchanges (
    exchange                 VARCHAR NOT NULL,
    name                     VARCHAR NOT NULL,
    offers_derivatives       BOOLEAN NOT NULL,
    main_business            VARCHAR NOT NULL,
    coingecko_spot_id        VARCHAR NOT NULL,
    coingecko_derivatives_id VARCHAR NOT NULL,
    offers_derivatives_reason VARCHAR NOT NULL,
    main_business_reason     VARCHAR NOT NULL,
    label_version            VARCHAR NOT NULL,
    PRIMARY KEY (exchange)
);
COMMENT ON TABLE raw.exchanges IS 'Every exchange of the label seed (sql/seeds/exchanges.csv, reviewed data, not fetched) with its two spot/derivatives classifications and the reason for each; replaced whole by every run. Grain: exchange.';
COMMENT ON COLUMN raw.exchanges.exchange IS 'Exchange slug, as in raw.exchange_labels';
COMMENT ON COLUMN raw.exchanges.name IS 'Display name';
COMMENT ON COLUMN raw.exchanges.offers_derivatives IS 'The venue runs a derivatives book from its labelled wallets (CoinGecko derivatives id or documented evidence): the market reports'' split, where such a venue counts as a derivatives exchange';
COMMENT ON COLUMN raw.exchanges.main_business IS 'spot or derivatives: the venue''s main business by judgement (a venue that launched as a spot exchange stays spot although it also runs futures)';
COMMENT ON COLUMN raw.exchanges.coingecko_spot_id IS 'CoinGecko spot exchange id from DefiLlama''s CEX transparency list; empty if none';
COMMENT ON COLUMN raw.exchanges.coingecko_derivatives_id IS 'CoinGecko derivatives exchange id from DefiLlama''s CEX transparency list; empty if none';
COMMENT ON COLUMN raw.exchanges.offers_derivatives_reason IS 'Why offers_derivatives is what it is';
COMMENT ON COLUMN raw.exchanges.main_business_reason IS 'Why main_business is what it is';
COMMENT ON COLUMN raw.exchanges.label_version IS 'Version (SHA-256 prefix) of the label files';
