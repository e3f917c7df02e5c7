package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weatherd/weatherd/internal/testkit"
)

// zones the generated locations cycle through: a handful, as real
// deployments have (locations in one region share a zone).
var zones = []string{"America/Sao_Paulo", "America/Toronto", "Europe/Lisbon", "Asia/Tokyo", "Australia/Sydney", "UTC", "Africa/Nairobi", "America/Los_Angeles"}

// Config is the configuration file of a run with n locations: the embedded
// default (simulated provider, memory stream, default rules and log channel)
// with n generated locations, the poll schedule, /metrics on addr and the
// lake in lakeDir.
func Config(n int, every time.Duration, addr, lakeDir string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "http:\n  listen: %q\n", addr)
	fmt.Fprintf(&b, "poller:\n  schedule: \"@every %s\"\n", every)
	fmt.Fprintf(&b, "lake:\n  url: %q\n", "file://"+lakeDir)
	b.WriteString("locations:\n")
	for i := range n {
		// Spread over the globe deterministically (a golden-ratio walk).
		lat := math.Round((math.Mod(float64(i)*0.618033988749, 1)*120-60)*1e4) / 1e4
		lon := math.Round((math.Mod(float64(i)*0.414213562373, 1)*360-180)*1e4) / 1e4
		fmt.Fprintf(&b, "  - {id: loc-%06d, name: \"Place %d\", lat: %v, lon: %v, timezone: %s}\n", i, i, lat, lon, zones[i%len(zones)])
	}
	return b.Bytes()
}

// Sample is one look at the running daemon.
type Sample struct {
	At   time.Duration // since the start
	RSS  uint64        // resident set, bytes (/proc/PID/status VmRSS)
	Heap uint64        // Go heap in use, bytes (go_memstats_heap_inuse_bytes)
	CPU  float64       // user + system CPU seconds so far (/proc/PID/stat)
	M    testkit.Metrics
}

// Result is one size's row of the table, from the samples of the steady
// state: the last half of the run.
type Result struct {
	Locations int
	Schedule  time.Duration
	Samples   int
	Span      time.Duration // of the steady state

	RSSMedian, RSSMax, RSSMaxAll uint64 // last half; whole run
	HeapMedian, HeapMax          uint64 // last half
	// Drift is how much the RSS grew within the last half: the mean of its
	// last quarter of the run over the mean of the third quarter, minus 1.
	Drift float64

	ReadingsPerSec float64 // consumed
	Ticks          float64
	CPUPerTick     float64 // seconds
	// Seconds per tick spent fetching (weatherd_poll_duration_seconds, all
	// locations added up), evaluating rules
	// (weatherd_alert_evaluation_duration_seconds) and flushing the lake
	// (weatherd_lake_flush_duration_seconds).
	PollPerTick, EvalPerTick, FlushPerTick float64
	ObjectsPerHour, BytesPerHour           float64
	// BufferFull counts readings the poller could not hand to the stream.
	BufferFull float64
	// StopErr is how the daemon's graceful stop failed, or "".
	StopErr string
}

// Summarize computes n locations' row from samples (in time order).
func Summarize(n int, every time.Duration, samples []Sample) (Result, error) {
	if len(samples) < 4 {
		return Result{}, fmt.Errorf("%d samples, want at least 4", len(samples))
	}
	r := Result{Locations: n, Schedule: every, Samples: len(samples)}
	half := samples[len(samples)/2:]
	first, last := half[0], half[len(half)-1]
	r.Span = last.At - first.At
	var rss, heap []uint64
	for _, s := range samples {
		r.RSSMaxAll = max(r.RSSMaxAll, s.RSS)
	}
	for _, s := range half {
		rss, heap = append(rss, s.RSS), append(heap, s.Heap)
	}
	r.RSSMedian, r.RSSMax = median(rss), slices.Max(rss)
	r.HeapMedian, r.HeapMax = median(heap), slices.Max(heap)
	q := len(half) / 2
	r.Drift = mean(rss[q:])/mean(rss[:q]) - 1

	delta := func(series string) float64 { return last.M[series] - first.M[series] }
	deltaSum := func(name string) float64 { return last.M.Sum(name) - first.M.Sum(name) }
	secs := r.Span.Seconds()
	r.ReadingsPerSec = delta("weatherd_consumer_records_total") / secs
	r.Ticks = delta("weatherd_poll_ticks_total")
	perTick := func(x float64) float64 {
		if r.Ticks == 0 {
			return math.NaN()
		}
		return x / r.Ticks
	}
	r.CPUPerTick = perTick(last.CPU - first.CPU)
	r.PollPerTick = perTick(deltaSum("weatherd_poll_duration_seconds_sum"))
	r.EvalPerTick = perTick(delta("weatherd_alert_evaluation_duration_seconds_sum"))
	r.FlushPerTick = perTick(delta("weatherd_lake_flush_duration_seconds_sum"))
	r.ObjectsPerHour = deltaSum("weatherd_lake_objects_written_total") / secs * 3600
	r.BytesPerHour = deltaSum("weatherd_lake_bytes_written_total") / secs * 3600
	r.BufferFull = last.M.Sum("weatherd_poll_requests_total", `outcome="buffer_full"`) +
		last.M.Sum("weatherd_forecast_requests_total", `outcome="buffer_full"`)
	return r, nil
}

// WriteTable prints the results as a Markdown table.
func WriteTable(w io.Writer, rs []Result) error {
	var b strings.Builder
	b.WriteString("| locations | schedule | readings/s | RSS p50 / max (MiB) | RSS drift | RSS max whole run | Go heap p50 / max (MiB) | CPU s/tick | poll s/tick | evaluate s/tick | flush s/tick | lake objects/h | lake MiB/h | buffer_full |\n")
	b.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %d | @every %s | %.0f | %.0f / %.0f | %+.1f%% | %.0f | %.0f / %.0f | %.3f | %.3f | %.3f | %.3f | %.0f | %.1f | %.0f |\n",
			r.Locations, r.Schedule, r.ReadingsPerSec, mib(r.RSSMedian), mib(r.RSSMax), 100*r.Drift, mib(r.RSSMaxAll),
			mib(r.HeapMedian), mib(r.HeapMax), r.CPUPerTick, r.PollPerTick, r.EvalPerTick, r.FlushPerTick,
			r.ObjectsPerHour, r.BytesPerHour/(1<<20), r.BufferFull)
	}
	for _, r := range rs {
		if r.StopErr != "" {
			fmt.Fprintf(&b, "\n%d locations: the graceful stop failed: %s\n", r.Locations, r.StopErr)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// StatusKB returns a "kB" field of /proc/PID/status, in bytes.
func StatusKB(status []byte, field string) (uint64, error) {
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("status %s: %q is not a kB figure", field, rest)
			}
			kb, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("status %s: %w", field, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("status: no %s line", field)
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's CPU times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// StatCPU returns the user + system CPU seconds of a /proc/PID/stat line.
func StatCPU(stat []byte) (float64, error) {
	// The command name (field 2) may hold spaces: count from its ')'.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat: no ')' in %q", s)
	}
	f := strings.Fields(s[i+1:])
	// After ')': state is field 3, so utime (14) and stime (15) are 11 and 12.
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %d fields after the name, want at least 13", len(f))
	}
	var total float64
	for _, x := range f[11:13] {
		v, err := strconv.ParseUint(x, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat: %w", err)
		}
		total += float64(v)
	}
	return total / clockTicks, nil
}

func median(xs []uint64) uint64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func mean(xs []uint64) float64 {
	var t float64
	for _, x := range xs {
		t += float64(x)
	}
	return t / float64(len(xs))
}
