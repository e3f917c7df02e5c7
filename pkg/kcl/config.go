package kcl

import (
	"time"

	"github.com/weatherd/weatherd/pkg/check"
	"github.com/weatherd/weatherd/pkg/ddbtable"
)

// Initial positions.
const (
	TrimHorizon = "TRIM_HORIZON"
	Latest      = "LATEST"
	AtTimestamp = "AT_TIMESTAMP"
)

// MaxRecordsLimit is Kinesis' cap on records returned by one GetRecords call.
const MaxRecordsLimit = 10000

// Config is the consumer section of the configuration.
type Config struct {
	// ApplicationName names the lease table, as in KCL.
	ApplicationName string `mapstructure:"application_name"`
	// WorkerID identifies this instance in the lease table; empty means
	// hostname plus a random suffix.
	WorkerID        string    `mapstructure:"worker_id"`
	InitialPosition string    `mapstructure:"initial_position"`
	InitialAt       time.Time `mapstructure:"initial_timestamp"`
	// LeaseDuration is how long a lease may go unrenewed, as seen on another
	// worker's own clock, before that worker may take it.
	LeaseDuration time.Duration `mapstructure:"lease_duration"`
	// RenewInterval is how often held leases are renewed.
	RenewInterval time.Duration `mapstructure:"renew_interval"`
	// TakeInterval is how often the lease table is read to take free or
	// expired leases, adopt handed-over ones and steal for balance.
	TakeInterval time.Duration `mapstructure:"take_interval"`
	// ShardSyncInterval is how often ListShards runs to create leases for new
	// shards (it also runs when a shard is read to its end).
	ShardSyncInterval time.Duration `mapstructure:"shard_sync_interval"`
	// MaxLeasesPerWorker caps the leases this worker holds; 0 means no cap.
	MaxLeasesPerWorker int `mapstructure:"max_leases_per_worker"`
	// MaxRecords is the Limit of each GetRecords call (at most 10000).
	MaxRecords int `mapstructure:"max_records"`
	// IdleTimeBetweenReads is the pause after a GetRecords call that returned
	// no records.
	IdleTimeBetweenReads time.Duration `mapstructure:"idle_time_between_reads"`
	// GracefulHandoffTimeout bounds a shard processor's Shutdown(Requested)
	// when the shard is handed over (steal or process stop).
	GracefulHandoffTimeout time.Duration `mapstructure:"graceful_handoff_timeout"`
	// MaxBackoff caps the exponential backoff after a failed call.
	MaxBackoff time.Duration `mapstructure:"max_backoff"`
	// MaxClockSkew is how far a reading's observed_at may be ahead of the
	// record's arrival time on the stream (and, for the poller, of the
	// time it is put). A reading further ahead goes to the lake's errors/
	// and never reaches the alert or dedupe state.
	MaxClockSkew time.Duration `mapstructure:"max_clock_skew"`
}

// Validate reports every problem in the section at key.
func (c Config) Validate(key string, ps *check.Problems) {
	if c.ApplicationName == "" {
		ps.Add(check.Key(key, "application_name"), "required")
	} else if !ddbtable.ValidName(c.ApplicationName) {
		ps.Add(check.Key(key, "application_name"), "got %q, want %s", c.ApplicationName, ddbtable.NameRule)
	}
	switch c.InitialPosition {
	case TrimHorizon, Latest:
	case AtTimestamp:
		if c.InitialAt.IsZero() {
			ps.Add(check.Key(key, "initial_timestamp"), "required when %s is %s", check.Key(key, "initial_position"), AtTimestamp)
		}
	default:
		ps.Add(check.Key(key, "initial_position"), "got %q, want %s, %s or %s", c.InitialPosition, TrimHorizon, Latest, AtTimestamp)
	}
	if c.LeaseDuration < time.Second {
		ps.Add(check.Key(key, "lease_duration"), "got %s, want at least 1s", c.LeaseDuration)
	}
	if c.RenewInterval <= 0 || c.RenewInterval > c.LeaseDuration/2 {
		ps.Add(check.Key(key, "renew_interval"), "got %s, want more than 0 and at most half of %s (%s)", c.RenewInterval, check.Key(key, "lease_duration"), c.LeaseDuration/2)
	}
	if c.TakeInterval <= 0 {
		ps.Add(check.Key(key, "take_interval"), "got %s, want a positive duration", c.TakeInterval)
	}
	if c.ShardSyncInterval <= 0 {
		ps.Add(check.Key(key, "shard_sync_interval"), "got %s, want a positive duration", c.ShardSyncInterval)
	}
	if c.MaxLeasesPerWorker < 0 {
		ps.Add(check.Key(key, "max_leases_per_worker"), "got %d, want 0 (no cap) or more", c.MaxLeasesPerWorker)
	}
	if c.MaxRecords < 1 || c.MaxRecords > MaxRecordsLimit {
		ps.Add(check.Key(key, "max_records"), "got %d, want 1 to %d", c.MaxRecords, MaxRecordsLimit)
	}
	if c.IdleTimeBetweenReads <= 0 {
		ps.Add(check.Key(key, "idle_time_between_reads"), "got %s, want a positive duration", c.IdleTimeBetweenReads)
	}
	if c.GracefulHandoffTimeout <= 0 {
		ps.Add(check.Key(key, "graceful_handoff_timeout"), "got %s, want a positive duration", c.GracefulHandoffTimeout)
	}
	if c.MaxClockSkew < time.Second {
		ps.Add(check.Key(key, "max_clock_skew"), "got %s, want at least 1s", c.MaxClockSkew)
	}
	if c.MaxBackoff < 100*time.Millisecond {
		ps.Add(check.Key(key, "max_backoff"), "got %s, want at least 100ms", c.MaxBackoff)
	}
}
