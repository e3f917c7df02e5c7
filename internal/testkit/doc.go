// Package testkit is for weatherd's own tests only: the helpers every test
// that runs the daemon needs, written once. It builds the weatherd binary
// once per test process (Binary), reads the address weatherd logs that it
// listens on (ListenAddr), hands out free ports for programs that cannot
// report theirs (FreePort), reads the daemon's HTTP endpoints (Get, Ready) and parses its
// /metrics into series and values (Scrape, Parse, Metrics.Sum), waits for a
// condition with a message that says what it last saw (WaitFor), and
// collects a process's or logger's output safely (SyncBuffer).
//
// No production package imports it.
package testkit
