"""Analytics layer: decoupling statistics, mint event study, exchange migration, risk panel."""
