-- weatherd lake tables for Amazon Athena (engine v3).
--
-- Replace s3://YOUR-BUCKET/weatherd with your lake.url (s3://bucket/prefix)
-- everywhere below, then run the statements in order, in the Athena console
-- or with the AWS CLI. Athena takes one statement per start-query-execution,
-- and runs it asynchronously, so this loop sends one at a time and waits for
-- each (RESULTS is an S3 location for Athena's query results):
--
--   RESULTS=s3://YOUR-BUCKET/athena-results/
--   sed 's/--.*//' tables.sql |
--   awk 'BEGIN { RS = ";" } { gsub(/^[ \t\n]+|[ \t\n]+$/, "") } $0 != "" { printf "%s%c", $0, 0 }' |
--   while IFS= read -r -d '' stmt; do
--     id=$(aws athena start-query-execution --query-string "$stmt" \
--       --result-configuration "OutputLocation=$RESULTS" \
--       --query QueryExecutionId --output text) || break
--     while state=$(aws athena get-query-execution --query-execution-id "$id" \
--       --query QueryExecution.Status.State --output text) &&
--       [ "$state" = QUEUED ] || [ "$state" = RUNNING ]; do sleep 1; done
--     echo "$state: $(printf '%s' "$stmt" | head -n 1)"
--     [ "$state" = SUCCEEDED ] || break
--   done
--
-- Partition projection computes the partitions from the query's filters: no
-- crawler, no MSCK REPAIR, and a new hour is queryable as soon as its first
-- object lands. Always filter on year/month/day/hour to keep scans small.

CREATE DATABASE IF NOT EXISTS weatherd;

-- gold/: typed Parquet, one row per reading. Column types match every file
-- weatherd writes (observed_at/ingested_at are INT64 TIMESTAMP_MILLIS, UTC;
-- codes are INT32; all values DOUBLE and nullable).
CREATE EXTERNAL TABLE IF NOT EXISTS weatherd.readings (
  event_id                  string,
  location_id               string,
  location_name             string,
  lat                       double,
  lon                       double,
  observed_at               timestamp,
  ingested_at               timestamp,
  provider                  string,
  temperature               double,
  temperature_apparent      double,
  dew_point                 double,
  humidity                  double,
  wind_speed                double,
  wind_gust                 double,
  wind_direction            double,
  pressure_surface_level    double,
  pressure_sea_level        double,
  weather_code              int,
  precipitation_intensity   double,
  precipitation_probability double,
  precipitation_type        int,
  rain_intensity            double,
  freezing_rain_intensity   double,
  snow_intensity            double,
  sleet_intensity           double,
  rain_accumulation         double,
  snow_accumulation         double,
  sleet_accumulation        double,
  ice_accumulation          double,
  visibility                double,
  cloud_cover               double,
  cloud_base                double,
  cloud_ceiling             double,
  uv_index                  double,
  uv_health_concern         int,
  evapotranspiration        double
)
PARTITIONED BY (year int, month int, day int, hour int)
STORED AS PARQUET
LOCATION 's3://YOUR-BUCKET/weatherd/gold/'
TBLPROPERTIES (
  'projection.enabled'        = 'true',
  'projection.year.type'      = 'integer',
  'projection.year.range'     = '2024,2040',
  'projection.month.type'     = 'integer',
  'projection.month.range'    = '1,12',
  'projection.month.digits'   = '2',
  'projection.day.type'       = 'integer',
  'projection.day.range'      = '1,31',
  'projection.day.digits'     = '2',
  'projection.hour.type'      = 'integer',
  'projection.hour.range'     = '0,23',
  'projection.hour.digits'    = '2',
  'storage.location.template' = 's3://YOUR-BUCKET/weatherd/gold/year=${year}/month=${month}/day=${day}/hour=${hour}/'
);

-- raw/: the reading events exactly as they travelled on the stream
-- (gzip NDJSON). values is a map, so value names without a gold column are
-- still queryable here. Timestamps are ISO 8601 strings: use
-- from_iso8601_timestamp(observed_at).
CREATE EXTERNAL TABLE IF NOT EXISTS weatherd.readings_raw (
  `schema`     string,
  event_id     string,
  location     struct<id:string, name:string, lat:double, lon:double>,
  observed_at  string,
  ingested_at  string,
  provider     string,
  units        string,
  `values`     map<string, double>
)
PARTITIONED BY (year int, month int, day int, hour int)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json' = 'true')
LOCATION 's3://YOUR-BUCKET/weatherd/raw/'
TBLPROPERTIES (
  'projection.enabled'        = 'true',
  'projection.year.type'      = 'integer',
  'projection.year.range'     = '2024,2040',
  'projection.month.type'     = 'integer',
  'projection.month.range'    = '1,12',
  'projection.month.digits'   = '2',
  'projection.day.type'       = 'integer',
  'projection.day.range'      = '1,31',
  'projection.day.digits'     = '2',
  'projection.hour.type'      = 'integer',
  'projection.hour.range'     = '0,23',
  'projection.hour.digits'    = '2',
  'storage.location.template' = 's3://YOUR-BUCKET/weatherd/raw/year=${year}/month=${month}/day=${day}/hour=${hour}/'
);

-- errors/: stream records that were not usable readings. data is the record
-- as received, base64 (from_base64(data) in a query); partitioned by the
-- observed_at the bytes still carried, else by stream arrival time.
CREATE EXTERNAL TABLE IF NOT EXISTS weatherd.reading_errors (
  reason           string,
  stream           string,
  shard            string,
  sequence_number  string,
  partition_key    string,
  arrived_at       string,
  data             string
)
PARTITIONED BY (year int, month int, day int, hour int)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
LOCATION 's3://YOUR-BUCKET/weatherd/errors/'
TBLPROPERTIES (
  'projection.enabled'        = 'true',
  'projection.year.type'      = 'integer',
  'projection.year.range'     = '2024,2040',
  'projection.month.type'     = 'integer',
  'projection.month.range'    = '1,12',
  'projection.month.digits'   = '2',
  'projection.day.type'       = 'integer',
  'projection.day.range'      = '1,31',
  'projection.day.digits'     = '2',
  'projection.hour.type'      = 'integer',
  'projection.hour.range'     = '0,23',
  'projection.hour.digits'    = '2',
  'storage.location.template' = 's3://YOUR-BUCKET/weatherd/errors/year=${year}/month=${month}/day=${day}/hour=${hour}/'
);

-- forecast/gold/: typed Parquet, one row per forecast step, i.e. per
-- (location, issued_at, valid_at). Partitioned by the hour of issued_at.
-- lead_hours is valid_at - issued_at in hours (fractional when the poller's
-- forecast schedule is not on the hour); the value columns are the
-- readings' (same names, types and metric units).
CREATE EXTERNAL TABLE IF NOT EXISTS weatherd.forecasts (
  event_id                  string,
  location_id               string,
  location_name             string,
  lat                       double,
  lon                       double,
  issued_at                 timestamp,
  valid_at                  timestamp,
  lead_hours                double,
  ingested_at               timestamp,
  provider                  string,
  temperature               double,
  temperature_apparent      double,
  dew_point                 double,
  humidity                  double,
  wind_speed                double,
  wind_gust                 double,
  wind_direction            double,
  pressure_surface_level    double,
  pressure_sea_level        double,
  weather_code              int,
  precipitation_intensity   double,
  precipitation_probability double,
  precipitation_type        int,
  rain_intensity            double,
  freezing_rain_intensity   double,
  snow_intensity            double,
  sleet_intensity           double,
  rain_accumulation         double,
  snow_accumulation         double,
  sleet_accumulation        double,
  ice_accumulation          double,
  visibility                double,
  cloud_cover               double,
  cloud_base                double,
  cloud_ceiling             double,
  uv_index                  double,
  uv_health_concern         int,
  evapotranspiration        double
)
PARTITIONED BY (year int, month int, day int, hour int)
STORED AS PARQUET
LOCATION 's3://YOUR-BUCKET/weatherd/forecast/gold/'
TBLPROPERTIES (
  'projection.enabled'        = 'true',
  'projection.year.type'      = 'integer',
  'projection.year.range'     = '2024,2040',
  'projection.month.type'     = 'integer',
  'projection.month.range'    = '1,12',
  'projection.month.digits'   = '2',
  'projection.day.type'       = 'integer',
  'projection.day.range'      = '1,31',
  'projection.day.digits'     = '2',
  'projection.hour.type'      = 'integer',
  'projection.hour.range'     = '0,23',
  'projection.hour.digits'    = '2',
  'storage.location.template' = 's3://YOUR-BUCKET/weatherd/forecast/gold/year=${year}/month=${month}/day=${day}/hour=${hour}/'
);

-- forecast/raw/: the forecast events exactly as they travelled on the
-- stream (gzip NDJSON), partitioned by the hour of issued_at.
CREATE EXTERNAL TABLE IF NOT EXISTS weatherd.forecasts_raw (
  `schema`     string,
  event_id     string,
  location     struct<id:string, name:string, lat:double, lon:double>,
  issued_at    string,
  ingested_at  string,
  provider     string,
  units        string,
  steps        array<struct<valid_at:string, `values`:map<string, double>>>
)
PARTITIONED BY (year int, month int, day int, hour int)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json' = 'true')
LOCATION 's3://YOUR-BUCKET/weatherd/forecast/raw/'
TBLPROPERTIES (
  'projection.enabled'        = 'true',
  'projection.year.type'      = 'integer',
  'projection.year.range'     = '2024,2040',
  'projection.month.type'     = 'integer',
  'projection.month.range'    = '1,12',
  'projection.month.digits'   = '2',
  'projection.day.type'       = 'integer',
  'projection.day.range'      = '1,31',
  'projection.day.digits'     = '2',
  'projection.hour.type'      = 'integer',
  'projection.hour.range'     = '0,23',
  'projection.hour.digits'    = '2',
  'storage.location.template' = 's3://YOUR-BUCKET/weatherd/forecast/raw/year=${year}/month=${month}/day=${day}/hour=${hour}/'
);
