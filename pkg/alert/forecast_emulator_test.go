package alert

import (
	"context"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weatherd/weatherd/pkg/alert/state"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
	"github.com/weatherd/weatherd/pkg/weather"
)

func dynamoForecastConfig(tb testing.TB) Config {
	cfg := testConfig(fcRule("wind-ahead", "windGust >= 20", 12*time.Hour))
	cfg.State = StateConfig{Driver: "dynamodb", Table: emulator.Name(tb, "alert-state")}
	return cfg
}

// TestEngine_DynamoDBForecastTwoEngines: two engines given the same
// forecasts (a lease steal) record and send each forecast notice once
// between them.
func TestEngine_DynamoDBForecastTwoEngines(t *testing.T) {
	db := emulator.DynamoDB(t)
	cfg := dynamoForecastConfig(t)
	hs := []*harness{newHarness(t, cfg, Deps{DynamoDB: db}), newHarness(t, cfg, Deps{DynamoDB: db})}
	var fs []weather.Forecast
	for i := 0; i < 8; i++ {
		issued := time.Duration(i) * 10 * time.Minute
		switch i % 4 {
		case 0, 1: // the front at 14:00 UTC, twice (the second a refresh)
			fs = append(fs, fcast("toronto", issued, "windGust", 5, 5, 25, 5), fcast("sao-paulo", issued, "windGust", 5, 5, 5, 5))
		default: // gone
			fs = append(fs, fcast("toronto", issued, "windGust", 5, 5, 5, 5), fcast("sao-paulo", issued, "windGust", 5, 25, 5, 5))
		}
	}
	var wg sync.WaitGroup
	for _, h := range hs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.forecast(t, fs...)
		}()
	}
	wg.Wait()
	for _, h := range hs {
		h.e.Tick(context.Background())
	}
	var all []string
	counts := map[string]int{}
	for _, h := range hs {
		all = append(all, h.rec["rec"].lines()...)
		for _, k := range []string{kindPredicted, kindForecastCancelled, kindUpdated} {
			counts[k] += h.transitions("wind-ahead", k)
		}
	}
	sort.Strings(all)
	// toronto: predicted at 0 and 40, cancelled at 20 and 60; sao-paulo the
	// reverse from 20 (its last prediction is not cancelled).
	want := []string{
		"cancelled wind-ahead sao-paulo", "cancelled wind-ahead toronto", "cancelled wind-ahead toronto",
		"predicted wind-ahead sao-paulo", "predicted wind-ahead sao-paulo",
		"predicted wind-ahead toronto", "predicted wind-ahead toronto",
	}
	if !reflect.DeepEqual(all, want) {
		t.Errorf("messages (%d):\n got %q\nwant %q", len(all), all, want)
	}
	if want := map[string]int{kindPredicted: 4, kindForecastCancelled: 3, kindUpdated: 0}; !reflect.DeepEqual(counts, want) {
		t.Errorf("transitions recorded %v, want %v", counts, want)
	}
}

// TestEngine_DynamoDBForecastRestart: an engine records a prediction but
// cannot send it and stops; the next engine on the table ignores the
// replayed forecast and sends the notice exactly once, after the first
// engine's claim expired.
func TestEngine_DynamoDBForecastRestart(t *testing.T) {
	ctx := context.Background()
	db := emulator.DynamoDB(t)
	cfg := dynamoForecastConfig(t)
	h1 := newHarness(t, cfg, Deps{DynamoDB: db})
	h1.rec["rec"].fail = 1 << 30
	f := fcast("toronto", 0, "windGust", 5, 25, 5)
	h1.forecast(t, f)
	if got := h1.transitions("wind-ahead", kindPredicted); got != 1 {
		t.Fatalf("first engine: %d predictions", got)
	}

	h2 := newHarness(t, cfg, Deps{DynamoDB: db})
	h2.forecast(t, f) // the uncheckpointed forecast comes again
	h2.e.Tick(ctx)
	if got := h2.rec["rec"].lines(); len(got) != 0 || h2.transitions("wind-ahead", kindPredicted) != 0 {
		t.Fatalf("before the claim expired: messages %q, predictions %d", got, h2.transitions("wind-ahead", kindPredicted))
	}
	h2.clk.Set(t0.Add(claimTTL))
	h2.e.Tick(ctx)
	h2.e.Tick(ctx)
	h2.forecast(t, f, fcast("toronto", 10*time.Minute, "windGust", 5, 26, 5)) // the same onset: nothing new
	h2.e.Tick(ctx)
	if got, want := h2.rec["rec"].lines(), []string{"predicted wind-ahead toronto"}; !reflect.DeepEqual(got, want) {
		t.Errorf("messages after restart = %q, want %q", got, want)
	}
	pending, err := state.NewDynamoDB(db, cfg.State.Table).Pending(ctx)
	if err != nil || len(pending) != 0 {
		t.Errorf("stored outbox after delivery: %d alerts, %v", len(pending), err)
	}
	a, ok, err := state.NewDynamoDB(db, cfg.State.Table).Get(ctx, "toronto", "wind-ahead")
	if err != nil || !ok || a.Phase != phasePredicted || !a.Onset.Equal(t0.Add(time.Hour)) {
		t.Errorf("stored alert %+v (%v, %v), want predicted with onset %s", a, ok, err, t0.Add(time.Hour))
	}
}

// TestEngine_SNSForecastNoticeAndCancellation is the end-to-end path on
// the emulators: a forecast with a front 2 h ahead gives one SNS notice
// with the onset in the location's time zone; the next forecast without
// the front gives one cancellation.
func TestEngine_SNSForecastNoticeAndCancellation(t *testing.T) {
	ctx := context.Background()
	client, arn, sub := newTopic(t)
	cfg := testConfig(fcRule("wind-ahead", "windGust >= 17.2", 12*time.Hour, summary("Strong wind"),
		func(r *RuleConfig) { r.Channels = []string{"phone"} }))
	cfg.Channels = map[string]ChannelConfig{"phone": {Type: "sns", TopicARN: arn, Format: "both"}}
	clk := &clock{t: t0}
	reg := newRegistry()
	e, err := New(cfg, testLocations, Deps{SNS: client, Now: clk.Now}, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Toronto is UTC-5 in November: the front at 14:00 UTC comes at 09:00.
	front := fcast("toronto", 0, "windGust", 6, 9, 22.5, 12)
	for range 2 { // a replay is not a second notice
		if err := e.ObserveForecast(ctx, front); err != nil {
			t.Fatal(err)
		}
		e.Tick(ctx)
	}
	got := sub.wait(t, 1)
	checkSNS(t, got, arn, []snsWant{{
		subject: "[WARNING] Strong wind expected in Toronto at 09:00",
		text: `Strong wind expected in Toronto at 09:00 (in 2 h): gusts up to 81 km/h.

Location:  Toronto (toronto)
Rule:      wind-ahead, severity warning
Condition: windGust >= 17.2
Forecast:  issued 2026-11-26 12:00 UTC
Onset:     2026-11-26 14:00 UTC (Thu 09:00 local time)
`,
		sms:   "WARNING: Strong wind expected in Toronto at 09:00 (in 2 h): gusts up to 81 km/h",
		attrs: map[string]string{"severity": "warning", "rule": "wind-ahead", "location": "toronto", "state": "predicted", "notification_id": "toronto/wind-ahead/1/phone"},
	}})
	clear := fcast("toronto", time.Hour, "windGust", 6, 9, 12)
	if err := e.ObserveForecast(ctx, clear); err != nil {
		t.Fatal(err)
	}
	e.Tick(ctx)
	got = sub.wait(t, 2)
	checkSNS(t, got[1:], arn, []snsWant{{
		subject: "[CANCELLED] Strong wind no longer expected in Toronto",
		text: `Strong wind no longer expected in Toronto (was forecast for 09:00).

Location:  Toronto (toronto)
Rule:      wind-ahead, severity warning
Condition: windGust >= 17.2
Forecast:  issued 2026-11-26 13:00 UTC
`,
		sms:   "Strong wind no longer expected in Toronto (was forecast for 09:00)",
		attrs: map[string]string{"severity": "warning", "rule": "wind-ahead", "location": "toronto", "state": "cancelled", "notification_id": "toronto/wind-ahead/2/phone"},
	}})
	if n := int(testGauge(e.m.pending)); n != 0 {
		t.Errorf("outbox = %d after delivery, want 0", n)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(got[0].Message), &body); err != nil || !strings.Contains(body["email"], "Toronto at 09:00") {
		t.Errorf("email text %q (%v)", body["email"], err)
	}
}
