// Package daemon builds weatherd's components from a configuration and runs
// them as one process (ARCHITECTURE.md shows how they connect).
package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/pkg/alert"
	"github.com/weatherd/weatherd/pkg/awsconf"
	"github.com/weatherd/weatherd/pkg/config"
	"github.com/weatherd/weatherd/pkg/kcl"
	"github.com/weatherd/weatherd/pkg/lake"
	"github.com/weatherd/weatherd/pkg/leader"
	"github.com/weatherd/weatherd/pkg/lifecycle"
	"github.com/weatherd/weatherd/pkg/pipeline"
	"github.com/weatherd/weatherd/pkg/poller"
	"github.com/weatherd/weatherd/pkg/producer"
	"github.com/weatherd/weatherd/pkg/server"
	"github.com/weatherd/weatherd/pkg/spool"
	"github.com/weatherd/weatherd/pkg/stream"
	"github.com/weatherd/weatherd/pkg/stream/memstream"
)

// Daemon is one weatherd process, built and ready to run.
type Daemon struct {
	cfg    *config.Config
	group  *lifecycle.Group
	server *server.Server
	log    *slog.Logger
	spool  *spool.Spool // the producer's, or nil
}

// New builds every component cfg names. Nothing runs yet, and nothing is left
// half-started when it fails: the only resources it holds are the HTTP
// listener and the producer's spool (its directory lock), released on error.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Daemon, error) {
	dp, err := newDeps(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	alerts, err := newAlerts(dp)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	writer, err := newLake(ctx, dp)
	if err != nil {
		return nil, fmt.Errorf("lake: %w", err)
	}
	st, err := newStream(dp, newPipeline(dp, alerts, writer))
	if err != nil {
		return nil, err
	}
	poll, err := newPoller(dp, st, writer)
	if err != nil {
		st.close()
		return nil, fmt.Errorf("poller: %w", err)
	}
	g := lifecycle.New(log)
	srv, err := server.New(cfg.HTTP.Listen, dp.reg, g.NotReady, log)
	if err != nil {
		st.close()
		return nil, err
	}
	// Data-flow order: each is stopped only after the one before it returned.
	for _, c := range []*lifecycle.Component{
		poll,
		{Name: "producer", Run: st.producer.Run, Check: st.producerCheck},
		&st.consumer,
		{Name: "alerts", Run: alerts.Run, Ready: alerts.Ready, Check: alerts.Health},
		{Name: "lake", Run: writer.Run, Check: writer.Health},
		{Name: "http", Run: srv.Run},
	} {
		if c != nil {
			g.Add(*c)
		}
	}
	if err := g.Register(dp.reg); err != nil {
		srv.Close()
		st.close()
		return nil, fmt.Errorf("register readiness metrics: %w", err)
	}
	return &Daemon{cfg: cfg, group: g, server: srv, log: log, spool: st.spool}, nil
}

// deps is what the components are built from: the configuration, the AWS
// SDK configuration (zero when no AWS service is used), the lake's parsed
// location, the metrics registry and the log.
type deps struct {
	cfg  *config.Config
	sdk  aws.Config
	lake lake.Location
	reg  *prometheus.Registry
	log  *slog.Logger
}

func newDeps(ctx context.Context, cfg *config.Config, log *slog.Logger) (deps, error) {
	loc, err := lake.ParseURL(cfg.Lake.URL)
	if err != nil {
		return deps{}, fmt.Errorf("lake.url: %w", err)
	}
	dp := deps{cfg: cfg, lake: loc, reg: server.NewRegistry(), log: log}
	if needsAWS(cfg, loc) {
		if dp.sdk, err = awsconf.Load(ctx, cfg.AWS); err != nil {
			return deps{}, err
		}
	}
	return dp, nil
}

// needsAWS reports whether any component cfg names calls AWS.
func needsAWS(cfg *config.Config, lakeAt lake.Location) bool {
	if cfg.Stream.Driver == stream.DriverKinesis || cfg.Alerts.State.Driver == "dynamodb" {
		return true
	}
	if cfg.Poller.Enabled && cfg.Poller.Leader.Enabled {
		return true
	}
	if lakeAt.S3() {
		return true
	}
	for _, ch := range cfg.Alerts.Channels {
		if ch.Type == "sns" {
			return true
		}
	}
	return false
}

func newAlerts(dp deps) (*alert.Engine, error) {
	cfg := dp.cfg
	ad := alert.Deps{HTTPClient: &http.Client{Timeout: 10 * time.Second}, Now: time.Now}
	for _, ch := range cfg.Alerts.Channels {
		if ch.Type == "sns" {
			ad.SNS = awsconf.NewSNS(dp.sdk, cfg.AWS)
			break
		}
	}
	if cfg.Alerts.State.Driver == "dynamodb" {
		ad.DynamoDB = awsconf.NewDynamoDB(dp.sdk, cfg.AWS)
	}
	return alert.New(cfg.Alerts, cfg.Locations, ad, dp.reg, dp.log)
}

func newLake(ctx context.Context, dp deps) (*lake.Writer, error) {
	var s3api lake.S3API
	if dp.lake.S3() {
		s3api = awsconf.NewS3(dp.sdk, dp.cfg.AWS)
	}
	store, err := lake.OpenStore(ctx, dp.lake, s3api)
	if err != nil {
		return nil, err
	}
	return lake.New(dp.cfg.Lake, store, dp.reg, dp.log)
}

// newPipeline returns the factory of the shard processors that decode
// records and hand them to the alerts and the lake.
func newPipeline(dp deps, alerts *alert.Engine, writer *lake.Writer) *pipeline.Factory {
	return &pipeline.Factory{
		Stream:  dp.cfg.Stream.Kinesis.Name,
		Alerts:  alerts,
		Lake:    func(s, shard string) pipeline.ShardSink { return writer.Shard(s, shard) },
		Metrics: pipeline.NewMetrics(dp.reg),
		Log:     dp.log,
		// The same bound the providers' readings are checked against.
		MaxClockSkew: dp.cfg.Consumer.MaxClockSkew,
	}
}

// streamParts is the stream as the daemon runs it: the producer the poller
// puts into, the consumer feeding the pipeline, and what they hold.
type streamParts struct {
	producer      stream.Producer
	producerCheck func() error // the producer's readiness check, or nil
	consumer      lifecycle.Component
	workerID      string       // the consumer's worker id in the lease table, or ""
	spool         *spool.Spool // the producer's, or nil
}

// close releases what newStream acquired, for a New that fails later.
func (st *streamParts) close() {
	if st.spool != nil {
		st.spool.Close()
	}
}

func newStream(dp deps, factory *pipeline.Factory) (*streamParts, error) {
	cfg := dp.cfg
	switch cfg.Stream.Driver {
	case stream.DriverMemory:
		factory.Stream = "memory"
		ms := memstream.New(cfg.Stream.Memory, dp.reg)
		c := ms.Consumer(factory.New, dp.log)
		return &streamParts{
			producer: ms.Producer(),
			consumer: lifecycle.Component{Name: "consumer", Run: c.Run, Ready: c.Ready},
			workerID: cfg.Consumer.WorkerID,
		}, nil
	case stream.DriverKinesis:
		st := &streamParts{}
		kin := awsconf.NewKinesis(dp.sdk, cfg.AWS)
		var opts []producer.Option
		if dir := cfg.Stream.Kinesis.SpoolDir; dir != "" && cfg.Poller.Enabled {
			if abs, err := filepath.Abs(dir); err == nil {
				dir = abs // errors and logs name the real place
			}
			sp, recovered, err := spool.Open(dir, spool.Options{Registerer: dp.reg, Logger: dp.log})
			if err != nil {
				return nil, fmt.Errorf("stream.kinesis.spool_dir: %w", err)
			}
			st.spool = sp
			opts = append(opts, producer.WithSpool(sp, recovered))
		}
		prod := producer.New(cfg.Stream.Kinesis, kin, dp.reg, dp.log, opts...)
		st.producer, st.producerCheck = prod, prod.Health
		w, err := kcl.New(cfg.Consumer, cfg.Stream.Kinesis.Name, kin, awsconf.NewDynamoDB(dp.sdk, cfg.AWS), factory.New, dp.reg, dp.log)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("consumer: %w", err)
		}
		st.workerID = w.WorkerID()
		st.consumer = lifecycle.Component{Name: "consumer", Run: w.Run, Ready: w.Ready}
		return st, nil
	}
	return nil, fmt.Errorf("stream.driver: unknown driver %q", cfg.Stream.Driver)
}

// newPoller returns the poller component, or nil when poller.enabled is
// false. With poller.leader enabled it polls, and the lake compacts, only
// while this instance leads.
func newPoller(dp deps, st *streamParts, writer *lake.Writer) (*lifecycle.Component, error) {
	cfg := dp.cfg
	if !cfg.Poller.Enabled {
		if cfg.Poller.Leader.Enabled && cfg.Lake.Compaction.Enabled {
			// Replicas elect a poller leader, which compacts; a consumer-only
			// instance does not stand for election, so it never compacts.
			writer.CompactOnlyWhileLeading(notCandidate{})
			dp.log.Info("lake compaction is left to the poller leader: this instance runs no poller")
		}
		return nil, nil
	}
	prov, forecaster, err := newProvider(cfg, dp.reg, dp.log)
	if err != nil {
		return nil, err
	}
	var elector *leader.Elector
	var opts []poller.Option
	if cfg.Poller.Leader.Enabled {
		if elector, err = newElector(dp, st.workerID); err != nil {
			return nil, err
		}
		// The leader keeps its last observations on the lease item, so
		// the next leader does not emit them again.
		opts = append(opts, poller.WithStateStore(elector))
		// Among replicas, the poller's leader also compacts the lake.
		writer.CompactOnlyWhileLeading(elector)
	}
	pm := poller.NewMetrics(dp.reg)
	p, err := poller.New(cfg.Poller.Config, cfg.Locations, prov, st.producer, pm, dp.log, opts...)
	if err != nil {
		return nil, err
	}
	run, err := withForecasts(dp, p.Run, forecaster, st.producer, pm)
	if err != nil {
		return nil, err
	}
	if elector == nil {
		return &lifecycle.Component{Name: "poller", Run: run}, nil
	}
	// Leading is not a readiness condition (a follower that does not poll
	// is ready); reaching the lease table is. Only the leader fetches
	// forecasts too.
	return &lifecycle.Component{Name: "poller", Run: leader.NewGate(elector, run).Run, Check: elector.Health}, nil
}

// newElector returns the poller leadership election, as workerID (the
// consumer's worker id, so one name identifies the instance in both tables).
func newElector(dp deps, workerID string) (*leader.Elector, error) {
	if workerID == "" {
		id, err := lifecycle.InstanceID()
		if err != nil {
			return nil, err
		}
		workerID = id
	}
	lc := dp.cfg.Poller.Leader
	lc.ID = workerID
	return leader.New(lc, awsconf.NewDynamoDB(dp.sdk, dp.cfg.AWS), leader.NewMetrics(dp.reg), dp.log)
}

// Addr is the HTTP address the daemon listens on.
func (d *Daemon) Addr() string { return d.server.Addr() }

// Run runs every component until ctx ends or one fails, then stops them all
// within shutdown_timeout.
func (d *Daemon) Run(ctx context.Context) error {
	d.log.Info("weatherd starting", "config", d.cfg.String(), "http", d.Addr())
	err := d.group.Run(ctx, d.cfg.ShutdownTimeout)
	if d.spool != nil {
		// After the producer stopped: what it did not deliver stays for the
		// next start.
		if cerr := d.spool.Close(); cerr != nil {
			d.log.Warn("close spool", "err", cerr)
		}
	}
	if err == nil {
		d.log.Info("weatherd stopped cleanly")
	}
	return err
}

// notCandidate is the leadership of an instance that never leads.
type notCandidate struct{}

func (notCandidate) Await(ctx context.Context) (context.Context, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
