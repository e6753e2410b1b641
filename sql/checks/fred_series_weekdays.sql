-- ISO weekday (1 = Monday .. 7 = Sunday) of every FRED row: weekdays only.
SELECT date, series_id, isodow(date) AS weekday
FROM raw.fred_series_daily
ORDER BY date, series_id;
