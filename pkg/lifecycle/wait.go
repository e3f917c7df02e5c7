package lifecycle

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"
)

// Sleep waits d, or returns ctx's error as soon as ctx ends. A d of zero or
// less returns at once: nil, or ctx's error when it has already ended.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// InstanceID names this process among replicas when no id is configured:
// the hostname plus a random suffix, so two processes on one host differ.
func InstanceID() (string, error) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "weatherd"
	}
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("instance id: %w", err)
	}
	return host + "-" + hex.EncodeToString(b), nil
}
