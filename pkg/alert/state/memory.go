package state

import (
	"context"
	"sort"
	"sync"
)

// Memory is a Store in process memory: fast, and lost on restart (so is its
// outbox: use DynamoDB when notifications must survive a crash).
type Memory struct {
	mu       sync.Mutex
	alerts   map[string]Set     // by location
	silences map[string]Silence // by id
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{alerts: map[string]Set{}} }

// Init does nothing.
func (m *Memory) Init(context.Context) error { return nil }

// Load returns the alerts of a location, sorted by rule.
func (m *Memory) Load(_ context.Context, location string) ([]Alert, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Alert, 0, len(m.alerts[location]))
	for _, a := range m.alerts[location] {
		out = append(out, a.Clone())
	}
	return out, nil
}

// Get returns one alert.
func (m *Memory) Get(_ context.Context, location, rule string) (Alert, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.alerts[location].Get(rule)
	if a == nil {
		return Alert{}, false, nil
	}
	return a.Clone(), true, nil
}

// Save stores a when its version matches. It keeps a itself, not a copy:
// the caller hands the alert over and must not change it afterwards (as
// with every alert the engine caches: it changes a Clone). The engine's
// cache and this store so hold one alert, not two (two were a third of the
// heap at 100,000 locations).
func (m *Memory) Save(_ context.Context, a *Alert) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	set := m.alerts[a.Location]
	cur := set.Get(a.Rule)
	if (cur == nil && a.Version != 0) || (cur != nil && cur.Version != a.Version) {
		return ErrConflict
	}
	a.Version++
	set.Put(a)
	m.alerts[a.Location] = set
	return nil
}

// Pending returns the alerts with undelivered notifications.
func (m *Memory) Pending(context.Context) ([]Alert, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Alert
	for _, set := range m.alerts {
		for _, a := range set {
			if len(a.Outbox) > 0 {
				out = append(out, a.Clone())
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Location != out[j].Location {
			return out[i].Location < out[j].Location
		}
		return out[i].Rule < out[j].Rule
	})
	return out, nil
}
