// Package simulated is a weather provider that needs no network: a
// deterministic, realistic series per location, with daily temperature cycles
// and passing fronts that bring gusts and heavy rain, so every alert path can
// be seen working on a laptop within the first minute.
package simulated

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"time"

	"github.com/weatherd/weatherd/pkg/check"
	"github.com/weatherd/weatherd/pkg/weather"
)

// Name is the provider name in readings and metrics.
const Name = "simulated"

// Config is the poller.simulated section: the shape of the simulated weather.
type Config struct {
	// Seed makes the series reproducible: same seed, same weather.
	Seed int64 `mapstructure:"seed"`
	// FrontEvery is the time between two fronts at one location.
	FrontEvery time.Duration `mapstructure:"front_every"`
	// FrontDuration is how long a front takes to pass.
	FrontDuration time.Duration `mapstructure:"front_duration"`
}

// Validate reports the problems of the section at key.
func (c Config) Validate(key string, ps *check.Problems) {
	if c.FrontEvery <= 0 {
		ps.Add(check.Key(key, "front_every"), "got %s, want a positive duration", c.FrontEvery)
	}
	switch {
	case c.FrontDuration <= 0:
		ps.Add(check.Key(key, "front_duration"), "got %s, want a positive duration", c.FrontDuration)
	case c.FrontDuration > c.FrontEvery:
		ps.Add(check.Key(key, "front_duration"), "got %s, want at most simulated.front_every (%s)", c.FrontDuration, c.FrontEvery)
	}
}

// Provider simulates weather. Fronts are scheduled from an epoch (the
// process start in the daemon), staggered over the locations so the first
// arrives within seconds.
type Provider struct {
	cfg   Config
	epoch time.Time
	now   func() time.Time
	index map[string]int
	n     int
}

// New returns a provider for cfg, which Validate accepted, whose fronts are
// timed from epoch. locations sets the stagger order; a location not in it
// gets a stagger from its id. now is the clock.
func New(cfg Config, epoch time.Time, locations []weather.Location, now func() time.Time) (*Provider, error) {
	var ps check.Problems
	cfg.Validate("poller.simulated", &ps)
	if err := ps.Err(); err != nil {
		return nil, fmt.Errorf("simulated: %w", err)
	}
	idx := make(map[string]int, len(locations))
	for i, l := range locations {
		idx[l.ID] = i
	}
	return &Provider{cfg: cfg, epoch: epoch, now: now, index: idx, n: max(len(locations), 1)}, nil
}

// Name implements provider.Provider.
func (p *Provider) Name() string { return Name }

// Fetch returns the simulated observation of loc now, at second resolution.
func (p *Provider) Fetch(ctx context.Context, loc weather.Location) (weather.Reading, error) {
	if err := ctx.Err(); err != nil {
		return weather.Reading{}, err
	}
	now := p.now()
	at := now.UTC().Truncate(time.Second)
	return weather.NewReading(loc, Name, at, now, p.Values(loc, at)), nil
}

// Values is the simulated weather at loc at time t.
func (p *Provider) Values(loc weather.Location, t time.Time) weather.Values {
	h := p.hash(loc.ID)
	// Daily cycle on local solar time: coldest near 06:00, warmest near 15:00.
	solar := math.Mod(float64(t.UTC().Hour())+float64(t.UTC().Minute())/60+loc.Lon/15+48, 24)
	daily := math.Cos((solar - 15) / 24 * 2 * math.Pi)
	base := 28 - 0.45*math.Abs(loc.Lat) + 4*(unit(h, 1)-0.5)
	amp := 4 + 3*unit(h, 2)
	slow := p.noise(h, 3, t, 20*time.Minute)

	f := p.front(loc, h, t) // 0 outside a front, up to ~1.3 at its peak
	temp := base + amp*daily + 1.5*slow - 5*f
	humidity := clamp(65-20*daily+8*slow+30*f, 5, 100)
	windSpeed := math.Max(0, 2.5+1.5*unit(h, 4)+1.2*p.noise(h, 5, t, 7*time.Minute)+14*f)
	gust := windSpeed*1.35 + 1 + 8*f
	rain := 0.0
	if f > 0.15 {
		rain = 14 * (f - 0.15)
	}
	cloud := clamp(30+25*slow+90*f, 0, 100)
	code := 1100.0
	switch {
	case rain >= 7.6 && gust >= 17:
		code = 8000 // thunderstorm
	case rain >= 7.6:
		code = 4201
	case rain > 0:
		code = 4001
	case cloud > 80:
		code = 1001
	case cloud > 50:
		code = 1102
	}

	v := weather.Values{}
	v.Set("temperature", round(temp, 2))
	v.Set("temperatureApparent", round(temp-0.1*windSpeed+0.02*(humidity-50), 2))
	v.Set("dewPoint", round(temp-(100-humidity)/5, 2))
	v.Set("humidity", round(humidity, 0))
	v.Set("windSpeed", round(windSpeed, 2))
	v.Set("windGust", round(gust, 2))
	v.Set("windDirection", round(math.Mod(200+90*p.noise(h, 6, t, 30*time.Minute)+360, 360), 2))
	v.Set("pressureSurfaceLevel", round(1013+4*slow-9*f, 2))
	v.Set("rainIntensity", round(rain, 2))
	v.Set("precipitationProbability", round(clamp(10+90*f, 0, 100), 0))
	v.Set("cloudCover", round(cloud, 0))
	v.Set("visibility", round(clamp(16-12*f, 0.5, 16), 2))
	v.Set("uvIndex", round(math.Max(0, 9*daily*(1-cloud/120)), 0))
	v.Set("weatherCode", code)
	if cloud < 20 {
		v.SetNull("cloudBase")
		v.SetNull("cloudCeiling")
	} else {
		v.Set("cloudBase", round(clamp(2-1.6*f, 0.2, 3), 2))
		v.Set("cloudCeiling", round(clamp(3-2.2*f, 0.3, 5), 2))
	}
	return v
}

// front is the strength of the front passing loc at t: a smooth bump from 0
// to a per-location peak and back over FrontDuration, once every FrontEvery.
func (p *Provider) front(loc weather.Location, h uint64, t time.Time) float64 {
	i, ok := p.index[loc.ID]
	if !ok {
		i = int(h % uint64(p.n))
	}
	every := p.cfg.FrontEvery
	first := 10*time.Second + time.Duration(i)*every/time.Duration(p.n)
	since := t.Sub(p.epoch) - first
	if since < 0 {
		return 0
	}
	pos := since % every
	if pos >= p.cfg.FrontDuration {
		return 0
	}
	x := float64(pos) / float64(p.cfg.FrontDuration)
	peak := 1 + 0.3*unit(h, 7+uint64(since/every))
	return peak * math.Pow(math.Sin(math.Pi*x), 2)
}

// noise is smooth value noise in [-1, 1] with the given period.
func (p *Provider) noise(h, stream uint64, t time.Time, period time.Duration) float64 {
	pos := float64(t.UnixNano()) / float64(period)
	k := math.Floor(pos)
	frac := pos - k
	a := unit(h, stream<<32|uint64(int64(k)))
	b := unit(h, stream<<32|uint64(int64(k)+1))
	s := frac * frac * (3 - 2*frac)
	return 2*(a+(b-a)*s) - 1
}

func (p *Provider) hash(id string) uint64 {
	f := fnv.New64a()
	var seed [8]byte
	for i := range seed {
		seed[i] = byte(p.cfg.Seed >> (8 * i))
	}
	f.Write(seed[:])
	f.Write([]byte(id))
	return f.Sum64()
}

// unit maps (h, k) to a deterministic number in [0, 1).
func unit(h, k uint64) float64 {
	x := h ^ (k * 0x9E3779B97F4A7C15)
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	x ^= x >> 31
	return float64(x>>11) / float64(1<<53)
}

func clamp(x, lo, hi float64) float64 { return math.Min(hi, math.Max(lo, x)) }

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}
