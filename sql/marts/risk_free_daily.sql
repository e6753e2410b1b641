-- Mart: the risk-free rate for every UTC day, from the 3-month T-bill (FRED DTB3).
-- Grain: date; a row for every calendar day from the first DTB3 value to the last observation
-- (a window that opens on a holiday has nothing to carry forward until the first value).
-- Weekends and holidays carry the last published rate forward (is_carried_forward).
-- Source: staging.stg_fred__series (series DTB3).
WITH bills AS (
    SELECT date, value AS dtb3_percent
    FROM staging.stg_fred__series
    WHERE series_id = 'DTB3'
),
calendar AS (
    SELECT CAST(d AS DATE) AS date
    FROM range((SELECT min(date) FROM bills WHERE dtb3_percent IS NOT NULL),
               (SELECT max(date) FROM bills) + INTERVAL 1 DAY, INTERVAL 1 DAY) AS t(d)
)
SELECT
    c.date,
    b.dtb3_percent,
    last_value(b.dtb3_percent IGNORE NULLS) OVER w / 100 AS rate,
    b.dtb3_percent IS NULL AS is_carried_forward
FROM calendar AS c
LEFT JOIN bills AS b USING (date)
WINDOW w AS (ORDER BY c.date ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
ORDER BY c.date
