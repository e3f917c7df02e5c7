package leader_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/weatherd/weatherd/pkg/check"
	"github.com/weatherd/weatherd/pkg/config"
	"github.com/weatherd/weatherd/pkg/leader"
)

// The poller.leader section is validated by leader.Config; these cases
// pin its key paths and messages, and the embedded defaults.
func TestLeaderConfig_Validate(t *testing.T) {
	def, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	wantDefault := leader.Config{Enabled: false, Table: "weatherd-leader", Name: "poller", LeaseDuration: 10 * time.Second, RenewInterval: 3 * time.Second}
	if def.Poller.Leader != wantDefault {
		t.Errorf("config.yaml poller.leader = %+v, want %+v", def.Poller.Leader, wantDefault)
	}
	good := leader.Config{Enabled: true, Table: "weatherd-leader", Name: "poller", LeaseDuration: 10 * time.Second, RenewInterval: 3 * time.Second}
	for _, tc := range []struct {
		name string
		edit func(*leader.Config)
		want []string
	}{
		{"Good", func(*leader.Config) {}, nil},
		{"DisabledIsNotChecked", func(c *leader.Config) { *c = leader.Config{} }, nil},
		{"Missing", func(c *leader.Config) { c.Table, c.Name = "", "" }, []string{
			"poller.leader.table: required when poller.leader.enabled is true",
			"poller.leader.name: required when poller.leader.enabled is true",
		}},
		{"BadTable", func(c *leader.Config) { c.Table = "my leader" }, []string{
			`poller.leader.table: got "my leader", want a DynamoDB table name: 3 to 255 of a-z A-Z 0-9 _ . -`,
		}},
		{"LongName", func(c *leader.Config) { c.Name = strings.Repeat("x", 1025) }, []string{
			"poller.leader.name: got 1025 bytes, want at most 1024",
		}},
		{"Durations", func(c *leader.Config) { c.LeaseDuration, c.RenewInterval = 500*time.Millisecond, 0 }, []string{
			"poller.leader.lease_duration: got 500ms, want at least 1s",
			"poller.leader.renew_interval: got 0s, want more than 0 and less than half of poller.leader.lease_duration (250ms)",
		}},
		{"RenewAtHalf", func(c *leader.Config) { c.RenewInterval = 5 * time.Second }, []string{
			"poller.leader.renew_interval: got 5s, want more than 0 and less than half of poller.leader.lease_duration (5s)",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			def, err := config.Default()
			if err != nil {
				t.Fatal(err)
			}
			cfg := def.Poller
			cfg.Leader = good
			tc.edit(&cfg.Leader)
			var ps check.Problems
			cfg.Validate("poller", &ps)
			var got []string
			if err, ok := ps.Err().(*check.Error); ok {
				for _, p := range err.Problems {
					got = append(got, p.Error())
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("problems\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}
