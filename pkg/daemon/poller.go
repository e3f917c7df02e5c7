package daemon

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/weatherd/weatherd/pkg/awsconf"
	"github.com/weatherd/weatherd/pkg/lake"
	"github.com/weatherd/weatherd/pkg/leader"
	"github.com/weatherd/weatherd/pkg/lifecycle"
	"github.com/weatherd/weatherd/pkg/poller"
	"github.com/weatherd/weatherd/pkg/provider"
	"github.com/weatherd/weatherd/pkg/stream"
)

// newPoller returns the poller component, or nil when poller.enabled is
// false, and its leader election, nil without poller.leader. With
// poller.leader enabled it polls, and the lake compacts, only while this
// instance leads.
func newPoller(dp deps, st *streamParts, writer *lake.Writer) (*lifecycle.Component, *leader.Elector, error) {
	cfg := dp.cfg
	if !cfg.Poller.Enabled {
		if cfg.Poller.Leader.Enabled && cfg.Lake.Compaction.Enabled {
			// Replicas elect a poller leader, which compacts; a consumer-only
			// instance does not stand for election, so it never compacts.
			writer.CompactOnlyWhileLeading(notCandidate{})
			dp.log.Info("lake compaction is left to the poller leader: this instance runs no poller")
		}
		return nil, nil, nil
	}
	prov, forecaster, err := newProvider(cfg, dp.reg, dp.log)
	if err != nil {
		return nil, nil, err
	}
	var elector *leader.Elector
	var opts []poller.Option
	if cfg.Poller.Leader.Enabled {
		if elector, err = newElector(dp, st.workerID); err != nil {
			return nil, nil, err
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
		return nil, nil, err
	}
	run, err := withForecasts(dp, p.Run, forecaster, st.producer, pm)
	if err != nil {
		return nil, nil, err
	}
	if elector == nil {
		return &lifecycle.Component{Name: "poller", Run: run}, nil, nil
	}
	// Leading is not a readiness condition (a follower that does not poll
	// is ready); reaching the lease table is. Only the leader fetches
	// forecasts too.
	return &lifecycle.Component{Name: "poller", Run: leader.NewGate(elector, run).Run, Check: elector.Health}, elector, nil
}

// withForecasts returns run and, with poller.forecast.enabled, the forecast
// poller running beside it (both stop when either fails or ctx ends).
func withForecasts(dp deps, run func(context.Context) error, fc provider.Forecaster, out stream.Producer, m *poller.Metrics) (func(context.Context) error, error) {
	cfg := dp.cfg
	if !cfg.Poller.Forecast.Enabled {
		return run, nil
	}
	if fc == nil {
		dp.log.Warn("poller.forecast.enabled is true but the provider does not forecast; no forecasts fetched", "provider", cfg.Poller.Provider)
		return run, nil
	}
	fp, err := poller.NewForecast(cfg.Poller.Config, cfg.Locations, fc, out, m, dp.log)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		g, ctx := errgroup.WithContext(ctx)
		g.Go(func() error { return run(ctx) })
		g.Go(func() error { return fp.Run(ctx) })
		return g.Wait()
	}, nil
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

// notCandidate is the leadership of an instance that never leads.
type notCandidate struct{}

func (notCandidate) Await(ctx context.Context) (context.Context, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
