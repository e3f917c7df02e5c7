// Package spool is a durable, append-only record log on local disk: the
// producer writes each reading to it before queueing it for Kinesis and
// acknowledges it once Kinesis stored it, so a reading held in memory at a
// crash is put again by the next start instead of being lost.
//
// # Layout
//
// A spool directory holds a lock file (LOCK, flock'ed for the life of the
// process, with the owner's pid in it), segment files named
// <20-digit number>.spool and, beside a segment some of whose records were
// acknowledged, <number>.acks. A segment starts with an 8-byte magic and
// holds frames, each written with one write(2):
//
//	u32 LE payload length | u32 LE CRC-32C of the payload | payload
//	payload = u16 LE key length | partition key | data
//
// An acks file holds 12-byte entries, u64 LE frame offset | u32 LE CRC-32C of
// those 8 bytes, appended with one write(2) per Ack call and segment.
//
// # Durability
//
// A record is in the page cache once Append returns, so a SIGKILL (or any
// crash of the process alone) never loses it. Sync fsyncs the active segment
// (and the directory after a segment was created); the producer calls it
// before each PutRecords call, so a power loss or kernel crash can lose the
// records appended since the last Sync: at most one producer batch, about
// stream.kinesis.linger of readings. Acks files are not fsynced: a power
// loss can make acknowledged records come back, never hide unacknowledged
// ones; readers must tolerate repeats (weatherd's consumer drops them by event
// id). A segment and its acks file are deleted once every record in the
// segment is acknowledged.
//
// # Recovery
//
// Open reads every segment left by earlier runs, oldest first. A frame whose
// CRC does not match is skipped (counted, logged with the file and offset)
// and reading goes on after it; a frame cut short (a kill mid-write, or a
// length that cannot be right) ends that segment (counted, logged). A torn or
// corrupt acks entry is ignored (counted, logged): its record is put again.
// None of these stops the start. Recovered records keep their ids, count against their old
// segment and are acknowledged like new ones; new records go to a new
// segment.
//
// # Bounds
//
// A segment whose records are all acknowledged is deleted at once, the
// active one included (the next Append starts a new one). So disk use is the
// unacknowledged records plus the acknowledged ones sharing a segment with
// them, plus 12 bytes per acknowledgement in those segments' acks files. The
// producer acknowledges in the order it appended, except the entries of a
// batch that failed (at most 500, retried ahead of the rest), and refuses new
// records once its buffer is full: the spool holds about the producer's
// buffered bytes (stream.kinesis.buffer_records, at most 64 MiB) plus up to
// two segments (SegmentBytes, 4 MiB by default).
package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/pkg/fsync"
)

// Format constants.
const (
	// DefaultSegmentBytes is the size at which the active segment is rotated.
	DefaultSegmentBytes = 4 << 20
	// MaxRecordBytes bounds one record's key plus data.
	MaxRecordBytes = 16 << 20
	// MaxKeyBytes bounds one partition key (Kinesis allows 256 characters).
	MaxKeyBytes = 1 << 12

	lockName   = "LOCK"
	segSuffix  = ".spool"
	ackSuffix  = ".acks"
	ackSize    = 12 // offset + CRC
	magic      = "WDSPOOL1"
	headerSize = 8 // length + CRC
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors.
var (
	// ErrLocked: another process holds the spool directory.
	ErrLocked = errors.New("spool is locked by another process")
	// ErrClosed: the spool was closed.
	ErrClosed = errors.New("spool closed")
	// ErrTooLarge: the record is over MaxRecordBytes or its key over MaxKeyBytes.
	ErrTooLarge = errors.New("record too large for the spool")
)

// ID names one record: its segment and the offset of its frame.
type ID struct {
	Segment uint64
	Offset  int64
}

func (id ID) String() string { return fmt.Sprintf("%d:%d", id.Segment, id.Offset) }

// Entry is one unacknowledged record recovered by Open.
type Entry struct {
	ID   ID
	Key  string
	Data []byte
}

// Options tune a spool; the zero value is usable.
type Options struct {
	// SegmentBytes is the rotation size (DefaultSegmentBytes when 0).
	SegmentBytes int64
	// Registerer receives the metrics (none registered when nil).
	Registerer prometheus.Registerer
	// Logger is the spool's logger (discarded when nil).
	Logger *slog.Logger
}

// segment is what the spool knows about one segment file.
type segment struct {
	num     uint64
	path    string
	size    int64              // bytes in the segment file
	acks    int64              // bytes in its acks file
	pending map[int64]struct{} // offsets of unacknowledged frames
}

// Spool is an open spool directory. Its methods are safe for concurrent use.
type Spool struct {
	dir  string
	lock *os.File
	opts Options
	m    *metrics
	log  *slog.Logger

	mu       sync.Mutex
	segs     map[uint64]*segment
	active   *segment // nil until the next Append
	file     *os.File // the active segment, open for appending
	next     uint64   // number of the next segment
	dirty    bool     // appended since the last Sync
	dirDirty bool     // a segment was created since the last Sync
	bytes    int64
	records  int
	closed   bool
}

// Open opens (creating it, 0o700) the spool directory dir, takes its lock and
// recovers the records earlier runs did not acknowledge, in the order they
// were appended. A directory another process holds fails with ErrLocked.
func Open(dir string, opts Options) (*Spool, []Entry, error) {
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Spool{
		dir:  dir,
		opts: opts,
		m:    newMetrics(),
		log:  log.With("component", "spool", "dir", dir),
		segs: map[uint64]*segment{},
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create spool directory: %w", err)
	}
	if err := s.takeLock(); err != nil {
		return nil, nil, err
	}
	entries, err := s.recover()
	if err != nil {
		s.lock.Close()
		return nil, nil, err
	}
	s.m.register(opts.Registerer)
	s.gauges()
	if len(entries) > 0 {
		s.log.Info("spool recovered unacknowledged records from an earlier run", "records", len(entries), "segments", len(s.segs), "bytes", s.bytes)
	}
	return s, entries, nil
}

// takeLock flocks dir/LOCK without waiting and writes this pid in it.
func (s *Spool) takeLock() error {
	path := filepath.Join(s.dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open spool lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := ""
			if b, rerr := os.ReadFile(path); rerr == nil && len(strings.TrimSpace(string(b))) > 0 {
				holder = " (pid " + strings.TrimSpace(string(b)) + ")"
			}
			return fmt.Errorf("%w: %s is in use%s; two weatherd processes cannot share a spool directory", ErrLocked, s.dir, holder)
		}
		return fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	s.lock = f
	return nil
}

// recover reads every segment in dir, oldest first.
func (s *Spool) recover() ([]Entry, error) {
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("read spool directory: %w", err)
	}
	var nums []uint64
	segs := map[uint64]bool{}
	var ackFiles []uint64
	for _, de := range des {
		name := de.Name()
		if strings.HasSuffix(name, ackSuffix) && de.Type().IsRegular() {
			if n, err := strconv.ParseUint(strings.TrimSuffix(name, ackSuffix), 10, 64); err == nil {
				ackFiles = append(ackFiles, n)
			}
			continue
		}
		if !strings.HasSuffix(name, segSuffix) || !de.Type().IsRegular() {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if err != nil {
			s.log.Warn("spool directory holds a file that is not a segment; ignored", "file", name)
			continue
		}
		nums = append(nums, n)
		segs[n] = true
	}
	for _, n := range ackFiles {
		// Never reuse the number of an acks file, even one that could not
		// be removed: its entries would apply to the new segment.
		s.next = max(s.next, n+1)
		if !segs[n] {
			// Left by a crash between removing a segment and its acks.
			s.removeFile(s.ackPath(n))
		}
	}
	slices.Sort(nums)
	var out []Entry
	for _, n := range nums {
		seg := &segment{num: n, path: s.segPath(n), pending: map[int64]struct{}{}}
		entries, err := s.readSegment(seg)
		if err != nil {
			return nil, err
		}
		s.next = max(s.next, n+1)
		if len(entries) == 0 {
			// Nothing to deliver: empty, all acknowledged, or only
			// corrupt frames (logged).
			s.removeFile(seg.path)
			s.removeFile(s.ackPath(n))
			continue
		}
		s.segs[n] = seg
		s.bytes += seg.size + seg.acks
		s.records += len(entries)
		out = append(out, entries...)
	}
	s.m.recovered.Add(float64(len(out)))
	return out, nil
}

// readAcks returns the offsets the acks file of seg lists.
func (s *Spool) readAcks(seg *segment) (map[int64]bool, error) {
	path := s.ackPath(seg.num)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read spool acks %s: %w", path, err)
	}
	seg.acks = int64(len(b))
	acked := map[int64]bool{}
	for off := 0; off < len(b); off += ackSize {
		if len(b)-off < ackSize {
			s.corrupt(path, int64(off), fmt.Sprintf("torn ack entry: %d of %d bytes", len(b)-off, ackSize))
			break
		}
		if crc32.Checksum(b[off:off+8], castagnoli) != binary.LittleEndian.Uint32(b[off+8:]) {
			s.corrupt(path, int64(off), "ack entry CRC mismatch; entry ignored")
			continue
		}
		acked[int64(binary.LittleEndian.Uint64(b[off:]))] = true
	}
	return acked, nil
}

// readSegment parses one segment file and its acks, recording its
// unacknowledged frames.
func (s *Spool) readSegment(seg *segment) ([]Entry, error) {
	acked, err := s.readAcks(seg)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(seg.path)
	if err != nil {
		return nil, fmt.Errorf("read spool segment %s: %w", seg.path, err)
	}
	seg.size = int64(len(b))
	if len(b) < len(magic) || string(b[:len(magic)]) != magic {
		if len(b) > 0 && !strings.HasPrefix(magic, string(b[:min(len(b), len(magic))])) {
			s.corrupt(seg.path, 0, "not a spool segment (bad magic)")
		}
		return nil, nil
	}
	var out []Entry
	off := int64(len(magic))
	for off < int64(len(b)) {
		rest := b[off:]
		if len(rest) < headerSize {
			s.corrupt(seg.path, off, fmt.Sprintf("torn frame: %d bytes of a %d-byte header", len(rest), headerSize))
			break
		}
		n := int64(binary.LittleEndian.Uint32(rest))
		sum := binary.LittleEndian.Uint32(rest[4:])
		if n < 2 || n > MaxRecordBytes+2 {
			s.corrupt(seg.path, off, fmt.Sprintf("impossible frame length %d; rest of the segment (%d bytes) skipped", n, len(rest)))
			break
		}
		if int64(len(rest)) < headerSize+n {
			s.corrupt(seg.path, off, fmt.Sprintf("torn frame: %d of %d bytes", len(rest), headerSize+n))
			break
		}
		payload := rest[headerSize : headerSize+n]
		id := ID{Segment: seg.num, Offset: off}
		off += headerSize + n
		if crc32.Checksum(payload, castagnoli) != sum {
			s.corrupt(seg.path, id.Offset, "CRC mismatch; frame skipped")
			continue
		}
		kl := int64(binary.LittleEndian.Uint16(payload))
		if kl > n-2 {
			s.corrupt(seg.path, id.Offset, fmt.Sprintf("key length %d over the payload's %d bytes; frame skipped", kl, n-2))
			continue
		}
		if acked[id.Offset] {
			continue
		}
		seg.pending[id.Offset] = struct{}{}
		out = append(out, Entry{ID: id, Key: string(payload[2 : 2+kl]), Data: payload[2+kl:]})
	}
	return out, nil
}

func (s *Spool) corrupt(path string, off int64, what string) {
	s.m.corrupt.Inc()
	s.log.Warn("spool segment has a bad frame", "file", path, "offset", off, "problem", what)
}

func (s *Spool) segPath(n uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", n, segSuffix))
}

func (s *Spool) ackPath(n uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", n, ackSuffix))
}

// removeFile deletes path, logging a failure (the file's records, if any,
// are put again at the next start).
func (s *Spool) removeFile(path string) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.m.errors.WithLabelValues("remove").Inc()
		s.log.Warn("could not remove a spool file; its records will be put again at the next start", "file", path, "err", err)
	}
}

// Append writes one record to the active segment with one write(2) and
// returns its id. Once it returns nil the record survives a crash of the
// process; see Sync for a crash of the machine.
func (s *Spool) Append(key string, data []byte) (ID, error) {
	if len(key) > MaxKeyBytes || len(key)+len(data) > MaxRecordBytes {
		return ID{}, fmt.Errorf("%w: key %d bytes, data %d bytes", ErrTooLarge, len(key), len(data))
	}
	n := 2 + len(key) + len(data)
	frame := make([]byte, headerSize+n)
	binary.LittleEndian.PutUint32(frame, uint32(n))
	binary.LittleEndian.PutUint16(frame[headerSize:], uint16(len(key)))
	copy(frame[headerSize+2:], key)
	copy(frame[headerSize+2+len(key):], data)
	binary.LittleEndian.PutUint32(frame[4:], crc32.Checksum(frame[headerSize:], castagnoli))

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ID{}, ErrClosed
	}
	if s.active != nil && s.active.size > int64(len(magic)) && s.active.size+int64(len(frame)) > s.opts.SegmentBytes {
		s.retireLocked()
	}
	if s.active == nil {
		if err := s.createLocked(); err != nil {
			s.m.errors.WithLabelValues("append").Inc()
			return ID{}, err
		}
	}
	seg := s.active
	off := seg.size
	if _, err := s.file.Write(frame); err != nil {
		s.m.errors.WithLabelValues("append").Inc()
		// A short write would leave a torn frame in front of the next
		// one: cut it off, and start a new segment either way.
		_ = s.file.Truncate(off)
		s.retireLocked()
		return ID{}, fmt.Errorf("append to spool segment %s: %w", seg.path, err)
	}
	seg.size += int64(len(frame))
	seg.pending[off] = struct{}{}
	s.bytes += int64(len(frame))
	s.records++
	s.dirty = true
	s.m.appended.Inc()
	s.gauges()
	return ID{Segment: seg.num, Offset: off}, nil
}

// createLocked starts a new active segment.
func (s *Spool) createLocked() error {
	n := s.next
	path := s.segPath(n)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("create spool segment: %w", err)
	}
	if _, err := f.Write([]byte(magic)); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("create spool segment %s: %w", path, err)
	}
	s.next++
	s.active = &segment{num: n, path: path, size: int64(len(magic)), pending: map[int64]struct{}{}}
	s.segs[n] = s.active
	s.file = f
	s.bytes += int64(len(magic))
	s.dirDirty = true
	return nil
}

// retireLocked closes the active segment; it stays until its records are
// acknowledged. A segment with unacknowledged records is synced first, so
// rotation does not widen what a power loss can lose.
func (s *Spool) retireLocked() {
	if s.active == nil {
		return
	}
	if s.dirty && len(s.active.pending) > 0 {
		if err := s.file.Sync(); err != nil {
			s.m.errors.WithLabelValues("sync").Inc()
			s.log.Warn("fsync spool segment failed", "file", s.active.path, "err", err)
		}
		s.dirty = false
	}
	if err := s.file.Close(); err != nil {
		s.m.errors.WithLabelValues("sync").Inc()
		s.log.Warn("close spool segment failed", "file", s.active.path, "err", err)
	}
	seg := s.active
	s.active, s.file = nil, nil
	if len(seg.pending) == 0 {
		s.removeLocked(seg)
	}
}

// removeLocked deletes a segment whose records are all acknowledged, then
// its acks file (a crash in between leaves only the acks file, removed at
// the next Open).
func (s *Spool) removeLocked(seg *segment) {
	s.removeFile(seg.path)
	if seg.acks > 0 {
		s.removeFile(s.ackPath(seg.num))
	}
	delete(s.segs, seg.num)
	s.bytes -= seg.size + seg.acks
}

// Sync makes the records appended so far survive a power loss: it fsyncs the
// active segment, and the directory when a segment was created. It does
// nothing when nothing was appended since the last call.
func (s *Spool) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.dirty && s.file != nil {
		if err := s.file.Sync(); err != nil {
			s.m.errors.WithLabelValues("sync").Inc()
			return fmt.Errorf("fsync spool segment %s: %w", s.active.path, err)
		}
	}
	s.dirty = false
	if s.dirDirty {
		if err := fsync.Dir(s.dir); err != nil {
			s.m.errors.WithLabelValues("sync").Inc()
			return fmt.Errorf("fsync spool directory: %w", err)
		}
		s.dirDirty = false
	}
	return nil
}

// Ack marks records as delivered; acknowledging one twice, or an unknown id,
// does nothing. A segment is deleted once all its records are acknowledged,
// the active one included; otherwise the ids are appended to its acks file
// so the next Open does not return them (if that write fails they are only
// put again: it is logged and counted, not returned).
func (s *Spool) Ack(ids ...ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	touched := map[uint64]*segment{}
	done := map[uint64][]int64{}
	for _, id := range ids {
		seg := s.segs[id.Segment]
		if seg == nil {
			continue
		}
		if _, ok := seg.pending[id.Offset]; !ok {
			continue
		}
		delete(seg.pending, id.Offset)
		s.records--
		touched[seg.num] = seg
		done[seg.num] = append(done[seg.num], id.Offset)
	}
	for _, seg := range touched {
		if len(seg.pending) > 0 {
			s.writeAcksLocked(seg, done[seg.num])
			continue
		}
		if seg == s.active {
			s.retireLocked() // removes it
		} else {
			s.removeLocked(seg)
		}
	}
	s.gauges()
}

// writeAcksLocked appends offsets to the acks file of seg with one write.
func (s *Spool) writeAcksLocked(seg *segment, offsets []int64) {
	b := make([]byte, 0, len(offsets)*ackSize)
	for _, off := range offsets {
		b = binary.LittleEndian.AppendUint64(b, uint64(off))
		b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[len(b)-8:], castagnoli))
	}
	path := s.ackPath(seg.num)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err == nil {
		var n int
		n, err = f.Write(b)
		seg.acks += int64(n)
		s.bytes += int64(n)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		s.m.errors.WithLabelValues("ack").Inc()
		s.log.Warn("could not record acknowledgements; those records will be put again at the next start", "file", path, "records", len(offsets), "err", err)
	}
}

// Records is the number of unacknowledged records.
func (s *Spool) Records() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records
}

// Bytes is the size of the segment files on disk.
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// Dir is the spool directory.
func (s *Spool) Dir() string { return s.dir }

// Close syncs and closes the active segment and releases the lock. Records
// not acknowledged stay on disk for the next Open; a segment whose records
// are all acknowledged is deleted. Later calls do nothing.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.retireLocked()
	var err error
	if s.dirDirty {
		if err = fsync.Dir(s.dir); err != nil {
			err = fmt.Errorf("fsync spool directory: %w", err)
		}
	}
	s.closed = true
	if cerr := s.lock.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("release spool lock: %w", cerr)
	}
	if s.records > 0 {
		s.log.Info("spool closed with records not yet delivered; the next start puts them", "records", s.records, "bytes", s.bytes)
	}
	return err
}

func (s *Spool) gauges() {
	s.m.bytes.Set(float64(s.bytes))
	s.m.records.Set(float64(s.records))
	s.m.segments.Set(float64(len(s.segs)))
}
