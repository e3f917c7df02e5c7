package state

import (
	"slices"
	"strings"
)

// Set is one location's alerts, sorted by rule: the engine's cache of a
// location and the memory store's. A location holds a few, one per rule
// that recorded a transition there; a slice of pointers weighs 8 bytes per
// alert where a map's smallest table weighs 256 (at 100,000 locations the
// engine's and the memory store's maps were 25 MB of the heap each).
type Set []*Alert

// Get returns the alert of rule, or nil.
func (s Set) Get(rule string) *Alert {
	for _, a := range s {
		if a.Rule == rule {
			return a
		}
	}
	return nil
}

// Put adds a, replacing the alert of its rule.
func (s *Set) Put(a *Alert) {
	i, found := slices.BinarySearchFunc(*s, a.Rule, func(c *Alert, rule string) int { return strings.Compare(c.Rule, rule) })
	if found {
		(*s)[i] = a
		return
	}
	*s = slices.Insert(*s, i, a)
}
