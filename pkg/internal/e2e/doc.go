// Package e2e holds weatherd's whole-system tests: the real weatherd binary,
// built once per test run, against the local AWS emulators, a fake
// Tomorrow.io server and an HTTP subscriber of the alert topic, checked from
// the outside only: the lake read back with DuckDB (gold) and gzip (raw), the
// Kinesis stream read back from TRIM_HORIZON, the SNS notifications the
// subscriber received, and /metrics, /readyz and /healthz.
//
//   - TestEndToEnd: 60 locations polled every second until each has gone
//     through 20 observations (with 500s, 429s with and without Retry-After
//     and null values); every served observation is in gold and raw exactly
//     once with the served values, every alert transition is notified exactly
//     once with the right email subject, email text and SMS, the counters
//     match, and SIGTERM exits 0.
//   - TestCrash: the same under twelve SIGKILLs at seeded random moments,
//     each restart reusing the instance's spool directory. Every observation
//     the API served must reach the stream (one held in the producer's
//     memory at a kill is put from the spool by the next start), nothing read
//     from the stream may be lost or written twice, and an observation put on
//     the stream twice across a kill must reach gold and raw once (the
//     consumer drops the repeat). Notifications are at least once: every
//     transition is notified, and a repeat (a kill between a publish and its
//     "sent" mark) carries its original's notification_id and has a kill
//     between the two deliveries, one kill per repeat.
//   - TestScaleOut: two replicas share the lease table of a 4-shard stream:
//     they split the shards 2/2 with one poller, a SIGTERM hands everything to
//     the other within seconds, a restart restores the balance, and every
//     observation is in the lake once.
//   - TestFaults: on a private set of emulators (free ports, own run
//     directory, WEATHERD_EMU_PERSIST=1), S3, DynamoDB, SNS and Kinesis are
//     each stopped for 30 s and started again while weatherd runs; it must
//     stay up with bounded memory and lose or repeat nothing.
//
// The shared emulators must be running (deploy/local/emulators.sh start, or
// make test); the fault test starts and stops its own set.
package e2e
