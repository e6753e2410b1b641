-- Mart: the risk-free rate per UTC day, from the 3-month T-bill (FRED DTB3), as a
-- bond-equivalent (investment) yield.
-- Grain: date; a row for every calendar day from the first non-NULL DTB3 value among the rows
-- read to the last DTB3 row read. FRED is read from 7 days before a run's window (never
-- before the partitions' start), so the mart can begin up to a week before the other marts,
-- or a few days after them when the first days read are a holiday and a weekend (with the
-- default start, 2021-01-01, it begins on Monday 2021-01-04): nothing is carried into a day
-- before the first published value.
-- Weekends and holidays carry the last published rate forward (is_carried_forward).
-- DTB3 is quoted on a bank-discount basis (discount from face value, 360-day year). `rate`
-- converts it to the bond-equivalent yield, the return on the price paid over a 365-day
-- year, with the standard money-market formula for bills of up to half a year, the one the
-- US Treasury uses for the "coupon equivalent" / "investment rate" of its daily bill rates
-- and auction results:
--     BEY = 365 * d / (360 - d * t),  d = DTB3 / 100, t = 91 days to maturity (13 weeks),
-- equivalently (100 / price - 1) * 365 / t with price = 100 * (1 - d * t / 360). Example
-- (a TreasuryDirect 91-day auction): discount 4.975 % -> investment rate 5.108 %. The
-- Treasury uses 366 in a leap year when the bill's term spans 29 February; 365 is used
-- throughout here (about 1 bp at a 5 % yield).
-- Source: staging.stg_fred__series (series DTB3).
WITH bills AS (
    SELECT
        date,
        value AS dtb3_percent,
        365 * (value / 100) / (360 - (value / 100) * 91) AS bond_equivalent_yield
    FROM staging.stg_fred__series
    WHERE series_id = 'DTB3'
),

calendar AS (
    -- range() names its one column "range"
    SELECT cast(days.range AS DATE) AS date
    FROM range(
        (
            SELECT min(date) FROM bills
            WHERE dtb3_percent IS NOT NULL
        ),
        (SELECT max(date) FROM bills) + INTERVAL 1 DAY, INTERVAL 1 DAY
    ) AS days
)

SELECT
    c.date,
    b.dtb3_percent,
    last_value(b.bond_equivalent_yield IGNORE NULLS) OVER w AS rate,
    b.dtb3_percent IS NULL AS is_carried_forward
FROM calendar AS c
LEFT JOIN bills AS b USING (date)
WINDOW w AS (ORDER BY c.date ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
ORDER BY c.date
