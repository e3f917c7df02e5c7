// Package lake writes the consumed readings to the data lake: raw NDJSON,
// typed Parquet and rejected records, partitioned by event hour, with object
// names derived from the stream position so a replay overwrites instead of
// duplicating, and the shard checkpointed only after every object is durable.
package lake

import (
	"fmt"
	"strings"
	"time"
)

// Object kinds: the top-level prefixes of the lake and the kind label of the
// write metrics ("compacted" is a gold file written by compaction).
const (
	kindRaw       = "raw"
	kindGold      = "gold"
	kindErrors    = "errors"
	kindCompacted = "compacted"
	// kindForecastRaw and kindForecastGold are the forecast events as
	// received and the gold forecast table, both under forecast/ (see
	// objectKey).
	kindForecastRaw  = "forecast_raw"
	kindForecastGold = "forecast_gold"
)

// partitionPath is the Hive-style partition directory of hour (UTC), e.g.
// year=2026/month=11/day=26/hour=23.
func partitionPath(hour time.Time) string {
	h := hour.UTC()
	return fmt.Sprintf("year=%04d/month=%02d/day=%02d/hour=%02d", h.Year(), int(h.Month()), h.Day(), h.Hour())
}

// objectName is the deterministic base name of the objects a flush writes
// for one partition: the stream, the shard and the sequence number of the
// first record of that partition in the flush. Every flush starts right after
// the shard's last checkpoint, so a replay after a crash produces the same
// first record, hence the same name, for every partition it touches and
// overwrites what the lost flush wrote (docs/lake.md, "Effectively once").
func objectName(streamName, shardID, firstSeq string) string {
	return safe(streamName) + "-" + safe(shardID) + "-" + safe(firstSeq)
}

// objectKey is the key of an object of kind (raw, gold, errors or a
// forecast kind) under the lake root. Forecasts have their own tree,
// forecast/raw/ and forecast/gold/, so the readings' tables never see them.
func objectKey(kind string, hour time.Time, name string) string {
	prefix, ext := kind, ".json.gz"
	switch kind {
	case kindGold:
		ext = ".parquet"
	case kindForecastRaw:
		prefix = "forecast/raw"
	case kindForecastGold:
		prefix, ext = "forecast/gold", ".parquet"
	}
	return prefix + "/" + partitionPath(hour) + "/" + name + ext
}

func safe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r < ' ' {
			return '_'
		}
		return r
	}, s)
}
