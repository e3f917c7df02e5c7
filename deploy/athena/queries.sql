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

-- forecast-accuracy: forecast error by lead time. Each forecast step is
-- compared with the mean of the readings observed within 30 minutes of its
-- valid_at at the same location; error = forecast - observed (so a positive
-- bias means the forecast ran high). Whole-hour lead buckets, temperature
-- (°C) and wind gust (m/s). Filter both tables' partitions: forecasts by
-- issue day, readings by observation day (a day later covers 24 h leads).
WITH f AS (
  SELECT location_id, valid_at,
         CAST(floor(lead_hours) AS integer) AS lead_h,
         temperature, wind_gust
  FROM weatherd.forecasts
  WHERE year = 2026 AND month = 11 AND day = 26
),
o AS (
  SELECT f.location_id, f.valid_at, f.lead_h,
         f.temperature             AS fc_temperature,
         avg(r.temperature)        AS obs_temperature,
         f.wind_gust               AS fc_wind_gust,
         avg(r.wind_gust)          AS obs_wind_gust
  FROM f
  JOIN weatherd.readings r
    ON r.location_id = f.location_id
   AND r.observed_at >= f.valid_at - INTERVAL '30' MINUTE
   AND r.observed_at <  f.valid_at + INTERVAL '30' MINUTE
  WHERE r.year = 2026 AND r.month = 11 AND r.day BETWEEN 26 AND 27
  GROUP BY f.location_id, f.valid_at, f.lead_h, f.temperature, f.wind_gust
)
SELECT lead_h                                                    AS lead_hours,
       count(*)                                                  AS steps,
       round(avg(fc_temperature - obs_temperature), 2)           AS temperature_bias,
       round(avg(abs(fc_temperature - obs_temperature)), 2)      AS temperature_mae,
       round(sqrt(avg(power(fc_temperature - obs_temperature, 2))), 2) AS temperature_rmse,
       round(avg(abs(fc_wind_gust - obs_wind_gust)), 2)          AS wind_gust_mae
FROM o
GROUP BY lead_h
ORDER BY lead_h;
