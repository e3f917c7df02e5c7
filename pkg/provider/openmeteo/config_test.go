package openmeteo_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/weatherd/weatherd/pkg/check"
	"github.com/weatherd/weatherd/pkg/provider/openmeteo"
)

func TestConfig_Validate(t *testing.T) {
	var ps check.Problems
	openmeteo.Config{BaseURL: "ftp://x", MaxBodyBytes: 1 << 20, Attempts: 11}.Validate("poller.openmeteo", &ps)
	want := []string{
		`poller.openmeteo.base_url: got "ftp://x", want an http(s) URL such as https://api.example.com/v1`,
		"poller.openmeteo.attempts: got 11, want 1 to 10",
	}
	if got := problems(ps); !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

func problems(ps check.Problems) []string {
	err := ps.Err()
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}
