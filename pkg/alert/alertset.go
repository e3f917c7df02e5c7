package alert

import (
	"slices"
	"strings"

	"github.com/weatherd/weatherd/pkg/alert/state"
)

// alertSet is one location's cached alerts, sorted by rule. A location holds
// a few, one per rule that recorded a transition there: a slice of pointers
// weighs 8 bytes per alert where a map's smallest table weighs 256 (at
// 100,000 locations the maps were 25 MB of the heap).
type alertSet []*state.Alert

// get returns the cached alert of rule, or nil.
func (s alertSet) get(rule string) *state.Alert {
	for _, a := range s {
		if a.Rule == rule {
			return a
		}
	}
	return nil
}

// put caches a, replacing the alert of its rule.
func (s *alertSet) put(a *state.Alert) {
	i, found := slices.BinarySearchFunc(*s, a.Rule, func(c *state.Alert, rule string) int { return strings.Compare(c.Rule, rule) })
	if found {
		(*s)[i] = a
		return
	}
	*s = slices.Insert(*s, i, a)
}
