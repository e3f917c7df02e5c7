package config

import (
	"strings"
	"testing"
	"time"
)

// TestValidate_NeverFiringSchedule: a spec that parses but matches no time
// used to pass validate and then spin the poller.
func TestValidate_NeverFiringSchedule(t *testing.T) {
	_, err := Load(Source{Path: writeFile(t, "poller:\n  schedule: \"0 0 30 2 *\"\n"), Explicit: true, Env: envOf(nil)})
	if err == nil {
		t.Fatal("accepted a schedule that never fires")
	}
	got := problems(t, err)
	want := `poller.schedule: cron spec "0 0 30 2 *" never fires: no time in the next 5 years matches it`
	if len(got) != 1 || got[0] != want {
		t.Errorf("problems %q, want [%q]", got, want)
	}
}

// TestValidate_RenewNotShorterThanLease: a lease renewed no more often than
// it lasts is lost between renewals; both leases say so with the numbers.
func TestValidate_RenewNotShorterThanLease(t *testing.T) {
	yaml := "stream:\n  driver: kinesis\nconsumer:\n  lease_duration: 10s\n  renew_interval: 10s\n" +
		"poller:\n  leader:\n    enabled: true\n    lease_duration: 10s\n    renew_interval: 12s\n"
	_, err := Load(Source{Path: writeFile(t, yaml), Explicit: true, Env: envOf(nil)})
	if err == nil {
		t.Fatal("accepted renew intervals not shorter than the leases")
	}
	got := strings.Join(problems(t, err), "\n")
	for _, want := range []string{
		"poller.leader.renew_interval: got 12s, want more than 0 and less than half of poller.leader.lease_duration (5s)",
		"consumer.renew_interval: got 10s, want more than 0 and at most half of consumer.lease_duration (5s)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems:\n%s\nlack %q", got, want)
		}
	}
}

// TestWarnings_ShutdownBudget: the stop steps before the consumer releases
// its leases must fit in shutdown_timeout, or validate says so with the
// numbers; the embedded defaults fit with Kinesis and a poller leader.
func TestWarnings_ShutdownBudget(t *testing.T) {
	cfg, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Stream.Driver = "kinesis"
	cfg.Poller.Leader.Enabled = true
	if ws := Warnings(cfg); len(ws) != 0 {
		t.Errorf("the defaults with kinesis and a poller leader warn: %q", ws)
	}
	cfg.ShutdownTimeout = 15 * time.Second
	want := "shutdown_timeout: 15s cannot hold the stop before the lease release: " +
		"poller memory save 3s + poller leadership release 2s + producer drain 5s + shard flush and checkpoint (consumer.graceful_handoff_timeout) 10s = 20s, " +
		"plus 2s to release the leases; raise shutdown_timeout to at least 22s or lower consumer.graceful_handoff_timeout, " +
		"or a slow stop leaves leases to expire (consumer.lease_duration 10s) instead of releasing them"
	if ws := Warnings(cfg); len(ws) != 1 || ws[0] != want {
		t.Errorf("warnings %q\nwant [%q]", ws, want)
	}
	cfg.Poller.Enabled = false // a consumer-only instance: the consumer's step only
	cfg.ShutdownTimeout = 11 * time.Second
	if ws := Warnings(cfg); len(ws) != 1 || !strings.HasPrefix(ws[0], "shutdown_timeout: 11s cannot hold the stop before the lease release: shard flush and checkpoint (consumer.graceful_handoff_timeout) 10s = 10s, plus 2s") {
		t.Errorf("consumer-only warnings %q", ws)
	}
	cfg.Stream.Driver = "memory" // no leases
	if ws := Warnings(cfg); len(ws) != 0 {
		t.Errorf("memory stream warnings %q", ws)
	}
}
