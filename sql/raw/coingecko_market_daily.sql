-- Raw: daily close price, market cap and volume per coin, one row per coin and UTC day.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.coingecko_market_daily (
    date           DATE      NOT NULL,
    coin_id        VARCHAR   NOT NULL,
    price_usd      DOUBLE    NOT NULL,
    market_cap_usd DOUBLE    NOT NULL,
    volume_usd     DOUBLE    NOT NULL,
    sampled_at     TIMESTAMP NOT NULL,
    source         VARCHAR   NOT NULL,
    ingested_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (date, coin_id)
);
COMMENT ON TABLE raw.coingecko_market_daily IS 'Price, market cap and 24h volume at the close of each UTC day for bitcoin, ethereum, tether, usd-coin (CoinGecko /coins/{id}/market_chart/range). Grain: date x coin_id.';
COMMENT ON COLUMN raw.coingecko_market_daily.date IS 'UTC day whose close the values describe';
COMMENT ON COLUMN raw.coingecko_market_daily.coin_id IS 'CoinGecko coin id';
COMMENT ON COLUMN raw.coingecko_market_daily.price_usd IS 'Price in USD at the close of date (CoinGecko sample at 00:00 UTC of the next day)';
COMMENT ON COLUMN raw.coingecko_market_daily.market_cap_usd IS 'Market capitalisation in USD at the close of date';
COMMENT ON COLUMN raw.coingecko_market_daily.volume_usd IS 'Trading volume in USD over the 24 hours before sampled_at';
COMMENT ON COLUMN raw.coingecko_market_daily.sampled_at IS 'UTC time of the CoinGecko sample the row comes from (date + 1 day, 00:00)';
COMMENT ON COLUMN raw.coingecko_market_daily.source IS 'API and path the row came from';
COMMENT ON COLUMN raw.coingecko_market_daily.ingested_at IS 'UTC time this value was first fetched (kept when a re-fetch returns the same value)';
