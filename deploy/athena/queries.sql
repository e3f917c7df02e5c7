-- Example Athena queries over the weatherd lake (see tables.sql).
-- Every query filters on the partition columns so Athena reads only the
-- hours it needs.

-- Daily maximum wind gust per location, November 2026 (m/s).
SELECT location_id,
       date(observed_at)  AS day_utc,
       max(wind_gust)     AS max_gust_ms,
       count(*)           AS readings
FROM weatherd.readings
WHERE year = 2026 AND month = 11
GROUP BY location_id, date(observed_at)
ORDER BY location_id, day_utc;

-- Hours with rain per location on one day: any reading with a rain
-- intensity above zero in that hour (mm/h).
SELECT location_id,
       date_trunc('hour', observed_at) AS hour_utc,
       max(rain_intensity)            AS max_rain_mm_h,
       count(*)                       AS readings
FROM weatherd.readings
WHERE year = 2026 AND month = 11 AND day = 26
  AND rain_intensity > 0
GROUP BY location_id, date_trunc('hour', observed_at)
ORDER BY location_id, hour_utc;

-- A value that has no gold column, straight from raw/ (here: a daily
-- forecast field); element_at returns NULL when the key is absent.
SELECT event_id, element_at("values", 'temperatureMax') AS temperature_max
FROM weatherd.readings_raw
WHERE year = 2026 AND month = 11 AND day = 26;

-- Rejected records of the last day, by reason.
SELECT reason, count(*) AS records, min(sequence_number) AS first_seq
FROM weatherd.reading_errors
WHERE year = 2026 AND month = 11 AND day = 26
GROUP BY reason
ORDER BY records DESC;
