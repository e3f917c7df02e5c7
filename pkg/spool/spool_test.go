package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weatherd/weatherd/internal/testkit"
)

// logBuffer is a log sink safe for concurrent use.
type logBuffer = testkit.SyncBuffer

// opened is one Open of a spool in a test, with its registry and log.
type opened struct {
	s         *Spool
	recovered []Entry
	reg       *prometheus.Registry
	log       *logBuffer
}

// mustOpen opens dir with segBytes (default when 0) and fails the test on an error.
func mustOpen(tb testing.TB, dir string, segBytes int64) *opened {
	tb.Helper()
	o := &opened{reg: prometheus.NewRegistry(), log: &logBuffer{}}
	s, rec, err := Open(dir, Options{SegmentBytes: segBytes, Registerer: o.reg, Logger: slog.New(slog.NewTextHandler(o.log, nil))})
	if err != nil {
		tb.Fatalf("open %s: %v", dir, err)
	}
	o.s, o.recovered = s, rec
	tb.Cleanup(func() { s.Close() })
	return o
}

func key(i int) string { return []string{"toronto", "lisbon", "sao-paulo"}[i%3] }
func data(i int) []byte {
	return fmt.Appendf(nil, `{"event_id":"%s/%d","pad":"%s"}`, key(i), i, strings.Repeat("x", i%17))
}

// appendN appends records from..to-1 and returns their ids.
func appendN(tb testing.TB, s *Spool, from, to int) []ID {
	tb.Helper()
	var ids []ID
	for i := from; i < to; i++ {
		id, err := s.Append(key(i), data(i))
		if err != nil {
			tb.Fatalf("append %d: %v", i, err)
		}
		ids = append(ids, id)
	}
	return ids
}

// wantEntries checks that got holds exactly records idx (by index), with ids.
func wantEntries(tb testing.TB, got []Entry, ids []ID, idx []int) {
	tb.Helper()
	if len(got) != len(idx) {
		tb.Fatalf("recovered %d records, want %d (%v)", len(got), len(idx), idx)
	}
	for j, i := range idx {
		e := got[j]
		if e.ID != ids[i] || e.Key != key(i) || !bytes.Equal(e.Data, data(i)) {
			tb.Fatalf("recovered record %d = {%s %q %s}, want record %d {%s %q %s}", j, e.ID, e.Key, e.Data, i, ids[i], key(i), data(i))
		}
	}
}

// files lists dir's file names.
func files(tb testing.TB, dir string) []string { return testkit.DirNames(tb, dir) }

func segName(n uint64) string { return fmt.Sprintf("%020d.spool", n) }
func ackName(n uint64) string { return fmt.Sprintf("%020d.acks", n) }

// frameLen is the size on disk of record i.
func frameLen(i int) int64 { return int64(headerSize + 2 + len(key(i)) + len(data(i))) }

func TestSpool_AppendAckReopen(t *testing.T) {
	dir := t.TempDir()
	o := mustOpen(t, dir, 0)
	if len(o.recovered) != 0 {
		t.Fatalf("a new spool recovered %d records", len(o.recovered))
	}
	ids := appendN(t, o.s, 0, 20)
	o.s.Ack(ids[7], ids[2], ids[15], ids[0], ids[19])
	o.s.Ack(ids[7])                             // twice: nothing
	o.s.Ack(ID{Segment: 99, Offset: 8}, ids[2]) // unknown: nothing
	if got := o.s.Records(); got != 15 {
		t.Fatalf("Records() = %d, want 15", got)
	}
	var size int64 = int64(len(magic)) + 5*ackSize
	for i := range 20 {
		size += frameLen(i)
	}
	if got := o.s.Bytes(); got != size {
		t.Fatalf("Bytes() = %d, want %d", got, size)
	}
	if v := testutil.ToFloat64(o.s.m.bytes); v != float64(size) {
		t.Fatalf("weatherd_spool_bytes = %v, want %d", v, size)
	}
	if err := o.s.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := o.s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := files(t, dir); !slices.Equal(got, []string{ackName(0), segName(0), lockName}) {
		t.Fatalf("files after close %q", got)
	}

	r := mustOpen(t, dir, 0)
	want := []int{1, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18}
	wantEntries(t, r.recovered, ids, want)
	if v := testutil.ToFloat64(r.s.m.recovered); v != 15 {
		t.Errorf("weatherd_spool_recovered_records_total = %v, want 15", v)
	}
	if v := testutil.ToFloat64(r.s.m.records); v != 15 {
		t.Errorf("weatherd_spool_records = %v, want 15", v)
	}
	if !strings.Contains(r.log.String(), "spool recovered unacknowledged records from an earlier run") || !strings.Contains(r.log.String(), "records=15") {
		t.Errorf("log:\n%s", r.log.String())
	}
	// New records go to a new segment; the old one goes once its records are acked.
	newIDs := appendN(t, r.s, 20, 22)
	if newIDs[0] != (ID{Segment: 1, Offset: int64(len(magic))}) {
		t.Fatalf("first new id %s, want 1:8", newIDs[0])
	}
	if got := files(t, dir); !slices.Equal(got, []string{ackName(0), segName(0), segName(1), lockName}) {
		t.Fatalf("files %q", got)
	}
	var old []ID
	for _, e := range r.recovered {
		old = append(old, e.ID)
	}
	r.s.Ack(old[:14]...)
	if got := files(t, dir); !slices.Equal(got, []string{ackName(0), segName(0), segName(1), lockName}) {
		t.Fatalf("segment 0 removed with a record unacked: %q", got)
	}
	r.s.Ack(old[14])
	if got := files(t, dir); !slices.Equal(got, []string{segName(1), lockName}) {
		t.Fatalf("files after acking every recovered record %q", got)
	}
	r.s.Ack(newIDs...)
	if got := files(t, dir); !slices.Equal(got, []string{lockName}) {
		t.Fatalf("files after acking everything %q, want only the lock", got)
	}
	if r.s.Bytes() != 0 || r.s.Records() != 0 || testutil.ToFloat64(r.s.m.segments) != 0 {
		t.Fatalf("bytes %d records %d segments %v, want 0", r.s.Bytes(), r.s.Records(), testutil.ToFloat64(r.s.m.segments))
	}
	// The active segment was removed: the next Append starts segment 2.
	if id := appendN(t, r.s, 22, 23)[0]; id.Segment != 2 {
		t.Fatalf("append after the active segment was removed went to %s", id)
	}
	r.s.Close()
	wantEntries(t, mustOpen(t, dir, 0).recovered, append(make([]ID, 22), ID{Segment: 2, Offset: 8}), []int{22})
}

func TestSpool_TornTail(t *testing.T) {
	last := frameLen(4)
	for _, k := range []int64{1, 2, 4, 7, 8, 9, 12, last / 2, last - 1} {
		t.Run(fmt.Sprintf("cut%d", k), func(t *testing.T) {
			dir := t.TempDir()
			o := mustOpen(t, dir, 0)
			ids := appendN(t, o.s, 0, 5)
			o.s.Close()
			seg := filepath.Join(dir, segName(0))
			st, err := os.Stat(seg)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(seg, st.Size()-k); err != nil {
				t.Fatal(err)
			}

			r := mustOpen(t, dir, 0)
			wantEntries(t, r.recovered, ids, []int{0, 1, 2, 3})
			if v := testutil.ToFloat64(r.s.m.corrupt); v != 1 {
				t.Fatalf("weatherd_spool_corrupt_frames_total = %v, want 1", v)
			}
			wantLog := fmt.Sprintf("file=%s offset=%d problem=\"torn frame", seg, ids[4].Offset)
			if !strings.Contains(r.log.String(), wantLog) {
				t.Fatalf("log does not name the file and offset (%s):\n%s", wantLog, r.log.String())
			}
			// Appends work and survive the next reopen with the old records.
			newIDs := appendN(t, r.s, 5, 7)
			r.s.Close()
			again := mustOpen(t, dir, 0)
			all := append(ids, newIDs...)
			wantEntries(t, again.recovered, all, []int{0, 1, 2, 3, 5, 6})
			if v := testutil.ToFloat64(again.s.m.corrupt); v != 1 {
				t.Fatalf("the torn frame counted %v times at the second reopen, want 1", v)
			}
		})
	}
	t.Run("cutWholeFrame", func(t *testing.T) {
		dir := t.TempDir()
		o := mustOpen(t, dir, 0)
		ids := appendN(t, o.s, 0, 5)
		o.s.Close()
		seg := filepath.Join(dir, segName(0))
		st, _ := os.Stat(seg)
		if err := os.Truncate(seg, st.Size()-last); err != nil {
			t.Fatal(err)
		}
		r := mustOpen(t, dir, 0)
		wantEntries(t, r.recovered, ids, []int{0, 1, 2, 3})
		if v := testutil.ToFloat64(r.s.m.corrupt); v != 0 {
			t.Fatalf("corrupt = %v, want 0", v)
		}
	})
	t.Run("onlyPartOfTheMagic", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segName(3)), []byte(magic[:5]), 0o600); err != nil {
			t.Fatal(err)
		}
		r := mustOpen(t, dir, 0)
		if len(r.recovered) != 0 || testutil.ToFloat64(r.s.m.corrupt) != 0 {
			t.Fatalf("recovered %d, corrupt %v", len(r.recovered), testutil.ToFloat64(r.s.m.corrupt))
		}
		if got := files(t, dir); !slices.Equal(got, []string{lockName}) {
			t.Fatalf("files %q: the empty segment should be removed", got)
		}
		if id := appendN(t, r.s, 0, 1)[0]; id.Segment != 4 {
			t.Fatalf("new segment %d, want 4 (after the highest seen)", id.Segment)
		}
	})
}

func TestSpool_CorruptFrame(t *testing.T) {
	t.Run("CRC", func(t *testing.T) {
		dir := t.TempDir()
		o := mustOpen(t, dir, 0)
		ids := appendN(t, o.s, 0, 5)
		o.s.Close()
		seg := filepath.Join(dir, segName(0))
		b, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		b[ids[2].Offset+frameLen(2)-1] ^= 0x40 // last data byte of record 2
		if err := os.WriteFile(seg, b, 0o600); err != nil {
			t.Fatal(err)
		}
		r := mustOpen(t, dir, 0)
		wantEntries(t, r.recovered, ids, []int{0, 1, 3, 4})
		if v := testutil.ToFloat64(r.s.m.corrupt); v != 1 {
			t.Fatalf("corrupt = %v, want 1", v)
		}
		if want := fmt.Sprintf("file=%s offset=%d problem=\"CRC mismatch; frame skipped\"", seg, ids[2].Offset); !strings.Contains(r.log.String(), want) {
			t.Fatalf("want %s in the log:\n%s", want, r.log.String())
		}
	})
	t.Run("Length", func(t *testing.T) {
		dir := t.TempDir()
		o := mustOpen(t, dir, 0)
		ids := appendN(t, o.s, 0, 5)
		o.s.Close()
		seg := filepath.Join(dir, segName(0))
		b, _ := os.ReadFile(seg)
		copy(b[ids[3].Offset:], []byte{0, 0, 0, 0}) // a zeroed header, as after a power loss
		if err := os.WriteFile(seg, b, 0o600); err != nil {
			t.Fatal(err)
		}
		r := mustOpen(t, dir, 0)
		wantEntries(t, r.recovered, ids, []int{0, 1, 2})
		if v := testutil.ToFloat64(r.s.m.corrupt); v != 1 {
			t.Fatalf("corrupt = %v, want 1", v)
		}
		if !strings.Contains(r.log.String(), "impossible frame length 0") {
			t.Fatalf("log:\n%s", r.log.String())
		}
	})
	t.Run("OnlyCorruptFrames", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segName(0)), []byte(magic+"\x05\x00\x00\x00garbagegarbage"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := mustOpen(t, dir, 0)
		// A 5-byte frame whose CRC does not match, then 5 bytes of a header.
		if len(r.recovered) != 0 || testutil.ToFloat64(r.s.m.corrupt) != 2 {
			t.Fatalf("recovered %d, corrupt %v", len(r.recovered), testutil.ToFloat64(r.s.m.corrupt))
		}
		if l := r.log.String(); !strings.Contains(l, "offset=8 problem=\"CRC mismatch") || !strings.Contains(l, "offset=21 problem=\"torn frame: 5 bytes of a 8-byte header\"") {
			t.Fatalf("log:\n%s", l)
		}
		if got := files(t, dir); !slices.Equal(got, []string{lockName, "notes.txt"}) {
			t.Fatalf("files %q", got)
		}
	})
}

func TestSpool_Rotation(t *testing.T) {
	dir := t.TempDir()
	// Records 0..8 are 46..62 bytes on disk: three fit in 200 bytes with the magic.
	o := mustOpen(t, dir, 200)
	ids := appendN(t, o.s, 0, 9)
	var segs []uint64
	for _, id := range ids {
		segs = append(segs, id.Segment)
	}
	if want := []uint64{0, 0, 0, 1, 1, 1, 2, 2, 2}; !slices.Equal(segs, want) {
		t.Fatalf("segments %v, want %v (sizes %d..%d)", segs, want, frameLen(0), frameLen(8))
	}
	if got := files(t, dir); !slices.Equal(got, []string{segName(0), segName(1), segName(2), lockName}) {
		t.Fatalf("files %q", got)
	}
	o.s.Ack(ids[3], ids[5], ids[0])
	if got := files(t, dir); !slices.Equal(got, []string{ackName(0), segName(0), ackName(1), segName(1), segName(2), lockName}) {
		t.Fatalf("files %q", got)
	}
	o.s.Ack(ids[4])
	if got := files(t, dir); !slices.Equal(got, []string{ackName(0), segName(0), segName(2), lockName}) {
		t.Fatalf("after acking segment 1: files %q", got)
	}
	o.s.Ack(ids[6:]...) // the active segment
	if got := files(t, dir); !slices.Equal(got, []string{ackName(0), segName(0), lockName}) {
		t.Fatalf("after acking the active segment: files %q", got)
	}
	var want int64 = int64(len(magic)) + frameLen(0) + frameLen(1) + frameLen(2)
	if got := o.s.Bytes(); got != want+ackSize {
		t.Fatalf("Bytes() = %d, want %d (segment 0 and one ack)", got, want+ackSize)
	}
	if st, _ := os.Stat(filepath.Join(dir, segName(0))); st.Size() != want {
		t.Fatalf("segment 0 is %d bytes, want %d", st.Size(), want)
	}
	if v := testutil.ToFloat64(o.s.m.segments); v != 1 {
		t.Fatalf("weatherd_spool_segments = %v", v)
	}
	o.s.Close()
	wantEntries(t, mustOpen(t, dir, 200).recovered, ids, []int{1, 2})

	t.Run("RecordOverSegmentBytes", func(t *testing.T) {
		dir := t.TempDir()
		o := mustOpen(t, dir, 64)
		a, _ := o.s.Append("k", make([]byte, 100))
		b, _ := o.s.Append("k", make([]byte, 100))
		if a.Segment != 0 || b.Segment != 1 {
			t.Fatalf("ids %s %s: one big record per segment", a, b)
		}
	})
}

func TestSpool_Lock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	o := mustOpen(t, dir, 0)
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("spool directory: %v %v, want mode 0700", st.Mode(), err)
	}
	reg := prometheus.NewRegistry()
	_, _, err := Open(dir, Options{Registerer: reg})
	want := fmt.Sprintf("spool is locked by another process: %s is in use (pid %d); two weatherd processes cannot share a spool directory", dir, os.Getpid())
	if !errors.Is(err, ErrLocked) || err.Error() != want {
		t.Fatalf("second Open: %v\nwant %s", err, want)
	}
	o.s.Close()
	// Released by Close; the failed Open registered nothing, so the same registry works.
	s, _, err := Open(dir, Options{Registerer: reg})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s.Close()
	if _, err := s.Append("k", []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if err := s.Sync(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sync after Close: %v", err)
	}
	s.Ack(ID{}) // does nothing
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestSpool_AppendErrors(t *testing.T) {
	dir := t.TempDir()
	o := mustOpen(t, dir, 0)
	if _, err := o.s.Append(strings.Repeat("k", MaxKeyBytes+1), nil); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("long key: %v", err)
	}
	if _, err := o.s.Append("k", make([]byte, MaxRecordBytes)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("big record: %v", err)
	}
	// The next segment's name is taken by a directory: the create fails, naming it.
	if err := os.Mkdir(filepath.Join(dir, segName(0)), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := o.s.Append("k", []byte("x"))
	if want := "create spool segment: open " + filepath.Join(dir, segName(0)) + ": file exists"; err == nil || err.Error() != want {
		t.Fatalf("Append: %v\nwant %s", err, want)
	}
	if v := testutil.ToFloat64(o.s.m.errors.WithLabelValues("append")); v != 1 {
		t.Fatalf("errors{op=append} = %v", v)
	}
	if err := os.Remove(filepath.Join(dir, segName(0))); err != nil {
		t.Fatal(err)
	}
	if _, err := o.s.Append("k", []byte("x")); err != nil {
		t.Fatalf("Append once the name is free: %v", err)
	}
}

// BenchmarkSpool_Append measures Append of 740-byte readings (the size of a
// reading event), with a Sync every 500 records as the producer does per
// PutRecords batch, and with no Sync at all.
func BenchmarkSpool_Append(b *testing.B) {
	rec := bytes.Repeat([]byte("x"), 740)
	for _, every := range []int{0, 500} {
		b.Run(fmt.Sprintf("sync%d", every), func(b *testing.B) {
			s, _, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.SetBytes(int64(len(rec)))
			b.ReportAllocs()
			var pending []ID
			n := 0
			for b.Loop() {
				id, err := s.Append("sao-paulo", rec)
				if err != nil {
					b.Fatal(err)
				}
				pending = append(pending, id)
				n++
				if len(pending) == 500 {
					if every > 0 {
						if err := s.Sync(); err != nil {
							b.Fatal(err)
						}
					}
					s.Ack(pending...)
					pending = pending[:0]
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

func TestSpool_AcksFile(t *testing.T) {
	t.Run("TornEntry", func(t *testing.T) {
		dir := t.TempDir()
		o := mustOpen(t, dir, 0)
		ids := appendN(t, o.s, 0, 6)
		o.s.Ack(ids[1], ids[2])
		o.s.Ack(ids[4])
		o.s.Close()
		acks := filepath.Join(dir, ackName(0))
		if err := os.Truncate(acks, 3*ackSize-5); err != nil { // the kill cut the second write
			t.Fatal(err)
		}
		r := mustOpen(t, dir, 0)
		wantEntries(t, r.recovered, ids, []int{0, 3, 4, 5})
		if v := testutil.ToFloat64(r.s.m.corrupt); v != 1 {
			t.Fatalf("corrupt = %v, want 1", v)
		}
		if want := fmt.Sprintf("file=%s offset=%d problem=\"torn ack entry: 7 of 12 bytes\"", acks, 2*ackSize); !strings.Contains(r.log.String(), want) {
			t.Fatalf("want %s in:\n%s", want, r.log.String())
		}
	})
	t.Run("CorruptEntry", func(t *testing.T) {
		dir := t.TempDir()
		o := mustOpen(t, dir, 0)
		ids := appendN(t, o.s, 0, 4)
		o.s.Ack(ids[0], ids[1], ids[2])
		o.s.Close()
		acks := filepath.Join(dir, ackName(0))
		b, _ := os.ReadFile(acks)
		b[ackSize] ^= 1 // the offset of ids[1]
		if err := os.WriteFile(acks, b, 0o600); err != nil {
			t.Fatal(err)
		}
		r := mustOpen(t, dir, 0)
		wantEntries(t, r.recovered, ids, []int{1, 3}) // record 1 is put again
		if v := testutil.ToFloat64(r.s.m.corrupt); v != 1 {
			t.Fatalf("corrupt = %v, want 1", v)
		}
	})
	t.Run("AllAcked", func(t *testing.T) {
		// A crash after the last acks were written but before the segment
		// was removed: nothing to recover, and both files go.
		dir := t.TempDir()
		o := mustOpen(t, dir, 0)
		ids := appendN(t, o.s, 0, 3)
		o.s.Ack(ids[0], ids[1])
		o.s.Close()
		f, err := os.OpenFile(filepath.Join(dir, ackName(0)), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		b := binary.LittleEndian.AppendUint64(nil, uint64(ids[2].Offset))
		f.Write(binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)))
		f.Close()
		r := mustOpen(t, dir, 0)
		if len(r.recovered) != 0 {
			t.Fatalf("recovered %d", len(r.recovered))
		}
		if got := files(t, dir); !slices.Equal(got, []string{lockName}) {
			t.Fatalf("files %q", got)
		}
	})
	t.Run("Orphan", func(t *testing.T) {
		// A crash between removing a segment and its acks file.
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ackName(7)), make([]byte, ackSize), 0o600); err != nil {
			t.Fatal(err)
		}
		r := mustOpen(t, dir, 0)
		if got := files(t, dir); len(r.recovered) != 0 || !slices.Equal(got, []string{lockName}) {
			t.Fatalf("recovered %d, files %q", len(r.recovered), got)
		}
		if id := appendN(t, r.s, 0, 1)[0]; id.Segment != 8 {
			t.Fatalf("new segment %d, want 8: never the number of an acks file", id.Segment)
		}
	})
}
