-- Raw: FRED daily series (S&P 500, Nasdaq-100, 3-month T-bill), one row per series and US trading day.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.fred_series_daily (
    date        DATE      NOT NULL,
    series_id   VARCHAR   NOT NULL,
    value       DOUBLE,
    source      VARCHAR   NOT NULL,
    ingested_at TIMESTAMP NOT NULL,
    PRIMARY KEY (date, series_id)
);
COMMENT ON TABLE raw.fred_series_daily IS 'FRED series SP500, NASDAQ100 (index closes) and DTB3 (3-month T-bill, discount basis, percent) from fredgraph.csv. Rows exist for US trading days only; value is NULL where FRED has an empty value (holidays). Grain: date x series_id.';
COMMENT ON COLUMN raw.fred_series_daily.date IS 'FRED observation_date: the US trading day (its close falls within this UTC day)';
COMMENT ON COLUMN raw.fred_series_daily.series_id IS 'FRED series id: SP500, NASDAQ100, DTB3';
COMMENT ON COLUMN raw.fred_series_daily.value IS 'Index close (points) for SP500 and NASDAQ100; yield in percent per year (discount basis) for DTB3; NULL when FRED has no value that day';
COMMENT ON COLUMN raw.fred_series_daily.source IS 'API and series the row came from';
COMMENT ON COLUMN raw.fred_series_daily.ingested_at IS 'UTC time this value was first fetched (kept when a re-fetch returns the same value)';
