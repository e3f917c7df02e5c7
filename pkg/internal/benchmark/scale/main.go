// Command scale is `make bench-scale`: it runs the release binary with the
// simulated provider at 1,000, 10,000 and 100,000 locations (the memory
// stream, the embedded default rules, a file lake) for a while each,
// samples the process's memory and CPU and the daemon's /metrics, and prints
// one table row per size (see BENCHMARKS.md, "Scale").
//
//	go run ./pkg/internal/benchmark/scale -binary bin/weatherd -duration 10m
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/weatherd/weatherd/internal/testkit"
)

func main() {
	binary := flag.String("binary", "bin/weatherd", "weatherd binary to run (make build)")
	duration := flag.Duration("duration", 10*time.Minute, "how long each size runs")
	sizes := flag.String("sizes", "1000,10000,100000", "comma-separated numbers of locations")
	every := flag.Duration("sample", 5*time.Second, "time between two samples")
	keep := flag.Bool("keep", false, "keep each run's directory (config, log, lake)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *binary, *duration, *sizes, *every, *keep, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench-scale:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, binary string, duration time.Duration, sizeList string, every time.Duration, keep bool, out, progress io.Writer) error {
	bin, err := filepath.Abs(binary)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("binary: %w (run make build)", err)
	}
	var sizes []int
	for _, s := range strings.Split(sizeList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-sizes: %q is not a positive number", s)
		}
		sizes = append(sizes, n)
	}
	if duration < 4*every {
		return fmt.Errorf("-duration %s: want at least 4 samples (-sample %s)", duration, every)
	}
	var results []Result
	for _, n := range sizes {
		r, err := runSize(ctx, bin, n, duration, every, keep, progress)
		if err != nil {
			return fmt.Errorf("%d locations: %w", n, err)
		}
		results = append(results, r)
	}
	fmt.Fprintf(out, "\nweatherd scale: simulated provider, memory stream, default rules, file lake; %s per size, sampled every %s, steady state = last half\n\n", duration, every)
	return WriteTable(out, results)
}

// schedule is the poll schedule for n locations: every 10 s, or 30 s from
// 100,000 locations, the quick run (1,000 readings/s at 10,000,
// 3,300 at 100,000).
func schedule(n int) time.Duration {
	if n >= 100_000 {
		return 30 * time.Second
	}
	return 10 * time.Second
}

func runSize(ctx context.Context, bin string, n int, duration, every time.Duration, keep bool, progress io.Writer) (Result, error) {
	dir, err := os.MkdirTemp("", fmt.Sprintf("weatherd-scale-%d-", n))
	if err != nil {
		return Result{}, err
	}
	if !keep {
		defer os.RemoveAll(dir)
	} else {
		fmt.Fprintf(progress, "scale: %d locations in %s\n", n, dir)
	}
	addr, err := freeAddr()
	if err != nil {
		return Result{}, err
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, Config(n, schedule(n), addr, filepath.Join(dir, "lake")), 0o644); err != nil {
		return Result{}, err
	}
	logf, err := os.Create(filepath.Join(dir, "weatherd.log"))
	if err != nil {
		return Result{}, err
	}
	defer logf.Close()

	cmd := exec.Command(bin, "run", "--config", cfgPath)
	cmd.Dir = dir
	cmd.Env = cleanEnv(os.Environ())
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return Result{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	}()

	started := time.Now()
	if err := waitReady(ctx, addr, exited, 2*time.Minute); err != nil {
		return Result{}, fmt.Errorf("%w (log: %s)", err, tail(logf.Name()))
	}
	fmt.Fprintf(progress, "scale: %d locations, schedule @every %s, ready after %s\n", n, schedule(n), time.Since(started).Round(time.Millisecond))

	var samples []Sample
	t := time.NewTicker(every)
	defer t.Stop()
	end := time.Now().Add(duration)
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case err := <-exited:
			return Result{}, fmt.Errorf("weatherd exited: %v (log: %s)", err, tail(logf.Name()))
		case <-t.C:
		}
		s, err := sample(cmd.Process.Pid, addr, started)
		if err != nil {
			return Result{}, err
		}
		samples = append(samples, s)
		fmt.Fprintf(progress, "  %6s  rss %6.1f MiB  heap %6.1f MiB  cpu %6.1f s  ticks %3.0f  consumed %9.0f  held %7.0f\n",
			s.At.Round(time.Second), mib(s.RSS), mib(s.Heap), s.CPU, s.M["weatherd_poll_ticks_total"],
			s.M["weatherd_consumer_records_total"], s.M["weatherd_memstream_held_records"])
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return Result{}, err
	}
	// A stop past shutdown_timeout is a finding of the run, not a reason to
	// lose its figures: the row says so.
	var stopErr string
	select {
	case err := <-exited:
		if err != nil {
			stopErr = err.Error()
			fmt.Fprintf(progress, "scale: %d locations: weatherd stopped with %v (log: %s)\n", n, err, tail(logf.Name()))
		}
	case <-time.After(time.Minute):
		return Result{}, errors.New("weatherd did not stop within a minute of SIGTERM")
	}
	r, err := Summarize(n, schedule(n), samples)
	r.StopErr = stopErr
	return r, err
}

// cleanEnv drops WEATHERD_ variables: every key of the run comes from the
// generated file, whatever the shell running the benchmark exports.
func cleanEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "WEATHERD_") {
			out = append(out, kv)
		}
	}
	return out
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitReady(ctx context.Context, addr string, exited <-chan error, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	c := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-exited:
			return fmt.Errorf("weatherd exited before it was ready: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := c.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("weatherd not ready within %s", limit)
}

// sample reads the process's RSS and CPU time from /proc and scrapes the
// daemon's /metrics.
func sample(pid int, addr string, started time.Time) (Sample, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Sample{}, err
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Sample{}, err
	}
	rss, err := StatusKB(status, "VmRSS:")
	if err != nil {
		return Sample{}, err
	}
	cpu, err := StatCPU(stat)
	if err != nil {
		return Sample{}, err
	}
	m, err := testkit.Scrape(addr)
	if err != nil {
		return Sample{}, err
	}
	return Sample{At: time.Since(started), RSS: rss, Heap: uint64(m["go_memstats_heap_inuse_bytes"]), CPU: cpu, M: m}, nil
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
