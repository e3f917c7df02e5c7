package httpx

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"
)

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestReadCapped(t *testing.T) {
	for _, tc := range []struct {
		size, limit int
		wantErr     bool
		wantRead    int
	}{
		{size: 100, limit: 100, wantRead: 100},
		{size: 101, limit: 100, wantErr: true, wantRead: 101},
		{size: 10 << 20, limit: 1 << 20, wantErr: true, wantRead: 1<<20 + 1},
	} {
		r := &countingReader{r: bytes.NewReader(make([]byte, tc.size))}
		b, err := readCapped(r, int64(tc.limit))
		if tc.wantErr != errors.Is(err, errTooBig) {
			t.Fatalf("size %d limit %d: err %v", tc.size, tc.limit, err)
		}
		if !tc.wantErr && len(b) != tc.size {
			t.Fatalf("read %d bytes", len(b))
		}
		if r.n != tc.wantRead {
			t.Fatalf("size %d limit %d: read %d bytes from the body, want %d", tc.size, tc.limit, r.n, tc.wantRead)
		}
	}
}

func TestLimiter_take(t *testing.T) {
	at := func(h, m, s int) time.Time { return time.Date(2026, 11, 26, h, m, s, 0, time.UTC) }
	t.Run("WindowsResetOnTheHourAndAtMidnightUTC", func(t *testing.T) {
		l := newLimiter(Limits{PerHour: 2, PerDay: 3})
		for _, now := range []time.Time{at(22, 58, 0), at(22, 59, 0)} {
			if r, why := l.take(now); !r.IsZero() {
				t.Fatalf("%v: refused: %s", now, why)
			}
		}
		if r, why := l.take(at(22, 59, 59)); !r.Equal(at(23, 0, 0)) || why != "the plan's 2 calls per hour are used" {
			t.Fatalf("got %v %q", r, why)
		}
		if r, _ := l.take(at(23, 0, 0)); !r.IsZero() {
			t.Fatal("new hour: refused")
		}
		if r, why := l.take(at(23, 10, 0)); !r.Equal(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)) || why != "the plan's 3 calls per day are used" {
			t.Fatalf("got %v %q", r, why)
		}
		if r, _ := l.take(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)); !r.IsZero() {
			t.Fatal("new day: refused")
		}
	})
	t.Run("RemoteCountsCorrectLocal", func(t *testing.T) {
		l := newLimiter(Limits{PerHour: 25})
		h := http.Header{}
		h.Set("X-RateLimit-Remaining-Hour", "1")
		l.observe(h, at(10, 0, 0))
		if got := l.remaining(at(10, 0, 1))[windowHour]; got != 1 {
			t.Fatalf("remaining %d, want 1", got)
		}
		if r, _ := l.take(at(10, 0, 1)); !r.IsZero() {
			t.Fatal("refused with 1 left")
		}
		if r, why := l.take(at(10, 0, 2)); !r.Equal(at(11, 0, 0)) || why != "the API reports no calls left this hour" {
			t.Fatalf("got %v %q", r, why)
		}
		if got := l.remaining(at(11, 0, 0))[windowHour]; got != 25 {
			t.Fatalf("next hour remaining %d, want 25", got)
		}
	})
	t.Run("Unlimited", func(t *testing.T) {
		l := newLimiter(Limits{})
		for i := 0; i < 10000; i++ {
			if r, _ := l.take(at(10, 0, 0)); !r.IsZero() {
				t.Fatal("refused")
			}
		}
		if got := l.remaining(at(10, 0, 0)); got[windowDay] != -1 {
			t.Fatalf("remaining %v, want unknown", got)
		}
	})
}
