package poller

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"
)

// StateStore keeps what the poller remembers across restarts and leader
// changes: the newest observation time it emitted per location. Without it a
// new leader would emit every location's current observation again, and the
// same observation would reach the stream twice. *leader.Elector is one.
type StateStore interface {
	LoadState(ctx context.Context) ([]byte, error)
	SaveState(ctx context.Context, blob []byte) error
}

// WithStateStore makes the poller load its memory from store when it starts
// and save it once everything a tick produced has been delivered (the
// producer has nothing buffered). Saving only delivered observations means a
// crash can repeat an observation but never skip one.
func WithStateStore(store StateStore) Option {
	return func(p *Poller) { p.store = store }
}

// memoryVersion tags the saved blob so a future format can be told apart.
const memoryVersion = 1

type savedMemory struct {
	Version int                  `json:"v"`
	Last    map[string]time.Time `json:"last"`
}

// loadMemory merges the saved observation times into p.last.
func (p *Poller) loadMemory(ctx context.Context) {
	if p.store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	blob, err := p.store.LoadState(ctx)
	if err != nil {
		p.log.Warn("could not load the last observations; this leader may emit some again", "err", err)
		return
	}
	if len(blob) == 0 {
		return
	}
	var m savedMemory
	if err := json.Unmarshal(blob, &m); err != nil || m.Version != memoryVersion {
		p.log.Warn("ignoring saved poller state of an unknown format", "err", err, "version", m.Version)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, at := range m.Last {
		if last, ok := p.last[id]; !ok || at.After(last) {
			p.last[id] = at
		}
	}
	p.log.Info("loaded the last observations", "locations", len(m.Last))
}

// snapshot copies p.last, to be saved once the tick's readings are delivered.
func (p *Poller) snapshot() map[string]time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.last)
}

// saveMemory saves pending when the producer has delivered everything.
// It reports whether pending no longer needs saving.
func (p *Poller) saveMemory(ctx context.Context, pending map[string]time.Time) bool {
	if p.store == nil || pending == nil {
		return true
	}
	if p.out.Buffered() > 0 {
		return false
	}
	blob, err := json.Marshal(savedMemory{Version: memoryVersion, Last: pending})
	if err != nil {
		p.log.Error("encode poller state", "err", err)
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := p.store.SaveState(ctx, blob); err != nil {
		p.log.Warn("could not save the last observations", "err", fmt.Sprint(err))
		return false
	}
	return true
}

// FinalSaveTimeout bounds the save of the poller's memory at a stop (a step
// of the stop sequence that shutdown_timeout must hold).
const FinalSaveTimeout = 3 * time.Second

// finalSave waits a little for the producer to deliver the last tick, then
// saves, so a graceful handover repeats nothing.
func (p *Poller) finalSave(pending map[string]time.Time) {
	if p.store == nil || pending == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), FinalSaveTimeout)
	defer cancel()
	for !p.saveMemory(ctx, pending) {
		if p.wait(ctx, 100*time.Millisecond) != nil {
			p.log.Warn("stopped before the last tick was delivered; the next leader may emit it again")
			return
		}
	}
}
