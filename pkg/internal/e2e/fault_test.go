package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/awsconf"
	"github.com/weatherd/weatherd/pkg/internal/faultproxy"
)

// privateEmulators is a set of emulators on ports of its own, started and
// stopped by deploy/local/emulators.sh, with state kept across a stop/start
// (WEATHERD_EMU_PERSIST=1) so a stop is an outage, not a wipe.
//
// weatherd reaches each through a fault proxy listening on 127.0.0.1:0 for
// the whole test, so the addresses weatherd uses stay reserved while an
// emulator is stopped: nothing else can take one and answer in its place
// (during the stop the proxy accepts and drops each connection, as a dead
// peer behind a load balancer would). The emulators' own ports must be
// given to the script as numbers; should another process take one during an
// outage, the restart fails the test rather than going unnoticed.
type privateEmulators struct {
	t       *testing.T
	script  string
	env     []string
	ports   map[string]string // service name -> port
	proxies map[string]*faultproxy.Proxy
}

func startPrivateEmulators(t *testing.T) *privateEmulators {
	t.Helper()
	e := &privateEmulators{
		t:      t,
		script: filepath.Join(testkit.Root(t), "deploy", "local", "emulators.sh"),
		ports: map[string]string{
			awsconf.Kinesis: testkit.FreePort(t), awsconf.DynamoDB: testkit.FreePort(t), awsconf.S3: testkit.FreePort(t), awsconf.SNS: testkit.FreePort(t),
		},
	}
	runDir := t.TempDir()
	e.env = append(os.Environ(),
		"WEATHERD_EMU_RUN_DIR="+runDir,
		"WEATHERD_EMU_PERSIST=1",
		"WEATHERD_EMU_KINESIS_PORT="+e.ports[awsconf.Kinesis],
		"WEATHERD_EMU_KINESIS_TLS_PORT="+testkit.FreePort(t),
		"WEATHERD_EMU_DYNAMODB_PORT="+e.ports[awsconf.DynamoDB],
		"WEATHERD_EMU_S3_PORT="+e.ports[awsconf.S3],
		"WEATHERD_EMU_SNS_PORT="+e.ports[awsconf.SNS],
	)
	// Registered before the start, so a half-started set is stopped too.
	t.Cleanup(func() {
		if out, err := e.run("stop"); err != nil {
			t.Errorf("stopping the private emulators: %v\n%s", err, out)
		}
		if t.Failed() {
			for _, n := range []string{"kinesis-local", "dynalite", "s3rver", "goaws"} {
				t.Logf("%s log tail:\n%s", n, tail(filepath.Join(runDir, n+".log"), 15))
			}
		}
	})
	if out, err := e.run("start"); err != nil {
		t.Fatalf("starting private emulators: %v\n%s", err, out)
	}
	e.proxies = map[string]*faultproxy.Proxy{}
	for n, port := range e.ports {
		e.proxies[n] = faultproxy.Start(t, "127.0.0.1:"+port)
	}
	return e
}

func (e *privateEmulators) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.script, args...)
	cmd.Env = e.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// endpoints are the proxies' URLs, by service name.
func (e *privateEmulators) endpoints() map[string]string {
	m := map[string]string{}
	for n, p := range e.proxies {
		m[n] = p.URL()
	}
	return m
}

// outage is what was seen while one emulator was down.
type outage struct {
	name             string
	samples, notRdy  int
	notReadyAfter    time.Duration // after the stop began, the first 503; -1: never
	notReadyBody     string        // the first 503's body
	readyAgainAfter  time.Duration // after the restart; -1: never
	maxRSS           float64
	producerBuffered float64
	// delta is how much each failure counter moved from the stop to the
	// recovery: the proof that the outage reached weatherd.
	delta map[string]float64
}

// failureCounters are the series an outage should move.
var failureCounters = []struct{ name, metric, label string }{
	{"lake_flush_failures", "weatherd_lake_flush_failures_total", ""},
	{"put_failures", "weatherd_producer_put_failures_total", ""},
	{"getrecords_errors", "weatherd_consumer_getrecords_errors_total", ""},
	{"renew_fail", "weatherd_consumer_lease_events_total", `event="renew_fail"`},
	{"lease_lost", "weatherd_consumer_lease_events_total", `event="lose"`},
	{"notify_failed", "weatherd_notifications_total", `outcome="failed"`},
	{"leader_errors", "weatherd_poller_leader_errors_total", ""},
}

func counters(m testkit.Metrics) map[string]float64 {
	out := map[string]float64{}
	for _, c := range failureCounters {
		if c.label == "" {
			out[c.name] = m.Sum(c.metric)
		} else {
			out[c.name] = m.Sum(c.metric, c.label)
		}
	}
	return out
}

// TestFaults stops each emulator in turn for 30 s while weatherd runs on a
// private set: S3, DynamoDB, SNS, Kinesis. weatherd must stay up, keep its
// memory bounded, and afterwards have every observation the API served in
// gold and raw exactly once and every alert transition notified exactly once.
// /readyz must turn 503 within notReadyWithin of each stop, naming the
// component, and 200 again after the restart; /healthz stays 200 throughout.
func TestFaults(t *testing.T) {
	t.Parallel()
	emus := startPrivateEmulators(t)
	const nSites, down = 50, 30 * time.Second
	// notReadyWithin is lifecycle.DefaultGrace (10 s) plus the time for the
	// first failed call to happen and be reported.
	const notReadyWithin = 20 * time.Second
	// notReadyNames are the components /readyz may name during each outage
	// (it must name one of them): DynamoDB holds the poller's leader lease
	// and the alert state.
	notReadyNames := map[string][]string{
		"s3": {"lake: "}, "dynamodb": {"poller: ", "alerts: state store: "}, "sns": {"alerts: channel sns: "}, "kinesis": {"producer: "},
	}
	sys := newSystem(t, options{sites: nSites, perStep: 2, faults: e2eFaults, endpoints: emus.endpoints()})
	start := time.Now()
	p := sys.start()
	sys.waitReady(p, 60*time.Second)
	sys.waitPastStep(p, 2, time.Minute)
	base := testkit.MustScrape(t, sys.addr())
	baseRSS := base.Sum("process_resident_memory_bytes")

	var outages []outage
	for _, name := range []string{"s3", "dynamodb", "sns", "kinesis"} {
		// The outage begins while the stop command runs (stopping an
		// emulator can take seconds, tens of them for kinesis-local under
		// load): /readyz is timed from its start and sampled meanwhile.
		o := outage{name: name, notReadyAfter: -1, readyAgainAfter: -1}
		before := counters(testkit.MustScrape(t, sys.addr()))
		stopping := time.Now()
		stopDone := make(chan error, 1)
		go func() {
			out, err := emus.run("stop", name)
			if err != nil {
				err = fmt.Errorf("%w\n%s", err, out)
			}
			stopDone <- err
		}()
		var stopped time.Time
		for stopped.IsZero() || time.Since(stopped) < down {
			time.Sleep(time.Second)
			if stopped.IsZero() {
				select {
				case err := <-stopDone:
					if err != nil {
						t.Fatalf("stop %s: %v", name, err)
					}
					stopped = time.Now()
				default:
				}
			}
			if p.exited() {
				t.Fatalf("weatherd exited while %s was down: %v", name, p.err)
			}
			code, body, err := testkit.Get(sys.addr(), "/readyz")
			if err != nil {
				t.Fatalf("/readyz while %s was down: %v", name, err)
			}
			o.samples++
			if code != 200 {
				o.notRdy++
				if o.notReadyAfter < 0 {
					o.notReadyAfter, o.notReadyBody = time.Since(stopping), body
				}
			}
			if hc, _, err := testkit.Get(sys.addr(), "/healthz"); err != nil || hc != 200 {
				t.Errorf("/healthz while %s was down: %d %v", name, hc, err)
			}
			if m, err := testkit.Scrape(sys.addr()); err == nil {
				o.maxRSS = max(o.maxRSS, m.Sum("process_resident_memory_bytes"))
				o.producerBuffered = max(o.producerBuffered, m.Sum("weatherd_producer_buffered_records"))
			}
		}
		if out, err := emus.run("start", name); err != nil {
			t.Fatalf("start %s: %v\n%s", name, err, out)
		}
		restarted := time.Now()
		if name == "sns" {
			// goaws keeps nothing: the topic and the subscription come back
			// the way an operator would restore them.
			sys.bootstrap()
		}
		// Recovery: ready again, and the pipeline moving (a new observation
		// for every location reaches the consumer).
		waitFor(t, 2*time.Minute, name+": ready again", func() (bool, string) { return testkit.Ready(sys.addr()) })
		o.readyAgainAfter = time.Since(restarted)
		time.Sleep(8 * time.Second)
		after := counters(testkit.MustScrape(t, sys.addr()))
		o.delta = map[string]float64{}
		for k, v := range after {
			if d := v - before[k]; d != 0 {
				o.delta[k] = d
			}
		}
		t.Logf("%s outage: /readyz 503 in %d of %d samples, first after %s, ready %s after restart; first 503 body: %q",
			name, o.notRdy, o.samples, o.notReadyAfter.Round(100*time.Millisecond), o.readyAgainAfter.Round(100*time.Millisecond), o.notReadyBody)
		outages = append(outages, o)
	}

	const steps = 20
	sys.waitPastStep(p, steps, 4*time.Minute)
	sys.api.exhaust()
	want := sys.api.snapshot()
	wantAlerts := expectedTransitions(sys.sites, want)
	// Wait for the lake itself to hold every observation served, not for
	// counters: after the outages the poller may emit an observation again
	// (a new leader) and the consumer replays records (lost leases), so
	// "produced >= served and consumed >= produced" can hold while the last
	// observation is still on its way. weatherd stopped then would leave it on
	// the stream, past the checkpoint, for the next start: not lost, but not
	// in the lake this test reads.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	testkit.WaitFor(t, "every observation served in gold and raw, and notifications delivered", 3*time.Minute, 3*time.Second, func() (bool, string) {
		lc, err := sys.readLake(ctx)
		if err != nil {
			return false, err.Error()
		}
		noGold, noRaw := 0, 0
		for id := range want {
			if len(lc.gold[id]) == 0 {
				noGold++
			}
			if lc.raw[id] == 0 {
				noRaw++
			}
		}
		m, err := testkit.Scrape(sys.addr())
		if err != nil {
			return false, err.Error()
		}
		pending, notes := m.Sum("weatherd_alert_outbox_pending"), len(sys.sub.notifications())
		return noGold == 0 && noRaw == 0 && pending == 0 && notes >= len(wantAlerts),
			fmt.Sprintf("of %d served: %d not in gold, %d not in raw; notifications %d of %d, %v in the outbox", len(want), noGold, noRaw, notes, len(wantAlerts), pending)
	})
	final := testkit.MustScrape(t, sys.addr())
	p.stop(t)

	lc, err := sys.readLake(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkLake(t, lc, want, sys.sites)
	checkNotifications(t, sys.sites, sys.sub.notifications(), wantAlerts, false)

	// Memory: the lake's budget (lake.max_buffered_bytes, 64 MiB by default)
	// and the producer's buffer (10,000 readings of ~1 KiB) bound what an
	// outage can pile up; with the Go heap's doubling (GOGC=100) and ~30 MiB
	// of runtime and binary that stays under 256 MiB. A leak or an unbounded
	// queue at 50 readings/s for 30 s would not be caught by that bound
	// alone, so the growth over the steady state is bounded too: 64 MiB.
	const rssBound, growthBound = 256 << 20, 64 << 20
	var lines []string
	for _, o := range outages {
		lines = append(lines, fmt.Sprintf("%-8s /readyz 503 in %2d of %2d samples (first after %5s), ready %5s after restart, max RSS %5.1f MiB (steady %5.1f), producer buffer max %4.0f, failure counters moved: %v\n         first 503 body: %q",
			o.name, o.notRdy, o.samples, o.notReadyAfter.Round(100*time.Millisecond), o.readyAgainAfter.Round(100*time.Millisecond), o.maxRSS/(1<<20), baseRSS/(1<<20), o.producerBuffered, o.delta, o.notReadyBody))
		// Readiness must follow the outage: 503 soon, naming the component.
		if o.notReadyAfter < 0 || o.notReadyAfter > notReadyWithin {
			t.Errorf("%s outage: /readyz first 503 after %s (-1: never), want within %s", o.name, o.notReadyAfter.Round(100*time.Millisecond), notReadyWithin)
		} else if !strings.HasPrefix(o.notReadyBody, "not ready\n") || !slices.ContainsFunc(notReadyNames[o.name], func(n string) bool { return strings.Contains(o.notReadyBody, "\n"+n) }) {
			t.Errorf("%s outage: /readyz body %q does not name %q", o.name, o.notReadyBody, notReadyNames[o.name])
		}
		// Each outage must have reached weatherd, or the test proves nothing.
		// DynamoDB holds the poller's lease and the consumer's leases: the
		// elector's failed calls or the consumer's failed renewals show it.
		reached := map[string][]string{"s3": {"lake_flush_failures"}, "kinesis": {"put_failures"}, "sns": {"notify_failed"},
			"dynamodb": {"leader_errors", "renew_fail"}}[o.name]
		if !slices.ContainsFunc(reached, func(c string) bool { return o.delta[c] > 0 }) {
			t.Errorf("%s outage: none of %v moved (%v); did the outage reach weatherd?", o.name, reached, o.delta)
		}
		if o.maxRSS > rssBound {
			t.Errorf("%s outage: RSS %.1f MiB, over the %d MiB bound", o.name, o.maxRSS/(1<<20), rssBound>>20)
		}
		if o.maxRSS-baseRSS > growthBound {
			t.Errorf("%s outage: RSS grew %.1f MiB over the steady %.1f MiB, more than %d MiB", o.name, (o.maxRSS-baseRSS)/(1<<20), baseRSS/(1<<20), growthBound>>20)
		}
	}
	t.Logf("outages:\n%s", strings.Join(lines, "\n"))
	t.Logf("weatherd warnings and errors (count, level, component, message):\n%s", sys.logSummary())
	t.Logf("final: produced %v, dropped %v, put failures %v, lake flush failures %v, notifications failed %v; served %d observations, %d transitions; total %s",
		final.Sum("weatherd_readings_produced_total"), final.Sum("weatherd_producer_dropped_total"), final.Sum("weatherd_producer_put_failures_total"),
		final.Sum("weatherd_lake_flush_failures_total"), final.Sum("weatherd_notifications_total", `outcome="failed"`),
		len(want), len(wantAlerts), time.Since(start).Round(time.Second))
}
