package daemon

import (
	"testing"
	"time"

	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
	"github.com/weatherd/weatherd/pkg/weather"
)

// TestDaemon_ReadingPutJustBeforeAStopReachesTheLakeNextRun: a reading put on
// the stream a moment before a graceful stop is usually not read by the
// stopping consumer. It stays on the stream past the last checkpoint, so the
// next run writes it to gold: nothing is lost across a stop, and nothing is
// written twice.
func TestDaemon_ReadingPutJustBeforeAStopReachesTheLakeNextRun(t *testing.T) {
	dir := t.TempDir()
	cfg := consumerOnly(t, dir)
	cfg.Lake.Flush.MaxAge = time.Second
	// After an empty read the consumer waits this long: a reading put then
	// and followed at once by the stop is, nearly always, not read.
	cfg.Consumer.IdleTimeBetweenReads = 5 * time.Second
	kin := emulator.Kinesis(t)
	base := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Minute)
	put := func(from, n int) {
		var recs []ktypes.PutRecordsRequestEntry
		for i := from; i < from+n; i++ {
			recs = append(recs, entry("calm", reading(t, "calm", base.Add(time.Duration(i)*time.Minute), 4)))
		}
		putInOrder(t, kin, cfg.Stream.Kinesis.Name, recs)
	}
	inGold := func() map[string]int {
		seen := map[string]int{}
		for _, r := range goldRows(t, dir) {
			seen[r.EventID]++
		}
		return seen
	}

	first := start(t, "first", cfg)
	put(0, 10)
	waitUntil(t, "the first run consuming 10 readings", 60*time.Second, func() bool {
		return first.metric(t, "weatherd_consumer_records_total") >= 10
	})
	put(10, 1)
	first.stop(t)
	last := weather.EventID("calm", base.Add(10*time.Minute))
	t.Logf("after the first run, the reading put just before the stop is in gold %d times", inGold()[last])

	second := start(t, "second", cfg)
	waitUntil(t, "the second run writing the last reading to gold", 60*time.Second, func() bool { return inGold()[last] > 0 })
	second.stop(t)
	seen := inGold()
	for i := range 11 {
		id := weather.EventID("calm", base.Add(time.Duration(i)*time.Minute))
		if seen[id] != 1 {
			t.Errorf("%s in gold %d times, want once", id, seen[id])
		}
	}
	if len(seen) != 11 {
		t.Errorf("gold holds %d readings, want 11: %v", len(seen), seen)
	}
}
