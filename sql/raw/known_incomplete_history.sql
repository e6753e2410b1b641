-- Raw: stretches of days in which a source's supply series is known to miss part of the supply
-- (sql/seeds/known_incomplete_history.csv; evidence in assets/ingest/DEFILLAMA_TIMING.md).
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.known_incomplete_history (
    source            VARCHAR NOT NULL,
    series            VARCHAR NOT NULL,
    incomplete_from   DATE,
    incomplete_before DATE    NOT NULL,
    max_missing_share DOUBLE  NOT NULL,
    reason            VARCHAR NOT NULL,
    evidence          VARCHAR NOT NULL,
    PRIMARY KEY (source, series, incomplete_before)
);
COMMENT ON TABLE raw.known_incomplete_history IS 'Stretches of days in which a source''s supply series is known to be incomplete (a chain or a coin it does not count yet), from the reviewed seed sql/seeds/known_incomplete_history.csv (data, not fetched); replaced whole by every run. The marts flag the days (marts.liquidity_daily *_supply_incomplete, marts.stablecoin_supply_daily.supply_incomplete) and the DefiLlama assets warn when a window reaches one. Grain: source x series x incomplete_before.';
COMMENT ON COLUMN raw.known_incomplete_history.source IS 'The source whose series it is: defillama';
COMMENT ON COLUMN raw.known_incomplete_history.series IS 'USDT or USDC (the token''s all-chain supply, raw.defillama_token_supply) or total (all USD-pegged stablecoins, raw.defillama_total_supply)';
COMMENT ON COLUMN raw.known_incomplete_history.incomplete_from IS 'First incomplete day (UTC, the pipeline''s dating: the close of the day); NULL = from the series'' first day';
COMMENT ON COLUMN raw.known_incomplete_history.incomplete_before IS 'First complete day after the stretch (UTC, the close of the day); the stretch is incomplete_from <= date < incomplete_before';
COMMENT ON COLUMN raw.known_incomplete_history.max_missing_share IS 'Largest share of the supply the series misses on a day of the stretch, measured against an independent count (ratio, 0..1)';
COMMENT ON COLUMN raw.known_incomplete_history.reason IS 'What is missing, and why';
COMMENT ON COLUMN raw.known_incomplete_history.evidence IS 'How it is known: the numbers and where they come from';
