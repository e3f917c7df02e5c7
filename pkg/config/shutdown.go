package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/weatherd/weatherd/pkg/leader"
	"github.com/weatherd/weatherd/pkg/poller"
	"github.com/weatherd/weatherd/pkg/producer"
	"github.com/weatherd/weatherd/pkg/stream"
)

// leaseReleaseMargin is the least a stop should leave, after the shard
// processors' final flush, for the consumer's lease release writes.
const leaseReleaseMargin = 2 * time.Second

// stopStep is one bounded step of a graceful stop before the consumer
// releases its leases.
type stopStep struct {
	what string
	d    time.Duration
}

// stopBeforeRelease lists, in stop order, the worst case of each step a
// graceful stop takes before the consumer releases its leases. The steps
// after it (the alerts' last delivery, the HTTP shutdown) take what is left
// of shutdown_timeout (lifecycle.StopContext), so they are not counted.
func stopBeforeRelease(c *Config) []stopStep {
	if c.Stream.Driver != stream.DriverKinesis {
		return nil // no leases
	}
	var steps []stopStep
	if c.Poller.Enabled && c.Poller.Leader.Enabled {
		steps = append(steps,
			stopStep{"poller memory save", poller.FinalSaveTimeout},
			stopStep{"poller leadership release", leader.ReleaseTimeout})
	}
	if c.Poller.Enabled {
		steps = append(steps, stopStep{"producer drain", producer.DrainTimeout})
	}
	return append(steps, stopStep{"shard flush and checkpoint (consumer.graceful_handoff_timeout)", c.Consumer.GracefulHandoffTimeout})
}

// shutdownWarnings says when shutdown_timeout cannot hold the stop steps
// before the lease release plus a margin for it: the process would then exit
// with its leases unreleased, and other workers wait for them to expire.
func shutdownWarnings(c *Config) []string {
	steps := stopBeforeRelease(c)
	var sum time.Duration
	parts := make([]string, len(steps))
	for i, s := range steps {
		sum += s.d
		parts[i] = fmt.Sprintf("%s %s", s.what, s.d)
	}
	if len(steps) == 0 || sum+leaseReleaseMargin <= c.ShutdownTimeout {
		return nil
	}
	return []string{fmt.Sprintf("shutdown_timeout: %s cannot hold the stop before the lease release: %s = %s, plus %s to release the leases; raise shutdown_timeout to at least %s or lower consumer.graceful_handoff_timeout, or a slow stop leaves leases to expire (consumer.lease_duration %s) instead of releasing them",
		c.ShutdownTimeout, strings.Join(parts, " + "), sum, leaseReleaseMargin, sum+leaseReleaseMargin, c.Consumer.LeaseDuration)}
}
