-- Raw: total circulating supply of all USD-pegged stablecoins, one row per UTC day.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.defillama_total_supply (
    date            DATE      NOT NULL PRIMARY KEY,
    circulating_usd DOUBLE    NOT NULL,
    source          VARCHAR   NOT NULL,
    ingested_at     TIMESTAMP NOT NULL
);
COMMENT ON TABLE raw.defillama_total_supply IS 'All USD-pegged stablecoins, circulating supply at the end of each UTC day (DefiLlama /stablecoincharts/all). Grain: date. DefiLlama revises recent days; re-ingesting a day replaces it.';
COMMENT ON COLUMN raw.defillama_total_supply.date IS 'UTC day; the value is the close of that day: DefiLlama''s row stamped the next day 00:00 UTC (its first snapshot after midnight)';
COMMENT ON COLUMN raw.defillama_total_supply.circulating_usd IS 'totalCirculating.peggedUSD: units of USD-pegged stablecoins (1 unit = 1 USD face value), all chains';
COMMENT ON COLUMN raw.defillama_total_supply.source IS 'API and path the row came from';
COMMENT ON COLUMN raw.defillama_total_supply.ingested_at IS 'UTC time this value was first fetched (kept when a re-fetch returns the same value)';
