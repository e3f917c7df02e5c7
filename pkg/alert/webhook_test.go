package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/weatherd/weatherd/pkg/alert/notify"
	"github.com/weatherd/weatherd/pkg/secret"
	"github.com/weatherd/weatherd/pkg/weather"
)

func TestEngine_Webhook(t *testing.T) {
	const key = "wh-secret-4242"
	var mu sync.Mutex
	var bodies []map[string]any
	fail := 3 // the first three POSTs get a 500
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get(notify.TimestampHeader), 10, 64)
		if got, want := r.Header.Get(notify.SignatureHeader), notify.Sign(secret.String(key), ts, body); got != want {
			t.Errorf("signature %q, want %q", got, want)
		}
		mu.Lock()
		defer mu.Unlock()
		if fail > 0 {
			fail--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("body %s: %v", body, err)
		}
		bodies = append(bodies, m)
	}))
	defer srv.Close()
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte(key+"\n"), 0o600)
	cfg := testConfig(rule("gusty", "windGust >= 20", func(r *RuleConfig) { r.Channels = []string{"hook"} }))
	cfg.Channels["hook"] = ChannelConfig{Type: "webhook", URL: srv.URL + "/in?token=abc", SecretFile: keyFile}
	var logs strings.Builder
	c := &clock{t: t0}
	e, err := New(cfg, testLocations, Deps{HTTPClient: srv.Client(), Now: c.Now}, newRegistry(), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	// Observe only queues; the sender tries 3 times in the delivery round
	// (all 500): kept in the outbox.
	if err := e.Observe(context.Background(), []weather.Reading{rd("toronto", 0, "windGust", 25.25)}); err != nil {
		t.Fatal(err)
	}
	e.Tick(context.Background())
	if e.outboxLen.Load() != 1 || !strings.Contains(logs.String(), "err=\"webhook post to 127.0.0.1:") {
		t.Fatalf("outbox %d, log:\n%s", e.outboxLen.Load(), logs.String())
	}
	c.Set(t0.Add(e.maxBackoff))
	e.Tick(context.Background())
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 1 {
		t.Fatalf("%d bodies, want 1", len(bodies))
	}
	b := bodies[0]
	for k, want := range map[string]any{
		"id": "toronto/gusty/1/hook", "kind": "firing", "state": "firing", "rule": "gusty", "severity": "warning",
		"location_id": "toronto", "location_name": "Toronto", "observed_at": "2026-11-26T12:00:00Z",
		"subject": "[WARNING] Gusty in Toronto",
	} {
		if b[k] != want {
			t.Errorf("body[%s] = %v, want %v", k, b[k], want)
		}
	}
	if v, _ := b["values"].(map[string]any); v["windGust"] != 25.25 {
		t.Errorf("values = %v", b["values"])
	}
	if strings.Contains(logs.String(), key) || strings.Contains(logs.String(), "token=abc") {
		t.Errorf("secret leaked to the log:\n%s", logs.String())
	}
	if printed := fmt.Sprintf("%v %+v %#v", cfg, e.channels["hook"].cfg, cfg); strings.Contains(printed, key) {
		t.Errorf("secret leaked when printing the config:\n%s", printed)
	}
}
