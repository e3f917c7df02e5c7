// Package daemon builds weatherd's components from a configuration and runs
// them as one process (ARCHITECTURE.md shows how they connect).
package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/pkg/alert"
	"github.com/weatherd/weatherd/pkg/awsconf"
	"github.com/weatherd/weatherd/pkg/config"
	"github.com/weatherd/weatherd/pkg/lake"
	"github.com/weatherd/weatherd/pkg/lifecycle"
	"github.com/weatherd/weatherd/pkg/pipeline"
	"github.com/weatherd/weatherd/pkg/server"
	"github.com/weatherd/weatherd/pkg/spool"
	"github.com/weatherd/weatherd/pkg/stream"
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
	poll, elector, err := newPoller(dp, st, writer)
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
	if err := serveAPI(cfg, srv, alerts, g, st.workerID, st.leases, elector, log); err != nil {
		srv.Close()
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
