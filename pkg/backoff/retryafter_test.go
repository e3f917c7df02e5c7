package backoff

import (
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 26, 23, 41, 2, 0, time.UTC)
	for _, tc := range []struct {
		v     string
		limit time.Duration
		want  time.Time
		ok    bool
	}{
		{"120", time.Hour, now.Add(2 * time.Minute), true},
		{"0", time.Hour, now, true},
		{" 7 ", time.Hour, now.Add(7 * time.Second), true},
		{"Fri, 27 Nov 2026 00:00:00 GMT", time.Hour, time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), true},
		{"3600", time.Hour, now.Add(time.Hour), true},
		{"3601", time.Hour, now.Add(time.Hour), true},
		{"864000", time.Hour, now.Add(time.Hour), true}, // 10 days
		{"864000", 30 * time.Minute, now.Add(30 * time.Minute), true},
		{"99999999999999999999", time.Hour, time.Time{}, false}, // not an int64
		{"9223372036854775807", time.Hour, now.Add(time.Hour), true},
		{"Sat, 05 Dec 2026 23:41:02 GMT", time.Hour, now.Add(time.Hour), true},
		{"", time.Hour, time.Time{}, false},
		{"soon", time.Hour, time.Time{}, false},
		{"-5", time.Hour, time.Time{}, false},
	} {
		got, ok := RetryAfter(tc.v, now, tc.limit)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("%q limit %s: got %v %v, want %v %v", tc.v, tc.limit, got, ok, tc.want, tc.ok)
		}
	}
}
