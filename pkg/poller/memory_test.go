package poller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/weather"
)

// blobStore is a StateStore in memory, the shape *leader.Elector has.
type blobStore struct {
	mu    sync.Mutex
	blob  []byte
	saves int
}

func (s *blobStore) LoadState(context.Context) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blob, nil
}

func (s *blobStore) SaveState(_ context.Context, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blob, s.saves = b, s.saves+1
	return nil
}

// saveCount is how many times SaveState ran; the poller saves from its own
// goroutine, so reads take the lock too.
func (s *blobStore) saveCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saves
}

// saved is the last blob saved.
func (s *blobStore) saved() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blob
}

// runUntil runs p until cond holds, then stops it.
func runUntil(t *testing.T, p *Poller, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !cond() {
		t.Fatal("condition not reached in 10s")
	}
}

// TestPoller_MemorySurvivesALeaderChange: a second poller (a new leader or a
// restart) does not emit the observations the first one delivered.
func TestPoller_MemorySurvivesALeaderChange(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	var advance atomic.Bool
	fetch := func(loc weather.Location, n int) (weather.Reading, error) {
		obs := at
		if advance.Load() {
			obs = at.Add(time.Minute)
		}
		return weather.NewReading(loc, "scripted", obs, time.Now(), weather.Values{}), nil
	}
	store := &blobStore{}
	out := &recorder{}
	first, _, _ := newPoller(t, testConfig("@every 1s"), locs(3), &scripted{fetch: fetch}, out)
	WithStateStore(store)(first)
	runUntil(t, first, func() bool { return out.count() == 3 && store.saveCount() > 0 })
	if blob := store.saved(); !strings.Contains(string(blob), `"loc-02":"2026-11-27T10:00:00Z"`) {
		t.Fatalf("saved state = %s", blob)
	}

	second, _, secondLogs := newPoller(t, testConfig("@every 1s"), locs(3), &scripted{fetch: fetch}, out)
	WithStateStore(store)(second)
	prov := second.prov.(*scripted)
	runUntil(t, second, func() bool {
		return len(prov.callsFor("loc-00")) >= 1 && strings.Contains(secondLogs.String(), "msg=poll ")
	})
	if out.count() != 3 {
		t.Errorf("the second poller emitted %d readings the first had delivered", out.count()-3)
	}
	if !strings.Contains(secondLogs.String(), "loaded the last observations") {
		t.Errorf("no load logged:\n%s", secondLogs)
	}
	advance.Store(true)
	runUntil(t, second, func() bool { return out.count() == 6 })
}

// TestPoller_MemoryWaitsForDelivery: nothing is saved while the producer
// still holds readings, so a crash can repeat an observation but not skip it.
func TestPoller_MemoryWaitsForDelivery(t *testing.T) {
	store := &blobStore{}
	out := &recorder{}
	out.held.Store(true)
	p, _, _ := newPoller(t, testConfig("@every 1s"), locs(2), &scripted{fetch: everyObservation(time.Now())}, out)
	WithStateStore(store)(p)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	// Asked twice after the readings went out: the poller came to the save
	// point, was told "not delivered", and came back without saving.
	testkit.WaitFor(t, "the poller to ask twice whether its tick was delivered", 10*time.Second, 10*time.Millisecond, func() (bool, string) {
		return out.count() >= 2 && out.asked.Load() >= 2, fmt.Sprintf("produced %d, asked %d times", out.count(), out.asked.Load())
	})
	if saves := store.saveCount(); saves != 0 {
		t.Fatalf("saved %d times before delivery", saves)
	}
	out.held.Store(false)
	testkit.WaitFor(t, "a save once the tick is delivered", 10*time.Second, 10*time.Millisecond, func() (bool, string) {
		return store.saveCount() > 0, fmt.Sprintf("%d saves", store.saveCount())
	})
}

// failingStore refuses everything: the poller polls on, forgetting nothing.
type failingStore struct{}

func (failingStore) LoadState(context.Context) ([]byte, error) {
	return nil, errors.New("dynamodb down")
}
func (failingStore) SaveState(context.Context, []byte) error { return errors.New("dynamodb down") }

func TestPoller_MemoryStoreDownStillPolls(t *testing.T) {
	out := &recorder{}
	p, _, logs := newPoller(t, testConfig("@every 1s"), locs(2), &scripted{fetch: everyObservation(time.Now())}, out)
	WithStateStore(failingStore{})(p)
	runUntil(t, p, func() bool { return out.count() >= 2 })
	if !strings.Contains(logs.String(), "could not load the last observations") {
		t.Errorf("load failure not logged:\n%s", logs)
	}
}
