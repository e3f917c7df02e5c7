package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/weatherd/weatherd/pkg/alert"
	"github.com/weatherd/weatherd/pkg/api"
	"github.com/weatherd/weatherd/pkg/config"
	"github.com/weatherd/weatherd/pkg/leader"
	"github.com/weatherd/weatherd/pkg/lifecycle"
	"github.com/weatherd/weatherd/pkg/server"
	"github.com/weatherd/weatherd/pkg/statuspage"
)

// serveAPI adds the operator API (/api/v1/) to srv: the alert engine answers
// from its state store, this instance tells its own status.
func serveAPI(cfg *config.Config, srv *server.Server, alerts *alert.Engine, g *lifecycle.Group, workerID string, leases func() []string, elector *leader.Elector, log *slog.Logger) error {
	auth, err := cfg.HTTP.API.Auth()
	if err != nil {
		return fmt.Errorf("http.api.token_file: %w", err)
	}
	if workerID == "" {
		if workerID, err = lifecycle.InstanceID(); err != nil {
			return err
		}
	}
	svc := &apiService{Engine: alerts, instance: workerID, group: g, leases: leases, elector: elector}
	srv.Handle("/api/v1/", api.Handler(svc, auth, log))
	// The status page and its forms, over the same service and token.
	page := statuspage.Handler(svc, auth, log)
	srv.Handle("/{$}", page)
	srv.Handle("/ui/", page)
	return nil
}

// apiService is the api.Service of one daemon.
type apiService struct {
	*alert.Engine
	instance string
	group    *lifecycle.Group
	leases   func() []string // nil with the memory stream
	elector  *leader.Elector // nil without poller leader election
}

var _ api.Service = (*apiService)(nil)

// Status is this instance's readiness, leases and leadership.
func (s *apiService) Status(context.Context) api.Status {
	st := api.Status{Instance: s.instance, Version: version(), NotReady: s.group.NotReady(), Leases: []string{}}
	st.Ready = len(st.NotReady) == 0
	if s.leases != nil {
		st.Leases = s.leases()
	}
	if s.elector != nil {
		st.Leader = s.elector.Leading()
	}
	return st
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return ""
}
