package lake

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestShardWriter_PoisonRecord(t *testing.T) {
	ctx := context.Background()
	in := items(t, 9, func(int) int { return 0 })
	// Record 4 is not JSON at all; record 6 is JSON with a readable
	// observed_at but the wrong schema.
	in[4] = decodeItem(4, []byte("not json \x00\xff"))
	bad := strings.Replace(string(in[6].Record.Data), "weatherd.reading/v1", "weatherd.reading/v9", 1)
	in[6] = decodeItem(6, []byte(bad))
	if in[4].Err == nil || in[6].Err == nil {
		t.Fatal("the bad records decoded")
	}

	t.Run("LandsInErrors", func(t *testing.T) {
		store, dir := MustFileStore(t)
		w, reg := MustWriter(t, testConfig(dir), store)
		sw := w.Shard("s", "shard-2")
		cp := &recCP{}
		if err := sw.Add(ctx, in, cp); err != nil {
			t.Fatal(err)
		}
		if err := sw.Flush(ctx, cp); err != nil {
			t.Fatal(err)
		}
		if got := cp.Calls(); !slices.Equal(got, []string{seqNo(8)}) {
			t.Fatalf("checkpoints = %v", got)
		}
		if got := counterValue(t, reg, "weatherd_poison_records_total"); got != 2 {
			t.Fatalf("poison records = %v, want 2", got)
		}
		// Record 4: partitioned by arrival (baseHour+10h = 2026-11-27 06:00);
		// record 6: by the observed_at it still carries (hour 20).
		keys := listKeys(t, store, "errors/")
		want := []string{
			"errors/year=2026/month=11/day=26/hour=20/s-shard-2-" + seqNo(6) + ".json.gz",
			"errors/year=2026/month=11/day=27/hour=06/s-shard-2-" + seqNo(4) + ".json.gz",
		}
		if !slices.Equal(keys, want) {
			t.Fatalf("errors objects = %v, want %v", keys, want)
		}
		var rec ErrorRecord
		lines := gunzipLines(t, store, want[1])
		if len(lines) != 1 {
			t.Fatalf("lines = %d", len(lines))
		}
		if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
			t.Fatal(err)
		}
		wantRec := ErrorRecord{Reason: in[4].Err.Error(), Stream: "s", Shard: "shard-2", SequenceNumber: seqNo(4),
			PartitionKey: "p", ArrivedAt: baseHour.Add(10*time.Hour + 4*time.Millisecond), Data: []byte("not json \x00\xff")}
		if rec.Reason != wantRec.Reason || rec.SequenceNumber != wantRec.SequenceNumber || !rec.ArrivedAt.Equal(wantRec.ArrivedAt) ||
			string(rec.Data) != string(wantRec.Data) || rec.Stream != "s" || rec.Shard != "shard-2" || rec.PartitionKey != "p" {
			t.Fatalf("error record = %+v, want %+v", rec, wantRec)
		}
		if !strings.Contains(lines[0], `"data":"bm90IGpzb24gAP8="`) {
			t.Fatalf("data is not base64 in %s", lines[0])
		}
		good := append(slices.Clone(in[:4]), in[5], in[7], in[8])
		assertExactlyOnce(t, dir, good)
		// The reason DuckDB sees for the schema error.
		db := duck(t)
		got := queryOne(t, db, "SELECT reason FROM read_ndjson('"+dir+"/errors/**/*.json.gz') WHERE sequence_number = '"+seqNo(6)+"'")
		if got != `invalid reading event: schema is "weatherd.reading/v9", want "weatherd.reading/v1"` {
			t.Fatalf("reason = %s", got)
		}
	})

	t.Run("ErrorsWriteFailureKeepsGoodRecords", func(t *testing.T) {
		base, dir := MustFileStore(t)
		store := &faultyStore{Store: base, failPut: func(key string) bool { return strings.HasPrefix(key, "errors/") }}
		w, reg := MustWriter(t, testConfig(dir), store)
		sw := w.Shard("s", "shard-2")
		cp := &recCP{}
		if err := sw.Add(ctx, in, cp); err != nil {
			t.Fatal(err)
		}
		if err := sw.Flush(ctx, cp); err != nil {
			t.Fatal(err)
		}
		if got := cp.Calls(); !slices.Equal(got, []string{seqNo(8)}) {
			t.Fatalf("checkpoints = %v", got)
		}
		if got := counterValue(t, reg, "weatherd_lake_errors_dropped_total"); got != 2 {
			t.Fatalf("errors dropped = %v, want 2", got)
		}
		if keys := listKeys(t, base, "errors/"); len(keys) != 0 {
			t.Fatalf("errors objects = %v", keys)
		}
		assertExactlyOnce(t, dir, append(slices.Clone(in[:4]), in[5], in[7], in[8]))
	})
}

func listKeys(tb testing.TB, s Store, prefix string) []string {
	tb.Helper()
	objs, err := s.List(context.Background(), prefix)
	if err != nil {
		tb.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	return keys
}
