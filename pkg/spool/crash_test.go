package spool

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weatherd/weatherd/internal/testkit"
)

// crashChildEnv, when set to a directory, makes the test binary the crash
// test's child: it appends to the spool there until it is killed.
const crashChildEnv = "WEATHERD_TEST_SPOOL_CRASH_CHILD"

// crashChild appends records 0, 1, 2, ... to the spool in dir and prints
// "A <i> <segment> <offset>" once Append returned, acks the records that are
// 10 behind in groups of 5 and prints "K <i>" for each once Ack returned,
// and syncs every 50 records. Segments of 4 KiB rotate every ~60 records.
func crashChild(dir string) {
	s, rec, err := Open(dir, Options{SegmentBytes: 4 << 10})
	if err != nil || len(rec) != 0 {
		fmt.Fprintf(os.Stderr, "open: %v, %d recovered\n", err, len(rec))
		os.Exit(3)
	}
	var ids []ID
	for i := 0; ; i++ {
		id, err := s.Append(key(i), data(i))
		if err != nil {
			fmt.Fprintf(os.Stderr, "append %d: %v\n", i, err)
			os.Exit(3)
		}
		ids = append(ids, id)
		os.Stdout.WriteString(fmt.Sprintf("A %d %d %d\n", i, id.Segment, id.Offset))
		if i%5 == 4 && i >= 14 {
			from := i - 14 // acks records from..from+4
			s.Ack(ids[from : from+5]...)
			var b strings.Builder
			for j := from; j < from+5; j++ {
				fmt.Fprintf(&b, "K %d\n", j)
			}
			os.Stdout.WriteString(b.String())
		}
		if i%50 == 49 {
			if err := s.Sync(); err != nil {
				fmt.Fprintf(os.Stderr, "sync: %v\n", err)
				os.Exit(3)
			}
		}
	}
}

// TestSpool_Crash runs a child process that appends and acks records and
// kills it with SIGKILL at a random moment, several times; after each kill
// the spool must return exactly the records the child reported appended and
// not acked, with their ids and data, in order — give or take the records of
// the Append and Ack calls the kill interrupted, which the child could not
// report.
func TestSpool_Crash(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	seed := testkit.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	for round := range 6 {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestSpool_Crash$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan []string, 1)
		running := make(chan struct{}) // closed at the child's 20th append
		go func() {
			var ls []string
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				ls = append(ls, sc.Text())
				if len(ls) == 20 {
					close(running)
				}
			}
			io.Copy(io.Discard, out)
			if len(ls) < 20 {
				close(running)
			}
			lines <- ls
		}()
		// Once the child is appending, kill it a random 0–150 ms later.
		<-running
		time.Sleep(time.Duration(rng.Int64N(int64(150 * time.Millisecond))))
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		werr := cmd.Wait()
		ls := <-lines
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child ended with %v, not by SIGKILL: %s", round, werr, stderr.String())
		}

		appended := map[int]ID{}
		acked := map[int]bool{}
		last, lastAcked := -1, -1
		for _, l := range ls {
			var i int
			var id ID
			if n, _ := fmt.Sscanf(l, "A %d %d %d", &i, &id.Segment, &id.Offset); n == 3 {
				appended[i] = id
				last = max(last, i)
			} else if n, _ := fmt.Sscanf(l, "K %d", &i); n == 1 {
				acked[i] = true
				lastAcked = max(lastAcked, i)
			}
		}
		if len(appended) < 15 {
			t.Fatalf("round %d: the child reported only %d appends before the kill: %s", round, len(appended), stderr.String())
		}

		o := mustOpen(t, dir, 4<<10)
		got := map[int]bool{}
		prev := -1
		for _, e := range o.recovered {
			var i int
			if _, err := fmt.Sscanf(string(e.Data), `{"event_id":"`+e.Key+`/%d"`, &i); err != nil {
				t.Fatalf("round %d: recovered record %s %q %s is none the child wrote", round, e.ID, e.Key, e.Data)
			}
			if i <= prev {
				t.Fatalf("round %d: recovered record %d after %d: order lost", round, i, prev)
			}
			prev = i
			if e.Key != key(i) || !bytes.Equal(e.Data, data(i)) {
				t.Fatalf("round %d: record %d recovered as %q %s", round, i, e.Key, e.Data)
			}
			if id, ok := appended[i]; ok && id != e.ID {
				t.Fatalf("round %d: record %d recovered with id %s, appended as %s", round, i, e.ID, id)
			}
			if !ok(appended, i) && i > last+1 {
				t.Fatalf("round %d: recovered record %d, the child reported appends up to %d only", round, i, last)
			}
			if acked[i] {
				t.Fatalf("round %d: record %d was acked (and reported) but came back", round, i)
			}
			got[i] = true
		}
		for i := range appended {
			// The kill may land inside the next Ack call, after it
			// removed a segment but before the child reported it.
			inFlight := i > lastAcked && i <= lastAcked+5
			if !acked[i] && !got[i] && !inFlight {
				t.Errorf("round %d: record %d was appended (reported %s) and not acked, but not recovered", round, i, appended[i])
			}
		}
		t.Logf("round %d: %d appended, %d acked, %d recovered, %d corrupt frames, %d bytes on disk",
			round, len(appended), len(acked), len(o.recovered), int(testutil.ToFloat64(o.s.m.corrupt)), o.s.Bytes())
		o.s.Close()
	}
}

func ok(m map[int]ID, i int) bool { _, found := m[i]; return found }
