-- Example questions answered directly from the marts. Each query starts with a
-- "-- name:" line and a "--" question line, and runs as written in a DuckDB shell on the
-- warehouse. Values dated D are end-of-day D (UTC); month-end values are the last day of the
-- month that has data. Spot vs derivatives uses taxonomy 'offers_derivatives', the market
-- reports' split (a venue that runs a derivatives book, like Binance or OKX, is a derivatives
-- exchange); put 'main_business' to split by main business instead (marts.exchanges says why
-- each exchange is where it is). In the sandbox, on-chain values are simulated (raw.data_world).

-- name: usdt_exchange_reserves_by_kind_monthly
-- How much USDT (ERC-20) sat on derivatives vs spot exchanges each month (month-end and monthly average, tokens)?
SELECT
    date_trunc('month', date)::DATE                                   AS month,
    arg_max(reserve_tokens, date) FILTER (WHERE kind = 'derivatives')
        AS derivatives_month_end_tokens,
    arg_max(reserve_tokens, date) FILTER (WHERE kind = 'spot')        AS spot_month_end_tokens,
    avg(reserve_tokens) FILTER (WHERE kind = 'derivatives')           AS derivatives_avg_tokens,
    avg(reserve_tokens) FILTER (WHERE kind = 'spot')                  AS spot_avg_tokens,
    arg_max(share_of_exchange_total, date) FILTER (WHERE kind = 'derivatives')
        AS derivatives_share_month_end
FROM marts.exchange_reserves_by_kind_daily
WHERE token = 'USDT' AND chain = 'ethereum' AND taxonomy = 'offers_derivatives'
GROUP BY month
ORDER BY month;

-- name: net_issuance_weekly
-- What was net USDT and USDC issuance (minted minus burned, tokens) per ISO week (Monday start)?
SELECT
    date_trunc('week', date)::DATE                     AS week_start,
    -- DECIMAL sums: whole-token amounts add up exactly (a DOUBLE sum shows float noise)
    sum(net_tokens::DECIMAL(38, 6)) FILTER (WHERE token = 'USDT') AS usdt_net_tokens,
    sum(net_tokens::DECIMAL(38, 6)) FILTER (WHERE token = 'USDC') AS usdc_net_tokens,
    sum(net_tokens::DECIMAL(38, 6))                    AS usdt_usdc_net_tokens,
    -- a first or last week the data covers only partly has fewer than 7 days
    count(DISTINCT date)                               AS days_in_data
FROM marts.stablecoin_issuance_daily
GROUP BY week_start
ORDER BY week_start;

-- name: ssr_monthly
-- How did the Stablecoin Supply Ratio (BTC market cap / stablecoin supply) move, month by month?
SELECT
    date_trunc('month', date)::DATE         AS month,
    arg_max(ssr, date)                      AS ssr_month_end,
    avg(ssr)                                AS ssr_avg,
    min(ssr)                                AS ssr_min,
    max(ssr)                                AS ssr_max,
    arg_max(total_stablecoin_supply_usd, date) AS stablecoin_supply_month_end_usd,
    arg_max(btc_market_cap_usd, date)          AS btc_market_cap_month_end_usd
FROM marts.liquidity_daily
GROUP BY month
ORDER BY month;

-- name: largest_mint_days
-- Which were the 20 days the issuers minted the most USDT or USDC, and what was their biggest single mint?
-- (Issuer mints only: USDC that CCTP or Gateway minted had left another chain, shown beside.)
SELECT
    date,
    token,
    minted_issuer_tokens,
    minted_cctp_tokens,
    minted_gateway_tokens,
    net_tokens,
    mint_count,
    largest_issuer_mint_tokens,
    largest_issuer_mint_tx_hash
FROM marts.stablecoin_issuance_daily
WHERE minted_issuer_tokens > 0
ORDER BY minted_issuer_tokens DESC, date ASC, token ASC
LIMIT 20;

-- name: usdc_spot_reserves_2022_start_vs_end
-- How much USDC (ERC-20) sat on spot exchanges at the start of 2022 (close of 2021-12-31) vs the end (close of 2022-12-31)?
SELECT
    max(reserve_tokens) FILTER (WHERE date = DATE '2021-12-31') AS start_2022_tokens,
    max(reserve_tokens) FILTER (WHERE date = DATE '2022-12-31') AS end_2022_tokens,
    max(reserve_tokens) FILTER (WHERE date = DATE '2022-12-31')
    - max(reserve_tokens) FILTER (WHERE date = DATE '2021-12-31') AS change_tokens,
    max(reserve_tokens) FILTER (WHERE date = DATE '2022-12-31')
    / max(reserve_tokens) FILTER (WHERE date = DATE '2021-12-31') - 1 AS change_ratio
FROM marts.exchange_reserves_by_kind_daily
WHERE token = 'USDC' AND chain = 'ethereum' AND taxonomy = 'offers_derivatives' AND kind = 'spot';

-- name: top_exchanges_usdt_latest
-- Which 15 exchanges held the most USDT (all ingested chains) on the latest day, and what share of all exchange-held USDT is that?
WITH latest AS (
    SELECT date, exchange, kind, main_business, sum(reserve_tokens) AS reserve_tokens
    FROM marts.exchange_reserves_daily
    WHERE
        token = 'USDT'
        AND date = (
            SELECT max(newest.date) FROM marts.exchange_reserves_daily AS newest
            WHERE newest.token = 'USDT'
        )
    GROUP BY date, exchange, kind, main_business
)

SELECT
    date,
    exchange,
    kind,
    main_business,
    reserve_tokens,
    reserve_tokens / sum(reserve_tokens) OVER () AS share_of_exchange_total
FROM latest
QUALIFY row_number() OVER (ORDER BY reserve_tokens DESC, exchange ASC) <= 15
ORDER BY reserve_tokens DESC, exchange ASC;

-- name: supply_vs_onchain_ethereum_monthly
-- How far apart were DefiLlama's Ethereum supply and on-chain supply each month: totalSupply, and what circulates (less treasuries and bridge escrows) (ratio, 1 = agreement)?
SELECT
    date_trunc('month', date)::DATE AS month,
    token,
    avg(supply_ratio)               AS avg_total_supply_to_defillama_ratio,
    avg(circulating_ratio)          AS avg_circulating_to_defillama_ratio,
    max(abs(circulating_ratio - 1)) AS max_circulating_relative_difference,
    count(*)                        AS days_compared
FROM marts.stablecoin_supply_daily
WHERE chain = 'ethereum' AND supply_ratio IS NOT NULL
GROUP BY month, token
ORDER BY month, token;

-- name: exchange_netflow_by_kind_monthly
-- How much USDT+USDC flowed net into spot vs derivatives exchanges each month, all ingested chains (tokens)?
SELECT
    date_trunc('month', date)::DATE                          AS month,
    sum(netflow_tokens) FILTER (WHERE kind = 'spot')         AS spot_netflow_tokens,
    sum(netflow_tokens) FILTER (WHERE kind = 'derivatives')  AS derivatives_netflow_tokens
FROM marts.exchange_flows_daily
WHERE taxonomy = 'offers_derivatives'
GROUP BY month
ORDER BY month;

-- name: label_coverage_largest
-- Which exchanges hold the most on the labelled wallets of each chain read, with how many wallets labelled, and since when?
SELECT
    chain,
    exchange,
    kind,
    labelled_wallets,
    most_wallets_with_balance,
    first_day_with_balance,
    latest_usdt_tokens,
    latest_usdc_tokens,
    share_of_labelled_reserves
FROM marts.label_coverage
WHERE chain_read
QUALIFY
    row_number()
        OVER (PARTITION BY chain ORDER BY share_of_labelled_reserves DESC NULLS LAST, exchange ASC)
    <= 10
ORDER BY chain ASC, share_of_labelled_reserves DESC NULLS LAST, exchange ASC;
