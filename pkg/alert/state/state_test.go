package state_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/weatherd/weatherd/pkg/alert/state"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
)

func TestStore(t *testing.T) {
	stores := map[string]func(t *testing.T) state.Store{
		"Memory": func(*testing.T) state.Store { return state.NewMemory() },
		"DynamoDB": func(t *testing.T) state.Store {
			return state.NewDynamoDB(emulator.DynamoDB(t), emulator.Name(t, "alert-state"))
		},
	}
	for name, mk := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := mk(t)
			if err := s.Init(ctx); err != nil {
				t.Fatal(err)
			}
			if err := s.Init(ctx); err != nil { // idempotent
				t.Fatal(err)
			}
			at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
			a := state.Alert{Location: "toronto", Rule: "gusty", Phase: "firing", FiredAt: at, LastEval: at, Seq: 1,
				Outbox: []state.Entry{{ID: "toronto/gusty/1/sms", Channel: "sms", Event: state.Event{Kind: "firing", Values: map[string]float64{"windGust": 25}}}}}
			if err := s.Save(ctx, &a); err != nil || a.Version != 1 {
				t.Fatalf("first Save: %v, version %d", err, a.Version)
			}
			stale := a
			stale.Version = 0
			if err := s.Save(ctx, &stale); !errors.Is(err, state.ErrConflict) {
				t.Fatalf("Save of a new alert over a stored one = %v, want ErrConflict", err)
			}
			b := a.Clone()
			b.Outbox = nil
			if err := s.Save(ctx, &b); err != nil || b.Version != 2 {
				t.Fatalf("second Save: %v, version %d", err, b.Version)
			}
			if err := s.Save(ctx, &a); !errors.Is(err, state.ErrConflict) {
				t.Fatalf("Save at an old version = %v, want ErrConflict", err)
			}
			got, ok, err := s.Get(ctx, "toronto", "gusty")
			if err != nil || !ok || got.Version != 2 || len(got.Outbox) != 0 || !got.FiredAt.Equal(at) {
				t.Fatalf("Get = %+v, %v, %v", got, ok, err)
			}
			c := state.Alert{Location: "toronto", Rule: "rainy", Phase: "pending", Outbox: a.Outbox}
			if err := s.Save(ctx, &c); err != nil {
				t.Fatal(err)
			}
			all, err := s.Load(ctx, "toronto")
			if err != nil || len(all) != 2 || all[0].Rule != "gusty" || all[1].Rule != "rainy" {
				t.Fatalf("Load = %+v, %v", all, err)
			}
			pending, err := s.Pending(ctx)
			if err != nil || len(pending) != 1 || pending[0].Rule != "rainy" || pending[0].Outbox[0].Event.Values["windGust"] != 25 {
				t.Fatalf("Pending = %+v, %v", pending, err)
			}
			if _, ok, err := s.Get(ctx, "lisbon", "gusty"); ok || err != nil {
				t.Fatalf("Get of a missing alert = %v, %v", ok, err)
			}
		})
	}
}

func TestStore_Silences(t *testing.T) {
	stores := map[string]func(t *testing.T) state.Store{
		"Memory": func(*testing.T) state.Store { return state.NewMemory() },
		"DynamoDB": func(t *testing.T) state.Store {
			return state.NewDynamoDB(emulator.DynamoDB(t), emulator.Name(t, "alert-state"))
		},
	}
	for name, mk := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := mk(t)
			if err := s.Init(ctx); err != nil {
				t.Fatal(err)
			}
			at := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
			a := state.Alert{Location: "toronto", Rule: "gusty", Phase: "firing", Ack: &state.Ack{By: "ops", At: at}, Suppressed: 2, Unsent: true}
			if err := s.Save(ctx, &a); err != nil {
				t.Fatal(err)
			}
			older := state.Silence{ID: "b1", Matchers: state.Matchers{Rule: "gusty|rainy"}, StartsAt: at, EndsAt: at.Add(time.Hour), CreatedAt: at, CreatedBy: "ops"}
			newer := state.Silence{ID: "a2", Matchers: state.Matchers{Location: "tor*"}, StartsAt: at, EndsAt: at.Add(time.Hour), CreatedAt: at.Add(time.Minute)}
			for _, sil := range []*state.Silence{&newer, &older} {
				if err := s.SaveSilence(ctx, sil); err != nil || sil.Version != 1 {
					t.Fatalf("SaveSilence %s: %v, version %d", sil.ID, err, sil.Version)
				}
			}
			stale := older
			stale.Version = 0
			if err := s.SaveSilence(ctx, &stale); !errors.Is(err, state.ErrConflict) {
				t.Fatalf("SaveSilence of a new silence over a stored one = %v, want ErrConflict", err)
			}
			older.Suppressed = 3
			if err := s.SaveSilence(ctx, &older); err != nil || older.Version != 2 {
				t.Fatalf("SaveSilence update: %v, version %d", err, older.Version)
			}
			got, err := s.Silences(ctx)
			if err != nil || len(got) != 2 || got[0].ID != "b1" || got[1].ID != "a2" || got[0].Suppressed != 3 || got[0].Version != 2 ||
				!got[0].Matchers.Match("rainy", "lisbon", "info") || got[1].Matchers.Match("rainy", "lisbon", "info") {
				t.Fatalf("Silences = %+v, %v", got, err)
			}
			all, err := s.All(ctx)
			if err != nil || len(all) != 1 || all[0].Rule != "gusty" || all[0].Ack == nil || all[0].Ack.By != "ops" || all[0].Suppressed != 2 || !all[0].Unsent {
				t.Fatalf("All = %+v, %v (silences must not be listed as alerts)", all, err)
			}
			stale = older
			stale.Version = 1
			if err := s.DeleteSilence(ctx, stale); !errors.Is(err, state.ErrConflict) {
				t.Fatalf("DeleteSilence of an older version = %v, want ErrConflict", err)
			}
			if err := s.DeleteSilence(ctx, older); err != nil {
				t.Fatalf("DeleteSilence: %v", err)
			}
			if err := s.DeleteSilence(ctx, older); err != nil {
				t.Fatalf("DeleteSilence of a silence already gone = %v, want nil", err)
			}
			if got, err := s.Silences(ctx); err != nil || len(got) != 1 || got[0].ID != "a2" {
				t.Fatalf("Silences after deleting b1 = %+v, %v", got, err)
			}
		})
	}
}
