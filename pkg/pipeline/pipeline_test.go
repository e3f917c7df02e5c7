package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/alert"
	"github.com/weatherd/weatherd/pkg/config"
	"github.com/weatherd/weatherd/pkg/lake"
	"github.com/weatherd/weatherd/pkg/stream"
	"github.com/weatherd/weatherd/pkg/weather"
)

type checkpoints struct {
	mu   sync.Mutex
	seqs []string
}

func (c *checkpoints) Checkpoint(_ context.Context, seq string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seqs = append(c.seqs, seq)
	return nil
}

// observerFunc lets one test make the alert step fail.
type observerFunc func(context.Context, []weather.Reading) error

func (f observerFunc) Observe(ctx context.Context, r []weather.Reading) error { return f(ctx, r) }

type rig struct {
	factory *Factory
	dir     string
	reg     *prometheus.Registry
	engine  *alert.Engine
	// notices holds the log channel's notification lines (the embedded
	// default routes every rule to it).
	notices *testkit.SyncBuffer
}

// newRig wires the real alert engine and a file lake from the embedded default.
func newRig(t *testing.T) *rig {
	t.Helper()
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg.Lake.URL = "file://" + dir
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	notices := &testkit.SyncBuffer{}
	engine, err := alert.New(cfg.Alerts, cfg.Locations, alert.Deps{Now: time.Now}, reg, slog.New(slog.NewTextHandler(notices, nil)))
	if err != nil {
		t.Fatal(err)
	}
	loc, err := lake.ParseURL(cfg.Lake.URL)
	if err != nil {
		t.Fatal(err)
	}
	store, err := lake.OpenStore(context.Background(), loc, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := lake.New(cfg.Lake, store, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	f := &Factory{
		Stream:  "weather-readings",
		Alerts:  engine,
		Lake:    func(s, shard string) ShardSink { return w.Shard(s, shard) },
		Metrics: NewMetrics(reg),
		Log:     log,

		MaxClockSkew: cfg.Consumer.MaxClockSkew,
	}
	return &rig{factory: f, dir: dir, reg: reg, engine: engine, notices: notices}
}

func record(t *testing.T, seq int, loc string, at time.Time, gust float64) stream.Record {
	t.Helper()
	v := weather.Values{}
	v.Set("windGust", gust)
	v.Set("windSpeed", gust/1.4)
	v.Set("temperature", 20)
	r := weather.NewReading(weather.Location{ID: loc, Name: loc, Lat: 1, Lon: 2}, "simulated", at, at, v)
	data, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return stream.Record{Data: data, PartitionKey: loc, SequenceNumber: fmt.Sprintf("%020d", seq), ArrivedAt: at}
}

func files(t *testing.T, dir, kind string) []string {
	t.Helper()
	var out []string
	_ = filepath.Walk(filepath.Join(dir, kind), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// TestProcessor_GoodAndPoisonRecords: one poison record among good ones goes
// to errors/, the rest to raw/ and gold/, alerts see the good ones, and the
// checkpoint is written only by the flush.
func TestProcessor_GoodAndPoisonRecords(t *testing.T) {
	rg := newRig(t)
	p := rg.factory.New()
	ctx := context.Background()
	if err := p.Initialize(ctx, "shardId-000000000001", stream.Position{Initial: "TRIM_HORIZON"}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	batch := []stream.Record{
		record(t, 1, "sao-paulo", at, 5),
		record(t, 2, "sao-paulo", at.Add(time.Minute), 25), // strong wind fires
		{Data: []byte(`{"schema":"something else"}`), PartitionKey: "x", SequenceNumber: fmt.Sprintf("%020d", 3), ArrivedAt: at},
		record(t, 4, "lisbon", at.Add(-2*time.Hour), 3), // late: its own partition
	}
	cp := &checkpoints{}
	if err := p.ProcessRecords(ctx, batch, cp); err != nil {
		t.Fatal(err)
	}
	if len(cp.seqs) != 0 {
		t.Fatalf("checkpointed %v before the lake flushed", cp.seqs)
	}
	if err := p.Shutdown(ctx, stream.Requested, cp); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(cp.seqs) != "[00000000000000000004]" {
		t.Errorf("checkpoints = %v, want the last record's after the flush", cp.seqs)
	}
	want := map[string][]string{
		"raw": {
			"raw/year=2026/month=11/day=27/hour=07/weather-readings-shardId-000000000001-00000000000000000004.json.gz",
			"raw/year=2026/month=11/day=27/hour=09/weather-readings-shardId-000000000001-00000000000000000001.json.gz",
		},
		"gold": {
			"gold/year=2026/month=11/day=27/hour=07/weather-readings-shardId-000000000001-00000000000000000004.parquet",
			"gold/year=2026/month=11/day=27/hour=09/weather-readings-shardId-000000000001-00000000000000000001.parquet",
		},
		"errors": {
			"errors/year=2026/month=11/day=27/hour=09/weather-readings-shardId-000000000001-00000000000000000003.json.gz",
		},
	}
	for kind, names := range want {
		if got := files(t, rg.dir, kind); strings.Join(got, "\n") != strings.Join(names, "\n") {
			t.Errorf("%s objects:\n%s\nwant:\n%s", kind, strings.Join(got, "\n"), strings.Join(names, "\n"))
		}
	}
	if got := testutil.ToFloat64(rg.factory.Metrics.records); got != 4 {
		t.Errorf("weatherd_consumer_records_total = %v, want 4", got)
	}
	// strong-wind fired for sao-paulo (gust 25), and for nothing else.
	if got := testutil.ToFloat64(mustCounterVec(t, rg.reg, "weatherd_alert_transitions_total", "rule", "strong-wind", "state", "firing")); got != 1 {
		t.Errorf("weatherd_alert_transitions_total{rule=strong-wind,state=firing} = %v, want 1", got)
	}
	rg.engine.Tick(ctx) // delivers the outbox to the log channel
	var fired []string
	for _, line := range strings.Split(rg.notices.String(), "\n") {
		if strings.Contains(line, `msg="alert notification"`) {
			fired = append(fired, line[strings.Index(line, " state="):strings.Index(line, " severity=")])
		}
	}
	if want := []string{" state=firing rule=strong-wind location=sao-paulo"}; !slices.Equal(fired, want) {
		t.Errorf("notifications %q, want %q\n%s", fired, want, rg.notices)
	}
	if got := testutil.ToFloat64(mustCounter(t, rg.reg, "weatherd_poison_records_total")); got != 1 {
		t.Errorf("weatherd_poison_records_total = %v, want 1", got)
	}
}

// mustCounterVec returns a copy of the series of name with exactly the
// label pairs given (name, value, ...), or a zero counter when there is none.
func mustCounterVec(t *testing.T, reg *prometheus.Registry, name string, labels ...string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: "copy"})
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if got[labels[i]] != labels[i+1] {
					continue series
				}
			}
			c.Add(m.GetCounter().GetValue())
		}
	}
	return c
}

func mustCounter(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: "copy"})
			var sum float64
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			c.Add(sum)
			return c
		}
	}
	t.Fatalf("metric %s not registered", name)
	return nil
}

// TestProcessor_AlertFailureKeepsTheBatch: when notifications cannot be made
// safe, the batch is refused (the consumer retries it) and nothing reaches
// the lake or the checkpoint.
func TestProcessor_AlertFailureKeepsTheBatch(t *testing.T) {
	rg := newRig(t)
	failing := true
	rg.factory.Alerts = observerFunc(func(ctx context.Context, r []weather.Reading) error {
		if failing {
			return alert.ErrOutboxFull
		}
		return rg.engine.Observe(ctx, r)
	})
	p := rg.factory.New()
	ctx := context.Background()
	_ = p.Initialize(ctx, "shard-1", stream.Position{})
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	batch := []stream.Record{record(t, 1, "rio", at, 5), record(t, 2, "rio", at.Add(time.Minute), 6)}
	cp := &checkpoints{}
	err := p.ProcessRecords(ctx, batch, cp)
	if !errors.Is(err, alert.ErrOutboxFull) || !strings.HasPrefix(err.Error(), "evaluate alerts: ") {
		t.Fatalf("err = %v", err)
	}
	failing = false
	if err := p.ProcessRecords(ctx, batch, cp); err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(ctx, stream.Requested, cp); err != nil {
		t.Fatal(err)
	}
	if got := files(t, rg.dir, "gold"); len(got) != 1 {
		t.Errorf("gold objects = %v, want one after the retry", got)
	}
	if fmt.Sprint(cp.seqs) != "[00000000000000000002]" {
		t.Errorf("checkpoints = %v", cp.seqs)
	}
}

// TestProcessor_LeaseLostDropsTheBuffer: a processor whose lease moved writes
// nothing and checkpoints nothing; the new owner replays.
func TestProcessor_LeaseLostDropsTheBuffer(t *testing.T) {
	rg := newRig(t)
	p := rg.factory.New()
	ctx := context.Background()
	_ = p.Initialize(ctx, "shard-1", stream.Position{})
	cp := &checkpoints{}
	if err := p.ProcessRecords(ctx, []stream.Record{record(t, 1, "rio", time.Now(), 5)}, cp); err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(ctx, stream.LeaseLost, cp); err != nil {
		t.Fatal(err)
	}
	if got := files(t, rg.dir, "raw"); len(got) != 0 || len(cp.seqs) != 0 {
		t.Errorf("after losing the lease: objects %v, checkpoints %v", got, cp.seqs)
	}
}
