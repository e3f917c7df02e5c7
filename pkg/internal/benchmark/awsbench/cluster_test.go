package awsbench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kintypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/awsconf"
	"github.com/weatherd/weatherd/pkg/internal/awsproxy"
	"github.com/weatherd/weatherd/pkg/internal/benchmark"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
)

// TestMain removes the binary the benchmarks built.
func TestMain(m *testing.M) {
	code := m.Run()
	testkit.RemoveBinary()
	os.Exit(code)
}

// cluster is a stream, lease table and lake bucket on the emulators, and the
// weatherd processes that consume the stream.
type cluster struct {
	b      *testing.B
	dir    string
	config string
	stream string
	leases string            // the lease table
	eps    map[string]string // emulator endpoints by service

	mu    sync.Mutex
	procs []*replica
}

// newCluster writes a config (the embedded defaults, plus extra YAML) for a
// fresh stream of 2 shards, lease table and bucket, and creates them with
// `weatherd bootstrap`.
func newCluster(b *testing.B, extra string) *cluster {
	b.Helper()
	c := &cluster{b: b, dir: b.TempDir(), stream: emulator.Name(b, "bench-scale"), leases: emulator.Name(b, "bench-scale-leases"), eps: map[string]string{}}
	for _, n := range []string{awsconf.Kinesis, awsconf.DynamoDB, awsconf.S3, awsconf.SNS} {
		c.eps[n] = emulator.Endpoint(b, n)
	}
	c.config = filepath.Join(c.dir, "weatherd.yaml")
	yaml := fmt.Sprintf(`log: {level: info, format: text}
http: {listen: "127.0.0.1:0"}
aws:
  region: us-east-1
  endpoints: {kinesis: %q, dynamodb: %q, s3: %q, sns: %q}
  s3_force_path_style: true
poller: {enabled: false}
stream:
  driver: kinesis
  kinesis: {name: %q, shards: 2}
consumer: {application_name: %q}
lake: {url: %q}
%s`, c.eps[awsconf.Kinesis], c.eps[awsconf.DynamoDB], c.eps[awsconf.S3], c.eps[awsconf.SNS],
		c.stream, c.leases, "s3://"+emulator.Name(b, "bench-scale-lake")+"/lake", extra)
	if err := os.WriteFile(c.config, []byte(yaml), 0o600); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		c.mu.Lock()
		procs := slices.Clone(c.procs)
		c.mu.Unlock()
		for _, p := range procs {
			p.kill()
		}
		if b.Failed() {
			for _, p := range procs {
				b.Logf("replica %s log:\n%s", p.name, p.logs.String())
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = emulator.Kinesis(b).DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(c.stream)})
		_, _ = emulator.DynamoDB(b).DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(c.leases)})
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testkit.Binary(b), "bootstrap", "--config", c.config)
	cmd.Env = c.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("weatherd bootstrap: %v\n%s", err, out)
	}
	return c
}

func (c *cluster) env() []string {
	return append(os.Environ(), "AWS_ACCESS_KEY_ID=S3RVER", "AWS_SECRET_ACCESS_KEY=S3RVER", "AWS_REGION=us-east-1")
}

// replica is one `weatherd run` process, each of whose services it reaches
// through its own recording proxy, so every call is the replica's.
type replica struct {
	name    string
	cmd     *exec.Cmd
	logs    *testkit.SyncBuffer
	proxies map[string]*awsproxy.Proxy // by service
	done    chan struct{}
	err     error // after done
	addr    string
}

// start runs a replica with worker id name and waits until it is ready.
func (c *cluster) start(name string) *replica {
	c.b.Helper()
	r := &replica{name: name, logs: &testkit.SyncBuffer{}, proxies: map[string]*awsproxy.Proxy{}, done: make(chan struct{})}
	env := append(c.env(), "WEATHERD_CONSUMER_WORKER_ID="+name, "WEATHERD_STREAM_KINESIS_SPOOL_DIR="+filepath.Join(c.dir, "spool-"+name))
	for svc, ep := range c.eps {
		r.proxies[svc] = awsproxy.Start(c.b, ep)
		env = append(env, "WEATHERD_AWS_ENDPOINTS_"+map[string]string{
			awsconf.Kinesis: "KINESIS", awsconf.DynamoDB: "DYNAMODB", awsconf.S3: "S3", awsconf.SNS: "SNS",
		}[svc]+"="+r.proxies[svc].URL())
	}
	r.cmd = exec.Command(testkit.Binary(c.b), "run", "--config", c.config)
	r.cmd.Dir = c.dir
	r.cmd.Env = env
	r.cmd.Stdout, r.cmd.Stderr = r.logs, r.logs
	if err := r.cmd.Start(); err != nil {
		c.b.Fatalf("start weatherd %s: %v", name, err)
	}
	go func() {
		r.err = r.cmd.Wait()
		close(r.done)
	}()
	c.mu.Lock()
	c.procs = append(c.procs, r)
	c.mu.Unlock()
	testkit.WaitFor(c.b, "replica "+name+" ready", time.Minute, 20*time.Millisecond, func() (bool, string) {
		if r.exited() {
			c.b.Fatalf("replica %s exited at start-up: %v\n%s", name, r.err, r.logs.String())
		}
		if r.addr == "" {
			if r.addr = testkit.ListenAddr(r.logs.String()); r.addr == "" {
				return false, "no listening line yet"
			}
		}
		return testkit.Ready(r.addr)
	})
	return r
}

func (r *replica) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// metric is the sum of a metric's series on r's /metrics (-1 when r does
// not answer).
func (r *replica) metric(name string) float64 {
	m, err := testkit.Scrape(r.addr)
	if err != nil {
		return -1
	}
	return m.Sum(name)
}

// reads returns r's successful GetRecords calls on shard ("" for any), in
// the order they were made.
func (r *replica) reads(shard string) []awsproxy.Call {
	var out []awsproxy.Call
	for _, c := range r.proxies[awsconf.Kinesis].Calls() {
		if c.Op == "GetRecords" && c.Status == 200 && (shard == "" || c.Shard == shard) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b awsproxy.Call) int { return a.At.Compare(b.At) })
	return out
}

// stop sends SIGTERM and fails unless r exits 0 within a minute.
func (r *replica) stop(b *testing.B) {
	b.Helper()
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(time.Minute):
		b.Fatalf("replica %s did not stop within a minute of SIGTERM", r.name)
	}
	var ee *exec.ExitError
	if r.err != nil && (!errors.As(r.err, &ee) || ee.ExitCode() != 0) {
		b.Fatalf("replica %s exited with %v after SIGTERM:\n%s", r.name, r.err, r.logs.String())
	}
}

// kill sends SIGKILL (if r still runs) and waits until it is gone.
func (r *replica) kill() {
	if !r.exited() {
		_ = r.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-r.done
}

// feed puts readings on the stream, per records per second spread over both
// shards' hash ranges, until ctx ends. It returns when feeding has stopped.
func (c *cluster) feed(ctx context.Context, perSecond int, ds *benchmark.Dataset) (stopped <-chan struct{}) {
	kin := emulator.Kinesis(c.b)
	done := make(chan struct{})
	go func() {
		defer close(done)
		const tick = 100 * time.Millisecond
		per := max(1, perSecond/10)
		t := time.NewTicker(tick)
		defer t.Stop()
		for i := 0; ; {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			var entries []kintypes.PutRecordsRequestEntry
			for range per {
				k := i % len(ds.Bodies)
				entries = append(entries, kintypes.PutRecordsRequestEntry{Data: ds.Bodies[k], PartitionKey: aws.String(ds.Keys[k])})
				i++
			}
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := kin.PutRecords(pctx, &kinesis.PutRecordsInput{StreamName: aws.String(c.stream), Records: entries})
			cancel()
			if err != nil && ctx.Err() == nil {
				c.b.Logf("feed: put records: %v", err)
			}
		}
	}()
	return done
}
