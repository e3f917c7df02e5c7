package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/weatherd/weatherd/pkg/weather"
)

// Checked returns p with every reading it fetches checked against the
// reading contract (weather.Reading.CheckContract, observed_at at most
// maxSkew ahead of now) before the poller sees it. A reading that fails is
// an ErrBadResponse: the poller counts it and puts nothing, and, above all,
// does not remember its observation time, so a provider's one future-dated
// answer cannot make its later readings look like repeats.
func Checked(p Provider, maxSkew time.Duration, now func() time.Time) Provider {
	return checked{p: p, maxSkew: maxSkew, now: now}
}

type checked struct {
	p       Provider
	maxSkew time.Duration
	now     func() time.Time
}

func (c checked) Name() string { return c.p.Name() }

func (c checked) Fetch(ctx context.Context, loc weather.Location) (weather.Reading, error) {
	r, err := c.p.Fetch(ctx, loc)
	if err != nil {
		return r, err
	}
	if err := r.CheckContract(c.now(), c.maxSkew); err != nil {
		return weather.Reading{}, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	return r, nil
}
