-- Raw: which world the warehouse's data was read from: the live sources or the offline sandbox.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.data_world (
    world             VARCHAR   NOT NULL,
    latest            BOOLEAN   NOT NULL,
    onchain_simulated BOOLEAN   NOT NULL,
    http_replayed     BOOLEAN   NOT NULL,
    chains            VARCHAR   NOT NULL,
    notice            VARCHAR   NOT NULL,
    first_run_id      VARCHAR   NOT NULL,
    first_recorded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (world)
);
COMMENT ON TABLE raw.data_world IS 'Which world runs read (STABLEFLOW_WORLD, set by the sandbox): one row per world this warehouse has ever read, latest = the world of the last run. In the sandbox every on-chain value (supply, mints and burns, exchange reserves and flows, the large-mint event study) comes from a SIMULATED chain; DefiLlama, CoinGecko, alternative.me and FRED are real recorded responses replayed. Two rows mean the warehouse mixes both worlds. Grain: world.';
COMMENT ON COLUMN raw.data_world.world IS 'live (the real endpoints) or sandbox (replay server and local simulated chains)';
COMMENT ON COLUMN raw.data_world.latest IS 'The last run read this world';
COMMENT ON COLUMN raw.data_world.onchain_simulated IS 'On-chain values are simulated (sandbox chains planted by sandbox/chain.py), not what happened on the real chain';
COMMENT ON COLUMN raw.data_world.http_replayed IS 'API values are real recorded responses served by the local replay server (sandbox/recordings), not fetched live';
COMMENT ON COLUMN raw.data_world.chains IS 'Chains the runs read, comma-separated';
COMMENT ON COLUMN raw.data_world.notice IS 'What a reader of any number from this world must know';
COMMENT ON COLUMN raw.data_world.first_run_id IS 'Dagster run id of the first run that read this world here';
COMMENT ON COLUMN raw.data_world.first_recorded_at IS 'UTC time of that run';
