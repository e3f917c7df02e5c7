package benchmark

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"github.com/weatherd/weatherd/pkg/stream"
	"github.com/weatherd/weatherd/pkg/weather"
)

// Dataset is a deterministic set of synthetic readings of the reading
// event's shape: Locations report in turn, one reading each per Step, starting at
// Start, with 15–20 Tomorrow.io values that drift like weather and a few
// nulls (cloud base and ceiling under a clear sky, the odd missing gust).
type Dataset struct {
	Locations []weather.Location
	Start     time.Time
	Step      time.Duration
	// Bodies holds the encoded readings in observation order; Keys their
	// partition keys (the location id).
	Bodies [][]byte
	Keys   []string
}

// Bytes is the total size of the encoded readings.
func (d *Dataset) Bytes() int64 {
	var n int64
	for _, b := range d.Bodies {
		n += int64(len(b))
	}
	return n
}

// cityNames gives the synthetic locations real-looking, partly non-ASCII names.
var cityNames = []string{"São Paulo", "Rio de Janeiro", "Curitiba", "Toronto", "Lisbon", "Porto", "Montréal", "Zürich",
	"Köln", "Kraków", "Reykjavík", "Málaga", "Bogotá", "Querétaro", "Hamburg", "Oslo", "Nairobi", "Osaka", "Perth", "Austin"}

// NewDataset makes n readings for locations locations (ids city-00,
// city-01, ...), one per location every step, from seed. The same arguments
// always give the same bytes.
func NewDataset(n, locations int, step time.Duration, seed uint64) *Dataset {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	d := &Dataset{Start: time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC), Step: step}
	type drift struct{ temp, hum, wind, press, rain, cloud float64 }
	state := make([]drift, locations)
	for i := range locations {
		name := cityNames[i%len(cityNames)]
		if i >= len(cityNames) {
			name = fmt.Sprintf("%s %d", name, i/len(cityNames)+1)
		}
		d.Locations = append(d.Locations, weather.Location{
			ID: fmt.Sprintf("city-%02d", i), Name: name,
			Lat: math.Round((rng.Float64()*140-70)*100) / 100, Lon: math.Round((rng.Float64()*360-180)*100) / 100,
			Timezone: "UTC",
		})
		state[i] = drift{temp: 5 + rng.Float64()*25, hum: 40 + rng.Float64()*50, wind: rng.Float64() * 8,
			press: 1000 + rng.Float64()*25, cloud: rng.Float64() * 100}
	}
	round := func(x float64, digits int) float64 {
		p := math.Pow10(digits)
		return math.Round(x*p) / p
	}
	clamp := func(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }
	d.Bodies = make([][]byte, 0, n)
	d.Keys = make([]string, 0, n)
	for i := range n {
		li := i % locations
		loc := d.Locations[li]
		s := &state[li]
		s.temp = clamp(s.temp+rng.NormFloat64()*0.2, -30, 45)
		s.hum = clamp(s.hum+rng.NormFloat64(), 5, 100)
		s.wind = clamp(s.wind+rng.NormFloat64()*0.6, 0, 30)
		s.press = clamp(s.press+rng.NormFloat64()*0.1, 960, 1050)
		s.rain = clamp(s.rain+rng.NormFloat64()*0.4, 0, 25)
		s.cloud = clamp(s.cloud+rng.NormFloat64()*3, 0, 100)
		v := weather.Values{}
		v.Set("temperature", round(s.temp, 1))
		v.Set("temperatureApparent", round(s.temp-s.wind*0.3, 1))
		v.Set("dewPoint", round(s.temp-(100-s.hum)/5, 1))
		v.Set("humidity", round(s.hum, 0))
		v.Set("windSpeed", round(s.wind, 2))
		if rng.IntN(50) == 0 {
			v.SetNull("windGust")
		} else {
			v.Set("windGust", round(s.wind*1.4+rng.Float64(), 2))
		}
		v.Set("windDirection", round(rng.Float64()*360, 0))
		v.Set("pressureSurfaceLevel", round(s.press-12, 2))
		v.Set("precipitationProbability", round(math.Min(100, s.rain*12), 0))
		v.Set("rainIntensity", round(s.rain, 2))
		v.Set("cloudCover", round(s.cloud, 0))
		if s.cloud < 20 {
			v.SetNull("cloudBase")
			v.SetNull("cloudCeiling")
		} else {
			v.Set("cloudBase", round(0.3+s.cloud/40, 2))
			v.Set("cloudCeiling", round(0.5+s.cloud/30, 2))
		}
		v.Set("visibility", round(16-s.rain/2, 2))
		v.Set("uvIndex", float64(rng.IntN(8)))
		v.Set("weatherCode", []float64{1000, 1100, 1101, 1001, 4000, 4001}[min(int(s.cloud/20)+int(s.rain/3), 5)])
		if i%3 == 0 {
			v.Set("snowIntensity", 0)
			v.Set("freezingRainIntensity", 0)
		}
		obs := d.Start.Add(time.Duration(i/locations) * step)
		r := weather.NewReading(loc, "tomorrowio", obs, obs.Add(time.Duration(1500+rng.IntN(3000))*time.Millisecond), v)
		body, err := r.Encode()
		if err != nil {
			panic(fmt.Sprintf("encode synthetic reading: %v", err)) // finite values by construction
		}
		d.Bodies = append(d.Bodies, body)
		d.Keys = append(d.Keys, loc.ID)
	}
	return d
}

// WithBodies returns a copy of d whose bodies are bodies (the same
// readings held elsewhere, e.g. mapped from the NDJSON file).
func (d *Dataset) WithBodies(bodies [][]byte) *Dataset {
	c := *d
	c.Bodies = bodies
	return &c
}

// Shards splits the data set as a stream of k shards would hold it: each
// location on one shard, in order, with increasing sequence numbers.
func (d *Dataset) Shards(k int) [][]stream.Record {
	out := make([][]stream.Record, k)
	for i, body := range d.Bodies {
		s := i % len(d.Locations) % k
		out[s] = append(out[s], stream.Record{
			Data: body, PartitionKey: d.Keys[i],
			SequenceNumber: fmt.Sprintf("4960000000000000000000000000%012d", i),
			ArrivedAt:      d.Start.Add(time.Duration(i/len(d.Locations))*d.Step + 5*time.Second),
		})
	}
	return out
}

// WriteNDJSON writes the readings, one per line, to path.
func (d *Dataset) WriteNDJSON(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write ndjson: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for _, b := range d.Bodies {
		w.Write(b)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write ndjson %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write ndjson %s: %w", path, err)
	}
	return nil
}
