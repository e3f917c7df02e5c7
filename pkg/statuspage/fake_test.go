package statuspage

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/weatherd/weatherd/pkg/api"
)

// fakeService is an api.Service over fixed alerts and locations and a silence
// list, for the handler's tests; the daemon's own is tested where it lives.
type fakeService struct {
	mu        sync.Mutex
	now       time.Time
	alerts    []api.Alert
	locations []api.Location
	silences  []api.Silence
	status    api.Status
	acks      []string
	err       error // returned by every call when set
}

var _ api.Service = (*fakeService)(nil)

func (f *fakeService) Alerts(context.Context, api.Filter) ([]api.Alert, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Alert(nil), f.alerts...), f.err
}

func (f *fakeService) Locations(context.Context) ([]api.Location, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Location(nil), f.locations...), f.err
}

func (f *fakeService) Silences(context.Context) ([]api.Silence, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Silence(nil), f.silences...), f.err
}

func (f *fakeService) AddSilence(_ context.Context, req api.SilenceRequest) (api.Silence, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := req.Silence(f.now)
	if err != nil {
		return api.Silence{}, err
	}
	s.ID = fmt.Sprintf("s%d", len(f.silences)+1)
	s.State = api.SilenceActive
	f.silences = append(f.silences, s)
	return s, nil
}

func (f *fakeService) ExpireSilence(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.silences {
		if f.silences[i].ID == id {
			f.silences[i].State = api.SilenceExpired
			f.silences[i].EndsAt = f.now
			return nil
		}
	}
	return fmt.Errorf("silence %s: %w", id, api.ErrNotFound)
}

func (f *fakeService) Ack(_ context.Context, location, rule string, req api.AckRequest) (api.Alert, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, a := range f.alerts {
		if a.Location == location && a.Rule == rule && a.Phase == api.PhaseFiring {
			f.alerts[i].Acknowledged = true
			f.alerts[i].Ack = &api.Ack{By: req.By, Comment: req.Comment, At: f.now}
			f.acks = append(f.acks, location+"/"+rule+"/"+req.By)
			return f.alerts[i], nil
		}
	}
	return api.Alert{}, fmt.Errorf("%s at %s is not firing: %w", rule, location, api.ErrNotFound)
}

func (f *fakeService) Status(context.Context) api.Status { return f.status }
