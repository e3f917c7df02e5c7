package lake

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
	"github.com/weatherd/weatherd/pkg/leader"
)

// TestWriter_CompactsOnlyOnTheLeader: two replicas share one lake and a
// leader lease in DynamoDB (dynalite). When the compaction schedule fires
// on both, the follower skips the run (counted as not_leader) and leaves
// the files alone; the leader merges them. After the leader stops, the
// follower takes the lease and compacts.
func TestWriter_CompactsOnlyOnTheLeader(t *testing.T) {
	ctx := context.Background()
	store, dir := MustFileStore(t)
	cfg := testConfig(dir)
	cfg.Compaction.Enabled = true
	realNow := time.Now()
	off := int(realNow.UTC().Truncate(time.Hour).Sub(baseHour)/time.Hour) - 5
	writeGold := func(from, n int) {
		w, _ := MustWriter(t, cfg, store)
		sw := w.Shard("s", "shard-0")
		for i := from; i < from+n; i++ {
			if err := sw.Add(ctx, items(t, i+1, func(int) int { return off })[i:], &recCP{}); err != nil {
				t.Fatal(err)
			}
			if err := sw.Flush(ctx, &recCP{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	goldFiles := func() []string { return listKeys(t, store, "gold/") }
	writeGold(0, 3)
	if n := len(goldFiles()); n != 3 {
		t.Fatalf("%d gold files, want 3", n)
	}

	ddb := emulator.DynamoDB(t)
	table := emulator.Name(t, "leader")
	if err := leader.EnsureTable(ctx, ddb, table); err != nil {
		t.Fatal(err)
	}
	replica := func(id string) (*Writer, *prometheus.Registry, *leader.Elector, context.CancelFunc) {
		w, reg := MustWriter(t, cfg, store)
		w.now = func() time.Time { return realNow.Add(3 * time.Hour) } // the files are old enough
		e, err := leader.New(leader.Config{Table: table, Name: "poller", LeaseDuration: 2 * time.Second, RenewInterval: 400 * time.Millisecond, ID: id},
			ddb, leader.NewMetrics(prometheus.NewRegistry()), slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		w.CompactOnlyWhileLeading(e)
		ectx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = e.Run(ectx) }()
		stop := func() { cancel(); <-done }
		t.Cleanup(stop)
		return w, reg, e, stop
	}
	wa, rega, ea, stopA := replica("replica-a")
	testkit.WaitFor(t, "replica-a leading", 10*time.Second, 50*time.Millisecond, func() (bool, string) { return ea.Leading(), "" })
	wb, regb, eb, _ := replica("replica-b")

	wb.compactIfLeading(ctx)
	if got := testCounterVec(t, regb, "weatherd_lake_compaction_runs_total", "outcome", "not_leader"); got != 1 {
		t.Errorf("follower: compaction runs{not_leader} = %v, want 1", got)
	}
	if n := len(goldFiles()); n != 3 {
		t.Fatalf("the follower compacted: %d gold files, want the 3 inputs", n)
	}
	wa.compactIfLeading(ctx)
	if got := testCounterVec(t, rega, "weatherd_lake_compaction_runs_total", "outcome", "ok"); got != 1 {
		t.Errorf("leader: compaction runs{ok} = %v, want 1", got)
	}
	files := goldFiles()
	if len(files) != 1 || !strings.Contains(files[0], "/"+compactedPrefix) {
		t.Fatalf("after the leader's run: gold files %v, want one compacted file", files)
	}

	writeGold(3, 2)
	stopA() // releases the lease
	testkit.WaitFor(t, "replica-b leading", 10*time.Second, 50*time.Millisecond, func() (bool, string) { return eb.Leading(), "" })
	wb.compactIfLeading(ctx)
	if got := testCounterVec(t, regb, "weatherd_lake_compaction_runs_total", "outcome", "ok"); got != 1 {
		t.Errorf("new leader: compaction runs{ok} = %v, want 1", got)
	}
	if files := goldFiles(); len(files) != 1 {
		t.Errorf("after the new leader's run: gold files %v, want one", files)
	}
}
