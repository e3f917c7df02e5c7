package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoad_AWSTimeouts(t *testing.T) {
	t.Run("Override", func(t *testing.T) {
		cfg, err := Load(Source{Path: writeFile(t, "aws:\n  timeouts:\n    dynamodb: 2s\n"), Explicit: true, Env: envOf(map[string]string{"WEATHERD_AWS_TIMEOUTS_GET_RECORDS": "3s"})})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.AWS.Timeouts.DynamoDB != 2*time.Second || cfg.AWS.Timeouts.GetRecords != 3*time.Second || cfg.AWS.Timeouts.PutObject != 60*time.Second {
			t.Errorf("timeouts = %+v, want dynamodb 2s, get_records 3s, put_object the default", cfg.AWS.Timeouts)
		}
	})
	t.Run("NotPositive", func(t *testing.T) {
		_, err := Load(Source{Path: writeFile(t, "aws:\n  timeouts:\n    response_header: 0s\n    publish: -1s\n"), Explicit: true, Env: envOf(nil)})
		got := problems(t, err)
		want := []string{
			"aws.timeouts.response_header: got 0s, want a positive duration",
			"aws.timeouts.publish: got -1s, want a positive duration",
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("problems %q lack %q", got, w)
			}
		}
	})
	t.Run("UnknownKey", func(t *testing.T) {
		_, err := Load(Source{Path: writeFile(t, "aws:\n  timeouts:\n    renew: 1s\n"), Explicit: true, Env: envOf(nil)})
		if got := problems(t, err); len(got) != 1 || !strings.HasPrefix(got[0], "aws.timeouts.renew") {
			t.Errorf("problems = %q, want one naming aws.timeouts.renew", got)
		}
	})
}
