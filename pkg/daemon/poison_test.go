package daemon

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/parquet-go/parquet-go"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/bootstrap"
	"github.com/weatherd/weatherd/pkg/config"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
	"github.com/weatherd/weatherd/pkg/lake"
	"github.com/weatherd/weatherd/pkg/pipeline"
	"github.com/weatherd/weatherd/pkg/stream"
	"github.com/weatherd/weatherd/pkg/weather"
)

// consumerOnly returns a consumer-only configuration on a fresh one-shard
// Kinesis stream, lease table and DynamoDB alert-state table, all created,
// with a file lake in lakeDir.
func consumerOnly(t *testing.T, lakeDir string) *config.Config {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "S3RVER")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "S3RVER")
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg.AWS = emulator.AWS(t)
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Poller.Enabled = false
	cfg.Stream.Driver = "kinesis"
	cfg.Stream.Kinesis.Name = emulator.Name(t, "readings")
	cfg.Stream.Kinesis.Shards = 1
	cfg.Consumer.ApplicationName = emulator.Name(t, "leases")
	cfg.Consumer.WorkerID = "worker-1"
	cfg.Alerts.State.Driver = "dynamodb"
	cfg.Alerts.State.Table = emulator.Name(t, "alerts")
	cfg.Lake.URL = "file://" + lakeDir
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := bootstrap.Run(ctx, cfg, io.Discard, slog.Default()); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startLogged is start with the daemon's info log (alert notifications
// from the log channel included) kept in logs.
func startLogged(t *testing.T, name string, cfg *config.Config, logs *testkit.SyncBuffer) *instance {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.MultiWriter(logs, warnOnly{os.Stderr}), nil)).With("instance", name)
	return startWith(t, name, cfg, log)
}

// warnOnly passes on the log lines at WARN and ERROR, for the test output.
type warnOnly struct{ w io.Writer }

func (w warnOnly) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("level=WARN")) || bytes.Contains(p, []byte("level=ERROR")) {
		return w.w.Write(p)
	}
	return len(p), nil
}

func reading(t *testing.T, id string, at time.Time, gust float64) []byte {
	t.Helper()
	v := weather.Values{}
	v.Set("windGust", gust)
	v.Set("windSpeed", gust/1.4)
	v.Set("temperature", 12)
	b, err := weather.NewReading(weather.Location{ID: id, Name: id, Lat: 1, Lon: 2}, "tomorrowio", at, at, v).Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// putInOrder puts the records one PutRecords call at a time, in order,
// and returns their sequence numbers.
func putInOrder(t *testing.T, kin *kinesis.Client, streamName string, recs []ktypes.PutRecordsRequestEntry) []string {
	t.Helper()
	ctx := context.Background()
	var seqs []string
	for lo := 0; lo < len(recs); lo += 100 {
		out, err := kin.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(streamName), Records: recs[lo:min(lo+100, len(recs))]})
		if err != nil {
			t.Fatal(err)
		}
		if n := aws.ToInt32(out.FailedRecordCount); n > 0 {
			t.Fatalf("%d records failed", n)
		}
		for _, r := range out.Records {
			seqs = append(seqs, aws.ToString(r.SequenceNumber))
		}
	}
	return seqs
}

func entry(key string, data []byte) ktypes.PutRecordsRequestEntry {
	return ktypes.PutRecordsRequestEntry{PartitionKey: aws.String(key), Data: data}
}

// goldRows reads every gold file of the lake.
func goldRows(t *testing.T, dir string) []lake.Row {
	t.Helper()
	var rows []lake.Row
	files, _ := filepath.Glob(filepath.Join(dir, "gold", "*", "*", "*", "*", "*.parquet"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r := parquet.NewGenericReader[lake.Row](bytes.NewReader(data))
		buf := make([]lake.Row, r.NumRows())
		n, err := r.Read(buf)
		if err != nil && err != io.EOF {
			t.Fatalf("%s: %v", f, err)
		}
		rows = append(rows, buf[:n]...)
		r.Close()
	}
	return rows
}

// errorRecords reads every errors/ object of the lake.
func errorRecords(t *testing.T, dir string) []lake.ErrorRecord {
	t.Helper()
	var out []lake.ErrorRecord
	files, _ := filepath.Glob(filepath.Join(dir, "errors", "*", "*", "*", "*", "*.json.gz"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(zr)
		for {
			var rec lake.ErrorRecord
			if err := dec.Decode(&rec); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, rec)
		}
	}
	sort.Slice(out, func(i, j int) bool { return stream.SeqLess(out[i].SequenceNumber, out[j].SequenceNumber) })
	return out
}

// TestDaemon_PoisonRecordsNeverStallTheShard: a stream starts with three
// records that decode but cannot be stored or trusted — a 3,000-byte
// location id (over DynamoDB's 2,048-byte key limit for the alert state),
// 400 KB of values, and a reading dated two days ahead — followed by 400
// good readings. With the alert state in DynamoDB, all 400 reach gold in
// the first flush, the three are in errors/ with their reasons and counted
// by reason, and strong-wind still fires for the location whose reading
// came from the future.
func TestDaemon_PoisonRecordsNeverStallTheShard(t *testing.T) {
	dir := t.TempDir()
	cfg := consumerOnly(t, dir)
	cfg.Lake.Flush.MaxRecords = 403 // one flush holds every record
	cfg.Lake.Flush.MaxAge = 10 * time.Minute
	cfg.Lake.Flush.MaxBytes = 64 << 20
	cfg.Lake.MaxBufferedBytes = 128 << 20
	kin := emulator.Kinesis(t)

	now := time.Now().UTC()
	base := now.Add(-3 * time.Hour).Truncate(time.Minute)
	big := weather.Values{}
	for i := range 16000 {
		big.Set(fmt.Sprintf("value%d", i), float64(i)*1.000001)
	}
	bigData, err := weather.NewReading(weather.Location{ID: "bloated", Name: "Bloated"}, "tomorrowio", base, base, big).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(bigData) < 400<<10 {
		t.Fatalf("the bloated record is only %d bytes", len(bigData))
	}
	recs := []ktypes.PutRecordsRequestEntry{
		entry("long-id", reading(t, strings.Repeat("x", 3000), base, 5)),
		entry("bloated", bigData),
		entry("gusty", reading(t, "gusty", now.Add(48*time.Hour).Truncate(time.Minute), 3)),
	}
	locs := []string{"calm-a", "calm-b", "calm-c", "gusty"}
	for i := range 100 {
		for _, id := range locs {
			gust := 4.0
			if id == "gusty" && i >= 60 {
				gust = 25 // strong-wind fires at the 61st reading
			}
			recs = append(recs, entry(id, reading(t, id, base.Add(time.Duration(i)*time.Minute), gust)))
		}
	}
	putInOrder(t, kin, cfg.Stream.Kinesis.Name, recs)

	logs := &testkit.SyncBuffer{}
	in := startLogged(t, "consumer", cfg, logs)
	waitUntil(t, "the first lake flush", 90*time.Second, func() bool {
		return in.metric(t, "weatherd_lake_flush_duration_seconds_count") >= 1
	})
	if got := in.metric(t, "weatherd_lake_flush_duration_seconds_count"); got != 1 {
		t.Errorf("%v flushes, want 1", got)
	}
	rows := goldRows(t, dir)
	perLoc := map[string]int{}
	for _, r := range rows {
		id := r.LocationID
		if len(id) > 20 {
			id = fmt.Sprintf("%.20s…(%d bytes)", id, len(id))
		}
		perLoc[id]++
	}
	if len(rows) != 400 || len(perLoc) != 4 || perLoc["gusty"] != 100 {
		t.Errorf("gold holds %d rows %v after the first flush, want 100 of each of %v", len(rows), perLoc, locs)
	}

	errs := errorRecords(t, dir)
	var reasons []string
	for _, e := range errs {
		reasons = append(reasons, e.Reason)
	}
	want := []string{
		`invalid reading event: location.id "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"… (3000 bytes): want 1-64 of a-z, 0-9, '-' and '_', starting with a letter or digit`,
		fmt.Sprintf("invalid reading event: event is %d bytes, want at most 32768", len(bigData)),
		"invalid reading event: observed_at " + now.Add(48*time.Hour).Truncate(time.Minute).Format(time.RFC3339) + " is 4",
	}
	if len(reasons) != 3 || reasons[0] != want[0] || reasons[1] != want[1] || !strings.HasPrefix(reasons[2], want[2]) ||
		!strings.HasSuffix(reasons[2], "(at most 1h0m0s allowed)") {
		t.Errorf("errors/ reasons:\n%s\nwant:\n%s", strings.Join(reasons, "\n"), strings.Join(want, "\n"))
	}
	for reason, n := range map[string]float64{"location_id": 1, "too_large": 1, "future": 1, "malformed": 0} {
		if got := in.metric(t, `weatherd_poison_records_total{reason="`+reason+`"}`); got != n {
			t.Errorf("weatherd_poison_records_total{reason=%q} = %v, want %v", reason, got, n)
		}
	}

	waitUntil(t, "strong-wind firing at gusty", 30*time.Second, func() bool {
		return strings.Contains(logs.String(), "state=firing rule=strong-wind location=gusty")
	})
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `msg="alert notification"`) && !strings.Contains(line, "location=gusty") {
			t.Errorf("unexpected notification: %s", line)
		}
	}
}

// TestDaemon_DedupeStateAtItsBound: the dedupe state the consumer saves on
// the lease item, grown to its bound, is written to DynamoDB (dynalite)
// through the real checkpoint path. The shard resumes from a checkpoint
// whose state holds 1,900 locations with 64-byte ids and one 110 KB id (an
// older version did not check ids), then reads readings of 100 new
// locations: the state saved with the next checkpoint is the most recent
// locations that fit in pipeline.MaxStateBytes, and DynamoDB takes it.
func TestDaemon_DedupeStateAtItsBound(t *testing.T) {
	dir := t.TempDir()
	cfg := consumerOnly(t, dir)
	cfg.Alerts.State.Driver = "memory"
	cfg.Lake.Flush.MaxAge = time.Second
	kin, ddb := emulator.Kinesis(t), emulator.DynamoDB(t)
	ctx := context.Background()

	now := time.Now().UTC().Truncate(time.Second)
	first := putInOrder(t, kin, cfg.Stream.Kinesis.Name, []ktypes.PutRecordsRequestEntry{entry("seed", reading(t, "seed", now.Add(-time.Hour), 1))})
	shards, err := kin.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(cfg.Stream.Kinesis.Name)})
	if err != nil {
		t.Fatal(err)
	}
	shardID := aws.ToString(shards.Shards[0].ShardId)

	fat := strings.Repeat("f", 110_000)
	seed := map[string][]int64{fat: {now.Add(-2 * time.Hour).Unix()}}
	for i := range 1900 {
		var ats []int64
		for k := range 8 {
			ats = append(ats, now.Add(-time.Duration(100_000-i*10+k)*time.Minute).Unix())
		}
		seed[fmt.Sprintf("old-%060d", i)] = ats
	}
	state, err := json.Marshal(map[string]any{"v": 1, "recent": seed})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded state: %d bytes", len(state))
	if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(cfg.Consumer.ApplicationName),
		Item: map[string]types.AttributeValue{
			"ShardID":       &types.AttributeValueMemberS{Value: shardID},
			"Checkpoint":    &types.AttributeValueMemberS{Value: first[0]},
			"WeatherdState": &types.AttributeValueMemberB{Value: state},
		},
	}); err != nil {
		t.Fatal(err)
	}

	var recs []ktypes.PutRecordsRequestEntry
	for i := range 100 {
		id := fmt.Sprintf("new-%060d", i)
		recs = append(recs, entry(id, reading(t, id, now.Add(-time.Duration(100-i)*time.Second), 3)))
	}
	seqs := putInOrder(t, kin, cfg.Stream.Kinesis.Name, recs)
	last := seqs[len(seqs)-1]

	logs := &testkit.SyncBuffer{}
	startLogged(t, "consumer", cfg, logs)
	var item map[string]types.AttributeValue
	waitUntil(t, "the checkpoint at the last record", 60*time.Second, func() bool {
		out, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(cfg.Consumer.ApplicationName),
			Key:       map[string]types.AttributeValue{"ShardID": &types.AttributeValueMemberS{Value: shardID}},
		})
		if err != nil {
			return false
		}
		item = out.Item
		cp, _ := item["Checkpoint"].(*types.AttributeValueMemberS)
		return cp != nil && cp.Value == last
	})
	// The lease item holds the state gzipped (lease.PackBlob).
	zr, err := gzip.NewReader(bytes.NewReader(item["WeatherdState"].(*types.AttributeValueMemberB).Value))
	if err != nil {
		t.Fatalf("saved state: %v", err)
	}
	saved, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("saved state: %v", err)
	}
	var got struct {
		V      int                `json:"v"`
		Recent map[string][]int64 `json:"recent"`
	}
	if err := json.Unmarshal(saved, &got); err != nil {
		t.Fatal(err)
	}
	t.Logf("saved state: %d bytes, %d locations", len(saved), len(got.Recent))
	if len(saved) > pipeline.MaxStateBytes || len(saved) < pipeline.MaxStateBytes-200 {
		t.Errorf("saved state is %d bytes, want at most %d and within one location of it", len(saved), pipeline.MaxStateBytes)
	}
	var missing []string
	for i := range 100 {
		if _, ok := got.Recent[fmt.Sprintf("new-%060d", i)]; !ok {
			missing = append(missing, fmt.Sprint(i))
		}
	}
	if _, ok := got.Recent[fat]; !ok {
		missing = append(missing, "the 110 KB id")
	}
	if _, ok := got.Recent[fmt.Sprintf("old-%060d", 1899)]; !ok {
		missing = append(missing, "the newest old location")
	}
	if len(missing) > 0 {
		t.Errorf("the saved state lacks the most recent locations: %v", missing)
	}
	if _, ok := got.Recent[fmt.Sprintf("old-%060d", 0)]; ok {
		t.Error("the oldest location was kept past the bound")
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", logs)
	}
}
