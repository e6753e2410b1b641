"""stableflow's asset definitions, by layer: ingest/ (raw tables), then models and analytics."""
