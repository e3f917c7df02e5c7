// Package daemon builds weatherd's components from a configuration and runs
// them as one process: poller → stream → consumer → (alerts, lake) →
// checkpoint, with the HTTP endpoints beside them.
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
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (_ *Daemon, err error) {
	reg := server.NewRegistry()
	g := lifecycle.New(log)
	d := &Daemon{cfg: cfg, group: g, log: log}
	defer func() {
		if err != nil && d.spool != nil {
			d.spool.Close()
		}
	}()

	var sdk aws.Config
	if needsAWS(cfg) {
		var err error
		if sdk, err = awsconf.Load(ctx, cfg.AWS); err != nil {
			return nil, err
		}
	}

	alerts, err := alert.New(cfg.Alerts, cfg.Locations, alertDeps(cfg, sdk), reg, log)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	var s3api lake.S3API
	if loc, _ := lake.ParseURL(cfg.Lake.URL); loc.Scheme == "s3" {
		s3api = awsconf.NewS3(sdk, cfg.AWS)
	}
	store, err := lake.OpenStore(ctx, cfg.Lake, s3api)
	if err != nil {
		return nil, fmt.Errorf("lake: %w", err)
	}
	writer, err := lake.New(cfg.Lake, store, reg, log)
	if err != nil {
		return nil, fmt.Errorf("lake: %w", err)
	}
	factory := &pipeline.Factory{
		Stream:  cfg.Stream.Kinesis.Name,
		Alerts:  alerts,
		Lake:    func(s, shard string) pipeline.ShardSink { return writer.Shard(s, shard) },
		Metrics: pipeline.NewMetrics(reg),
		Log:     log,
		// The same bound the providers' readings are checked against.
		MaxClockSkew: cfg.Consumer.MaxClockSkew,
	}

	var out stream.Producer
	var outCheck func() error // the producer's readiness check
	var consumer lifecycle.Component
	workerID := cfg.Consumer.WorkerID
	delivered := func() bool { return true } // whether the producer has sent everything
	var consumerLeases func() []string       // the shards held, for the API's status
	var elector *leader.Elector
	switch cfg.Stream.Driver {
	case stream.DriverMemory:
		factory.Stream = "memory"
		ms := memstream.New(cfg.Stream.Memory, reg)
		out = ms.Producer()
		c := ms.Consumer(factory.New, log)
		consumer = lifecycle.Component{Name: "consumer", Run: c.Run, Ready: c.Ready}
	case stream.DriverKinesis:
		kin := awsconf.NewKinesis(sdk, cfg.AWS)
		var opts []producer.Option
		if dir := cfg.Stream.Kinesis.SpoolDir; dir != "" && cfg.Poller.Enabled {
			if abs, aerr := filepath.Abs(dir); aerr == nil {
				dir = abs // errors and logs name the real place
			}
			sp, recovered, err := spool.Open(dir, spool.Options{Registerer: reg, Logger: log})
			if err != nil {
				return nil, fmt.Errorf("stream.kinesis.spool_dir: %w", err)
			}
			d.spool = sp
			opts = append(opts, producer.WithSpool(sp, recovered))
		}
		prod := producer.New(cfg.Stream.Kinesis, kin, reg, log, opts...)
		out, outCheck, delivered = prod, prod.Health, func() bool { return prod.Buffered() == 0 }
		w, err := kcl.New(cfg.Consumer, cfg.Stream.Kinesis.Name, kin, awsconf.NewDynamoDB(sdk, cfg.AWS), factory.New, reg, log)
		if err != nil {
			return nil, fmt.Errorf("consumer: %w", err)
		}
		workerID = w.WorkerID()
		consumerLeases = w.Leases
		consumer = lifecycle.Component{Name: "consumer", Run: w.Run, Ready: w.Ready}
	default:
		return nil, fmt.Errorf("stream.driver: unknown driver %q", cfg.Stream.Driver)
	}

	// Data-flow order: each is stopped only after the one before it returned.
	if cfg.Poller.Enabled {
		prov, err := newProvider(cfg, reg, log)
		if err != nil {
			return nil, fmt.Errorf("poller: %w", err)
		}
		var opts []poller.Option
		if cfg.Poller.Leader.Enabled {
			if elector, err = newElector(cfg, sdk, workerID, reg, log); err != nil {
				return nil, fmt.Errorf("poller: %w", err)
			}
			// The leader keeps its last observations on the lease item, so
			// the next leader does not emit them again.
			opts = append(opts, poller.WithStateStore(elector, delivered))
			// Among replicas, the poller's leader also compacts the lake.
			writer.CompactOnlyWhileLeading(elector)
		}
		p, err := poller.New(cfg.Poller, cfg.Locations, prov, out, poller.NewMetrics(reg), log, opts...)
		if err != nil {
			return nil, err
		}
		poll := lifecycle.Component{Name: "poller", Run: p.Run}
		if elector != nil {
			// Leading is not a readiness condition (a follower that does not
			// poll is ready); reaching the lease table is.
			poll.Run, poll.Check = leader.NewGate(elector, p.Run).Run, elector.Health
		}
		g.Add(poll)
	}
	if !cfg.Poller.Enabled && cfg.Poller.Leader.Enabled && cfg.Lake.Compaction.Enabled {
		// Replicas elect a poller leader, which compacts; a consumer-only
		// instance does not stand for election, so it never compacts.
		writer.CompactOnlyWhileLeading(notCandidate{})
		log.Info("lake compaction is left to the poller leader: this instance runs no poller")
	}
	g.Add(lifecycle.Component{Name: "producer", Run: out.Run, Check: outCheck})
	g.Add(consumer)
	g.Add(lifecycle.Component{Name: "alerts", Run: alerts.Run, Ready: alerts.Ready, Check: alerts.Health})
	g.Add(lifecycle.Component{Name: "lake", Run: writer.Run, Check: writer.Health})

	srv, err := server.New(cfg.HTTP.Listen, reg, g.NotReady, log)
	if err != nil {
		return nil, err
	}
	d.server = srv
	if err := serveAPI(cfg, srv, alerts, g, workerID, consumerLeases, elector, log); err != nil {
		srv.Close()
		return nil, err
	}
	g.Add(lifecycle.Component{Name: "http", Run: srv.Run})
	if err := g.Register(reg); err != nil {
		srv.Close()
		return nil, fmt.Errorf("register readiness metrics: %w", err)
	}
	return d, nil
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

// newElector returns the poller leadership election, as workerID (the
// consumer's worker id, so one name identifies the instance in both tables).
func newElector(cfg *config.Config, sdk aws.Config, workerID string, reg prometheus.Registerer, log *slog.Logger) (*leader.Elector, error) {
	if workerID == "" {
		id, err := lifecycle.InstanceID()
		if err != nil {
			return nil, err
		}
		workerID = id
	}
	lc := cfg.Poller.Leader
	e, err := leader.New(leader.Config{
		Table:         lc.Table,
		Name:          lc.Name,
		LeaseDuration: lc.LeaseDuration,
		RenewInterval: lc.RenewInterval,
		ID:            workerID,
	}, awsconf.NewDynamoDB(sdk, cfg.AWS), leader.NewMetrics(reg), log)
	if err != nil {
		return nil, err
	}
	return e, nil
}

func needsAWS(cfg *config.Config) bool {
	if cfg.Stream.Driver == stream.DriverKinesis || cfg.Alerts.State.Driver == "dynamodb" {
		return true
	}
	if cfg.Poller.Enabled && cfg.Poller.Leader.Enabled {
		return true
	}
	if loc, _ := lake.ParseURL(cfg.Lake.URL); loc.Scheme == "s3" {
		return true
	}
	for _, ch := range cfg.Alerts.Channels {
		if ch.Type == "sns" {
			return true
		}
	}
	return false
}

func alertDeps(cfg *config.Config, sdk aws.Config) alert.Deps {
	deps := alert.Deps{HTTPClient: &http.Client{Timeout: 10 * time.Second}, Now: time.Now}
	for _, ch := range cfg.Alerts.Channels {
		if ch.Type == "sns" {
			deps.SNS = awsconf.NewSNS(sdk, cfg.AWS)
			break
		}
	}
	if cfg.Alerts.State.Driver == "dynamodb" {
		deps.DynamoDB = awsconf.NewDynamoDB(sdk, cfg.AWS)
	}
	return deps
}

// notCandidate is the leadership of an instance that never leads.
type notCandidate struct{}

func (notCandidate) Await(ctx context.Context) (context.Context, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// registerer is what components register their metrics on.
var _ prometheus.Registerer = (*prometheus.Registry)(nil)
