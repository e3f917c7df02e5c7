package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weatherd/weatherd/pkg/stream"
	"github.com/weatherd/weatherd/pkg/weather"
)

// forecastRecord is the record seq carrying loc's forecast issued at
// t0+minute, with steps 1 and 2 hours ahead.
func forecastRecord(t *testing.T, seq int, loc string, minute int) stream.Record {
	t.Helper()
	issued := t0.Add(time.Duration(minute) * time.Minute)
	var steps []weather.ForecastStep
	for h := 1; h <= 2; h++ {
		v := weather.Values{}
		v.Set("windGust", 10*float64(h))
		steps = append(steps, weather.ForecastStep{ValidAt: issued.Add(time.Duration(h) * time.Hour), Values: v})
	}
	f := weather.NewForecast(weather.Location{ID: loc, Name: loc}, "simulated", issued, issued, steps)
	data, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return stream.Record{Data: data, PartitionKey: loc, SequenceNumber: fmt.Sprintf("%020d", seq), ArrivedAt: issued}
}

// bothObserver sees readings and forecasts, like the alert engine with
// forecast rules, and records the event ids in the order it saw them.
type bothObserver struct{ seen []string }

func (o *bothObserver) Observe(_ context.Context, rs []weather.Reading) error {
	for _, r := range rs {
		o.seen = append(o.seen, r.EventID)
	}
	return nil
}

func (o *bothObserver) ObserveForecast(_ context.Context, f weather.Forecast) error {
	o.seen = append(o.seen, f.EventID)
	return nil
}

// TestProcessor_DispatchesForecasts: forecasts among readings reach the
// lake with them and the alert engine in stream order; a forecast issued at
// a reading's observation time is not that reading's duplicate.
func TestProcessor_DispatchesForecasts(t *testing.T) {
	r := newDedupeRig()
	o := &bothObserver{}
	r.factory.Alerts = o // a ForecastObserver too: Forecasts unset uses it
	p := r.start(t, stream.Position{Initial: "TRIM_HORIZON"})
	batch := []stream.Record{obs(t, 1, "a", 0), forecastRecord(t, 2, "a", 0), obs(t, 3, "a", 1), obs(t, 4, "b", 1), forecastRecord(t, 5, "b", 0)}
	if err := p.ProcessRecords(context.Background(), batch, &stateCheckpoints{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"a/2026-11-27T09:00:00Z", "a/forecast/2026-11-27T09:00:00Z", "a/2026-11-27T09:01:00Z", "b/2026-11-27T09:01:00Z", "b/forecast/2026-11-27T09:00:00Z"}
	if !slices.Equal(o.seen, want) {
		t.Errorf("alert engine saw %q, want %q", o.seen, want)
	}
	if got := strings.Join(r.sink.seqs, " "); got != seqs(1, 2, 3, 4, 5) {
		t.Errorf("records handed to the lake: %s", got)
	}
	if got := testutil.ToFloat64(r.factory.Metrics.records); got != 5 {
		t.Errorf("weatherd_consumer_records_total = %v, want 5", got)
	}

	t.Run("WithoutForecastObserver", func(t *testing.T) {
		r := newDedupeRig() // Alerts sees readings only
		p := r.start(t, stream.Position{})
		if err := p.ProcessRecords(context.Background(), batch, &stateCheckpoints{}); err != nil {
			t.Fatal(err)
		}
		if want := []string{"a/2026-11-27T09:00:00Z", "a/2026-11-27T09:01:00Z", "b/2026-11-27T09:01:00Z"}; !slices.Equal(r.seen, want) {
			t.Errorf("alert engine saw %q, want %q", r.seen, want)
		}
		if got := strings.Join(r.sink.seqs, " "); got != seqs(1, 2, 3, 4, 5) {
			t.Errorf("records handed to the lake: %s", got)
		}
	})
}

// TestDedupe_Forecasts: a forecast put twice (same event_id) is dropped,
// before and after a resume from the saved state, like a reading.
func TestDedupe_Forecasts(t *testing.T) {
	r := newDedupeRig()
	o := &bothObserver{}
	r.factory.Alerts = o
	p := r.start(t, stream.Position{Initial: "TRIM_HORIZON"})
	ctx := context.Background()
	cp := &stateCheckpoints{}
	batch := []stream.Record{forecastRecord(t, 1, "a", 0), forecastRecord(t, 2, "a", 60), forecastRecord(t, 3, "a", 0)}
	if err := p.ProcessRecords(ctx, batch, cp); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.sink.seqs, " "); got != seqs(1, 2) {
		t.Errorf("records handed to the lake: %s, want %s", got, seqs(1, 2))
	}
	if err := r.sink.cp.Checkpoint(ctx, seqs(3)); err != nil {
		t.Fatal(err)
	}
	var st savedState
	if err := json.Unmarshal([]byte(cp.states[0]), &st); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(st.Recent), fmt.Sprintf("map[forecast/a:[%d %d]]", t0.Unix(), t0.Add(time.Hour).Unix()); got != want {
		t.Errorf("saved state %s, want %s", got, want)
	}

	r2 := newDedupeRig()
	o2 := &bothObserver{}
	r2.factory.Forecasts = o2
	p2 := r2.start(t, stream.Position{AfterSequence: seqs(3), State: []byte(cp.states[0])})
	// Put again by the next leader (dropped), then a new one.
	if err := p2.ProcessRecords(ctx, []stream.Record{forecastRecord(t, 4, "a", 60), forecastRecord(t, 5, "a", 120)}, &stateCheckpoints{}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a/forecast/2026-11-27T11:00:00Z"}; !slices.Equal(o2.seen, want) {
		t.Errorf("after the resume the alert engine saw %q, want %q", o2.seen, want)
	}
	if got := testutil.ToFloat64(r.factory.Metrics.duplicates) + testutil.ToFloat64(r2.factory.Metrics.duplicates); got != 2 {
		t.Errorf("duplicates = %v, want 2", got)
	}
}

// TestProcessor_InvalidForecasts: a record with the forecast schema that
// breaks the forecast contract goes to the lake as poison, with a reason
// that says forecast, and the alert engine never sees it.
func TestProcessor_InvalidForecasts(t *testing.T) {
	r := newDedupeRig()
	o := &bothObserver{}
	r.factory.Alerts = o
	var got []stream.Item
	r.factory.Lake = func(string, string) ShardSink { return itemSink{&got} }
	p := r.start(t, stream.Position{})
	bad := forecastRecord(t, 1, "a", 0)
	bad.Data = []byte(strings.Replace(string(bad.Data), `"event_id":"a/forecast/`, `"event_id":"a/`, 1))
	future := forecastRecord(t, 2, "a", 0)
	future.ArrivedAt = t0.Add(-3 * time.Hour)
	if err := p.ProcessRecords(context.Background(), []stream.Record{bad, future}, &stateCheckpoints{}); err != nil {
		t.Fatal(err)
	}
	if len(o.seen) != 0 {
		t.Errorf("alert engine saw %q", o.seen)
	}
	wantErrs := []string{
		`invalid forecast event: event_id "a/2026-11-27T09:00:00Z" does not match location.id and issued_at`,
		"invalid forecast event: issued_at 2026-11-27T09:00:00Z is 3h0m0s ahead of the arrival time 2026-11-27T06:00:00Z (at most 1h0m0s allowed)",
	}
	if len(got) != 2 {
		t.Fatalf("lake got %d items, want 2", len(got))
	}
	for i, it := range got {
		if it.Err == nil || it.Err.Error() != wantErrs[i] || it.Forecast != nil {
			t.Errorf("item %d: err %v, forecast %v; want %q", i, it.Err, it.Forecast, wantErrs[i])
		}
	}
	if c := weather.InvalidCode(got[1].Err); c != weather.InvalidFuture {
		t.Errorf("future forecast code %q", c)
	}
}

// itemSink keeps copies of the items it is given.
type itemSink struct{ items *[]stream.Item }

func (s itemSink) Add(_ context.Context, items []stream.Item, _ stream.Checkpointer) error {
	*s.items = append(*s.items, items...)
	return nil
}
func (itemSink) Tick(context.Context, stream.Checkpointer) error  { return nil }
func (itemSink) Flush(context.Context, stream.Checkpointer) error { return nil }
func (itemSink) Discard()                                         {}

// TestProcessor_ForecastsToTheLake: through the real lake, a forecast
// lands in the forecast tree, its reading neighbours in gold/, under one
// checkpoint.
func TestProcessor_ForecastsToTheLake(t *testing.T) {
	rg := newRig(t)
	p := rg.factory.New()
	ctx := context.Background()
	if err := p.Initialize(ctx, "shardId-000000000001", stream.Position{Initial: "TRIM_HORIZON"}); err != nil {
		t.Fatal(err)
	}
	cp := &checkpoints{}
	batch := []stream.Record{record(t, 1, "sao-paulo", t0, 5), forecastRecord(t, 2, "sao-paulo", 0)}
	if err := p.ProcessRecords(ctx, batch, cp); err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(ctx, stream.Requested, cp); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(cp.seqs) != "[00000000000000000002]" {
		t.Errorf("checkpoints = %v", cp.seqs)
	}
	want := []string{
		"forecast/gold/year=2026/month=11/day=27/hour=09/weather-readings-shardId-000000000001-00000000000000000002.parquet",
		"forecast/raw/year=2026/month=11/day=27/hour=09/weather-readings-shardId-000000000001-00000000000000000002.json.gz",
	}
	if got := files(t, rg.dir, "forecast"); !slices.Equal(got, want) {
		t.Errorf("forecast objects %q, want %q", got, want)
	}
	if got := files(t, rg.dir, "gold"); len(got) != 1 || files(t, rg.dir, "errors") != nil {
		t.Errorf("gold objects %q, errors %q", got, files(t, rg.dir, "errors"))
	}
}
