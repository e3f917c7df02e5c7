package poller_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/pkg/internal/emulator"
	"github.com/weatherd/weatherd/pkg/poller"
	"github.com/weatherd/weatherd/pkg/producer"
	"github.com/weatherd/weatherd/pkg/provider/tomorrowio"
	"github.com/weatherd/weatherd/pkg/secret"
	"github.com/weatherd/weatherd/pkg/stream"
	"github.com/weatherd/weatherd/pkg/weather"
)

// fakeTomorrow serves the realtime endpoint in Tomorrow.io's shape. Each
// location's observation time moves on by a minute every second request, so
// half the polls repeat the previous observation.
type fakeTomorrow struct {
	mu       sync.Mutex
	base     time.Time
	requests map[string]int
	served   map[string]bool // event ids of the observations served
	keys     []string
}

func (f *fakeTomorrow) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v4/weather/realtime" || r.URL.Query().Get("units") != "metric" {
		http.Error(w, `{"code":400001,"type":"Invalid Body Parameters","message":"bad path"}`, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys = append(f.keys, r.Header.Get("apikey"))
	latlon := r.URL.Query().Get("location")
	lat, _ := strconv.ParseFloat(strings.Split(latlon, ",")[0], 64)
	id := fmt.Sprintf("loc-%02d", int(lat))
	n := f.requests[id]
	f.requests[id]++
	at := f.base.Add(time.Duration(n/2) * time.Minute)
	f.served[weather.EventID(id, at)] = true
	fmt.Fprintf(w, `{"data":{"time":%q,"values":{"cloudBase":null,"cloudCeiling":null,"humidity":80,"temperature":%.1f,"windGust":%.1f,"windSpeed":3.5,"weatherCode":1001}},"location":{"lat":%s,"lon":0}}`,
		at.Format(time.RFC3339), 20+float64(n)/10, 5+float64(n%7), strings.Split(latlon, ",")[0])
}

// TestPoller_TomorrowIOIntoKinesis: N locations on a schedule, through the
// real Tomorrow.io client and the real producer, put exactly one event per new
// observation per location on a kinesis-local stream.
func TestPoller_TomorrowIOIntoKinesis(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fake := &fakeTomorrow{base: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC), requests: map[string]int{}, served: map[string]bool{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()

	kin := emulator.Kinesis(t)
	name := emulator.Name(t, "poll")
	if err := producer.EnsureStream(ctx, kin, name, 2); err != nil {
		t.Fatal(err)
	}
	defer kin.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String(name)})

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	client, err := tomorrowio.New(tomorrowio.Config{
		APIKey: secret.String("test-key-123"), BaseURL: srv.URL + "/v4", Units: "metric",
		MaxBodyBytes: 1 << 20, Attempts: 3,
	}, 5*time.Second, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	prod := producer.New(stream.KinesisConfig{Name: name, BufferRecords: 1000, Linger: 50 * time.Millisecond}, kin, reg, log)

	const n = 12
	locs := make([]weather.Location, n)
	for i := range locs {
		locs[i] = weather.Location{ID: fmt.Sprintf("loc-%02d", i), Name: fmt.Sprintf("Place %d", i), Lat: float64(i), Lon: 0}
	}
	p, err := poller.New(poller.Config{Enabled: true, Schedule: "@every 1s", Provider: "tomorrowio", Timeout: 5 * time.Second, Concurrency: 4, Spread: 300 * time.Millisecond},
		locs, client, prod, poller.NewMetrics(reg), log)
	if err != nil {
		t.Fatal(err)
	}

	// Poll for four ticks, then stop the poller and let the producer drain,
	// in the daemon's order.
	pctx, stopPoller := context.WithCancel(ctx)
	prodCtx, stopProducer := context.WithCancel(ctx)
	prodDone := make(chan error, 1)
	go func() { prodDone <- prod.Run(prodCtx) }()
	pollDone := make(chan error, 1)
	go func() { pollDone <- p.Run(pctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		fake.mu.Lock()
		done := len(fake.requests) == n && minRequests(fake.requests) >= 4
		fake.mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopPoller()
	if err := <-pollDone; err != nil {
		t.Fatal(err)
	}
	stopProducer()
	if err := <-prodDone; err != nil {
		t.Fatal(err)
	}

	got := readAll(t, ctx, kin, name)
	fake.mu.Lock()
	defer fake.mu.Unlock()
	want := make([]string, 0, len(fake.served))
	for id := range fake.served {
		want = append(want, id)
	}
	sort.Strings(want)
	var ids []string
	for _, rec := range got {
		r, err := weather.Decode(rec.Data)
		if err != nil {
			t.Fatalf("record %s: %v", aws.ToString(rec.SequenceNumber), err)
		}
		if aws.ToString(rec.PartitionKey) != r.Location.ID {
			t.Errorf("event %s has partition key %q", r.EventID, aws.ToString(rec.PartitionKey))
		}
		if r.Provider != "tomorrowio" || r.Location.Name == "" {
			t.Errorf("event %s: provider %q, location name %q", r.EventID, r.Provider, r.Location.Name)
		}
		ids = append(ids, r.EventID)
	}
	sort.Strings(ids)
	if strings.Join(ids, "\n") != strings.Join(want, "\n") {
		t.Fatalf("stream holds %d events, want exactly the %d observations served:\ngot  %v\nwant %v", len(ids), len(want), ids, want)
	}
	total := 0
	for _, c := range fake.requests {
		total += c
	}
	if len(want) >= total {
		t.Errorf("served %d observations in %d requests: the fake should have repeated some", len(want), total)
	}
	for _, k := range fake.keys {
		if k != "test-key-123" {
			t.Fatalf("request without the apikey header: %q", k)
		}
	}
}

func minRequests(m map[string]int) int {
	low := -1
	for _, c := range m {
		if low < 0 || c < low {
			low = c
		}
	}
	return low
}

// readAll reads every record of every shard from the start.
func readAll(t *testing.T, ctx context.Context, kin *kinesis.Client, name string) []types.Record {
	t.Helper()
	shards, err := kin.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	var out []types.Record
	for _, sh := range shards.Shards {
		it, err := kin.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
			StreamName: aws.String(name), ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for iter != nil {
			res, err := kin.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, res.Records...)
			if len(res.Records) == 0 {
				break
			}
			iter = res.NextShardIterator
		}
	}
	return out
}
