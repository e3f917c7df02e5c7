package e2e

import (
	"bufio"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/awsconf"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
)

// system is one weatherd deployment under test: its resources on the
// emulators, the fake weather API, the SNS subscriber and the config file.
type system struct {
	t         *testing.T
	dir       string
	config    string
	endpoints map[string]string
	stream    string
	leases    string
	alerts    string
	leader    string
	shards    int
	bucket    string
	topic     string
	sites     []site
	api       *fakeTomorrow
	sub       *subscriber
	logPath   string

	mu    sync.Mutex
	procs []*proc
}

// options shape a system.
type options struct {
	// shards of the stream bootstrap creates (2 when 0).
	shards  int
	sites   int
	perStep int
	faults  func(n int) answer
	// endpoints overrides the emulator endpoints (the fault test's private set).
	endpoints map[string]string
	// extra is YAML merged at the end of the config file.
	extra string
}

func newSystem(t *testing.T, o options) *system {
	t.Helper()
	eps := o.endpoints
	if eps == nil {
		eps = map[string]string{}
		for _, n := range []string{awsconf.Kinesis, awsconf.DynamoDB, awsconf.S3, awsconf.SNS} {
			eps[n] = emulator.Endpoint(t, n)
		}
	}
	s := &system{
		t:         t,
		dir:       t.TempDir(),
		endpoints: eps,
		stream:    emulator.Name(t, "e2e-stream"),
		leases:    emulator.Name(t, "e2e-leases"),
		alerts:    emulator.Name(t, "e2e-alerts"),
		leader:    emulator.Name(t, "e2e-leader"),
		bucket:    emulator.Name(t, "e2e-lake"),
		topic:     emulator.Name(t, "e2e-topic"),
		sites:     sites(o.sites),
		shards:    max(o.shards, 2),
		sub:       newSubscriber(t),
	}
	s.api = newFakeTomorrow(t, s.sites, o.perStep, o.faults)
	s.config = filepath.Join(s.dir, "weatherd.yaml")
	s.logPath = filepath.Join(s.dir, "weatherd.log")
	if err := os.WriteFile(s.config, []byte(s.configYAML(o.extra)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.killAll()
		if t.Failed() {
			t.Logf("weatherd log tail (%s):\n%s", s.logPath, tail(s.logPath, 80))
		}
	})
	s.bootstrap()
	return s
}

func (s *system) topicARN() string { return "arn:aws:sns:us-east-1:000000000000:" + s.topic }

func (s *system) configYAML(extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `log: {level: info, format: text}
http: {listen: "127.0.0.1:0"}
shutdown_timeout: 22s
aws:
  region: us-east-1
  endpoints: {kinesis: %q, dynamodb: %q, s3: %q, sns: %q}
  s3_force_path_style: true
locations:
`, s.endpoints[awsconf.Kinesis], s.endpoints[awsconf.DynamoDB], s.endpoints[awsconf.S3], s.endpoints[awsconf.SNS])
	for _, st := range s.sites {
		fmt.Fprintf(&b, "  - {id: %s, name: %q, lat: %s, lon: %s, timezone: UTC}\n", st.ID, st.Name,
			strconv.FormatFloat(st.Lat, 'f', -1, 64), strconv.FormatFloat(st.Lon, 'f', -1, 64))
	}
	fmt.Fprintf(&b, `poller:
  schedule: "@every 1s"
  provider: tomorrowio
  timeout: 5s
  concurrency: 16
  spread: 400ms
  tomorrowio:
    api_key: %q
    base_url: %q
    attempts: 3
    limits: {per_second: 0, per_minute: 0, per_hour: 0, per_day: 0}
  # The fake serves realtime answers only; its request counts and faults
  # are about them.
  forecast: {enabled: false}
  leader: {enabled: true, table: %q, lease_duration: 3s, renew_interval: 1s}
stream:
  driver: kinesis
  kinesis: {name: %q, shards: %d, linger: 100ms}
consumer:
  application_name: %q
  lease_duration: 3s
  renew_interval: 1s
  take_interval: 1s
  idle_time_between_reads: 250ms
  graceful_handoff_timeout: 10s
  max_backoff: 1s
alerts:
  rules:
    - name: strong-wind
      expr: windGust >= 17.2 || windSpeed >= 13.9
      clear: windGust < 14 && windSpeed < 11
      for: 0s
      repeat: 3h
      severity: warning
      locations: ["*"]
      channels: [sns]
  channels:
    sns:
      type: sns
      topic_arn: %q
      format: both
      subscriptions:
        - {protocol: http, endpoint: %q}
  state: {driver: dynamodb, table: %q}
  outbox: {max_backoff: 2s}
lake:
  url: %q
  flush: {max_age: 2s}
`, apiKey, s.api.srv.URL+"/v4", s.leader, s.stream, s.shards, s.leases, s.topicARN(), s.sub.srv.URL+"/sns", s.alerts, "s3://"+s.bucket+"/lake")
	b.WriteString(extra)
	return b.String()
}

func (s *system) env() []string {
	return append(os.Environ(), "AWS_ACCESS_KEY_ID=S3RVER", "AWS_SECRET_ACCESS_KEY=S3RVER", "AWS_REGION=us-east-1")
}

// bootstrap runs `weatherd bootstrap`: stream, tables, bucket, topic and the
// HTTP subscription.
func (s *system) bootstrap() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testkit.Binary(s.t), "bootstrap", "--config", s.config)
	cmd.Env = s.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("weatherd bootstrap: %v\n%s", err, out)
	}
}

// proc is one run of the weatherd binary.
type proc struct {
	cmd  *exec.Cmd
	out  *testkit.SyncBuffer // its output, where it logs the address it listens on
	done chan struct{}
	err  error // after done
}

// start runs `weatherd run` with the system's config, appending its output
// to the log file.
func (s *system) start() *proc {
	s.t.Helper()
	return s.startAt("a")
}

// startAt is start for the replica called name, for a second replica. Each
// run listens on 127.0.0.1:0 and reports the port it got (see address), so
// no port is guessed free and handed over.
func (s *system) startAt(name string) *proc {
	s.t.Helper()
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	fmt.Fprintf(logf, "===== e2e: starting weatherd %s at %s\n", name, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(testkit.Binary(s.t), "run", "--config", s.config)
	// One spool directory per replica, kept across its restarts, as a
	// volume would be.
	spoolDir := filepath.Join(s.dir, "spool-"+name)
	cmd.Env = append(s.env(), "WEATHERD_STREAM_KINESIS_SPOOL_DIR="+spoolDir)
	p := &proc{cmd: cmd, out: &testkit.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout = io.MultiWriter(logf, p.out)
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		logf.Close()
		s.t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		fmt.Fprintf(logf, "===== e2e: weatherd exited at %s: %v\n", time.Now().UTC().Format(time.RFC3339Nano), p.err)
		logf.Close()
		close(p.done)
	}()
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	return p
}

// address is the host:port p's HTTP server listens on, from its log: it
// waits up to a minute for the line, and is "" when p exits first or never
// says.
func (p *proc) address() string {
	deadline := time.Now().Add(time.Minute)
	for {
		if a := testkit.ListenAddr(p.out.String()); a != "" {
			return a
		}
		if p.exited() || time.Now().After(deadline) {
			return ""
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// addr is the HTTP address of the system's latest weatherd run.
func (s *system) addr() string {
	s.mu.Lock()
	n := len(s.procs)
	var last *proc
	if n > 0 {
		last = s.procs[n-1]
	}
	s.mu.Unlock()
	if last == nil {
		return ""
	}
	return last.address()
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitCode waits up to d for the process to exit and returns its code.
func (p *proc) exitCode(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("weatherd (pid %d) did not exit within %s", p.cmd.Process.Pid, d)
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("weatherd: %v", p.err)
	return -1
}

func (p *proc) signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) }

// stop sends SIGTERM and fails the test unless weatherd exits 0 within 40 s.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.signal(syscall.SIGTERM)
	if code := p.exitCode(t, 40*time.Second); code != 0 {
		t.Fatalf("weatherd exited %d after SIGTERM, want 0", code)
	}
}

// kill sends SIGKILL and waits until the process is gone.
func (p *proc) kill() {
	p.signal(syscall.SIGKILL)
	<-p.done
}

func (s *system) killAll() {
	s.mu.Lock()
	procs := append([]*proc(nil), s.procs...)
	s.mu.Unlock()
	for _, p := range procs {
		if !p.exited() {
			p.kill()
		}
	}
}

// waitReady waits until p's /readyz answers 200, failing when p exits first.
func (s *system) waitReady(p *proc, d time.Duration) {
	s.t.Helper()
	testkit.WaitFor(s.t, "weatherd ready", d, 100*time.Millisecond, func() (bool, string) {
		if p.exited() {
			s.t.Fatalf("weatherd exited while starting: %v", p.err)
		}
		addr := p.address()
		if addr == "" {
			return false, "no listening address logged yet"
		}
		return testkit.Ready(addr)
	})
}

// waitPastStep waits until the fake API has served every location past step
// steps, failing when p exits first.
func (s *system) waitPastStep(p *proc, steps int, d time.Duration) {
	s.t.Helper()
	waitFor(s.t, d, fmt.Sprintf("every location past step %d", steps), func() (bool, string) {
		if p.exited() {
			s.t.Fatalf("weatherd exited: %v", p.err)
		}
		m := s.api.minStep()
		return m >= steps, fmt.Sprintf("lowest step %d", m)
	})
}

// waitFor polls cond every 500 ms until it returns true or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	testkit.WaitFor(t, what, d, 500*time.Millisecond, cond)
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// grepLog returns the log lines containing sub.
func (s *system) grepLog(sub string) []string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return out
}

// logSummary counts the daemon's WARN and ERROR lines by level, component
// and message.
func (s *system) logSummary() string {
	counts := map[string]int{}
	for _, l := range s.grepLog(" level=") {
		lvl := field(l, "level")
		if lvl != "WARN" && lvl != "ERROR" {
			continue
		}
		counts[lvl+" "+field(l, "component")+" "+field(l, "msg")]++
	}
	var keys []string
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%6d %s\n", counts[k], k)
	}
	return b.String()
}

// field extracts key=value (value possibly quoted) from a text log line.
func field(line, key string) string {
	i := strings.Index(line, " "+key+"=")
	if i < 0 {
		return ""
	}
	v := line[i+len(key)+2:]
	if strings.HasPrefix(v, `"`) {
		if s, err := strconv.QuotedPrefix(v); err == nil {
			u, _ := strconv.Unquote(s)
			return u
		}
	}
	if j := strings.IndexByte(v, ' '); j >= 0 {
		v = v[:j]
	}
	return v
}

// ---------------------------------------------------------------- read back

// s3Client talks to the system's S3 endpoint.
func (s *system) s3Client() *s3.Client {
	c := emulator.AWS(s.t)
	c.Endpoints.S3 = s.endpoints[awsconf.S3]
	return awsconf.NewS3(emulator.AWSConfig(s.t), c)
}

// download copies every object under prefix into dir, keeping the keys'
// paths, and returns the keys.
func (s *system) download(ctx context.Context, prefix, dir string) ([]string, error) {
	c := s.s3Client()
	var keys []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	for _, k := range keys {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(k)})
		if err != nil {
			return nil, fmt.Errorf("get %s: %w", k, err)
		}
		b, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", k, err)
		}
		dst := filepath.Join(dir, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// goldRow is what the tests check of one gold row.
type goldRow struct {
	location string
	observed time.Time
	windGust sql.NullFloat64
	temp     sql.NullFloat64
	cloud    sql.NullFloat64 // cloud_ceiling: always null
	provider string
}

// lakeContents is the lake read back: rows per event id in gold and raw.
type lakeContents struct {
	gold       map[string][]goldRow
	raw        map[string]int
	goldFiles  int
	rawFiles   int
	errorFiles int
}

// readLake downloads gold/, raw/ and errors/ and reads them: gold with DuckDB,
// raw by gunzipping each object and decoding every line.
func (s *system) readLake(ctx context.Context) (*lakeContents, error) {
	dir, err := os.MkdirTemp(s.dir, "lake-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	lc := &lakeContents{gold: map[string][]goldRow{}, raw: map[string]int{}}
	goldKeys, err := s.download(ctx, "lake/gold/", dir)
	if err != nil {
		return nil, err
	}
	lc.goldFiles = len(goldKeys)
	rawKeys, err := s.download(ctx, "lake/raw/", dir)
	if err != nil {
		return nil, err
	}
	lc.rawFiles = len(rawKeys)
	errKeys, err := s.download(ctx, "lake/errors/", dir)
	if err != nil {
		return nil, err
	}
	lc.errorFiles = len(errKeys)

	if len(goldKeys) > 0 {
		db, err := sql.Open("duckdb", "")
		if err != nil {
			return nil, fmt.Errorf("open duckdb: %w", err)
		}
		defer db.Close()
		glob := filepath.Join(dir, "lake", "gold", "**", "*.parquet")
		rows, err := db.QueryContext(ctx, `SELECT event_id, location_id, observed_at, wind_gust, temperature, cloud_ceiling, provider
			FROM read_parquet('`+glob+`', hive_partitioning = true)`)
		if err != nil {
			return nil, fmt.Errorf("duckdb read gold: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var r goldRow
			if err := rows.Scan(&id, &r.location, &r.observed, &r.windGust, &r.temp, &r.cloud, &r.provider); err != nil {
				return nil, fmt.Errorf("scan gold row: %w", err)
			}
			lc.gold[id] = append(lc.gold[id], r)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read gold rows: %w", err)
		}
	}
	for _, k := range rawKeys {
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(k)))
		if err != nil {
			return nil, err
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("gunzip %s: %w", k, err)
		}
		sc := bufio.NewScanner(zr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var ev struct {
				EventID string `json:"event_id"`
			}
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				f.Close()
				return nil, fmt.Errorf("raw %s: line is not a reading: %w", k, err)
			}
			lc.raw[ev.EventID]++
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", k, err)
		}
	}
	return lc, nil
}

// streamRecord is one record read back from Kinesis.
type streamRecord struct {
	shard, seq string
	eventID    string
}

// readStream reads every record of the stream from TRIM_HORIZON.
func (s *system) readStream(ctx context.Context) ([]streamRecord, error) {
	c := emulator.AWS(s.t)
	c.Endpoints.Kinesis = s.endpoints[awsconf.Kinesis]
	k := awsconf.NewKinesis(emulator.AWSConfig(s.t), c)
	shards, err := k.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(s.stream)})
	if err != nil {
		return nil, fmt.Errorf("list shards: %w", err)
	}
	var out []streamRecord
	for _, sh := range shards.Shards {
		it, err := k.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
			StreamName: aws.String(s.stream), ShardId: sh.ShardId, ShardIteratorType: "TRIM_HORIZON",
		})
		if err != nil {
			return nil, fmt.Errorf("shard iterator %s: %w", aws.ToString(sh.ShardId), err)
		}
		iter := it.ShardIterator
		for iter != nil {
			gr, err := k.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
			if err != nil {
				return nil, fmt.Errorf("get records %s: %w", aws.ToString(sh.ShardId), err)
			}
			for _, r := range gr.Records {
				var ev struct {
					EventID string `json:"event_id"`
				}
				if err := json.Unmarshal(r.Data, &ev); err != nil {
					return nil, fmt.Errorf("record %s is not a reading: %w", aws.ToString(r.SequenceNumber), err)
				}
				out = append(out, streamRecord{shard: aws.ToString(sh.ShardId), seq: aws.ToString(r.SequenceNumber), eventID: ev.EventID})
			}
			if len(gr.Records) == 0 && aws.ToInt64(gr.MillisBehindLatest) == 0 {
				break
			}
			iter = gr.NextShardIterator
		}
	}
	return out, nil
}

// ---------------------------------------------------------------- checks

// checkLake asserts that every observation in want is in gold and in raw
// exactly once, that the lake holds nothing else, and that gold's values are
// the ones served. It returns the event ids found more than once.
func checkLake(t *testing.T, lc *lakeContents, want map[string]served, ss []site) {
	t.Helper()
	var missingGold, missingRaw, dupGold, dupRaw, extraGold, extraRaw, wrong []string
	for id, o := range want {
		rows := lc.gold[id]
		switch {
		case len(rows) == 0:
			missingGold = append(missingGold, id)
		case len(rows) > 1:
			dupGold = append(dupGold, fmt.Sprintf("%s×%d", id, len(rows)))
		}
		for _, r := range rows {
			g := o.values["windGust"]
			okGust := (g == nil && !r.windGust.Valid) || (g != nil && r.windGust.Valid && r.windGust.Float64 == *g)
			okTemp := r.temp.Valid && r.temp.Float64 == *o.values["temperature"]
			if !okGust || !okTemp || r.cloud.Valid || r.location != ss[o.site].ID || r.provider != "tomorrowio" ||
				!r.observed.Equal(base.Add(time.Duration(o.step)*time.Minute)) {
				wrong = append(wrong, fmt.Sprintf("%s: %+v", id, r))
			}
		}
		switch n := lc.raw[id]; {
		case n == 0:
			missingRaw = append(missingRaw, id)
		case n > 1:
			dupRaw = append(dupRaw, fmt.Sprintf("%s×%d", id, n))
		}
	}
	for id := range lc.gold {
		if _, ok := want[id]; !ok {
			extraGold = append(extraGold, id)
		}
	}
	for id := range lc.raw {
		if _, ok := want[id]; !ok {
			extraRaw = append(extraRaw, id)
		}
	}
	reportIDs(t, "observations missing from gold", missingGold)
	reportIDs(t, "observations missing from raw", missingRaw)
	reportIDs(t, "duplicate gold rows", dupGold)
	reportIDs(t, "duplicate raw lines", dupRaw)
	reportIDs(t, "gold rows nobody served", extraGold)
	reportIDs(t, "raw lines nobody served", extraRaw)
	reportIDs(t, "gold rows with wrong values", wrong)
	if lc.errorFiles != 0 {
		t.Errorf("errors/ holds %d objects, want none", lc.errorFiles)
	}
}

// reportIDs fails the test with what and the first ids, when there are any.
func reportIDs(t *testing.T, what string, ids []string) {
	t.Helper()
	if len(ids) > 0 {
		t.Errorf("%s: %d, e.g. %s", what, len(ids), strings.Join(first(ids, 10), ", "))
	}
}

func first(s []string, n int) []string {
	sort.Strings(s)
	if len(s) > n {
		return s[:n]
	}
	return s
}

// checkNotifications asserts that each expected transition was delivered
// exactly once with the right texts, and nothing else was. It returns the
// transitions delivered more than once (dups) for the caller to judge.
func checkNotifications(t *testing.T, ss []site, notes []notification, want []transition, allowDup bool) map[transition][]notification {
	t.Helper()
	names := map[string]string{}
	for _, s := range ss {
		names[s.ID] = s.Name
	}
	got := map[transition][]notification{}
	for _, n := range notes {
		tr, problems := parseNotification(n, names)
		for _, p := range problems {
			t.Errorf("notification %s (%s): %s", n.messageID, n.subject, p)
		}
		got[tr] = append(got[tr], n)
	}
	dups := map[transition][]notification{}
	for _, tr := range want {
		switch ns := got[tr]; {
		case len(ns) == 0:
			t.Errorf("transition %s: no notification", tr)
		case len(ns) > 1:
			dups[tr] = ns
			if !allowDup {
				t.Errorf("transition %s: %d notifications, want 1", tr, len(ns))
			}
		}
	}
	wantSet := map[transition]bool{}
	for _, tr := range want {
		wantSet[tr] = true
	}
	for tr, ns := range got {
		if !wantSet[tr] {
			t.Errorf("unexpected notification for %s (%d times): subject %q", tr, len(ns), ns[0].subject)
		}
	}
	return dups
}

// parseNotification checks one notification's texts and returns the
// transition it announces.
func parseNotification(n notification, names map[string]string) (transition, []string) {
	var problems []string
	a := n.attributes
	tr := transition{location: a["location"], state: a["state"]}
	name, ok := names[tr.location]
	if !ok {
		problems = append(problems, fmt.Sprintf("unknown location attribute %q", tr.location))
	}
	if a["rule"] != "strong-wind" || a["severity"] != "warning" {
		problems = append(problems, fmt.Sprintf("attributes %v", a))
	}
	email, sms, def := n.texts["email"], n.texts["sms"], n.texts["default"]
	if email == "" || sms == "" || def == "" {
		problems = append(problems, fmt.Sprintf("texts %q: want default, email and sms", n.texts))
	}
	if def != email {
		problems = append(problems, "default text differs from the email text")
	}
	ascii := asciiName(name)
	var wantSubject string
	switch tr.state {
	case "firing":
		wantSubject = "[WARNING] Strong wind in " + ascii
	case "resolved":
		wantSubject = "[RESOLVED] Strong wind over in " + ascii
	default:
		problems = append(problems, fmt.Sprintf("state attribute %q", tr.state))
	}
	if n.subject != wantSubject {
		problems = append(problems, fmt.Sprintf("subject %q, want %q", n.subject, wantSubject))
	}
	if len(n.subject) >= 100 || strings.ContainsAny(n.subject, "\r\n") {
		problems = append(problems, "subject is not one line under 100 characters")
	}
	// Observed:  2026-11-26 23:52 UTC (23:52 local time)
	const marker = "Observed:  "
	if i := strings.Index(email, marker); i < 0 {
		problems = append(problems, "email text has no Observed line")
	} else {
		at, err := time.Parse("2006-01-02 15:04 MST", email[i+len(marker):i+len(marker)+20])
		if err != nil {
			problems = append(problems, fmt.Sprintf("email Observed line: %v", err))
		}
		tr.observed = at.UTC()
	}
	happened := map[string]string{"firing": "Strong wind in ", "resolved": "Strong wind over in "}[tr.state]
	if !strings.HasPrefix(email, happened+name+" at ") || !strings.Contains(email, "Location:  "+name+" ("+tr.location+")") {
		problems = append(problems, fmt.Sprintf("email text does not say what happened: %.120q", email))
	}
	if len([]rune(sms)) > 160 {
		problems = append(problems, fmt.Sprintf("sms is %d characters, want at most 160", len([]rune(sms))))
	}
	// GSM-7 has "à" but not "ã".
	gsm := strings.ReplaceAll(name, "ã", "a")
	wantSMS := map[string]string{"firing": "WARNING: Strong wind in ", "resolved": "Strong wind over in "}[tr.state] + gsm + " at " + tr.observed.Format("15:04")
	if !strings.HasPrefix(sms, wantSMS) {
		problems = append(problems, fmt.Sprintf("sms %q, want it to start with %q", sms, wantSMS))
	}
	if strings.ContainsAny(sms, "ãÃ°") {
		problems = append(problems, fmt.Sprintf("sms %q is not GSM-7", sms))
	}
	return tr, problems
}

// asciiName is how the notifications spell the sites' names.
func asciiName(s string) string {
	return strings.NewReplacer("ã", "a", "à", "a").Replace(s)
}
