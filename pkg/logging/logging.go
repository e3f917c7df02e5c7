// Package logging builds the process's slog logger from the log section.
package logging

import (
	"fmt"
	"io"
	"log/slog"
)

// New returns a logger writing format ("json" or "text") at level
// ("debug", "info", "warn" or "error") to w.
func New(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log.format: got %q, want json or text", format)
}
