package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/config"
)

func TestStatCPU(t *testing.T) {
	// /proc/PID/stat of a process whose name holds a space and a ')'.
	line := "4242 (weatherd x) S 1 4242 4242 0 -1 4194304 9000 0 0 0 1234 567 0 0 20 0 12 0 100 2000000 5000 18446744073709551615"
	got, err := StatCPU([]byte(line))
	if err != nil || got != 18.01 {
		t.Fatalf("StatCPU = %v, %v; want 18.01 (1234 + 567 ticks)", got, err)
	}
	if _, err := StatCPU([]byte("4242 weatherd S 1")); err == nil {
		t.Error("a line without the name's parentheses was accepted")
	}
}

func TestStatusKB(t *testing.T) {
	status := "Name:\tweatherd\nVmHWM:\t  90000 kB\nVmRSS:\t   65432 kB\n"
	got, err := StatusKB([]byte(status), "VmRSS:")
	if err != nil || got != 65432<<10 {
		t.Fatalf("StatusKB = %d, %v; want %d", got, err, 65432<<10)
	}
	if _, err := StatusKB([]byte(status), "RssAnon:"); err == nil || !strings.Contains(err.Error(), "no RssAnon: line") {
		t.Errorf("missing field: %v", err)
	}
}

// TestSummarize: the steady state is the last half of the samples; rates
// and per-tick figures are differences across it.
func TestSummarize(t *testing.T) {
	var samples []Sample
	for i := range 8 {
		samples = append(samples, Sample{
			At:   time.Duration(i+1) * 10 * time.Second,
			RSS:  uint64(100+i) << 20,
			Heap: uint64(50+i) << 20,
			CPU:  float64(i) * 2,
			M: testkit.Metrics{
				"weatherd_poll_ticks_total":                                                float64(i),
				"weatherd_consumer_records_total":                                          float64(i) * 1000,
				"weatherd_alert_evaluation_duration_seconds_sum":                           float64(i) * 0.5,
				"weatherd_lake_flush_duration_seconds_sum":                                 float64(i) * 0.25,
				`weatherd_poll_duration_seconds_sum{provider="simulated"}`:                 float64(i) * 0.1,
				`weatherd_lake_objects_written_total{kind="raw"}`:                          float64(i),
				`weatherd_lake_objects_written_total{kind="gold"}`:                         float64(i),
				`weatherd_lake_bytes_written_total{kind="raw"}`:                            float64(i) * 1e6,
				`weatherd_poll_requests_total{outcome="buffer_full",provider="simulated"}`: 7,
			},
		})
	}
	r, err := Summarize(1000, 10*time.Second, samples)
	if err != nil {
		t.Fatal(err)
	}
	// Last half: samples 4..7, 30 s, 3 ticks.
	if r.Span != 30*time.Second || r.Ticks != 3 {
		t.Fatalf("span %s, %v ticks; want 30s, 3", r.Span, r.Ticks)
	}
	if r.RSSMedian != 106<<20 || r.RSSMax != 107<<20 || r.RSSMaxAll != 107<<20 || r.HeapMax != 57<<20 {
		t.Errorf("RSS p50 %d max %d all %d, heap max %d", r.RSSMedian>>20, r.RSSMax>>20, r.RSSMaxAll>>20, r.HeapMax>>20)
	}
	if r.ReadingsPerSec != 100 || r.CPUPerTick != 2 || r.EvalPerTick != 0.5 || r.FlushPerTick != 0.25 {
		t.Errorf("readings/s %v, CPU/tick %v, eval/tick %v, flush/tick %v", r.ReadingsPerSec, r.CPUPerTick, r.EvalPerTick, r.FlushPerTick)
	}
	if r.ObjectsPerHour != 720 || r.BytesPerHour != 360e6 || r.BufferFull != 7 {
		t.Errorf("objects/h %v, bytes/h %v, buffer_full %v", r.ObjectsPerHour, r.BytesPerHour, r.BufferFull)
	}
	if _, err := Summarize(1000, time.Second, samples[:3]); err == nil {
		t.Error("3 samples were summarized")
	}
}

// TestConfig_Loads: the generated file is a valid weatherd configuration
// with every location, the schedule, the address and the lake asked for.
func TestConfig_Loads(t *testing.T) {
	path := t.TempDir() + "/config.yaml"
	if err := os.WriteFile(path, Config(300, 30*time.Second, "127.0.0.1:1234", "/tmp/lake"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.Source{Path: path, Explicit: true, Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Locations) != 300 || cfg.Locations[299].ID != "loc-000299" || cfg.Locations[3].Timezone != zones[3] {
		t.Errorf("%d locations, last %+v", len(cfg.Locations), cfg.Locations[len(cfg.Locations)-1])
	}
	if cfg.Poller.Schedule != "@every 30s" || cfg.HTTP.Listen != "127.0.0.1:1234" || cfg.Lake.URL != "file:///tmp/lake" || cfg.Stream.Driver != "memory" {
		t.Errorf("schedule %q, listen %q, lake %q, stream %q", cfg.Poller.Schedule, cfg.HTTP.Listen, cfg.Lake.URL, cfg.Stream.Driver)
	}
}
