-- Raw: the Crypto Fear & Greed Index, one row per UTC day (alternative.me).
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.fear_greed_daily (
    date           DATE      NOT NULL,
    value          INTEGER   NOT NULL,
    classification VARCHAR   NOT NULL,
    source         VARCHAR   NOT NULL,
    ingested_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (date)
);
COMMENT ON TABLE raw.fear_greed_daily IS 'Crypto Fear & Greed Index per UTC day (alternative.me /fng/). Days the index skipped have no row. Grain: date.';
COMMENT ON COLUMN raw.fear_greed_daily.date IS 'UTC day the value is stamped with (00:00 UTC) and shown during';
COMMENT ON COLUMN raw.fear_greed_daily.value IS 'Index value, 0 (extreme fear) to 100 (extreme greed)';
COMMENT ON COLUMN raw.fear_greed_daily.classification IS 'alternative.me label: Extreme Fear, Fear, Neutral, Greed, Extreme Greed';
COMMENT ON COLUMN raw.fear_greed_daily.source IS 'API and path the row came from';
COMMENT ON COLUMN raw.fear_greed_daily.ingested_at IS 'UTC time this value was first fetched (kept when a re-fetch returns the same value)';
