package benchmark

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/pkg/alert"
	"github.com/weatherd/weatherd/pkg/config"
	"github.com/weatherd/weatherd/pkg/lake"
	"github.com/weatherd/weatherd/pkg/pipeline"
	"github.com/weatherd/weatherd/pkg/stream"
)

// The pipeline benchmarks' input: the same readings for BenchmarkPipelineVsDuckDB
// and the memory benchmark in pipelinemem.
const (
	PipelineReadings  = 100_000
	PipelineLocations = 50
	PipelineStep      = 6 * time.Second // 2,000 readings a location: 3h20m of weather
	PipelineShards    = 2               // the default stream.kinesis.shards
)

// PipelineInput writes the pipeline benchmarks' readings to dir as NDJSON
// and returns the data set with its bodies mapped from that file (unmapped
// when tb's test ends) and the file's path. The generated bodies are garbage
// once it returns.
func PipelineInput(tb testing.TB, dir string) (*Dataset, string) {
	tb.Helper()
	ds := NewDataset(PipelineReadings, PipelineLocations, PipelineStep, 1)
	in := filepath.Join(dir, "readings.ndjson")
	if err := ds.WriteNDJSON(in); err != nil {
		tb.Fatal(err)
	}
	bodies, unmap := MapLines(tb, in)
	tb.Cleanup(unmap)
	if len(bodies) != PipelineReadings {
		tb.Fatalf("mapped %d lines, want %d", len(bodies), PipelineReadings)
	}
	return ds.WithBodies(bodies), in
}

// RunPipeline pushes every shard's records through its own pipeline
// processor concurrently, as the consumer does, and stops each with a final
// flush. Without rules the alert engine has no rules to evaluate.
func RunPipeline(b testing.TB, ds *Dataset, shards [][]stream.Record, dir string, rules bool) {
	b.Helper()
	cfg, err := config.Default()
	if err != nil {
		b.Fatal(err)
	}
	if !rules {
		cfg.Alerts.Rules = nil
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	alerts, err := alert.New(cfg.Alerts, ds.Locations, alert.Deps{}, reg, log)
	if err != nil {
		b.Fatal(err)
	}
	cfg.Lake.URL = "file://" + dir
	loc, err := lake.ParseURL(cfg.Lake.URL)
	if err != nil {
		b.Fatal(err)
	}
	store, err := lake.OpenStore(context.Background(), loc, nil)
	if err != nil {
		b.Fatal(err)
	}
	w, err := lake.New(cfg.Lake, store, reg, log)
	if err != nil {
		b.Fatal(err)
	}
	f := &pipeline.Factory{
		Stream:  "bench",
		Alerts:  alerts,
		Lake:    func(s, shard string) pipeline.ShardSink { return w.Shard(s, shard) },
		Metrics: pipeline.NewMetrics(reg),
		Log:     log,

		MaxClockSkew: cfg.Consumer.MaxClockSkew,
	}
	batch := cfg.Consumer.MaxRecords
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, len(shards))
	for i, recs := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = runShard(ctx, f.New(), fmt.Sprintf("shardId-%012d", i), recs, batch)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
}

func runShard(ctx context.Context, p stream.Processor, shard string, recs []stream.Record, batch int) error {
	cp := &checkpoints{}
	if err := p.Initialize(ctx, shard, stream.Position{Initial: "TRIM_HORIZON"}); err != nil {
		return err
	}
	for lo := 0; lo < len(recs); lo += batch {
		if err := p.ProcessRecords(ctx, recs[lo:min(lo+batch, len(recs))], cp); err != nil {
			return err
		}
	}
	if err := p.Shutdown(ctx, stream.Requested, cp); err != nil {
		return err
	}
	if last := recs[len(recs)-1].SequenceNumber; cp.last != last {
		return fmt.Errorf("shard %s checkpointed %q, want the last record %q", shard, cp.last, last)
	}
	return nil
}

// checkpoints records the last checkpoint of a shard.
type checkpoints struct{ last string }

func (c *checkpoints) Checkpoint(_ context.Context, seq string) error {
	c.last = seq
	return nil
}

// MapLines maps path read-only and returns its lines (without the newline).
func MapLines(b testing.TB, path string) ([][]byte, func()) {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		b.Fatalf("mmap %s: %v", path, err)
	}
	var lines [][]byte
	for rest := data; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			i = len(rest)
		}
		lines = append(lines, rest[:i:i])
		rest = rest[min(i+1, len(rest)):]
	}
	return lines, func() { syscall.Munmap(data) }
}
