package lake

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/robfig/cron/v3"
)

// Leadership says whether this replica leads its peers: pkg/leader's
// Elector. Await returns a context that ends when the leadership does; with
// an ended ctx it answers at once.
type Leadership interface {
	Await(ctx context.Context) (context.Context, error)
}

// CompactOnlyWhileLeading makes the compaction job run only on the replica
// that holds l (the poller's leader lease), and stop when it loses it.
// Without it every replica whose config enables compaction compacts; two
// at once are still safe (see Compact) but may each merge an overlapping
// set of files, leaving duplicates until the next run merges the two
// outputs. Call it before Run.
func (w *Writer) CompactOnlyWhileLeading(l Leadership) { w.lead = l }

// Run runs the compaction job on lake.compaction.schedule until ctx ends
// (one run at a time; a run still going when ctx ends is waited for). With
// compaction disabled it only waits for ctx.
func (w *Writer) Run(ctx context.Context) error {
	if !w.cfg.Compaction.Enabled {
		<-ctx.Done()
		return nil
	}
	sched, err := cron.ParseStandard(w.cfg.Compaction.Schedule)
	if err != nil {
		return fmt.Errorf("lake.compaction.schedule: bad cron spec %q: %w", w.cfg.Compaction.Schedule, err)
	}
	c := cron.New(cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger)))
	c.Schedule(sched, cron.FuncJob(func() { w.compactIfLeading(ctx) }))
	c.Start()
	<-ctx.Done()
	<-c.Stop().Done()
	return nil
}

// compactIfLeading runs one compaction, on the leader only when a
// Leadership is set, and stops it when the leadership ends.
func (w *Writer) compactIfLeading(ctx context.Context) {
	if w.lead != nil {
		ended, cancel := context.WithCancel(ctx)
		cancel()
		term, err := w.lead.Await(ended)
		if err != nil {
			w.m.compactionRuns.WithLabelValues("not_leader").Inc()
			w.log.Debug("lake compaction skipped: another replica leads")
			return
		}
		var stop context.CancelFunc
		ctx, stop = context.WithCancel(ctx)
		defer stop()
		defer context.AfterFunc(term, stop)()
	}
	if err := w.Compact(ctx); err != nil && ctx.Err() == nil {
		w.log.Error("lake compaction failed; the next run retries", "err", err)
	}
}

// Compact merges, in every hour partition from lake.compaction.lookback ago
// up to lake.compaction.min_age ago, the gold files last written more than
// min_age ago into one file.
//
// The rule that keeps it from racing the effectively-once replay: a gold
// object can be overwritten only while the flush that wrote it is not
// checkpointed — between the write and the checkpoint, or after a crash until
// the shard's next owner replays it (seconds to a lease duration). Objects
// older than min_age (at least 1h) are therefore final. Should a replay still
// rewrite an object already merged (the whole fleet down for longer than
// min_age), the merge drops repeated event_ids, so the next run removes the
// duplicate again. The output name is a hash of the input names: rerunning
// after an interruption between writing the output and deleting the inputs
// merges the output with the leftovers into a new file, without duplicates.
func (w *Writer) Compact(ctx context.Context) (err error) {
	defer func() {
		outcome := "ok"
		if err != nil {
			outcome = "error"
		}
		w.m.compactionRuns.WithLabelValues(outcome).Inc()
	}()
	now := w.now().UTC()
	minAge := w.cfg.Compaction.MinAge
	last := now.Add(-minAge).Truncate(time.Hour).Add(-time.Hour) // last hour that has ended min_age ago
	var errs []error
	for h := now.Add(-w.cfg.Compaction.Lookback).Truncate(time.Hour); !h.After(last); h = h.Add(time.Hour) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := w.compactHour(ctx, h, now.Add(-minAge)); err != nil {
			errs = append(errs, fmt.Errorf("compact %s: %w", partitionPath(h), err))
		}
	}
	return errors.Join(errs...)
}

// compactedPrefix starts the names of files written by compaction.
const compactedPrefix = "compacted-"

func (w *Writer) compactHour(ctx context.Context, hour, olderThan time.Time) error {
	dir := kindGold + "/" + partitionPath(hour) + "/"
	objs, err := w.store.List(ctx, dir)
	if err != nil {
		return err
	}
	var inputs []string
	var size int64
	for _, o := range objs {
		if !strings.HasSuffix(o.Key, ".parquet") || strings.Contains(o.Key[len(dir):], "/") || o.Modified.After(olderThan) {
			continue
		}
		if size+o.Size > w.cfg.Compaction.MaxInputBytes {
			break
		}
		inputs = append(inputs, o.Key)
		size += o.Size
	}
	if len(inputs) < 2 {
		return nil
	}
	sum := sha256.Sum256([]byte(strings.Join(inputs, "\n")))
	out := dir + compactedPrefix + hex.EncodeToString(sum[:8]) + ".parquet"

	var buf bytes.Buffer
	pw := parquet.NewGenericWriter[Row](&buf,
		parquet.Compression(w.enc.codec),
		parquet.MaxRowsPerRowGroup(w.enc.rowGroupRows),
		parquet.CreatedBy("weatherd", "", ""),
	)
	seen := map[string]struct{}{}
	rows, dups := 0, 0
	batch := make([]Row, 1024)
	for _, key := range inputs {
		data, err := w.store.Get(ctx, key)
		if err != nil {
			return err
		}
		r := parquet.NewGenericReader[Row](bytes.NewReader(data))
		for {
			n, rerr := r.Read(batch)
			keep := batch[:0]
			for _, row := range batch[:n] {
				if _, ok := seen[row.EventID]; ok {
					dups++
					continue
				}
				seen[row.EventID] = struct{}{}
				keep = append(keep, row)
			}
			if _, err := pw.Write(keep); err != nil {
				r.Close()
				return fmt.Errorf("write %s: %w", out, err)
			}
			rows += len(keep)
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				r.Close()
				return fmt.Errorf("read %s: %w", key, rerr)
			}
		}
		r.Close()
	}
	if rows == 0 {
		return fmt.Errorf("inputs %v hold no rows", inputs)
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := w.store.Put(ctx, out, buf.Bytes()); err != nil {
		return err
	}
	w.m.objects.WithLabelValues(kindCompacted).Inc()
	w.m.bytes.WithLabelValues(kindCompacted).Add(float64(buf.Len()))
	// Only now that the output is durable may the inputs go.
	for _, key := range inputs {
		if key == out {
			continue
		}
		if err := w.store.Delete(ctx, key); err != nil {
			return err
		}
	}
	w.log.Info("compacted lake partition", "partition", partitionPath(hour), "inputs", len(inputs),
		"rows", rows, "duplicates_dropped", dups, "output", out, "bytes", buf.Len())
	return nil
}
