package kcl

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Lease events counted in weatherd_consumer_lease_events_total.
const (
	eventTake      = "take"
	eventSteal     = "steal"
	eventLose      = "lose"
	eventRelease   = "release"
	eventRenewFail = "renew_fail"
)

// metrics are the consumer's Prometheus metrics.
type metrics struct {
	leasesHeld  prometheus.Gauge
	behind      *prometheus.GaugeVec
	records     *prometheus.CounterVec
	bytes       *prometheus.CounterVec
	leaseEvents *prometheus.CounterVec
	throttles   prometheus.Counter
	getErrors   prometheus.Counter
	leaseCalls  *prometheus.CounterVec
	// leasesDeleted counts leases of shards gone from the stream (finished,
	// or orphaned parents) that this worker deleted.
	leasesDeleted prometheus.Counter
	// orphanedParents counts child shards started without waiting for a
	// parent whose lease is unfinished but that the stream no longer lists.
	orphanedParents prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		leasesHeld: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weatherd_leases_held", Help: "Shard leases this worker holds.",
		}),
		behind: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "weatherd_consumer_millis_behind_latest", Help: "How far the last GetRecords of a shard was behind its tip, in milliseconds.",
		}, []string{"shard"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weatherd_consumer_shard_records_total", Help: "Records read from a shard and processed.",
		}, []string{"shard"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weatherd_consumer_shard_bytes_total", Help: "Record data bytes read from a shard and processed.",
		}, []string{"shard"}),
		leaseEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weatherd_consumer_lease_events_total", Help: "Lease ownership changes seen by this worker, by event (take, steal, lose, release, renew_fail).",
		}, []string{"event"}),
		throttles: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weatherd_consumer_getrecords_throttles_total", Help: "GetRecords calls refused with ProvisionedThroughputExceeded.",
		}),
		getErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weatherd_consumer_getrecords_errors_total", Help: "GetRecords and GetShardIterator calls that failed for another reason.",
		}),
		leaseCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weatherd_consumer_lease_calls_total", Help: "DynamoDB calls made for lease coordination, by operation.",
		}, []string{"op"}),
		leasesDeleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weatherd_consumer_leases_deleted_total", Help: "Leases of shards gone from the stream that this worker deleted from the lease table once their children had checkpointed: shards read to SHARD_END, and parents trimmed before they were.",
		}),
		orphanedParents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weatherd_consumer_orphaned_parents_total", Help: "Parent shards a child shard started without: their leases were not read to SHARD_END but the stream no longer lists them (trimmed), so their unread records are lost. Counted per child and parent when this worker starts the child before its first checkpoint.",
		}),
	}
	for _, e := range []string{eventTake, eventSteal, eventLose, eventRelease, eventRenewFail} {
		m.leaseEvents.WithLabelValues(e)
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.leasesHeld, m.behind, m.records, m.bytes, m.leaseEvents, m.throttles, m.getErrors, m.leaseCalls, m.leasesDeleted, m.orphanedParents} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("register consumer metrics: %w", err)
	}
	return m, nil
}

// forgetShard drops a shard's per-shard series once this worker stops
// reading it, so the label set stays as small as the shards held.
func (m *metrics) forgetShard(shardID string) {
	m.behind.DeleteLabelValues(shardID)
}
