-- How many versions of sql/seeds/noncirculating_wallets.csv the stored days were read under:
-- more than one means some days' circulating supply subtracts another set of wallets.
SELECT count(DISTINCT seed_version) AS versions
FROM raw.evm_noncirculating_balances;
