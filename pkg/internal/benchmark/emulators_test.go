package benchmark

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/alert"
	"github.com/weatherd/weatherd/pkg/bootstrap"
	"github.com/weatherd/weatherd/pkg/config"
	"github.com/weatherd/weatherd/pkg/daemon"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
	"github.com/weatherd/weatherd/pkg/weather"
)

const (
	e2eReadings    = 3000 // kinesis-local slows down as a stream grows: keep it to a few thousand
	latencySamples = 40
)

// BenchmarkEndToEndEmulators measures readings/s through a whole in-process
// daemon on the emulators: PutRecords of e2eReadings readings to
// kinesis-local, consumed by the KCL-style consumer (leases in dynalite),
// alert rules, and the lake on s3rver, from the first put until
// weatherd_consumer_records_total reaches the count and the lake has
// flushed everything (lake.flush.max_age is 1s here, so the tail is short).
func BenchmarkEndToEndEmulators(b *testing.B) {
	var rates, consumed []float64
	for range b.N {
		ds := NewDataset(e2eReadings, PipelineLocations, PipelineStep, 2)
		cfg := emulatorConfig(b, ds)
		cfg.Lake.Flush.MaxAge = time.Second
		h := startDaemon(b, cfg)
		kin := emulator.Kinesis(b)

		start := time.Now()
		PutRecords(b, kin, cfg.Stream.Kinesis.Name, ds.Bodies, ds.Keys, 0)
		var consumedAt time.Time
		h.waitFor(b, "every reading consumed and the lake flushed", 5*time.Minute, func(m testkit.Metrics) bool {
			n := m["weatherd_consumer_records_total"]
			if n > e2eReadings {
				b.Fatalf("consumed %v records, want %d", n, e2eReadings)
			}
			if n == e2eReadings && consumedAt.IsZero() {
				consumedAt = time.Now()
			}
			return n == e2eReadings && m["weatherd_lake_buffered_bytes"] == 0 && m[`weatherd_lake_objects_written_total{kind="gold"}`] >= 1
		})
		el := time.Since(start)
		rates = append(rates, e2eReadings/el.Seconds())
		consumed = append(consumed, e2eReadings/consumedAt.Sub(start).Seconds())
		m := h.scrape(b)
		if p := m["weatherd_poison_records_total"]; p != 0 {
			b.Fatalf("%v poison records", p)
		}
		b.Logf("%d readings: consumed in %v, flushed in %v; %v gold and %v raw objects", e2eReadings,
			consumedAt.Sub(start).Round(time.Millisecond), el.Round(time.Millisecond),
			m[`weatherd_lake_objects_written_total{kind="gold"}`], m[`weatherd_lake_objects_written_total{kind="raw"}`])
		h.stop(b)
	}
	b.ReportMetric(Median(rates), "e2e-readings/s")
	b.ReportMetric(Median(consumed), "consumed-readings/s")
}

// BenchmarkAlertLatencyEmulators measures how long a firing reading takes
// from PutRecord to the SNS notification reaching an HTTP subscriber: a
// daemon on the emulators with the default rules routed to an sns channel
// (goaws) whose topic has an httptest subscriber on 127.0.0.1. Each sample
// puts one strong-wind reading for a location that has not fired yet, so
// every put is a new firing transition, and waits for its notification.
// Default consumer settings: an idle shard is read every
// consumer.idle_time_between_reads (1s), which dominates the latency.
func BenchmarkAlertLatencyEmulators(b *testing.B) {
	var all []time.Duration
	for range b.N {
		ds := NewDataset(latencySamples+1, latencySamples+1, time.Minute, 3)
		arrived := make(chan string, 4*latencySamples)
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if r.Header.Get("x-amz-sns-message-type") == "Notification" {
				arrived <- string(body)
			}
		}))
		cfg := emulatorConfig(b, ds)
		topic := emulator.Name(b, "alerts")
		cfg.Alerts.Channels = map[string]alert.ChannelConfig{"sns": {
			Type: "sns", TopicARN: "arn:aws:sns:us-east-1:000000000000:" + topic, Format: "both",
			Subscriptions: []alert.SubscriptionConfig{{Protocol: "http", Endpoint: hook.URL + "/sns"}},
		}}
		for i := range cfg.Alerts.Rules {
			cfg.Alerts.Rules[i].Channels = []string{"sns"}
		}
		h := startDaemon(b, cfg)
		kin := emulator.Kinesis(b)
		ctx := context.Background()

		put := func(loc weather.Location, gust float64) time.Time {
			v := weather.Values{}
			v.Set("windGust", gust)
			v.Set("windSpeed", gust/2)
			v.Set("rainIntensity", 0)
			v.Set("temperature", 21.5)
			now := time.Now().UTC()
			body, err := weather.NewReading(loc, "tomorrowio", now.Truncate(time.Second), now, v).Encode()
			if err != nil {
				b.Fatal(err)
			}
			at := time.Now()
			if _, err := kin.PutRecord(ctx, &kinesis.PutRecordInput{
				StreamName: aws.String(cfg.Stream.Kinesis.Name), PartitionKey: aws.String(loc.ID), Data: body,
			}); err != nil {
				b.Fatalf("put record: %v", err)
			}
			return at
		}
		// Warm up: a calm reading, consumed, so leases and iterators are in place.
		put(ds.Locations[latencySamples], 2)
		h.waitFor(b, "the warm-up reading consumed", 2*time.Minute, func(m testkit.Metrics) bool {
			return m["weatherd_consumer_records_total"] >= 1
		})
		for i := range latencySamples {
			loc := ds.Locations[i]
			at := put(loc, 25)
			deadline := time.After(time.Minute)
		wait:
			for {
				select {
				case body := <-arrived:
					if strings.Contains(body, loc.ID) {
						all = append(all, time.Since(at))
						break wait
					}
				case <-deadline:
					b.Fatalf("no notification for %s within a minute of its put", loc.ID)
				}
			}
		}
		h.stop(b)
		hook.Close()
	}
	slices.Sort(all)
	q := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
	b.ReportMetric(float64(q(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(q(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(len(all)), "samples")
	b.Logf("alert latency over %d samples: min %v p50 %v p99 %v max %v", len(all), all[0], q(0.5), q(0.99), all[len(all)-1])
}

// emulatorConfig is the embedded default pointed at the emulators with fresh
// resource names: kinesis stream driver, lake on s3rver, no poller, HTTP on
// a free loopback port, and ds's locations.
func emulatorConfig(b *testing.B, ds *Dataset) *config.Config {
	b.Helper()
	b.Setenv("AWS_ACCESS_KEY_ID", "S3RVER")
	b.Setenv("AWS_SECRET_ACCESS_KEY", "S3RVER")
	cfg, err := config.Default()
	if err != nil {
		b.Fatal(err)
	}
	cfg.AWS = emulator.AWS(b)
	cfg.Stream.Driver = "kinesis"
	cfg.Stream.Kinesis.Name = emulator.Name(b, "bench")
	cfg.Consumer.ApplicationName = emulator.Name(b, "bench-leases")
	cfg.Lake.URL = "s3://" + emulator.Name(b, "bench-lake") + "/lake"
	cfg.Poller.Enabled = false
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Locations = ds.Locations
	return cfg
}

// daemonHandle is a running in-process daemon.
type daemonHandle struct {
	d      *daemon.Daemon
	cancel context.CancelFunc
	done   chan error
	logs   *testkit.SyncBuffer
	stream string
}

// startDaemon creates cfg's resources with bootstrap, starts a daemon and
// waits until it holds every shard's lease.
func startDaemon(b *testing.B, cfg *config.Config) *daemonHandle {
	b.Helper()
	if err := cfg.Validate(); err != nil {
		b.Fatalf("config: %v", err)
	}
	logs := &testkit.SyncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	bctx, bcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer bcancel()
	if err := bootstrap.Run(bctx, cfg, io.Discard, log); err != nil {
		cancel()
		b.Fatalf("bootstrap: %v", err)
	}
	d, err := daemon.New(ctx, cfg, log)
	if err != nil {
		cancel()
		b.Fatalf("daemon: %v", err)
	}
	h := &daemonHandle{d: d, cancel: cancel, done: make(chan error, 1), logs: logs, stream: cfg.Stream.Kinesis.Name}
	go func() { h.done <- d.Run(ctx) }()
	b.Cleanup(func() {
		if h.cancel != nil {
			h.stop(b)
		}
		if b.Failed() {
			b.Logf("daemon log (warn and up):\n%s", logs.String())
		}
	})
	shards := float64(cfg.Stream.Kinesis.Shards)
	h.waitFor(b, "every shard leased", 2*time.Minute, func(m testkit.Metrics) bool {
		return m["weatherd_leases_held"] >= shards
	})
	return h
}

// stop ends the daemon (final flush, lease release) and deletes its stream.
func (h *daemonHandle) stop(b *testing.B) {
	b.Helper()
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		if err != nil {
			b.Errorf("daemon stopped with: %v", err)
		}
	case <-time.After(time.Minute):
		b.Errorf("daemon did not stop within a minute")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = emulator.Kinesis(b).DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(h.stream)})
}

// waitFor polls /metrics every 20 ms until ok holds, failing after limit
// or when the daemon stops.
func (h *daemonHandle) waitFor(b *testing.B, what string, limit time.Duration, ok func(testkit.Metrics) bool) {
	b.Helper()
	testkit.WaitFor(b, what, limit, 20*time.Millisecond, func() (bool, string) {
		select {
		case err := <-h.done:
			b.Fatalf("daemon stopped while waiting for %s: %v", what, err)
		default:
		}
		return ok(h.scrape(b)), ""
	})
}

// scrape reads the daemon's /metrics.
func (h *daemonHandle) scrape(b *testing.B) testkit.Metrics {
	b.Helper()
	return testkit.MustScrape(b, h.d.Addr())
}
