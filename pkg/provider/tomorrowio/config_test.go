package tomorrowio_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/weatherd/weatherd/pkg/check"
	"github.com/weatherd/weatherd/pkg/provider/httpx"
	"github.com/weatherd/weatherd/pkg/provider/tomorrowio"
)

func TestConfig_Validate(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte("k\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := tomorrowio.Config{BaseURL: "https://api.tomorrow.io/v4", Units: "metric", MaxBodyBytes: 1 << 20, Attempts: 3,
		Limits: httpx.Limits{PerSecond: 3, PerHour: 25, PerDay: 500}}
	for _, tc := range []struct {
		name string
		edit func(c *tomorrowio.Config)
		want []string
	}{
		{"Good", func(c *tomorrowio.Config) { c.APIKey = "k" }, nil},
		{"KeyFile", func(c *tomorrowio.Config) { c.APIKeyFile = keyFile }, nil},
		{"Both", func(c *tomorrowio.Config) { c.APIKey = "k"; c.APIKeyFile = keyFile }, []string{
			"poller.tomorrowio.api_key_file: set either poller.tomorrowio.api_key or poller.tomorrowio.api_key_file, not both"}},
		{"MissingFile", func(c *tomorrowio.Config) { c.APIKeyFile = "/nonexistent/key" }, []string{
			`poller.tomorrowio.api_key_file: cannot read "/nonexistent/key": stat /nonexistent/key: no such file or directory`}},
		{"Bad", func(c *tomorrowio.Config) {
			c.BaseURL = "api.tomorrow.io"
			c.Units = "si"
			c.MaxBodyBytes = 0
			c.Attempts = 0
			c.Limits.PerDay = -1
			c.Limits.MaxRetryAfter = -time.Minute
		}, []string{
			`poller.tomorrowio.base_url: got "api.tomorrow.io", want an http(s) URL such as https://api.example.com/v1`,
			`poller.tomorrowio.units: got "si", want "metric" or "imperial"`,
			"poller.tomorrowio.max_body_bytes: got 0, want at least 1024",
			"poller.tomorrowio.attempts: got 0, want 1 to 10",
			"poller.tomorrowio.limits.per_day: got -1, want 0 (unlimited) or more",
			"poller.tomorrowio.limits.max_retry_after: got -1m0s, want a positive duration (0: default 1h0m0s)",
		}},
		{"KeyInURL", func(c *tomorrowio.Config) { c.BaseURL = "https://api.tomorrow.io/v4?apikey=SECRET" }, []string{
			`poller.tomorrowio.base_url: got "https://api.tomorrow.io/v4?apikey=SECRET", want no query or credentials in the base URL`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			var ps check.Problems
			c.Validate("poller.tomorrowio", &ps)
			got := problems(ps)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func problems(ps check.Problems) []string {
	err := ps.Err()
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}
