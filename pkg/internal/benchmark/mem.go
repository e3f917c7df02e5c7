package benchmark

import (
	"bufio"
	"bytes"
	"os"
	rtmetrics "runtime/metrics"
	"strconv"
	"sync"
	"time"
)

// MemPeak is what a Sampler saw between Start and Stop.
type MemPeak struct {
	// RSS is the process's peak resident set (VmHWM, reset at Start where
	// the kernel allows it, else the highest VmRSS sampled), in bytes;
	// RSSBase the resident set at Start.
	RSS, RSSBase uint64
	// Heap is the peak of Go heap memory holding objects, live or not yet
	// swept, in bytes, sampled every few milliseconds.
	Heap uint64
	// HeapBase is Heap's value at Start: Heap-HeapBase is what the measured
	// work added (the input it reads is already in HeapBase).
	HeapBase uint64
	// Live is the peak of the heap found live by a garbage collection
	// (garbage not counted), in bytes; LiveBase its value at Start (run a
	// GC just before Start to make it exact).
	Live, LiveBase uint64
}

// Sampler records peak memory use while work runs.
type Sampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	peak MemPeak
	hwm  bool // VmHWM was reset, so it is the peak of this run
}

const (
	heapMetric = "/memory/classes/heap/objects:bytes"
	liveMetric = "/gc/heap/live:bytes"
)

// StartSampler resets the kernel's peak RSS counter (where permitted) and
// samples memory every 2 ms until Stop.
func StartSampler() *Sampler {
	s := &Sampler{done: make(chan struct{})}
	s.hwm = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	s.peak.RSSBase = procStatus("VmRSS:")
	sample := []rtmetrics.Sample{{Name: heapMetric}, {Name: liveMetric}}
	rtmetrics.Read(sample)
	s.peak.HeapBase = sample[0].Value.Uint64()
	s.peak.LiveBase = sample[1].Value.Uint64()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			rtmetrics.Read(sample)
			rss := procStatus("VmRSS:")
			s.mu.Lock()
			s.peak.Heap = max(s.peak.Heap, sample[0].Value.Uint64())
			s.peak.Live = max(s.peak.Live, sample[1].Value.Uint64())
			s.peak.RSS = max(s.peak.RSS, rss)
			s.mu.Unlock()
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends sampling and returns the peaks.
func (s *Sampler) Stop() MemPeak {
	close(s.done)
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hwm {
		s.peak.RSS = max(s.peak.RSS, procStatus("VmHWM:"))
	}
	return s.peak
}

// procStatus returns a "kB" field of /proc/self/status in bytes (0 when
// unavailable).
func procStatus(field string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		if rest, ok := bytes.CutPrefix(line, []byte(field)); ok {
			kb, err := strconv.ParseUint(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte("kB")))), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
