// Package check collects configuration problems, each naming the key path it
// is about, so `weatherd validate` can report every problem at once.
package check

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with the configuration.
type Problem struct {
	Key string // key path, e.g. alerts.rules[2].expr
	Msg string
}

func (p *Problem) Error() string {
	if p.Key == "" {
		return p.Msg
	}
	return p.Key + ": " + p.Msg
}

// Problems collects problems in the order they were found.
type Problems struct{ list []*Problem }

// Add records a problem about key.
func (ps *Problems) Add(key, format string, args ...any) {
	ps.list = append(ps.list, &Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// Len is the number of problems found so far.
func (ps *Problems) Len() int { return len(ps.list) }

// Err returns nil when nothing was found, or an *Error listing every problem.
func (ps *Problems) Err() error {
	if len(ps.list) == 0 {
		return nil
	}
	return &Error{Problems: append([]*Problem(nil), ps.list...)}
}

// Error is a non-empty list of problems; its text has one problem per line.
type Error struct{ Problems []*Problem }

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Key joins a parent key path and a child name.
func Key(parent, child string) string {
	if parent == "" {
		return child
	}
	return parent + "." + child
}

// Index names element i of the list at key, e.g. locations[3].
func Index(key string, i int) string { return fmt.Sprintf("%s[%d]", key, i) }
