package testkit

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Daemon runs `weatherd run --config config` (the Binary) in dir with env
// added to the environment, on HTTP port 0 and text logs, waits until
// /readyz answers 200, and returns its base URL ("http://127.0.0.1:port").
// SIGTERM stops it when the test ends; a daemon that does not stop cleanly,
// or exits early, fails the test with its log.
func Daemon(tb testing.TB, dir, config string, env ...string) string {
	tb.Helper()
	cmd := exec.Command(Binary(tb), "run", "--config", config)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "WEATHERD_HTTP_LISTEN=127.0.0.1:0", "WEATHERD_LOG_FORMAT=text"), env...)
	logs := &SyncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start weatherd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	startFailed := false
	tb.Cleanup(func() {
		select {
		case err := <-exited:
			if !startFailed {
				tb.Errorf("weatherd exited before the test ended (%v); log:\n%s", err, logs.String())
			}
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				tb.Errorf("weatherd stopped with %v; log:\n%s", err, logs.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			tb.Errorf("weatherd did not stop within 30s of SIGTERM; log:\n%s", logs.String())
		}
	})
	var base string
	WaitFor(tb, "weatherd listening and ready", time.Minute, 50*time.Millisecond, func() (bool, string) {
		select {
		case err := <-exited:
			startFailed = true
			tb.Fatalf("weatherd exited at start-up (%v); log:\n%s", err, logs.String())
		default:
		}
		if base == "" {
			addr := ListenAddr(logs.String())
			if addr == "" {
				return false, "no listening line in the log yet"
			}
			base = "http://" + addr
		}
		return Ready(base)
	})
	return base
}
