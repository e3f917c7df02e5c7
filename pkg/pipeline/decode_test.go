package pipeline

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weatherd/weatherd/pkg/stream"
	"github.com/weatherd/weatherd/pkg/weather"
)

// TestDecodeAll_LargeBatchInOrder decodes a batch big enough for several
// goroutines, with poison records scattered through it, and checks every
// item against decoding one record at a time.
func TestDecodeAll_LargeBatchInOrder(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	records := make([]stream.Record, 5*decodeChunk+7)
	for i := range records {
		if i%997 == 0 {
			records[i] = stream.Record{Data: []byte(fmt.Sprintf(`{"schema":"bad-%d"}`, i)), PartitionKey: "x", SequenceNumber: fmt.Sprintf("%020d", i)}
			continue
		}
		records[i] = record(t, i, fmt.Sprintf("loc-%d", i%7), at.Add(time.Duration(i)*time.Second), float64(i%30))
	}
	var b batchBuf
	items, _ := b.sized(len(records))
	decodeAll(records, items, &b)
	for i := range records {
		want, wantErr := weather.Decode(records[i].Data)
		got := items[i]
		if !reflect.DeepEqual(got.Record, records[i]) || !reflect.DeepEqual(got.Reading, want) || fmt.Sprint(got.Err) != fmt.Sprint(wantErr) {
			t.Fatalf("item %d = %+v, want record %s decoded as %+v, %v", i, got, records[i].SequenceNumber, want, wantErr)
		}
	}
}

// TestDecodeAll_ReusesItems decodes two batches through one batchBuf: the
// second batch's readings carry fewer and different values, and must equal
// a fresh decode (no value left over from the first batch), and decoding
// allocates nothing for the values: only each reading's four strings.
func TestDecodeAll_ReusesItems(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	var b batchBuf
	first := make([]stream.Record, 40)
	for i := range first {
		first[i] = record(t, i, fmt.Sprintf("loc-%d", i%3), at.Add(time.Duration(i)*time.Second), float64(i))
	}
	items, _ := b.sized(len(first))
	decodeAll(first, items, &b)
	b.release()

	second := make([]stream.Record, len(first))
	for i := range second {
		v := weather.Values{}
		v.Set("humidity", float64(50+i))
		if i%2 == 0 {
			v.SetNull("rainIntensity")
		}
		r := weather.NewReading(weather.Location{ID: "other", Name: "Other", Lat: 3, Lon: 4}, "simulated", at.Add(time.Hour+time.Duration(i)*time.Second), at, v)
		data, err := r.Encode()
		if err != nil {
			t.Fatal(err)
		}
		second[i] = stream.Record{Data: data, PartitionKey: "other", SequenceNumber: fmt.Sprintf("%020d", 100+i)}
	}
	items, _ = b.sized(len(second))
	decodeAll(second, items, &b)
	for i := range second {
		want, err := weather.Decode(second[i].Data)
		if err != nil || items[i].Err != nil {
			t.Fatalf("record %d: %v / %v", i, err, items[i].Err)
		}
		if !reflect.DeepEqual(items[i].Reading, want) {
			t.Fatalf("item %d = %+v, want %+v", i, items[i].Reading.Values.Map(), want.Values.Map())
		}
	}
	allocs := testing.AllocsPerRun(20, func() { decodeAll(second, items, &b) })
	if want := float64(4*len(second) + 1); allocs != want {
		t.Errorf("%v allocations to decode %d records, want %v (event id, location id and name, provider; one for the batch)", allocs, len(second), want)
	}
}

// TestProcessor_LargeBatch runs a batch decoded in parallel through the
// processor: the alert engine sees the good readings in stream order and
// the lake gets every record.
func TestProcessor_LargeBatch(t *testing.T) {
	rg := newRig(t)
	var seen []string
	rg.factory.Alerts = observerFunc(func(_ context.Context, rs []weather.Reading) error {
		for _, r := range rs {
			seen = append(seen, r.EventID)
		}
		return nil
	})
	p := rg.factory.New()
	ctx := context.Background()
	if err := p.Initialize(ctx, "shardId-000000000000", stream.Position{Initial: "TRIM_HORIZON"}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	all := make([]stream.Record, 2*(2*subBatch+3*decodeChunk)) // two batches of three slices
	var want []string
	for i := range all {
		if i == 1500 {
			all[i] = stream.Record{Data: []byte("not json"), PartitionKey: "x", SequenceNumber: fmt.Sprintf("%020d", i+1), ArrivedAt: at}
			continue
		}
		loc := fmt.Sprintf("loc-%d", i%3)
		obs := at.Add(time.Duration(i) * time.Second)
		all[i] = record(t, i+1, loc, obs, 5)
		want = append(want, weather.EventID(loc, obs))
	}
	cp := &checkpoints{}
	half := len(all) / 2
	for _, batch := range [][]stream.Record{all[:half], all[half:]} {
		if err := p.ProcessRecords(ctx, batch, cp); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Shutdown(ctx, stream.Requested, cp); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("alerts saw %d readings, want %d in stream order", len(seen), len(want))
	}
	if last := cp.seqs[len(cp.seqs)-1]; last != fmt.Sprintf("%020d", len(all)) {
		t.Errorf("last checkpoint %s, want the last record", last)
	}
	if n := len(files(t, rg.dir, "errors")); n != 1 {
		t.Errorf("%d errors/ objects, want 1", n)
	}
	if got := testutilCount(rg); got != float64(len(all)) {
		t.Errorf("weatherd_consumer_records_total = %v, want %d", got, len(all))
	}
}

func testutilCount(rg *rig) float64 { return testutil.ToFloat64(rg.factory.Metrics.records) }

// TestProcessor_LargeBatchAlertFailureRetried: the alert engine fails on the
// second slice of a large batch, after the lake took the first; the batch
// is refused, and its retry leaves every record in raw/ exactly once.
func TestProcessor_LargeBatchAlertFailureRetried(t *testing.T) {
	rg := newRig(t)
	calls := 0
	rg.factory.Alerts = observerFunc(func(context.Context, []weather.Reading) error {
		calls++
		if calls == 2 {
			return errors.New("outbox full")
		}
		return nil
	})
	p := rg.factory.New()
	ctx := context.Background()
	if err := p.Initialize(ctx, "shardId-000000000000", stream.Position{Initial: "TRIM_HORIZON"}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	batch := make([]stream.Record, 3*subBatch)
	for i := range batch {
		batch[i] = record(t, i+1, fmt.Sprintf("loc-%d", i%3), at.Add(time.Duration(i)*time.Second), 5)
	}
	cp := &checkpoints{}
	if err := p.ProcessRecords(ctx, batch, cp); err == nil || !strings.Contains(err.Error(), "evaluate alerts: outbox full") {
		t.Fatalf("first try: err = %v, want the alert failure", err)
	}
	if got := testutilCount(rg); got != 0 {
		t.Errorf("records counted after a refused batch: %v", got)
	}
	if err := p.ProcessRecords(ctx, batch, cp); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if err := p.Shutdown(ctx, stream.Requested, cp); err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, name := range files(t, rg.dir, "raw") {
		f, err := os.Open(filepath.Join(rg.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		lines += bytes.Count(data, []byte{'\n'})
	}
	if lines != len(batch) {
		t.Errorf("raw/ holds %d lines, want %d (each record once)", lines, len(batch))
	}
	if got := testutilCount(rg); got != float64(len(batch)) {
		t.Errorf("weatherd_consumer_records_total = %v, want %d", got, len(batch))
	}
}

// TestSubBatchEnd: a slice ends after subBatch records, or before the
// record that would take its data past subBatchBytes; a record larger than
// that is a slice of its own.
func TestSubBatchEnd(t *testing.T) {
	recs := func(sizes ...int) []stream.Record {
		out := make([]stream.Record, len(sizes))
		for i, n := range sizes {
			out[i].Data = make([]byte, n)
		}
		return out
	}
	reading := make([]int, subBatch+10)
	for i := range reading {
		reading[i] = 600
	}
	forecast := 32 << 10
	for _, c := range []struct {
		name string
		recs []stream.Record
		lo   int
		want int
	}{
		{"readings: the record bound", recs(reading...), 0, subBatch},
		{"readings: the rest", recs(reading...), subBatch, subBatch + 10},
		{"forecasts: the byte bound", recs(slices.Repeat([]int{forecast}, 200)...), 0, subBatchBytes / forecast},
		{"exactly the bytes", recs(subBatchBytes/2, subBatchBytes/2, 1), 0, 2},
		{"one over", recs(subBatchBytes/2, subBatchBytes/2+1, 1), 0, 1},
		{"a record over the bound alone", recs(subBatchBytes+1, 10), 0, 1},
		{"and the next one after it", recs(subBatchBytes+1, 10), 1, 2},
	} {
		if got := subBatchEnd(c.recs, c.lo); got != c.want {
			t.Errorf("%s: subBatchEnd(%d) = %d, want %d", c.name, c.lo, got, c.want)
		}
	}
}
