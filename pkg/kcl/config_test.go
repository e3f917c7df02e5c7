package kcl

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/check"
	"github.com/weatherd/weatherd/pkg/stream"
)

func TestConfig_Validate(t *testing.T) {
	if err := validate(testkit.Default[Config](t, "consumer")); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	bad := Config{
		ApplicationName:        "x",
		InitialPosition:        AtTimestamp,
		LeaseDuration:          4 * time.Second,
		RenewInterval:          3 * time.Second,
		MaxLeasesPerWorker:     -1,
		MaxRecords:             10001,
		GracefulHandoffTimeout: 0,
		MaxBackoff:             time.Millisecond,
		MaxClockSkew:           time.Hour,
	}
	want := strings.Join([]string{
		`consumer.application_name: got "x", want a DynamoDB table name: 3 to 255 of a-z A-Z 0-9 _ . -`,
		`consumer.initial_timestamp: required when consumer.initial_position is AT_TIMESTAMP`,
		`consumer.renew_interval: got 3s, want more than 0 and at most half of consumer.lease_duration (2s)`,
		`consumer.take_interval: got 0s, want a positive duration`,
		`consumer.shard_sync_interval: got 0s, want a positive duration`,
		`consumer.max_leases_per_worker: got -1, want 0 (no cap) or more`,
		`consumer.max_records: got 10001, want 1 to 10000`,
		`consumer.idle_time_between_reads: got 0s, want a positive duration`,
		`consumer.graceful_handoff_timeout: got 0s, want a positive duration`,
		`consumer.max_backoff: got 1ms, want at least 100ms`,
	}, "\n")
	if err := validate(bad); err == nil || err.Error() != want {
		t.Fatalf("Validate =\n%v\nwant\n%s", err, want)
	}
	c := testkit.Default[Config](t, "consumer")
	c.InitialPosition = "EARLIEST"
	if err := validate(c); err == nil || err.Error() != `consumer.initial_position: got "EARLIEST", want TRIM_HORIZON, LATEST or AT_TIMESTAMP` {
		t.Fatalf("Validate = %v", err)
	}
}

func validate(c Config) error {
	var ps check.Problems
	c.Validate("consumer", &ps)
	return ps.Err()
}

func TestNew(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	newProc := func() stream.Processor { return nil }
	t.Run("WorkerIDDefault", func(t *testing.T) {
		w, err := New(testkit.Default[Config](t, "consumer"), "s", testKinesisNoDial(), testDynamoDBNoDial(), newProc, prometheus.NewRegistry(), log)
		if err != nil {
			t.Fatal(err)
		}
		if id := w.WorkerID(); len(id) < 10 || id[len(id)-9] != '-' {
			t.Fatalf("WorkerID = %q, want hostname-<8 hex>", id)
		}
		if w.Ready() {
			t.Fatal("Ready before Run")
		}
	})
	t.Run("BadConfig", func(t *testing.T) {
		c := testkit.Default[Config](t, "consumer")
		c.MaxRecords = 0
		_, err := New(c, "s", testKinesisNoDial(), testDynamoDBNoDial(), newProc, prometheus.NewRegistry(), log)
		var ce *check.Error
		if !errors.As(err, &ce) || err.Error() != "consumer config: consumer.max_records: got 0, want 1 to 10000" {
			t.Fatalf("New = %v", err)
		}
	})
	t.Run("MetricsRegisteredTwice", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		if _, err := New(testkit.Default[Config](t, "consumer"), "s", testKinesisNoDial(), testDynamoDBNoDial(), newProc, reg, log); err != nil {
			t.Fatal(err)
		}
		_, err := New(testkit.Default[Config](t, "consumer"), "s", testKinesisNoDial(), testDynamoDBNoDial(), newProc, reg, log)
		if err == nil || !strings.HasPrefix(err.Error(), "register consumer metrics: ") {
			t.Fatalf("second New on one registry = %v, want a registration error", err)
		}
	})
	t.Run("Metrics", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		if _, err := New(testkit.Default[Config](t, "consumer"), "s", testKinesisNoDial(), testDynamoDBNoDial(), newProc, reg, log); err != nil {
			t.Fatal(err)
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, mf := range mfs {
			names = append(names, mf.GetName())
		}
		// Vectors without children are not gathered until first used.
		want := "weatherd_consumer_getrecords_errors_total weatherd_consumer_getrecords_throttles_total weatherd_consumer_lease_events_total weatherd_consumer_leases_deleted_total weatherd_consumer_orphaned_parents_total weatherd_leases_held"
		if got := strings.Join(names, " "); got != want {
			t.Fatalf("metrics = %s, want %s", got, want)
		}
	})
}

// Clients that New accepts without any I/O (New makes no calls).
func testKinesisNoDial() *kinesis.Client { return kinesis.New(kinesis.Options{Region: "us-east-1"}) }
func testDynamoDBNoDial() *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{Region: "us-east-1"})
}
